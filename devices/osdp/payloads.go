package osdp

import (
	"encoding/binary"
	"fmt"
)

// Payload layouts below follow SIA OSDP v2.2 §6/§7 and were checked against
// libosdp src/osdp_cp.c (cp_build_command, cp_decode_response) and
// include/osdp.h; the biometric ones against OSDP.Net
// Model/ReplyData/BiometricReadResult.cs and libosdp's osdp_cp.c
// (REPLY_BIOREADR). All multi-byte integers are little-endian.

func needLen(what string, b []byte, want int) error {
	if len(b) != want {
		return fmt.Errorf("osdp: %s: %d bytes, expected %d", what, len(b), want)
	}
	return nil
}

// ---- ID / PDID --------------------------------------------------------------

// IDRequestStandard is the only data byte of an ID command: "send the
// standard PD ID block" (libosdp cp_build_command, CMD_ID).
const IDRequestStandard byte = 0x00

// PDID is the identification a PD returns to an ID command (12 bytes:
// vendor OUI 3, model 1, version 1, serial number 4 LE, firmware major,
// minor, build).
type PDID struct {
	// VendorCode is the IEEE OUI of the manufacturer, 3 bytes as sent.
	VendorCode [3]byte
	// Model is the manufacturer's model number.
	Model byte
	// Version is the manufacturer's hardware version.
	Version byte
	// Serial is the device serial number.
	Serial uint32
	// Firmware is the firmware version: major, minor, build.
	Firmware [3]byte
}

// Marshal encodes the PDID reply data.
func (p PDID) Marshal() []byte {
	b := make([]byte, 12)
	copy(b[0:3], p.VendorCode[:])
	b[3], b[4] = p.Model, p.Version
	binary.LittleEndian.PutUint32(b[5:9], p.Serial)
	copy(b[9:12], p.Firmware[:])
	return b
}

// ParsePDID decodes PDID reply data.
func ParsePDID(b []byte) (PDID, error) {
	if err := needLen("PDID", b, 12); err != nil {
		return PDID{}, err
	}
	var p PDID
	copy(p.VendorCode[:], b[0:3])
	p.Model, p.Version = b[3], b[4]
	p.Serial = binary.LittleEndian.Uint32(b[5:9])
	copy(p.Firmware[:], b[9:12])
	return p, nil
}

// String formats the identity for logs and gatectl.
func (p PDID) String() string {
	return fmt.Sprintf("vendor %02X-%02X-%02X model %d v%d serial %d firmware %d.%d.%d",
		p.VendorCode[0], p.VendorCode[1], p.VendorCode[2], p.Model, p.Version, p.Serial,
		p.Firmware[0], p.Firmware[1], p.Firmware[2])
}

// ---- CAP / PDCAP ------------------------------------------------------------

// Capability function codes (libosdp include/osdp.h enum
// osdp_pd_cap_function_code_e, doc/osdp-pd-capabilities.md).
const (
	CapContactStatus    byte = 1  // inputs; NumItems = number of inputs
	CapOutputControl    byte = 2  // outputs; NumItems = number of outputs
	CapCardDataFormat   byte = 3  // 1: bits, 2: BCD, 3: both
	CapReaderLED        byte = 4  // NumItems = LEDs per reader
	CapReaderAudible    byte = 5  // NumItems = buzzers per reader
	CapReaderText       byte = 6  // Compliance: display rows; NumItems = displays
	CapTimeKeeping      byte = 7  // date/time support
	CapCheckCharacter   byte = 8  // Compliance 1: CRC-16 supported
	CapCommSecurity     byte = 9  // Compliance bit 0: AES-128
	CapReceiveBuffer    byte = 10 // Compliance = LSB, NumItems = MSB of the receive buffer size
	CapLargestMessage   byte = 11 // Compliance = LSB, NumItems = MSB of the largest combined message
	CapSmartCard        byte = 12 // transparent reader mode
	CapReaders          byte = 13 // NumItems = number of readers
	CapBiometrics       byte = 14 // biometric input
	CapSecurePINEntry   byte = 15 // secure PIN entry
	CapOSDPVersion      byte = 16 // Compliance 2: SIA OSDP 2.2
	capabilityRecordLen      = 3
)

