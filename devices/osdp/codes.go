package osdp

import "fmt"

// Command codes, CP to PD. Values checked against libosdp
// src/osdp_common.h (CMD_*) and OSDP.Net docs/supported_commands.md.
const (
	CmdPOLL     byte = 0x60 // poll: "anything to report?"
	CmdID       byte = 0x61 // ID report request; reply PDID
	CmdCAP      byte = 0x62 // capabilities request; reply PDCAP
	CmdLSTAT    byte = 0x64 // local status (tamper, power) request; reply LSTATR
	CmdISTAT    byte = 0x65 // input status request; reply ISTATR
	CmdOSTAT    byte = 0x66 // output status request; reply OSTATR
	CmdOUT      byte = 0x68 // output control
	CmdLED      byte = 0x69 // reader LED control
	CmdBUZ      byte = 0x6A // reader buzzer control
	CmdTEXT     byte = 0x6B // reader text output
	CmdCOMSET   byte = 0x6E // communication settings (address, baud)
	CmdBIOREAD  byte = 0x73 // biometric scan, return the sample; reply ACK, later BIOREADR on POLL
	CmdBIOMATCH byte = 0x74 // biometric scan and match against a template
	CmdKEYSET   byte = 0x75 // Secure Channel: set the SCBK
	CmdCHLNG    byte = 0x76 // Secure Channel: challenge
	CmdSCRYPT   byte = 0x77 // Secure Channel: server cryptogram
)

// Reply codes, PD to CP. Values checked against libosdp src/osdp_common.h
// (REPLY_*).
const (
	ReplyACK       byte = 0x40 // command accepted, nothing to report
	ReplyNAK       byte = 0x41 // command refused; data: reason code (NakReason)
	ReplyPDID      byte = 0x45 // device identification
	ReplyPDCAP     byte = 0x46 // device capabilities
	ReplyLSTATR    byte = 0x48 // local status: tamper, power
	ReplyISTATR    byte = 0x49 // input status, one byte per input
	ReplyOSTATR    byte = 0x4A // output status, one byte per output
	ReplyRAW       byte = 0x50 // card data, raw bits
	ReplyKEYPAD    byte = 0x53 // keypad data
	ReplyCOM       byte = 0x54 // communication settings report
	ReplyBIOREADR  byte = 0x57 // biometric sample
	ReplyBIOMATCHR byte = 0x58 // biometric match result
	ReplyCCRYPT    byte = 0x76 // Secure Channel: client cryptogram
	ReplyRMACI     byte = 0x78 // Secure Channel: initial R-MAC
	ReplyBUSY      byte = 0x79 // PD busy, repeat the command later
)

var commandNames = map[byte]string{
	CmdPOLL: "POLL", CmdID: "ID", CmdCAP: "CAP", CmdLSTAT: "LSTAT", CmdISTAT: "ISTAT",
	CmdOSTAT: "OSTAT", CmdOUT: "OUT", CmdLED: "LED", CmdBUZ: "BUZ", CmdTEXT: "TEXT",
	CmdCOMSET: "COMSET", CmdBIOREAD: "BIOREAD", CmdBIOMATCH: "BIOMATCH", CmdKEYSET: "KEYSET",
	CmdCHLNG: "CHLNG", CmdSCRYPT: "SCRYPT",
}

var replyNames = map[byte]string{
	ReplyACK: "ACK", ReplyNAK: "NAK", ReplyPDID: "PDID", ReplyPDCAP: "PDCAP", ReplyLSTATR: "LSTATR",
	ReplyISTATR: "ISTATR", ReplyOSTATR: "OSTATR", ReplyRAW: "RAW", ReplyKEYPAD: "KEYPAD",
	ReplyCOM: "COM", ReplyBIOREADR: "BIOREADR", ReplyBIOMATCHR: "BIOMATCHR", ReplyCCRYPT: "CCRYPT",
	ReplyRMACI: "RMAC_I", ReplyBUSY: "BUSY",
}

// CommandName returns the OSDP name of a command code ("POLL", "OUT", ...),
// or "0x.." for a code this package does not know.
func CommandName(code byte) string {
	if n, ok := commandNames[code]; ok {
		return n
	}
	return fmt.Sprintf("0x%02X", code)
}

// ReplyName returns the OSDP name of a reply code ("ACK", "RAW", ...), or
// "0x.." for a code this package does not know.
func ReplyName(code byte) string {
	if n, ok := replyNames[code]; ok {
		return n
	}
	return fmt.Sprintf("0x%02X", code)
}

// NakReason is the reason code carried by a NAK reply. Values and meanings
// checked against libosdp include/osdp.h (enum osdp_pd_nak_code_e) and
// src/osdp_phy.c (get_nac_reason).
type NakReason byte

// NAK reason codes.
const (
	NakNone            NakReason = 0x00 // no error
	NakCheck           NakReason = 0x01 // message check character(s) error (bad checksum/CRC)
	NakCommandLength   NakReason = 0x02 // command length error
	NakUnknownCommand  NakReason = 0x03 // unknown command code, not implemented by the PD
	NakSequence        NakReason = 0x04 // unexpected sequence number in the header
	NakSecureBlock     NakReason = 0x05 // the PD does not support the security block received
	NakSecureCondition NakReason = 0x06 // communication security conditions not met (encryption required)
	NakBioType         NakReason = 0x07 // BIO_TYPE not supported
	NakBioFormat       NakReason = 0x08 // BIO_FORMAT not supported
	NakRecord          NakReason = 0x09 // unable to process the command record
)

var nakText = [...]string{
	"no error",
	"message check error (bad checksum/CRC)",
	"command length error",
	"unknown command",
	"unexpected sequence number",
	"security block not supported",
	"communication security conditions not met",
	"biometric type not supported",
	"biometric format not supported",
	"unable to process command record",
}

// String describes the reason in words.
func (r NakReason) String() string {
	if int(r) < len(nakText) {
		return nakText[r]
	}
	return fmt.Sprintf("unknown NAK reason 0x%02X", byte(r))
}
