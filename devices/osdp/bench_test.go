package osdp

import (
	"bytes"
	"testing"
)

func benchFrame() Frame {
	tmpl := make([]byte, 400) // a typical minutiae template
	data, _ := BioReadReply{Type: BioTypeRightIndex, Quality: 80, Data: tmpl}.Marshal()
	return Frame{Addr: 2, Reply: true, Seq: 2, UseCRC: true, Code: ReplyBIOREADR, Data: data}
}

func BenchmarkMarshalPOLL(b *testing.B) {
	f := Frame{Addr: 1, Seq: 1, UseCRC: true, Code: CmdPOLL}
	buf := make([]byte, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = f.AppendMarshal(buf[:0])
	}
}

func BenchmarkMarshalBIOREADR(b *testing.B) {
	f := benchFrame()
	buf := make([]byte, 0, MaxFrameLen)
	b.SetBytes(int64(f.Len()))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = f.AppendMarshal(buf[:0])
	}
}

func BenchmarkDecodePOLL(b *testing.B) {
	raw, _ := Frame{Addr: 1, Seq: 1, UseCRC: true, Code: CmdPOLL}.Marshal()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBIOREADR(b *testing.B) {
	raw, _ := benchFrame().Marshal()
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSplitter(b *testing.B) {
	raw, _ := benchFrame().Marshal()
	var s Splitter
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		s.Feed(raw)
		if _, err := s.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchChannel(b *testing.B) *Channel {
	ch, err := NewChannel(bytes.Repeat([]byte{0x42}, 16), [8]byte{1, 2, 3, 4, 5, 6, 7, 8})
	if err != nil {
		b.Fatal(err)
	}
	return ch
}

// BenchmarkSealPOLL: the MAC of a data-less command (SCS_15).
func BenchmarkSealPOLL(b *testing.B) {
	ch := benchChannel(b)
	f := Frame{Addr: 1, Seq: 1, Code: CmdPOLL}
	var iv [16]byte
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf, _, _ = ch.AppendSeal(buf[:0], f, iv)
	}
}

// BenchmarkSealBIOREADR: MAC and encryption of a 400-byte template reply.
func BenchmarkSealBIOREADR(b *testing.B) {
	ch := benchChannel(b)
	f := benchFrame()
	var iv [16]byte
	buf := make([]byte, 0, MaxFrameLen)
	b.SetBytes(int64(len(f.Data)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _, _ = ch.AppendSeal(buf[:0], f, iv)
	}
}

// BenchmarkOpenBIOREADR: decode, MAC check and decryption of the same reply.
func BenchmarkOpenBIOREADR(b *testing.B) {
	ch := benchChannel(b)
	var iv [16]byte
	raw, _, err := ch.Seal(benchFrame(), iv)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchFrame().Data)))
	b.ReportAllocs()
	for b.Loop() {
		f, _, err := Decode(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := ch.Open(f, iv); err != nil {
			b.Fatal(err)
		}
	}
}