// Capability is one 3-byte record of a PDCAP reply.
type Capability struct {
	// Function is the capability function code (Cap*).
	Function byte
	// Compliance is the function-specific compliance level.
	Compliance byte
	// NumItems is the function-specific number of items.
	NumItems byte
}

// MarshalPDCAP encodes PDCAP reply data.
func MarshalPDCAP(caps []Capability) []byte {
	b := make([]byte, 0, len(caps)*capabilityRecordLen)
	for _, c := range caps {
		b = append(b, c.Function, c.Compliance, c.NumItems)
	}
	return b
}

// ParsePDCAP decodes PDCAP reply data: a non-empty list of 3-byte records.
func ParsePDCAP(b []byte) ([]Capability, error) {
	if len(b) == 0 || len(b)%capabilityRecordLen != 0 {
		return nil, fmt.Errorf("osdp: PDCAP: %d bytes, expected a non-zero multiple of %d", len(b), capabilityRecordLen)
	}
	caps := make([]Capability, 0, len(b)/capabilityRecordLen)
	for i := 0; i < len(b); i += capabilityRecordLen {
		caps = append(caps, Capability{Function: b[i], Compliance: b[i+1], NumItems: b[i+2]})
	}
	return caps, nil
}

// ---- LED --------------------------------------------------------------------

// LEDColor is an OSDP LED colour (libosdp enum osdp_led_color_e).
type LEDColor byte

// LED colours.
const (
	ColorBlack   LEDColor = 0 // off
	ColorRed     LEDColor = 1
	ColorGreen   LEDColor = 2
	ColorAmber   LEDColor = 3
	ColorBlue    LEDColor = 4
	ColorMagenta LEDColor = 5
	ColorCyan    LEDColor = 6
	ColorWhite   LEDColor = 7
)

// LED temporary control codes.
const (
	LEDTempNOP    byte = 0 // do not change the temporary settings
	LEDTempCancel byte = 1 // cancel the temporary state, show the permanent state
	LEDTempSet    byte = 2 // set the temporary state and start its timer
)

// LED permanent control codes.
const (
	LEDPermNOP byte = 0 // do not change the permanent settings
	LEDPermSet byte = 1 // set the permanent state
)

// LEDTemporary is the temporary half of an LED record. Times are in 100 ms
// units.
type LEDTemporary struct {
	Control  byte     // LEDTemp*
	OnTime   byte     // on time of a flash cycle, 100 ms units
	OffTime  byte     // off time of a flash cycle, 100 ms units
	OnColor  LEDColor // colour while on
	OffColor LEDColor // colour while off
	Timer    uint16   // how long the temporary state lasts, 100 ms units
}

// LEDPermanent is the permanent half of an LED record.
type LEDPermanent struct {
	Control  byte     // LEDPerm*
	OnTime   byte     // on time of a flash cycle, 100 ms units
	OffTime  byte     // off time of a flash cycle, 100 ms units
	OnColor  LEDColor // colour while on
	OffColor LEDColor // colour while off
}

// LED is one 14-byte LED command record: reader, LED number, temporary
// (control, on, off, on colour, off colour, timer LE16), permanent (control,
// on, off, on colour, off colour).
type LED struct {
	Reader    byte         // reader number on the PD, 0 first
	Number    byte         // LED number on the reader, 0 first
	Temporary LEDTemporary // temporary state, shown for Temporary.Timer
	Permanent LEDPermanent // state shown when no temporary state runs
}

const ledRecordLen = 14

// Marshal encodes one LED record (the LED command data).
func (l LED) Marshal() []byte {
	return l.append(make([]byte, 0, ledRecordLen))
}

func (l LED) append(b []byte) []byte {
	t, p := l.Temporary, l.Permanent
	b = append(b, l.Reader, l.Number,
		t.Control, t.OnTime, t.OffTime, byte(t.OnColor), byte(t.OffColor), byte(t.Timer), byte(t.Timer>>8),
		p.Control, p.OnTime, p.OffTime, byte(p.OnColor), byte(p.OffColor))
	return b
}

// MarshalLEDs encodes several LED records into one LED command.
func MarshalLEDs(leds []LED) []byte {
	b := make([]byte, 0, len(leds)*ledRecordLen)
	for _, l := range leds {
		b = l.append(b)
	}
	return b
}

