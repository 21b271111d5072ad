package osdp

import "testing"

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
