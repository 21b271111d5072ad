package ef01

import (
	"bytes"
	"errors"
	"testing"
)

func seedPackets(f *testing.F) {
	for _, k := range knownPackets {
		f.Add(k.raw)
	}
	data, _ := Encode(Packet{Addr: DefaultAddress, PID: PIDData, Payload: bytes.Repeat([]byte{0xEF, 0x01, 0x07}, 40)})
	f.Add(data)
	f.Add(append(append([]byte{0xEF, 0x01, 0xFF}, knownPackets[1].raw...), knownPackets[2].raw...))
}

// FuzzDecode: Decode never panics, never claims more bytes than it was
// given, and every packet it accepts re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	seedPackets(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, err := Decode(b)
		if n < 0 || n > len(b) {
			t.Fatalf("Decode consumed %d of %d bytes", n, len(b))
		}
		if err != nil {
			if errors.Is(err, ErrIncomplete) && n != 0 {
				t.Fatalf("incomplete but consumed %d", n)
			}
			if !errors.Is(err, ErrIncomplete) && n == 0 {
				t.Fatalf("error %v consumed nothing: a stream reader would loop", err)
			}
			return
		}
		raw, err := Encode(p)
		if err != nil {
			t.Fatalf("decoded %v does not encode: %v", p, err)
		}
		if !bytes.Equal(raw, b[:n]) {
			t.Fatalf("re-encoded % X from % X", raw, b[:n])
		}
	})
}

// FuzzSplitter: whatever the bytes and their chunking, the splitter
// delivers only valid packets, accounts for every byte, and keeps its
// buffer bounded.
func FuzzSplitter(f *testing.F) {
	seedPackets(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Splitter
		fed, delivered := 0, 0
		for len(b) > 0 {
			k := min(int(b[0])%19+1, len(b))
			s.Feed(b[:k])
			fed += k
			b = b[k:]
			for {
				p, err := s.Next()
				if errors.Is(err, ErrIncomplete) {
					break
				}
				if err != nil {
					t.Fatalf("Next: %v", err)
				}
				raw, err := Encode(p)
				if err != nil {
					t.Fatalf("delivered %v does not encode: %v", p, err)
				}
				if _, _, err := Decode(raw); err != nil {
					t.Fatalf("delivered packet does not decode: %v", err)
				}
				delivered += len(raw)
			}
			if s.Buffered() > MaxPacketLen+k+1 {
				t.Fatalf("buffer holds %d bytes", s.Buffered())
			}
		}
		st := s.Stats()
		if got := delivered + int(st.GarbageBytes) + s.Buffered(); got != fed {
			t.Fatalf("fed %d bytes, delivered %d + garbage %d + buffered %d = %d", fed, delivered, st.GarbageBytes, s.Buffered(), got)
		}
	})
}
