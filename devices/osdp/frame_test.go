package osdp

import (
	"bytes"
	"errors"
	"testing"
)

// Known-answer frames from OSDPBench's test helpers
// (Core.Tests/Helpers/TraceEntryTestHelper.cs), independent of this code.
var knownFrames = []struct {
	name string
	raw  []byte
	f    Frame
}{
	{"POLL", []byte{0x53, 0x00, 0x08, 0x00, 0x04, 0x60, 0xEB, 0xAA}, Frame{Addr: 0, UseCRC: true, Code: CmdPOLL, Data: []byte{}}},
	{"ACK", []byte{0x53, 0x80, 0x08, 0x00, 0x04, 0x40, 0x59, 0xAC}, Frame{Addr: 0, Reply: true, UseCRC: true, Code: ReplyACK, Data: []byte{}}},
	{"NAK", []byte{0x53, 0x80, 0x09, 0x00, 0x04, 0x41, 0x01, 0x27, 0xA4}, Frame{Addr: 0, Reply: true, UseCRC: true, Code: ReplyNAK, Data: []byte{0x01}}},
	{"ID", []byte{0x53, 0x00, 0x09, 0x00, 0x04, 0x61, 0x00, 0xC0, 0x66}, Frame{Addr: 0, UseCRC: true, Code: CmdID, Data: []byte{0x00}}},
}

func TestCRC16CheckValue(t *testing.T) {
	// CRC-16/AUG-CCITT catalogue check value (reveng CRC catalogue).
	if got := CRC16([]byte("123456789")); got != 0xE5CC {
		t.Fatalf("CRC16(\"123456789\") = 0x%04X, want 0xE5CC", got)
	}
}

