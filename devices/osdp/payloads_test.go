package osdp

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

func TestLEDLayout(t *testing.T) {
	l := LED{Reader: 0, Number: 1,
		Temporary: LEDTemporary{Control: LEDTempSet, OnTime: 5, OffTime: 5, OnColor: ColorGreen, OffColor: ColorBlack, Timer: 0x0123},
		Permanent: LEDPermanent{Control: LEDPermSet, OnTime: 1, OnColor: ColorRed}}
	// Byte order as libosdp cp_build_command (CMD_LED) writes it.
	want := []byte{0, 1, 2, 5, 5, 2, 0, 0x23, 0x01, 1, 1, 0, 1, 0}
	if got := l.Marshal(); !bytes.Equal(got, want) {
		t.Fatalf("LED.Marshal = % X, want % X", got, want)
	}
	got, err := ParseLED(append(want, want...))
	if err != nil || len(got) != 2 || got[1] != l {
		t.Fatalf("ParseLED = %+v, %v", got, err)
	}
	if _, err := ParseLED(want[:13]); err == nil || !strings.Contains(err.Error(), "multiple of 14") {
		t.Fatalf("ParseLED(13 bytes) err = %v, want one naming the 14-byte record", err)
	}
}

func TestOutputLayout(t *testing.T) {
	o := Output{Number: 1, Control: OutputPulse, Timer: 300}
	want := []byte{1, 5, 0x2C, 0x01}
	if got := o.Marshal(); !bytes.Equal(got, want) {
		t.Fatalf("Output.Marshal = % X, want % X", got, want)
	}
	outs, err := ParseOutputs(append(want, 2, 1, 0, 0))
	if err != nil || len(outs) != 2 || outs[0] != o || outs[1].Control != OutputOff {
		t.Fatalf("ParseOutputs = %+v, %v", outs, err)
	}
	if _, err := ParseOutputs([]byte{1, 2, 3}); err == nil {
		t.Fatal("ParseOutputs(3 bytes) succeeded")
	}
}

func TestPayloadRoundTrips(t *testing.T) {
	id := PDID{VendorCode: [3]byte{1, 2, 3}, Model: 4, Version: 5, Serial: 0xA1B2C3D4, Firmware: [3]byte{2, 1, 9}}
	idb := id.Marshal()
	if idb[5] != 0xD4 || idb[8] != 0xA1 {
		t.Fatalf("PDID serial not little-endian: % X", idb)
	}
	if got, err := ParsePDID(idb); err != nil || got != id {
		t.Fatalf("PDID round trip: %+v, %v", got, err)
	}
	caps := []Capability{{CapOutputControl, 3, 3}, {CapContactStatus, 1, 5}}
	if got, err := ParsePDCAP(MarshalPDCAP(caps)); err != nil || !reflect.DeepEqual(got, caps) {
		t.Fatalf("PDCAP round trip: %+v, %v", got, err)
	}
	z := Buzzer{Reader: 0, Tone: ToneDefault, OnTime: 2, OffTime: 1, Count: 3}
	if got, err := ParseBuzzer(z.Marshal()); err != nil || got != z {
		t.Fatalf("BUZ round trip: %+v, %v", got, err)
	}
	tx := Text{Reader: 0, Control: TextTemporary, TempTime: 10, Row: 1, Col: 1, Text: "Place finger"}
	tb, err := tx.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ParseText(tb); err != nil || got != tx {
		t.Fatalf("TEXT round trip: %+v, %v", got, err)
	}
	if _, err := (Text{Text: "caf\xc3\xa9"}).Marshal(); err == nil {
		t.Fatal("TEXT with non-ASCII succeeded")
	}
	raw := RawCard{Reader: 0, Format: RawFormatWiegand, Bits: 26, Data: []byte{1, 2, 3, 0xC0}}
	rb, _ := raw.Marshal()
	if rb[2] != 26 || rb[3] != 0 {
		t.Fatalf("RAW bit count not LE16: % X", rb)
	}
	if got, err := ParseRawCard(rb); err != nil || !reflect.DeepEqual(got, raw) {
		t.Fatalf("RAW round trip: %+v, %v", got, err)
	}
	if _, err := (RawCard{Bits: 9, Data: []byte{1}}).Marshal(); err == nil {
		t.Fatal("RAW with 9 bits in 1 byte succeeded")
	}
	br := BioReadRequest{Reader: 0, Type: BioTypeRightIndex, Format: BioFormatTemplate, Quality: 50}
	if got, err := ParseBioRead(br.Marshal()); err != nil || got != br {
		t.Fatalf("BIOREAD round trip: %+v, %v", got, err)
	}
	rr := BioReadReply{Reader: 0, Status: BioStatusSuccess, Type: BioTypeRightIndex, Quality: 80, Data: []byte("FMR\x00 20\x00....")}
	rrb, _ := rr.Marshal()
	if rrb[4] != byte(len(rr.Data)) || rrb[5] != 0 {
		t.Fatalf("BIOREADR length not LE16: % X", rrb[:6])
	}
	if got, err := ParseBioReadReply(rrb); err != nil || !reflect.DeepEqual(got, rr) {
		t.Fatalf("BIOREADR round trip: %+v, %v", got, err)
	}
	if _, err := ParseBioReadReply(rrb[:len(rrb)-1]); err == nil {
		t.Fatal("BIOREADR with a short template succeeded")
	}
	n := Nak{Reason: NakUnknownCommand}
	if got, err := ParseNak(n.Marshal()); err != nil || got.Reason != n.Reason {
		t.Fatalf("NAK round trip: %+v, %v", got, err)
	}
	if _, err := ParseNak(nil); err == nil {
		t.Fatal("empty NAK succeeded")
	}
	k := KeypadReply{Reader: 0, Keys: []byte("1234#")}
	kb, _ := k.Marshal()
	if got, err := ParseKeypad(kb); err != nil || !reflect.DeepEqual(got, k) {
		t.Fatalf("KEYPAD round trip: %+v, %v", got, err)
	}
	cs := ComSettings{Addr: 3, Baud: 115200}
	if got, err := ParseComSettings(cs.Marshal()); err != nil || got != cs {
		t.Fatalf("COMSET round trip: %+v, %v", got, err)
	}
	if s, err := ParseStatus([]byte{0, 1, 0}); err != nil || !s.Active(1) || s.Active(0) || s.Active(7) {
		t.Fatalf("ParseStatus: %v, %v", s, err)
	}
	if _, err := ParseStatus([]byte{2}); err == nil {
		t.Fatal("status byte 2 accepted")
	}
	if got, err := ParseLocalStatus(LocalStatus{Tamper: 1}.Marshal()); err != nil || got.Tamper != 1 {
		t.Fatalf("LSTATR round trip: %+v, %v", got, err)
	}
}