// ParseLED decodes LED command data: one or more 14-byte records.
func ParseLED(b []byte) ([]LED, error) {
	if len(b) == 0 || len(b)%ledRecordLen != 0 {
		return nil, fmt.Errorf("osdp: LED: %d bytes, expected a non-zero multiple of %d", len(b), ledRecordLen)
	}
	out := make([]LED, 0, len(b)/ledRecordLen)
	for i := 0; i < len(b); i += ledRecordLen {
		r := b[i : i+ledRecordLen]
		out = append(out, LED{
			Reader: r[0], Number: r[1],
			Temporary: LEDTemporary{Control: r[2], OnTime: r[3], OffTime: r[4], OnColor: LEDColor(r[5]), OffColor: LEDColor(r[6]), Timer: binary.LittleEndian.Uint16(r[7:9])},
			Permanent: LEDPermanent{Control: r[9], OnTime: r[10], OffTime: r[11], OnColor: LEDColor(r[12]), OffColor: LEDColor(r[13])},
		})
	}
	return out, nil
}

// ---- BUZ --------------------------------------------------------------------

// Buzzer tone codes.
const (
	ToneNone    byte = 0 // no tone (do not change)
	ToneOff     byte = 1 // silence the buzzer
	ToneDefault byte = 2 // the reader's default tone
)

// Buzzer is the 5-byte BUZ command: reader, tone code, on time, off time
// (100 ms units), repeat count (0: until told otherwise).
type Buzzer struct {
	Reader  byte // reader number on the PD, 0 first
	Tone    byte // Tone*
	OnTime  byte // on time, 100 ms units
	OffTime byte // off time, 100 ms units
	Count   byte // number of on/off cycles, 0: until told otherwise
}

// Marshal encodes the BUZ command data.
func (z Buzzer) Marshal() []byte {
	return []byte{z.Reader, z.Tone, z.OnTime, z.OffTime, z.Count}
}

// ParseBuzzer decodes BUZ command data.
func ParseBuzzer(b []byte) (Buzzer, error) {
	if err := needLen("BUZ", b, 5); err != nil {
		return Buzzer{}, err
	}
	return Buzzer{Reader: b[0], Tone: b[1], OnTime: b[2], OffTime: b[3], Count: b[4]}, nil
}

// ---- TEXT -------------------------------------------------------------------

// Text control codes (libosdp enum osdp_cmd_text_control_code_e).
const (
	TextPermanent     byte = 1 // permanent text, no wrap
	TextPermanentWrap byte = 2 // permanent text, wrap
	TextTemporary     byte = 3 // temporary text, no wrap; reverts after TempTime
	TextTemporaryWrap byte = 4 // temporary text, wrap
)

// Text is the TEXT command: reader, control code, temporary time (seconds),
// row, column (1-based), length, then the characters.
type Text struct {
	Reader   byte   // reader number on the PD, 0 first
	Control  byte   // Text*
	TempTime byte   // seconds a temporary text stays
	Row      byte   // first row, 1-based
	Col      byte   // first column, 1-based
	Text     string // the characters, printable ASCII
}

// Marshal encodes the TEXT command data. The text must be at most 255 bytes
// and printable ASCII (0x20-0x7E), which is what reader displays show.
func (t Text) Marshal() ([]byte, error) {
	if len(t.Text) > 255 {
		return nil, fmt.Errorf("osdp: TEXT: %d bytes of text, expected at most 255", len(t.Text))
	}
	for i := 0; i < len(t.Text); i++ {
		if c := t.Text[i]; c < 0x20 || c > 0x7E {
			return nil, fmt.Errorf("osdp: TEXT: byte 0x%02X at offset %d, expected printable ASCII 0x20-0x7E", c, i)
		}
	}
	b := make([]byte, 0, 6+len(t.Text))
	b = append(b, t.Reader, t.Control, t.TempTime, t.Row, t.Col, byte(len(t.Text)))
	return append(b, t.Text...), nil
}

