package ef01

import (
	"bytes"
	"errors"
	"testing"
)

// Byte-exact packets as the modules' data sheets and every host library
// spell them (factory address, password 0).
var knownPackets = []struct {
	name string
	p    Packet
	raw  []byte
}{
	{"VfyPwd 0", Packet{Addr: DefaultAddress, PID: PIDCommand, Payload: []byte{InsVfyPwd, 0, 0, 0, 0}},
		[]byte{0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x07, 0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1B}},
	{"GenImg", Packet{Addr: DefaultAddress, PID: PIDCommand, Payload: []byte{InsGenImg}},
		[]byte{0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x03, 0x01, 0x00, 0x05}},
	{"ack no finger", Packet{Addr: DefaultAddress, PID: PIDAck, Payload: []byte{ConfNoFinger}},
		[]byte{0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x00, 0x03, 0x02, 0x00, 0x0C}},
	{"UpImage", Packet{Addr: DefaultAddress, PID: PIDCommand, Payload: []byte{InsUpImage}},
		[]byte{0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00, 0x03, 0x0A, 0x00, 0x0E}},
	{"SetSysPara baud 115200", Packet{Addr: 0x12345678, PID: PIDCommand, Payload: []byte{InsSetSysPara, ParamBaud, 12}},
		[]byte{0xEF, 0x01, 0x12, 0x34, 0x56, 0x78, 0x01, 0x00, 0x05, 0x0E, 0x04, 0x0C, 0x00, 0x24}},
	{"empty end-data", Packet{Addr: DefaultAddress, PID: PIDEndData},
		[]byte{0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x08, 0x00, 0x02, 0x00, 0x0A}},
}

func TestKnownPackets(t *testing.T) {
	for _, k := range knownPackets {
		raw, err := Encode(k.p)
		if err != nil {
			t.Fatalf("%s: Encode: %v", k.name, err)
		}
		if !bytes.Equal(raw, k.raw) {
			t.Errorf("%s: Encode = % X, want % X", k.name, raw, k.raw)
		}
		p, n, err := Decode(k.raw)
		if err != nil || n != len(k.raw) {
			t.Fatalf("%s: Decode = %v, %d", k.name, err, n)
		}
		if p.Addr != k.p.Addr || p.PID != k.p.PID || !bytes.Equal(p.Payload, k.p.Payload) {
			t.Errorf("%s: Decode = %+v, want %+v", k.name, p, k.p)
		}
	}
}