func TestNames(t *testing.T) {
	if CommandName(CmdBIOREAD) != "BIOREAD" || ReplyName(ReplyRMACI) != "RMAC_I" || CommandName(0x01) != "0x01" {
		t.Fatal("names wrong")
	}
	if NakUnknownCommand.String() != "unknown command" || !strings.Contains(NakReason(0x42).String(), "0x42") {
		t.Fatal("NAK reason strings wrong")
	}
}

func TestCardNumber(t *testing.T) {
	raw, err := EncodeDigitsCard(0, "0012345678")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := CardNumber(raw); err != nil || n != "0012345678" {
		t.Fatalf("digits card = %q, %v", n, err)
	}
	if _, err := EncodeDigitsCard(0, "12a4"); err == nil {
		t.Fatal("EncodeDigitsCard accepted a letter")
	}
	w := EncodeH10301(0, 18, 1234)
	if n, err := CardNumber(w); err != nil || n != "01801234" {
		t.Fatalf("H10301 card = %q, %v", n, err)
	}
	// Facility 1, card 1, by hand: bits 1-12 = 00000001 0000 hold one 1, so
	// the even parity bit 0 is 1; bits 13-24 = 000000000001 hold one 1, so
	// the odd parity bit 25 is 0. Bits set: 0, 8, 24.
	w = EncodeH10301(0, 1, 1)
	want := []byte{0b10000000, 0b10000000, 0b00000000, 0b10000000}
	if !bytes.Equal(w.Data, want) {
		t.Fatalf("H10301(1,1) = %08b, want %08b", w.Data, want)
	}
	for f := 0; f < 256; f += 51 {
		for c := 0; c < 65536; c += 4099 {
			fac, card, err := DecodeH10301(EncodeH10301(0, byte(f), uint16(c)).Data)
			if err != nil || int(fac) != f || int(card) != c {
				t.Fatalf("H10301 %d/%d round trip: %d/%d %v", f, c, fac, card, err)
			}
		}
	}
	bad := EncodeH10301(0, 18, 1234)
	bad.Data[1] ^= 0x10
	if _, err := CardNumber(bad); err == nil || !strings.Contains(err.Error(), "parity") {
		t.Fatalf("flipped bit: err = %v, want a parity error", err)
	}
	if _, err := CardNumber(RawCard{Format: RawFormatWiegand, Bits: 35, Data: make([]byte, 5)}); err == nil {
		t.Fatal("35-bit card accepted")
	}
}
