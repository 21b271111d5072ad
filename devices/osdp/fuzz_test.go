package osdp

import (
	"bytes"
	"errors"
	"testing"
)

func seedFrames(f *testing.F) {
	for _, k := range knownFrames {
		f.Add(k.raw)
	}
	for _, fr := range []Frame{
		{Addr: 1, Seq: 1, UseCRC: true, Code: CmdOUT, Data: Output{Number: 1, Control: OutputPulse, Timer: 30}.Marshal()},
		{Addr: 1, Reply: true, Seq: 2, Code: ReplyRAW, Data: []byte{0, 0, 16, 0, '4', '2'}},
		{Addr: 1, Seq: 1, UseCRC: true, SecurityBlock: []byte{3, 0x11, 1}, Code: CmdCHLNG, Data: make([]byte, 8)},
	} {
		raw, _ := fr.Marshal()
		f.Add(raw)
	}
}

// FuzzDecode checks that Decode never panics, never claims more bytes than
// it was given, and that every frame it accepts re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	seedFrames(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, n, err := Decode(b)
		if n < 0 || n > len(b) {
			t.Fatalf("Decode consumed %d of %d bytes", n, len(b))
		}
		if err != nil {
			return
		}
		raw, merr := fr.Marshal()
		if merr != nil {
			t.Fatalf("decoded frame %+v does not marshal: %v", fr, merr)
		}
		if !bytes.Equal(raw, b[:n]) {
			t.Fatalf("re-encoded % X, decoded from % X", raw, b[:n])
		}
	})
}

// FuzzSplitter checks that the splitter delivers only valid frames, whatever
// the chunking, and keeps its buffer bounded.
func FuzzSplitter(f *testing.F) {
	seedFrames(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Splitter
		for len(b) > 0 {
			k := int(b[0])%17 + 1
			k = min(k, len(b))
			s.Feed(b[:k])
			b = b[k:]
			for {
				fr, err := s.Next()
				if errors.Is(err, ErrIncomplete) {
					break
				}
				if err != nil {
					t.Fatalf("Next returned %v", err)
				}
				if _, merr := fr.Marshal(); merr != nil {
					t.Fatalf("delivered frame does not marshal: %v", merr)
				}
			}
			if s.Buffered() > MaxFrameLen+17 {
				t.Fatalf("buffer holds %d bytes", s.Buffered())
			}
		}
	})
}

// fuzzParser runs a payload parser on arbitrary bytes and, when it accepts
// them, checks that re-marshalling gives the same bytes.
func fuzzParser[T any](f *testing.F, seeds [][]byte, parse func([]byte) (T, error), marshal func(T) ([]byte, error)) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parse(b)
		if err != nil {
			return
		}
		out, err := marshal(v)
		if err != nil {
			t.Fatalf("parsed %+v does not marshal: %v", v, err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("re-marshalled % X, parsed from % X", out, b)
		}
	})
}

func ok(b []byte) ([]byte, error) { return b, nil }

func FuzzParseLED(f *testing.F) {
	fuzzParser(f, [][]byte{LED{Temporary: LEDTemporary{Control: 2, Timer: 300}}.Marshal()}, ParseLED,
		func(l []LED) ([]byte, error) { return MarshalLEDs(l), nil })
}

func FuzzParseBuzzer(f *testing.F) {
	fuzzParser(f, [][]byte{Buzzer{Tone: 2, OnTime: 1, Count: 1}.Marshal()}, ParseBuzzer,
		func(z Buzzer) ([]byte, error) { return ok(z.Marshal()) })
}

func FuzzParseText(f *testing.F) {
	tb, _ := Text{Control: 1, Row: 1, Col: 1, Text: "Place finger"}.Marshal()
	// Marshal refuses non-printable text that ParseText accepts, so compare
	// through the wire form instead of Marshal for those.
	f.Add(tb)
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseText(b)
		if err != nil {
			return
		}
		if len(v.Text) != int(b[5]) || v.Reader != b[0] || v.Control != b[1] {
			t.Fatalf("ParseText(% X) = %+v", b, v)
		}
		if out, err := v.Marshal(); err == nil && !bytes.Equal(out, b) {
			t.Fatalf("re-marshalled % X, parsed from % X", out, b)
		}
	})
}

func FuzzParseOutputs(f *testing.F) {
	fuzzParser(f, [][]byte{Output{Number: 1, Control: 5, Timer: 30}.Marshal()}, ParseOutputs,
		func(os []Output) ([]byte, error) {
			var b []byte
			for _, o := range os {
				b = append(b, o.Marshal()...)
			}
			return b, nil
		})
}