// ParseText decodes TEXT command data.
func ParseText(b []byte) (Text, error) {
	if len(b) < 6 {
		return Text{}, fmt.Errorf("osdp: TEXT: %d bytes, expected at least 6", len(b))
	}
	if n := int(b[5]); len(b) != 6+n {
		return Text{}, fmt.Errorf("osdp: TEXT: length field %d with %d text bytes, expected them equal", n, len(b)-6)
	}
	return Text{Reader: b[0], Control: b[1], TempTime: b[2], Row: b[3], Col: b[4], Text: string(b[6:])}, nil
}

// ---- OUT --------------------------------------------------------------------

// Output control codes (libosdp enum osdp_cmd_output_control_code_e).
const (
	OutputNOP           byte = 0 // do not change the output
	OutputOff           byte = 1 // permanent off, abort a timed operation
	OutputOn            byte = 2 // permanent on, abort a timed operation
	OutputOffAfterTimed byte = 3 // permanent off, let a timed operation finish
	OutputOnAfterTimed  byte = 4 // permanent on, let a timed operation finish
	OutputPulse         byte = 5 // temporary on for Timer, then back to the permanent state
	OutputTemporaryOff  byte = 6 // temporary off for Timer, then back to the permanent state
)

// Output is one 4-byte OUT record: output number, control code, timer in
// 100 ms units (LE16).
type Output struct {
	Number  byte   // output number, 0 first
	Control byte   // Output*
	Timer   uint16 // duration of a timed operation, 100 ms units
}

// Marshal encodes one OUT record (the OUT command data).
func (o Output) Marshal() []byte {
	return []byte{o.Number, o.Control, byte(o.Timer), byte(o.Timer >> 8)}
}

// ParseOutputs decodes OUT command data: one or more 4-byte records.
func ParseOutputs(b []byte) ([]Output, error) {
	if len(b) == 0 || len(b)%4 != 0 {
		return nil, fmt.Errorf("osdp: OUT: %d bytes, expected a non-zero multiple of 4", len(b))
	}
	out := make([]Output, 0, len(b)/4)
	for i := 0; i < len(b); i += 4 {
		out = append(out, Output{Number: b[i], Control: b[i+1], Timer: binary.LittleEndian.Uint16(b[i+2 : i+4])})
	}
	return out, nil
}

// ---- ISTATR / OSTATR / LSTATR -----------------------------------------------

// Status is the data of an ISTATR or OSTATR reply: one byte per input or
// output, 0 inactive, 1 active.
type Status []byte

// Active reports whether input or output i is active; false when i is out of
// range.
func (s Status) Active(i int) bool { return i >= 0 && i < len(s) && s[i] != 0 }

// ParseStatus decodes ISTATR/OSTATR data: at least one byte, each 0 or 1.
func ParseStatus(b []byte) (Status, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("osdp: status report: 0 bytes, expected one byte per input or output")
	}
	for i, v := range b {
		if v > 1 {
			return nil, fmt.Errorf("osdp: status report: byte %d is 0x%02X, expected 0 (inactive) or 1 (active)", i, v)
		}
	}
	return Status(append([]byte(nil), b...)), nil
}

// LocalStatus is the LSTATR reply: tamper and power status (0 normal).
type LocalStatus struct {
	Tamper byte // 0 normal, 1 tamper
	Power  byte // 0 normal, 1 power failure
}

// Marshal encodes LSTATR data.
func (l LocalStatus) Marshal() []byte { return []byte{l.Tamper, l.Power} }

// ParseLocalStatus decodes LSTATR data.
func ParseLocalStatus(b []byte) (LocalStatus, error) {
	if err := needLen("LSTATR", b, 2); err != nil {
		return LocalStatus{}, err
	}
	return LocalStatus{Tamper: b[0], Power: b[1]}, nil
}

// ---- RAW --------------------------------------------------------------------

// RAW card data formats (libosdp enum osdp_card_formats_e).
const (
	RawFormatUnspecified byte = 0x00 // raw bits, format not specified
	RawFormatWiegand     byte = 0x01 // raw Wiegand bits
)

// RawCard is the RAW reply: reader number, format, bit count (LE16), then
// (bits+7)/8 bytes of card bits, first bit in the most significant bit of
// the first byte.
type RawCard struct {
	Reader byte   // reader number on the PD, 0 first
	Format byte   // RawFormat*
	Bits   uint16 // number of card bits
	Data   []byte // the bits, first bit in the MSB of Data[0]
}

