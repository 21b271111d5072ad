// Package ef01 drives the fingerprint modules of the ZhianTec family (R30x,
// AS608 and compatibles, "EF01" after their packet header) over a UART: the
// packet codec (pure, no I/O), a stream splitter that resynchronises on the
// header, and a driver (Module) for the commands the gate needs: password
// check, system parameters, baud-rate and packet-size changes, image capture
// (GenImg), image upload (UpImage) and, on modules that have it, the LED
// ring (AuraLedConfig). The host does extraction and matching itself (see
// ttpgate/match/extract.FromPacked4); the module's own matcher is not used.
//
// Packet layout (all multi-byte fields big-endian):
//
//	0xEF 0x01 | ADDR (4) | PID (1) | LEN (2) | PAYLOAD (LEN-2) | SUM (2)
//
// PID is 0x01 command, 0x02 data, 0x07 acknowledgement, 0x08 end of data.
// LEN counts the payload and the two checksum bytes. SUM is the low 16 bits
// of the arithmetic sum of the PID byte, both LEN bytes and every payload
// byte. A command payload starts with the instruction code; an
// acknowledgement payload starts with the confirmation code.
package ef01

import (
	"errors"
	"fmt"
)

// Packet identifiers.
const (
	PIDCommand byte = 0x01 // host to module: instruction code and parameters
	PIDData    byte = 0x02 // a data packet with more to follow
	PIDAck     byte = 0x07 // module to host: confirmation code and results
	PIDEndData byte = 0x08 // the last data packet
)

// Framing constants.
const (
	// Header1 and Header2 are the two start bytes of every packet.
	Header1 byte = 0xEF
	Header2 byte = 0x01
	// DefaultAddress is the factory address of every module.
	DefaultAddress uint32 = 0xFFFFFFFF
	// MaxPayload bounds a packet's payload. Data packets carry at most 256
	// bytes (the largest packet size a module can be set to) and no
	// command or reply the driver uses is longer, so a corrupted LEN can
	// never make the decoder wait for more than this.
	MaxPayload = 256
	// HeaderLen is the header: start bytes, address, PID and LEN.
	HeaderLen = 9
	// Overhead is the bytes of a packet besides its payload.
	Overhead = HeaderLen + 2
	// MaxPacketLen is the longest packet the decoder accepts.
	MaxPacketLen = Overhead + MaxPayload
)

// Packet is one decoded packet.
type Packet struct {
	// Addr is the module's 32-bit address (DefaultAddress unless changed).
	Addr uint32
	// PID is the packet identifier (PIDCommand, PIDData, PIDAck, PIDEndData).
	PID byte
	// Payload is everything between LEN and the checksum. Decode returns a
	// slice of its input: copy it before reusing the input.
	Payload []byte
}

// Len returns the encoded length of the packet.
func (p Packet) Len() int { return Overhead + len(p.Payload) }

// String describes the packet for logs, without its payload bytes.
func (p Packet) String() string {
	s := fmt.Sprintf("%s addr=%08X len=%d", pidName(p.PID), p.Addr, len(p.Payload))
	if (p.PID == PIDCommand || p.PID == PIDAck) && len(p.Payload) > 0 {
		s += fmt.Sprintf(" code=0x%02X", p.Payload[0])
	}
	return s
}

func pidName(pid byte) string {
	switch pid {
	case PIDCommand:
		return "command"
	case PIDData:
		return "data"
	case PIDAck:
		return "ack"
	case PIDEndData:
		return "end-data"
	}
	return fmt.Sprintf("pid-0x%02X", pid)
}

func validPID(pid byte) bool {
	return pid == PIDCommand || pid == PIDData || pid == PIDAck || pid == PIDEndData
}

// Decode errors, wrapped with details; test with errors.Is.
var (
	// ErrIncomplete: the input holds the beginning of a packet, not all of it.
	ErrIncomplete = errors.New("ef01: incomplete packet")
	// ErrBadHeader: the input does not start with 0xEF 0x01, or the PID is
	// not one of the four the protocol defines.
	ErrBadHeader = errors.New("ef01: bad packet header")
	// ErrBadLength: LEN cannot be the length of a packet (below 2, above
	// MaxPayload+2, or an empty command or acknowledgement).
	ErrBadLength = errors.New("ef01: bad packet length")
	// ErrBadChecksum: the checksum does not match the packet's bytes.
	ErrBadChecksum = errors.New("ef01: packet checksum mismatch")
)