func FuzzParseStatus(f *testing.F) {
	fuzzParser(f, [][]byte{{0, 1, 0, 0, 1}}, ParseStatus, func(s Status) ([]byte, error) { return []byte(s), nil })
}

func FuzzParseRawCard(f *testing.F) {
	d, _ := EncodeDigitsCard(0, "123456")
	db, _ := d.Marshal()
	wb, _ := EncodeH10301(0, 18, 1234).Marshal()
	fuzzParser(f, [][]byte{db, wb}, ParseRawCard, func(r RawCard) ([]byte, error) {
		_, _ = CardNumber(r) // must not panic either
		return r.Marshal()
	})
}

func FuzzParsePDID(f *testing.F) {
	fuzzParser(f, [][]byte{PDID{Model: 1, Serial: 7}.Marshal()}, ParsePDID, func(p PDID) ([]byte, error) { return p.Marshal(), nil })
}

func FuzzParsePDCAP(f *testing.F) {
	fuzzParser(f, [][]byte{MarshalPDCAP([]Capability{{1, 1, 5}, {2, 3, 3}})}, ParsePDCAP,
		func(c []Capability) ([]byte, error) { return MarshalPDCAP(c), nil })
}

func FuzzParseBioRead(f *testing.F) {
	fuzzParser(f, [][]byte{BioReadRequest{Type: 2, Format: 2, Quality: 50}.Marshal()}, ParseBioRead,
		func(r BioReadRequest) ([]byte, error) { return r.Marshal(), nil })
}

func FuzzParseBioReadReply(f *testing.F) {
	rb, _ := BioReadReply{Type: 2, Quality: 80, Data: []byte("FMR\x00 20\x00")}.Marshal()
	fuzzParser(f, [][]byte{rb}, ParseBioReadReply, BioReadReply.Marshal)
}

func FuzzParseNak(f *testing.F) {
	fuzzParser(f, [][]byte{{0x03}}, ParseNak, func(n Nak) ([]byte, error) { return n.Marshal(), nil })
}

func FuzzParseKeypad(f *testing.F) {
	kb, _ := KeypadReply{Keys: []byte("12#")}.Marshal()
	fuzzParser(f, [][]byte{kb}, ParseKeypad, KeypadReply.Marshal)
}

func FuzzCardNumber(f *testing.F) {
	f.Add(uint8(0), uint16(26), []byte{0x80, 0x80, 0, 0x80})
	f.Add(uint8(0), uint16(16), []byte("42"))
	f.Fuzz(func(t *testing.T, format uint8, bits uint16, data []byte) {
		n, err := CardNumber(RawCard{Format: format, Bits: bits, Data: data})
		if err == nil && n == "" {
			t.Fatal("empty card number without an error")
		}
	})
}

// FuzzSecureOpen feeds arbitrary bytes to the secure-channel decoder, as
// frames and as their payloads, with a fixed session: it must never panic,
// never accept a message it did not seal, and never allocate more than the
// frame's size.
func FuzzSecureOpen(f *testing.F) {
	key := bytes.Repeat([]byte{0x42}, 16)
	ch, _ := NewChannel(key, [8]byte{1, 2, 3, 4, 5, 6, 7, 8})
	var iv [16]byte
	for _, fr := range []Frame{
		{Addr: 1, Seq: 1, Code: CmdPOLL},
		{Addr: 1, Reply: true, Seq: 2, Code: ReplyRAW, Data: []byte{0, 0, 16, 0, '4', '2'}},
		{Addr: 3, Seq: 3, Code: CmdOUT, Data: Output{Number: 1, Control: OutputPulse, Timer: 30}.Marshal()},
	} {
		raw, _, _ := ch.Seal(fr, iv)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, _, err := Decode(b)
		if err != nil {
			// Also try the bytes as the body of a secure message.
			fr = Frame{Addr: 1, Seq: 1, UseCRC: true, SecurityBlock: []byte{2, SCS17}, Code: CmdOUT, Data: b}
		}
		g, _, err := ch.Open(fr, iv)
		if err != nil {
			return
		}
		// Accepted: it must be a genuine message, which re-seals to itself.
		raw, _, serr := ch.Seal(Frame{Addr: g.Addr, Reply: g.Reply, Seq: g.Seq, Code: g.Code, Data: g.Data}, iv)
		orig, _ := fr.Marshal()
		if serr != nil || !bytes.Equal(raw, orig) {
			t.Fatalf("Open accepted % X, which does not re-seal to itself", orig)
		}
	})
}
