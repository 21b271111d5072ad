// Package osdp implements OSDP v2.2 (IEC 60839-11-5) with Secure Channel,
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
// Secure Channel (securechannel.go) is pure crypto: DeriveSessionKeys, and
// Channel with the handshake cryptograms, MAC, data encryption, Seal and
// Open, verified against the SIA OSDP Annex E example vectors. The
// ControlPanel sets up a session with every PD that has a key
// (PDConfig.SCBK) or is in install mode (SCBK-D), installs keys with
// KeySet, and refuses clear text when Options.RequireSecure is set. Decode
// delivers frames with a security block like any other; Channel.Open checks
// their MAC. See docs/osdp.md.
//
// Layouts were checked against public sources, cited next to each layout:
// libosdp (github.com/goToMain/libosdp: src/osdp_phy.c, src/osdp_cp.c,
// src/osdp_common.h, include/osdp.h, doc/osdp-packet-structure.md,
// doc/osdp-pd-capabilities.md) and OSDP.Net
// (github.com/bytedreamer/OSDP.Net: Model/ReplyData/BiometricReadResult.cs,
// Model/CommandData/Biometric*.cs), both of which follow SIA OSDP v2.2.
package osdp