// Marshal encodes RAW reply data. Data must hold exactly (Bits+7)/8 bytes.
func (r RawCard) Marshal() ([]byte, error) {
	if want := (int(r.Bits) + 7) / 8; len(r.Data) != want {
		return nil, fmt.Errorf("osdp: RAW: %d data bytes for %d bits, expected %d", len(r.Data), r.Bits, want)
	}
	b := make([]byte, 0, 4+len(r.Data))
	b = append(b, r.Reader, r.Format, byte(r.Bits), byte(r.Bits>>8))
	return append(b, r.Data...), nil
}

// ParseRawCard decodes RAW reply data.
func ParseRawCard(b []byte) (RawCard, error) {
	if len(b) < 4 {
		return RawCard{}, fmt.Errorf("osdp: RAW: %d bytes, expected at least 4", len(b))
	}
	r := RawCard{Reader: b[0], Format: b[1], Bits: binary.LittleEndian.Uint16(b[2:4])}
	if want := (int(r.Bits) + 7) / 8; len(b)-4 != want {
		return RawCard{}, fmt.Errorf("osdp: RAW: %d data bytes for %d bits, expected %d", len(b)-4, r.Bits, want)
	}
	r.Data = append([]byte(nil), b[4:]...)
	return r, nil
}

// ---- KEYPAD -----------------------------------------------------------------

// KeypadReply is the KEYPAD reply: reader number, digit count, digits (ASCII).
type KeypadReply struct {
	Reader byte   // reader number on the PD, 0 first
	Keys   []byte // keys pressed, ASCII
}

// Marshal encodes KEYPAD reply data (at most 255 keys).
func (k KeypadReply) Marshal() ([]byte, error) {
	if len(k.Keys) > 255 {
		return nil, fmt.Errorf("osdp: KEYPAD: %d keys, expected at most 255", len(k.Keys))
	}
	return append([]byte{k.Reader, byte(len(k.Keys))}, k.Keys...), nil
}

// ParseKeypad decodes KEYPAD reply data.
func ParseKeypad(b []byte) (KeypadReply, error) {
	if len(b) < 2 {
		return KeypadReply{}, fmt.Errorf("osdp: KEYPAD: %d bytes, expected at least 2", len(b))
	}
	if int(b[1]) != len(b)-2 {
		return KeypadReply{}, fmt.Errorf("osdp: KEYPAD: count field %d with %d key bytes, expected them equal", b[1], len(b)-2)
	}
	return KeypadReply{Reader: b[0], Keys: append([]byte(nil), b[2:]...)}, nil
}

// ---- COMSET / COM -----------------------------------------------------------

// ComSettings is the COMSET command and the COM reply: new address and baud
// rate (LE32).
type ComSettings struct {
	Addr byte   // PD address after the change
	Baud uint32 // baud rate after the change
}

// Marshal encodes COMSET/COM data.
func (c ComSettings) Marshal() []byte {
	b := []byte{c.Addr, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[1:], c.Baud)
	return b
}

// ParseComSettings decodes COMSET/COM data.
func ParseComSettings(b []byte) (ComSettings, error) {
	if err := needLen("COMSET", b, 5); err != nil {
		return ComSettings{}, err
	}
	return ComSettings{Addr: b[0], Baud: binary.LittleEndian.Uint32(b[1:])}, nil
}

// ---- NAK --------------------------------------------------------------------

// Nak is the NAK reply: a reason code, optionally followed by detail bytes.
type Nak struct {
	Reason NakReason // why the command was refused
	Detail []byte    // extra bytes some reasons carry
}

// Marshal encodes NAK reply data.
func (n Nak) Marshal() []byte { return append([]byte{byte(n.Reason)}, n.Detail...) }

// ParseNak decodes NAK reply data.
func ParseNak(b []byte) (Nak, error) {
	if len(b) < 1 {
		return Nak{}, fmt.Errorf("osdp: NAK: 0 bytes, expected a reason code")
	}
	return Nak{Reason: NakReason(b[0]), Detail: append([]byte(nil), b[1:]...)}, nil
}

// ---- BIOREAD / BIOREADR -----------------------------------------------------