func TestRoundTripSizes(t *testing.T) {
	for _, n := range []int{0, 1, 32, 64, 128, 255, 256} {
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = byte(i*7 + n)
		}
		for _, pid := range []byte{PIDData, PIDEndData, PIDCommand, PIDAck} {
			if n == 0 && (pid == PIDCommand || pid == PIDAck) {
				continue
			}
			in := Packet{Addr: 0xA1B2C3D4, PID: pid, Payload: payload}
			raw, err := Encode(in)
			if err != nil {
				t.Fatalf("Encode(%d bytes, pid %d): %v", n, pid, err)
			}
			if len(raw) != in.Len() {
				t.Fatalf("len %d, Len() %d", len(raw), in.Len())
			}
			// Trailing bytes are not consumed.
			out, used, err := Decode(append(raw, 0xEF, 0x01, 0x00))
			if err != nil || used != len(raw) || out.Addr != in.Addr || out.PID != pid || !bytes.Equal(out.Payload, payload) {
				t.Fatalf("Decode round trip (%d bytes, pid %d): %v used %d %+v", n, pid, err, used, out)
			}
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	for _, p := range []Packet{
		{PID: 0x03, Payload: []byte{1}},
		{PID: PIDCommand},
		{PID: PIDAck},
		{PID: PIDData, Payload: make([]byte, MaxPayload+1)},
	} {
		if _, err := Encode(p); err == nil {
			t.Errorf("Encode(%v) succeeded", p)
		}
	}
}

func TestDecodeBadInput(t *testing.T) {
	good := knownPackets[0].raw
	mod := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		in   []byte
		want error
		n    int
	}{
		{"empty", nil, ErrIncomplete, 0},
		{"header only", good[:2], ErrIncomplete, 0},
		{"short header", good[:8], ErrIncomplete, 0},
		{"short packet", good[:len(good)-1], ErrIncomplete, 0},
		{"wrong first byte", mod(func(b []byte) []byte { b[0] = 0xEE; return b }), ErrBadHeader, 1},
		{"wrong second byte", mod(func(b []byte) []byte { b[1] = 0x02; return b }), ErrBadHeader, 1},
		{"unknown pid", mod(func(b []byte) []byte { b[6] = 0x05; return b }), ErrBadHeader, 1},
		{"length 0", mod(func(b []byte) []byte { b[7], b[8] = 0, 0; return b }), ErrBadLength, 1},
		{"length 2 command", mod(func(b []byte) []byte { b[7], b[8] = 0, 2; return b }), ErrBadLength, 1},
		{"length too long", mod(func(b []byte) []byte { b[7], b[8] = 0x01, 0x03; return b }), ErrBadLength, 1},
		{"length claims more", mod(func(b []byte) []byte { b[8] = 0x09; return b }), ErrIncomplete, 0},
		{"bad checksum", mod(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrBadChecksum, len(good)},
		{"payload flipped", mod(func(b []byte) []byte { b[10] = 1; return b }), ErrBadChecksum, len(good)},
	}
	for _, c := range cases {
		_, n, err := Decode(c.in)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
		if n != c.n {
			t.Errorf("%s: consumed %d, want %d", c.name, n, c.n)
		}
	}
}

func TestSplitterResync(t *testing.T) {
	var stream []byte
	var want []Packet
	add := func(p Packet) {
		raw, err := Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, raw...)
		want = append(want, p)
	}
	stream = append(stream, 0x00, 0xEF, 0x13, 0xFF) // noise, a lone 0xEF
	add(Packet{Addr: DefaultAddress, PID: PIDAck, Payload: []byte{0}})
	// A packet with a bad checksum: dropped, counted.
	bad, _ := Encode(Packet{Addr: DefaultAddress, PID: PIDData, Payload: bytes.Repeat([]byte{0x55}, 40)})
	bad[len(bad)-1] ^= 0xFF
	stream = append(stream, bad...)
	add(Packet{Addr: DefaultAddress, PID: PIDData, Payload: bytes.Repeat([]byte{0xEF, 0x01}, 64)})
	// A false start whose LEN (250) runs past the next packet.
	stream = append(stream, 0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0x00, 0xFA, 1, 2, 3)
	add(Packet{Addr: DefaultAddress, PID: PIDEndData, Payload: []byte{9, 8, 7}})
	add(Packet{Addr: 1, PID: PIDAck, Payload: []byte{ConfNoFinger}})

	for _, chunk := range []int{1, 3, 7, 64, len(stream)} {
		var s Splitter
		var got []Packet
		for i := 0; i < len(stream); i += chunk {
			s.Feed(stream[i:min(i+chunk, len(stream))])
			for {
				p, err := s.Next()
				if err != nil {
					if !errors.Is(err, ErrIncomplete) {
						t.Fatalf("Next: %v", err)
					}
					break
				}
				p.Payload = append([]byte(nil), p.Payload...)
				got = append(got, p)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("chunk %d: got %d packets %v, want %d", chunk, len(got), got, len(want))
		}
		for i := range want {
			if got[i].Addr != want[i].Addr || got[i].PID != want[i].PID || !bytes.Equal(got[i].Payload, want[i].Payload) {
				t.Fatalf("chunk %d: packet %d = %v, want %v", chunk, i, got[i], want[i])
			}
		}
		st := s.Stats()
		if st.Packets != uint64(len(want)) || st.BadChecksum != 1 || st.BadHeader < 1 || st.GarbageBytes < 4+uint64(len(bad)) {
			t.Fatalf("chunk %d: stats %+v", chunk, st)
		}
	}
}

func TestSplitterBoundedOnNoise(t *testing.T) {
	var s Splitter
	noise := bytes.Repeat([]byte{0x00, 0x13, 0xEF}, 1000)
	for i := 0; i < 100; i++ {
		s.Feed(noise)
		if _, err := s.Next(); !errors.Is(err, ErrIncomplete) {
			t.Fatalf("Next on noise: %v", err)
		}
		if s.Buffered() > 1 {
			t.Fatalf("buffer holds %d bytes of noise", s.Buffered())
		}
	}
}

func TestConfirmationErrors(t *testing.T) {
	cases := []struct {
		code  byte
		is    []error
		isNot []error
	}{
		{ConfNoFinger, []error{ErrNoFinger}, []error{ErrRetryable, ErrOffline, ErrConfig}},
		{ConfImageFail, []error{ErrPoorImage, ErrRetryable}, []error{ErrOffline}},
		{ConfPacketReceive, []error{ErrPacketReceive, ErrRetryable}, nil},
		{ConfWrongPassword, []error{ErrWrongPassword, ErrConfig}, []error{ErrRetryable}},
		{ConfImageUpload, []error{ErrUploadFailed, ErrRetryable}, nil},
		{ConfNoPrimaryImage, []error{ErrPoorImage, ErrRetryable}, nil},
		{ConfUnsupported, []error{ErrUnsupported}, []error{ErrRetryable}},
		{ConfPasswordRequired, []error{ErrPasswordNeeded, ErrConfig}, nil},
		{0x77, []error{ErrCommandFailed}, []error{ErrRetryable}},
	}
	for _, c := range cases {
		var err error = &ConfirmationError{Instruction: InsGenImg, Code: c.code}
		for _, e := range c.is {
			if !errors.Is(err, e) {
				t.Errorf("0x%02X is not %v", c.code, e)
			}
		}
		for _, e := range c.isNot {
			if errors.Is(err, e) {
				t.Errorf("0x%02X is %v", c.code, e)
			}
		}
		if err.Error() == "" || ConfirmationText(c.code) == "" {
			t.Errorf("0x%02X: empty text", c.code)
		}
	}
}

func TestSysParaRoundTrip(t *testing.T) {
	p := SysPara{Status: 4, SystemID: 9, LibrarySize: 300, SecurityLevel: 3, Address: 0xDEADBEEF, PacketSize: 128, Baud: 57600}
	q, err := ParseSysPara(p.Marshal())
	if err != nil || q != p {
		t.Fatalf("ParseSysPara(Marshal) = %+v, %v; want %+v", q, err, p)
	}
	if _, err := ParseSysPara(make([]byte, 15)); err == nil {
		t.Fatal("short parameters accepted")
	}
	bad := p.Marshal()
	bad[13] = 7
	if _, err := ParseSysPara(bad); err == nil {
		t.Fatal("packet size code 7 accepted")
	}
}

func TestProbeOrder(t *testing.T) {
	o := ProbeOrder(115200)
	if len(o) != 12 || o[0] != 115200 || o[1] != 57600 {
		t.Fatalf("ProbeOrder(115200) = %v", o)
	}
	seen := map[int]bool{}
	for _, b := range o {
		if seen[b] || !ValidBaud(b) {
			t.Fatalf("ProbeOrder: %v", o)
		}
		seen[b] = true
	}
	if o := ProbeOrder(57600); len(o) != 12 || o[0] != 57600 {
		t.Fatalf("ProbeOrder(57600) = %v", o)
	}
}
