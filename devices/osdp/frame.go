package osdp

import (
	"errors"
	"fmt"
)

// Frame layout (SIA OSDP v2.2 §5.7, checked against libosdp
// doc/osdp-packet-structure.md and src/osdp_phy.c):
//
//	SOM 0x53 | ADDR | LEN_LSB | LEN_MSB | CTRL | [SEC_BLK_LEN SEC_BLK_TYPE SEC_BLK_DATA...] | CMD/REPLY | DATA... | CKSUM or CRC_LSB CRC_MSB
//
// ADDR bit 7 is set on replies (PD to CP); 0x7F is the broadcast address.
// LEN counts the whole frame, SOM and check bytes included. CTRL bits 0-1
// are the sequence number, bit 2 selects CRC-16 (else an 8-bit checksum),
// bit 3 announces a security block. libosdp's optional leading 0xFF mark
// byte is not part of the frame and is skipped as inter-frame garbage.
const (
	// SOM is the start-of-message byte that begins every frame.
	SOM byte = 0x53
	// BroadcastAddr is the address every PD answers to.
	BroadcastAddr byte = 0x7F
	// MaxFrameLen bounds the length of one frame, SOM to check bytes. The
	// decoder refuses longer frames, so a corrupted LEN can never make it
	// allocate or wait for more than this.
	MaxFrameLen = 1440
	// headerLen is SOM, ADDR, LEN (2) and CTRL.
	headerLen = 5

	ctrlSeqMask  = 0x03
	ctrlCRC      = 0x04
	ctrlSCB      = 0x08
	ctrlReserved = 0xF0
	addrReply    = 0x80
)

// Frame is one decoded OSDP message.
type Frame struct {
	// Addr is the PD's 7-bit address (0x00-0x7E, or BroadcastAddr).
	Addr byte
	// Reply is true for a reply from a PD (address bit 7 set on the wire).
	Reply bool
	// Seq is the sequence number, 0-3.
	Seq uint8
	// UseCRC selects the 16-bit CRC check; false selects the 8-bit checksum.
	UseCRC bool
	// SecurityBlock is the whole security control block, starting with its
	// length byte and type byte, or nil when the frame has none.
	SecurityBlock []byte
	// Code is the command or reply code.
	Code byte
	// Data is the command or reply payload (without the code).
	Data []byte
}

// Len returns the length of the marshalled frame, SOM to check bytes.
func (f Frame) Len() int {
	n := headerLen + len(f.SecurityBlock) + 1 + len(f.Data) + 1
	if f.UseCRC {
		n++
	}
	return n
}

// Name returns the OSDP name of the frame's code, as a command or a reply.
func (f Frame) Name() string {
	if f.Reply {
		return ReplyName(f.Code)
	}
	return CommandName(f.Code)
}

// String describes the frame for logs, without its payload bytes.
func (f Frame) String() string {
	dir := "cmd"
	if f.Reply {
		dir = "reply"
	}
	return fmt.Sprintf("%s %s addr=0x%02X seq=%d len=%d", dir, f.Name(), f.Addr, f.Seq, len(f.Data))
}

// Marshal encodes the frame. It fails when a field is out of range: an
// address above 0x7F, a sequence number above 3, a security block whose
// first byte is not its own length (at least 2), or a frame longer than
// MaxFrameLen.
func (f Frame) Marshal() ([]byte, error) {
	return f.AppendMarshal(make([]byte, 0, f.Len()))
}

// AppendMarshal appends the encoded frame to dst and returns the extended
// slice; see Marshal.
func (f Frame) AppendMarshal(dst []byte) ([]byte, error) {
	if f.Addr > BroadcastAddr {
		return dst, fmt.Errorf("osdp: marshal: address 0x%02X, expected 0x00-0x7F", f.Addr)
	}
	if f.Seq > 3 {
		return dst, fmt.Errorf("osdp: marshal: sequence number %d, expected 0-3", f.Seq)
	}
	if sb := f.SecurityBlock; len(sb) > 0 {
		if len(sb) < 2 || int(sb[0]) != len(sb) {
			return dst, fmt.Errorf("osdp: marshal: security block of %d bytes with length byte %d, expected the length byte to equal the block length (at least 2)", len(sb), firstByte(sb))
		}
	}
	n := f.Len()
	if n > MaxFrameLen {
		return dst, fmt.Errorf("osdp: marshal: frame of %d bytes, expected at most %d", n, MaxFrameLen)
	}
	start := len(dst)
	addr := f.Addr
	if f.Reply {
		addr |= addrReply
	}
	ctrl := f.Seq & ctrlSeqMask
	if f.UseCRC {
		ctrl |= ctrlCRC
	}
	if len(f.SecurityBlock) > 0 {
		ctrl |= ctrlSCB
	}
	dst = append(dst, SOM, addr, byte(n), byte(n>>8), ctrl)
	dst = append(dst, f.SecurityBlock...)
	dst = append(dst, f.Code)
	dst = append(dst, f.Data...)
	if f.UseCRC {
		c := CRC16(dst[start:])
		dst = append(dst, byte(c), byte(c>>8)) // low byte first
	} else {
		dst = append(dst, Checksum(dst[start:]))
	}
	return dst, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}