// Biometric types, the body part to scan (OSDP v2.2 Table 24, as in libosdp
// enum osdp_biometric_type_e and OSDP.Net BiometricType).
const (
	BioTypeNotSpecified byte = 0x00
	BioTypeRightThumb   byte = 0x01
	BioTypeRightIndex   byte = 0x02
	BioTypeRightMiddle  byte = 0x03
	BioTypeRightRing    byte = 0x04
	BioTypeRightLittle  byte = 0x05
	BioTypeLeftThumb    byte = 0x06
	BioTypeLeftIndex    byte = 0x07
	BioTypeLeftMiddle   byte = 0x08
	BioTypeLeftRing     byte = 0x09
	BioTypeLeftLittle   byte = 0x0A
)

// Biometric data formats (OSDP v2.2 Table 25, as in libosdp enum
// osdp_biometric_format_e and OSDP.Net BiometricFormat). The specification
// defines no code for ISO/IEC 19794-2: a minutiae template travels as format
// 0x02. ANSI INCITS 378 and ISO/IEC 19794-2 records both start with "FMR\0"
// and are told apart by their header (the match package does that).
const (
	BioFormatNotSpecified byte = 0x00 // the PD's default; it reports what it used
	BioFormatRawPGM       byte = 0x01 // raw fingerprint image as a PGM file
	BioFormatTemplate     byte = 0x02 // minutiae template ("ANSI/INCITS 378" in the spec)
)

// Biometric read status codes (libosdp enum osdp_biometric_status_e, OSDP.Net
// BiometricStatus).
const (
	BioStatusSuccess byte = 0x00 // sample captured; the data is valid
	BioStatusTimeout byte = 0x01 // no usable sample within the PD's time limit
	BioStatusError   byte = 0xFF // unknown error
)

// BioReadRequest is the 4-byte BIOREAD command: reader, biometric type, format,
// quality threshold.
type BioReadRequest struct {
	Reader  byte // reader number on the PD, 0 first
	Type    byte // BioType*: body part to scan
	Format  byte // BioFormat*: format of the sample to return
	Quality byte // minimum quality required
}

// Marshal encodes BIOREAD command data.
func (r BioReadRequest) Marshal() []byte { return []byte{r.Reader, r.Type, r.Format, r.Quality} }

// ParseBioRead decodes BIOREAD command data.
func ParseBioRead(b []byte) (BioReadRequest, error) {
	if err := needLen("BIOREAD", b, 4); err != nil {
		return BioReadRequest{}, err
	}
	return BioReadRequest{Reader: b[0], Type: b[1], Format: b[2], Quality: b[3]}, nil
}

// BioReadReply is the BIOREADR reply: reader, status, biometric type,
// quality, data length (LE16), data (the sample in the format the BIOREAD
// asked for). The reply carries no format byte.
type BioReadReply struct {
	Reader  byte   // reader number on the PD, 0 first
	Status  byte   // BioStatus*
	Type    byte   // BioType*: body part scanned
	Quality byte   // quality of the sample
	Data    []byte // the sample (template or image)
}

// Marshal encodes BIOREADR reply data (at most 65535 data bytes; a single
// frame carries at most MaxFrameLen-14).
func (r BioReadReply) Marshal() ([]byte, error) {
	if len(r.Data) > 0xFFFF {
		return nil, fmt.Errorf("osdp: BIOREADR: %d data bytes, expected at most 65535", len(r.Data))
	}
	b := make([]byte, 0, 6+len(r.Data))
	b = append(b, r.Reader, r.Status, r.Type, r.Quality, byte(len(r.Data)), byte(len(r.Data)>>8))
	return append(b, r.Data...), nil
}

// ParseBioReadReply decodes BIOREADR reply data.
func ParseBioReadReply(b []byte) (BioReadReply, error) {
	if len(b) < 6 {
		return BioReadReply{}, fmt.Errorf("osdp: BIOREADR: %d bytes, expected at least 6", len(b))
	}
	n := int(binary.LittleEndian.Uint16(b[4:6]))
	if len(b)-6 != n {
		return BioReadReply{}, fmt.Errorf("osdp: BIOREADR: length field %d with %d data bytes, expected them equal", n, len(b)-6)
	}
	return BioReadReply{Reader: b[0], Status: b[1], Type: b[2], Quality: b[3], Data: append([]byte(nil), b[6:]...)}, nil
}