func TestKnownFrames(t *testing.T) {
	for _, k := range knownFrames {
		got, err := k.f.Marshal()
		if err != nil {
			t.Fatalf("%s: Marshal: %v", k.name, err)
		}
		if !bytes.Equal(got, k.raw) {
			t.Errorf("%s: Marshal = % X, want % X", k.name, got, k.raw)
		}
		f, n, err := Decode(k.raw)
		if err != nil || n != len(k.raw) {
			t.Fatalf("%s: Decode = (%v, %d, %v)", k.name, f, n, err)
		}
		if f.Addr != k.f.Addr || f.Reply != k.f.Reply || f.Seq != k.f.Seq || f.Code != k.f.Code || !bytes.Equal(f.Data, k.f.Data) || !f.UseCRC {
			t.Errorf("%s: Decode = %+v, want %+v", k.name, f, k.f)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	frames := []Frame{
		{Addr: 0x01, Seq: 1, UseCRC: true, Code: CmdOUT, Data: Output{Number: 1, Control: OutputPulse, Timer: 30}.Marshal()},
		{Addr: 0x7E, Reply: true, Seq: 3, UseCRC: false, Code: ReplyRAW, Data: []byte{0, 0, 16, 0, '4', '2'}},
		{Addr: BroadcastAddr, Seq: 2, UseCRC: true, Code: CmdPOLL},
		{Addr: 0x05, Seq: 0, UseCRC: true, Code: CmdLED, Data: make([]byte, 14)},
		{Addr: 0x05, Seq: 2, UseCRC: false, Code: CmdTEXT, Data: bytes.Repeat([]byte{'x'}, MaxFrameLen-7)},
	}
	for _, f := range frames {
		raw, err := f.Marshal()
		if err != nil {
			t.Fatalf("Marshal(%v): %v", f, err)
		}
		if len(raw) != f.Len() {
			t.Errorf("Marshal(%v) produced %d bytes, Len says %d", f, len(raw), f.Len())
		}
		g, n, err := Decode(raw)
		if err != nil || n != len(raw) {
			t.Fatalf("Decode(Marshal(%v)) = %d, %v", f, n, err)
		}
		if g.Addr != f.Addr || g.Reply != f.Reply || g.Seq != f.Seq || g.UseCRC != f.UseCRC || g.Code != f.Code || !bytes.Equal(g.Data, f.Data) {
			t.Errorf("round trip: got %+v, want %+v", g, f)
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	bad := []Frame{
		{Addr: 0x80, Code: CmdPOLL},
		{Seq: 4, Code: CmdPOLL},
		{SecurityBlock: []byte{3, 0x11}, Code: CmdCHLNG},
		{SecurityBlock: []byte{1}, Code: CmdCHLNG},
		{UseCRC: true, Code: CmdTEXT, Data: make([]byte, MaxFrameLen)},
	}
	for _, f := range bad {
		if _, err := f.Marshal(); err == nil {
			t.Errorf("Marshal(%+v) succeeded, want an error", f)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	poll := knownFrames[0].raw
	corrupt := append([]byte(nil), poll...)
	corrupt[5] ^= 0x01
	tests := []struct {
		name  string
		in    []byte
		want  error
		wantN int
	}{
		{"empty", nil, ErrIncomplete, 0},
		{"no SOM", []byte{0xFF, 0x53}, ErrNoSOM, 1},
		{"short header", poll[:4], ErrIncomplete, 0},
		{"short body", poll[:7], ErrIncomplete, 0},
		{"bad CRC", corrupt, ErrBadCheck, len(poll)},
		{"length too small", []byte{0x53, 0, 5, 0, 4, 0x60, 0, 0}, ErrBadLength, 1},
		{"length too large", []byte{0x53, 0, 0xFF, 0xFF, 4}, ErrBadLength, 1},
		{"reserved CTRL bits", []byte{0x53, 0, 8, 0, 0x44, 0x60, 0, 0}, ErrBadHeader, 1},
	}
	for _, tc := range tests {
		_, n, err := Decode(tc.in)
		if !errors.Is(err, tc.want) || n != tc.wantN {
			t.Errorf("%s: Decode(% X) = (%d, %v), want (%d, %v)", tc.name, tc.in, n, err, tc.wantN, tc.want)
		}
	}
}

func TestChecksumMode(t *testing.T) {
	f := Frame{Addr: 3, Seq: 1, Code: CmdPOLL}
	raw, _ := f.Marshal()
	var sum byte
	for _, b := range raw {
		sum += b
	}
	if sum != 0 || raw[4]&0x04 != 0 || len(raw) != 7 {
		t.Fatalf("checksum frame % X: byte sum %d (want 0), CTRL 0x%02X (CRC bit must be clear)", raw, sum, raw[4])
	}
}

func TestSecureFrameIsParsed(t *testing.T) {
	// A CHLNG with its SCS_11 security block, as libosdp builds it
	// (cp_build_command: smb = {3, SCS_11, 1}).
	f := Frame{Addr: 1, Seq: 1, UseCRC: true, SecurityBlock: []byte{3, 0x11, 1}, Code: CmdCHLNG, Data: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	raw, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if raw[4]&0x08 == 0 {
		t.Fatalf("CTRL 0x%02X: security-block bit not set", raw[4])
	}
	g, n, err := Decode(raw)
	if err != nil || n != len(raw) {
		t.Fatalf("Decode secure frame: n=%d err=%v, want the whole frame", n, err)
	}
	if !bytes.Equal(g.SecurityBlock, f.SecurityBlock) || g.Code != CmdCHLNG || !bytes.Equal(g.Data, f.Data) {
		t.Fatalf("secure frame parsed as %+v, want %+v", g, f)
	}
	// A security block longer than the frame is a header error.
	bad := append([]byte(nil), raw...)
	bad[5] = 40
	c := CRC16(bad[:len(bad)-2])
	bad[len(bad)-2], bad[len(bad)-1] = byte(c), byte(c>>8)
	if _, _, err := Decode(bad); !errors.Is(err, ErrBadHeader) {
		t.Fatalf("oversized security block: err = %v, want ErrBadHeader", err)
	}
}

func TestSplitterResync(t *testing.T) {
	var s Splitter
	poll := knownFrames[0].raw
	ack := knownFrames[1].raw
	bad := append([]byte(nil), ack...)
	bad[6] ^= 0xFF
	stream := []byte{0xFF, 0x00, 0x12} // noise, like libosdp's 0xFF mark
	stream = append(stream, poll...)
	stream = append(stream, bad...)
	stream = append(stream, 0x53, 0x00)       // a false SOM...
	stream = append(stream, 0x99, 0x99, 0x99) // ...with an impossible length
	stream = append(stream, ack...)
	// Feed one byte at a time: the splitter must not depend on chunking.
	var got []Frame
	for _, b := range stream {
		s.Feed([]byte{b})
		for {
			f, err := s.Next()
			if errors.Is(err, ErrIncomplete) {
				break
			}
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			f.Data = append([]byte(nil), f.Data...)
			got = append(got, f)
		}
	}
	if len(got) != 2 || got[0].Code != CmdPOLL || got[1].Code != ReplyACK {
		t.Fatalf("got frames %v, want POLL then ACK", got)
	}
	st := s.Stats()
	if st.Frames != 2 || st.BadCheck != 1 || st.BadHeader < 1 || st.GarbageBytes < 3 {
		t.Fatalf("stats %+v: want 2 frames, 1 bad check, a bad header, >=3 garbage bytes", st)
	}
	if s.Buffered() != 0 {
		t.Fatalf("%d bytes left buffered", s.Buffered())
	}
}

func TestSplitterBounded(t *testing.T) {
	var s Splitter
	// A SOM announcing a maximal frame, then noise without end: the buffer
	// never exceeds one frame plus the chunk.
	s.Feed([]byte{0x53, 0x00, byte(MaxFrameLen & 0xFF), byte(MaxFrameLen >> 8), 0x04})
	chunk := bytes.Repeat([]byte{0x00}, 100)
	for range 100 {
		s.Feed(chunk)
		for {
			if _, err := s.Next(); errors.Is(err, ErrIncomplete) {
				break
			}
		}
		if s.Buffered() > MaxFrameLen+len(chunk) {
			t.Fatalf("buffer grew to %d bytes", s.Buffered())
		}
	}
}

func TestFrameReader(t *testing.T) {
	var buf bytes.Buffer
	buf.Write([]byte{1, 2, 3})
	buf.Write(knownFrames[2].raw)
	fr := NewFrameReader(&buf)
	f, err := fr.ReadFrame()
	if err != nil || f.Code != ReplyNAK || !f.Reply {
		t.Fatalf("ReadFrame = %v, %v; want the NAK", f, err)
	}
	if _, err := fr.ReadFrame(); err == nil {
		t.Fatal("ReadFrame at EOF: want an error")
	}
	if fr.Stats().GarbageBytes != 3 {
		t.Fatalf("garbage %d, want 3", fr.Stats().GarbageBytes)
	}
}
