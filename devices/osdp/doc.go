// Package osdp implements the clear-text part of OSDP v2.2 (IEC 60839-11-5),
// the RS-485 access-control protocol between a control panel (CP, the gate
// daemon) and its peripheral devices (PDs: card reader, biometric reader,
// door I/O board).
//
// The package has two layers:
//
//   - a pure codec: Frame with Marshal/Decode, the Splitter and FrameReader
//     that cut frames out of a byte stream, and typed payloads (LED, BUZ,
//     TEXT, OUT, ISTATR/OSTATR, RAW, PDID, PDCAP, BIOREAD, BIOREADR, NAK, ...)
//     with Marshal and Parse functions. None of it does I/O or reads a clock.
//   - a control panel, ControlPanel, which owns one bus (an io.ReadWriter,
//     typically a serialport.Port), polls its PDs, retries, tracks them
//     online/offline and turns their replies into typed events.
//
// Secure Channel is not implemented yet: the security-block bit and the
// security block itself are parsed and kept in Frame.SecurityBlock, but
// Decode reports such frames with ErrSecureChannelUnsupported so that no
// caller mistakes them for clear-text frames.
//
// Layouts were checked against public sources, cited next to each layout:
// libosdp (github.com/goToMain/libosdp: src/osdp_phy.c, src/osdp_cp.c,
// src/osdp_common.h, include/osdp.h, doc/osdp-packet-structure.md,
// doc/osdp-pd-capabilities.md) and OSDP.Net
// (github.com/bytedreamer/OSDP.Net: Model/ReplyData/BiometricReadResult.cs,
// Model/CommandData/Biometric*.cs), both of which follow SIA OSDP v2.2.
package osdp