// Decode errors. Decode wraps them with details; test with errors.Is.
var (
	// ErrIncomplete: b holds the beginning of a frame but not all of it yet.
	ErrIncomplete = errors.New("incomplete frame")
	// ErrNoSOM: b does not begin with the SOM byte 0x53.
	ErrNoSOM = errors.New("frame does not start with SOM 0x53")
	// ErrBadLength: the LEN field cannot be the length of a frame.
	ErrBadLength = errors.New("bad frame length")
	// ErrBadHeader: reserved control bits are set, or the security block
	// does not fit the frame.
	ErrBadHeader = errors.New("bad frame header")
	// ErrBadCheck: the CRC or checksum does not match the frame's bytes.
	ErrBadCheck = errors.New("frame check failed")
	// ErrSecureChannelUnsupported is no longer returned: Decode delivers
	// frames with a security block like any other, with SecurityBlock set,
	// and Channel.Open checks them. Kept for callers that still test it.
	ErrSecureChannelUnsupported = errors.New("secure channel frames are not supported")
)

// Decode decodes the frame at the start of b. It returns the frame and the
// number of bytes it occupies. On error the count tells a stream reader how
// many bytes to drop: 0 with ErrIncomplete (wait for more bytes), the frame
// length with ErrBadCheck (a whole frame was read), and 1 for the other errors (the SOM was not the start of a frame;
// resynchronise on the next SOM).
//
// A frame with a security block (Secure Channel) is returned with its
// SecurityBlock; for SCS_15..SCS_18 messages Data still ends with the MAC
// and is still encrypted: Channel.Open checks and decrypts it. The
// returned Data and SecurityBlock alias b; copy them before reusing b.
func Decode(b []byte) (Frame, int, error) {
	if len(b) == 0 {
		return Frame{}, 0, fmt.Errorf("osdp: decode: %w: need %d header bytes, have 0", ErrIncomplete, headerLen)
	}
	if b[0] != SOM {
		return Frame{}, 1, fmt.Errorf("osdp: decode: %w (got 0x%02X)", ErrNoSOM, b[0])
	}
	if len(b) < headerLen {
		return Frame{}, 0, fmt.Errorf("osdp: decode: %w: need %d header bytes, have %d", ErrIncomplete, headerLen, len(b))
	}
	n := int(b[2]) | int(b[3])<<8
	ctrl := b[4]
	checkLen := 1
	if ctrl&ctrlCRC != 0 {
		checkLen = 2
	}
	minLen := headerLen + 1 + checkLen
	if n < minLen || n > MaxFrameLen {
		return Frame{}, 1, fmt.Errorf("osdp: decode: %w: LEN %d, expected %d-%d", ErrBadLength, n, minLen, MaxFrameLen)
	}
	if ctrl&ctrlReserved != 0 {
		return Frame{}, 1, fmt.Errorf("osdp: decode: %w: CTRL 0x%02X has reserved bits 4-7 set, expected them clear", ErrBadHeader, ctrl)
	}
	if len(b) < n {
		return Frame{}, 0, fmt.Errorf("osdp: decode: %w: LEN %d, have %d bytes", ErrIncomplete, n, len(b))
	}
	fb := b[:n]
	body := fb[:n-checkLen]
	if checkLen == 2 {
		want := uint16(fb[n-2]) | uint16(fb[n-1])<<8
		if got := CRC16(body); got != want {
			return Frame{}, n, fmt.Errorf("osdp: decode: %w: CRC 0x%04X in frame, computed 0x%04X", ErrBadCheck, want, got)
		}
	} else if got := Checksum(body); got != fb[n-1] {
		return Frame{}, n, fmt.Errorf("osdp: decode: %w: checksum 0x%02X in frame, computed 0x%02X", ErrBadCheck, fb[n-1], got)
	}
	f := Frame{
		Addr:   b[1] &^ addrReply,
		Reply:  b[1]&addrReply != 0,
		Seq:    ctrl & ctrlSeqMask,
		UseCRC: checkLen == 2,
	}
	pos := headerLen
	if ctrl&ctrlSCB != 0 {
		sbl := int(body[pos]) // body has at least one byte after the header
		if sbl < 2 || pos+sbl >= len(body) {
			return Frame{}, n, fmt.Errorf("osdp: decode: %w: security block length %d, expected 2-%d", ErrBadHeader, sbl, len(body)-pos-1)
		}
		f.SecurityBlock = body[pos : pos+sbl]
		pos += sbl
	}
	f.Code = body[pos]
	f.Data = body[pos+1:]
	return f, n, nil
}

// CRC16 computes the OSDP frame CRC: CRC-16/AUG-CCITT, polynomial 0x1021,
// initial value 0x1D0F, no reflection, no final XOR (libosdp:
// crc16_itu_t(0x1D0F, ...) in src/osdp_phy.c). It is sent low byte first.
func CRC16(b []byte) uint16 {
	crc := uint16(0x1D0F)
	for _, v := range b {
		crc = crc<<8 ^ crcTable[byte(crc>>8)^v]
	}
	return crc
}

var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// Checksum computes the OSDP 8-bit checksum: the two's complement of the
// low byte of the sum of all bytes, so that the sum including the checksum
// is 0 (libosdp compute_checksum in src/osdp_phy.c).
func Checksum(b []byte) byte {
	var s byte
	for _, v := range b {
		s += v
	}
	return -s
}