// Checksum returns the checksum of a packet with this PID and payload.
func Checksum(pid byte, payload []byte) uint16 {
	n := len(payload) + 2
	s := uint32(pid) + uint32(n>>8&0xFF) + uint32(n&0xFF)
	for _, b := range payload {
		s += uint32(b)
	}
	return uint16(s)
}

// Encode encodes the packet. It fails for an unknown PID, a payload longer
// than MaxPayload, or an empty command or acknowledgement.
func Encode(p Packet) ([]byte, error) {
	return AppendEncode(make([]byte, 0, p.Len()), p)
}

// AppendEncode appends the encoded packet to dst; see Encode.
func AppendEncode(dst []byte, p Packet) ([]byte, error) {
	if !validPID(p.PID) {
		return dst, fmt.Errorf("ef01: encode: packet identifier 0x%02X, expected 0x01, 0x02, 0x07 or 0x08", p.PID)
	}
	if len(p.Payload) > MaxPayload {
		return dst, fmt.Errorf("ef01: encode: payload of %d bytes, expected at most %d", len(p.Payload), MaxPayload)
	}
	if len(p.Payload) == 0 && (p.PID == PIDCommand || p.PID == PIDAck) {
		return dst, fmt.Errorf("ef01: encode: empty %s packet, expected an instruction or confirmation code", pidName(p.PID))
	}
	n := len(p.Payload) + 2
	dst = append(dst, Header1, Header2, byte(p.Addr>>24), byte(p.Addr>>16), byte(p.Addr>>8), byte(p.Addr), p.PID, byte(n>>8), byte(n))
	dst = append(dst, p.Payload...)
	c := Checksum(p.PID, p.Payload)
	return append(dst, byte(c>>8), byte(c)), nil
}

// Decode decodes the packet at the start of b and returns it with the
// number of bytes it occupies. On error the count tells a stream reader how
// many bytes to drop: 0 with ErrIncomplete (wait for more), 1 with
// ErrBadHeader or ErrBadLength (the start bytes were not the start of a
// packet: resynchronise on the next 0xEF 0x01), the packet's length with
// ErrBadChecksum. The returned Payload aliases b.
func Decode(b []byte) (Packet, int, error) {
	if len(b) >= 1 && b[0] != Header1 || len(b) >= 2 && b[1] != Header2 {
		return Packet{}, 1, fmt.Errorf("%w: start bytes % X, expected EF 01", ErrBadHeader, b[:min(2, len(b))])
	}
	if len(b) >= 7 && !validPID(b[6]) {
		return Packet{}, 1, fmt.Errorf("%w: packet identifier 0x%02X, expected 0x01, 0x02, 0x07 or 0x08", ErrBadHeader, b[6])
	}
	if len(b) < HeaderLen {
		return Packet{}, 0, fmt.Errorf("%w: %d of %d header bytes", ErrIncomplete, len(b), HeaderLen)
	}
	pid := b[6]
	n := int(b[7])<<8 | int(b[8])
	minLen := 2
	if pid == PIDCommand || pid == PIDAck {
		minLen = 3
	}
	if n < minLen || n > MaxPayload+2 {
		return Packet{}, 1, fmt.Errorf("%w: LEN %d for a %s packet, expected %d..%d", ErrBadLength, n, pidName(pid), minLen, MaxPayload+2)
	}
	total := HeaderLen + n
	if len(b) < total {
		return Packet{}, 0, fmt.Errorf("%w: LEN %d, have %d of %d bytes", ErrIncomplete, n, len(b), total)
	}
	p := Packet{
		Addr:    uint32(b[2])<<24 | uint32(b[3])<<16 | uint32(b[4])<<8 | uint32(b[5]),
		PID:     pid,
		Payload: b[HeaderLen : total-2 : total-2],
	}
	want := uint16(b[total-2])<<8 | uint16(b[total-1])
	if got := Checksum(pid, p.Payload); got != want {
		return Packet{}, total, fmt.Errorf("%w: %s packet carries 0x%04X, computed 0x%04X", ErrBadChecksum, pidName(pid), want, got)
	}
	return p, total, nil
}
