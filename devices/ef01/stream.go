package ef01

import (
	"bytes"
	"errors"
)

// StreamStats counts what a Splitter delivered and dropped.
type StreamStats struct {
	// Packets is the number of valid packets delivered.
	Packets uint64
	// GarbageBytes is the number of bytes dropped: noise between packets,
	// false starts, and the bytes of packets whose checksum failed.
	GarbageBytes uint64
	// BadChecksum is the number of packets dropped for a checksum mismatch.
	BadChecksum uint64
	// BadHeader is the number of false starts: 0xEF 0x01 followed by an
	// unknown PID or an impossible length, or a start whose announced
	// length was cut short by a valid packet behind it.
	BadHeader uint64
}

// Splitter cuts packets out of a byte stream. Feed it bytes as they arrive
// and call Next until it reports ErrIncomplete. It drops bytes outside
// packets and packets whose checksum fails, resynchronising on the next
// 0xEF 0x01, and counts what it dropped. Called that way, its buffer holds
// at most MaxPacketLen bytes plus the last slice fed. Not safe for
// concurrent use.
type Splitter struct {
	buf   []byte
	store []byte
	pkt   []byte // copy of the last delivered packet; Payload aliases it
	stats StreamStats
}

var header = []byte{Header1, Header2}

// Feed appends bytes received from the line.
func (s *Splitter) Feed(p []byte) {
	s.compact()
	if need := len(s.buf) + len(p); cap(s.store) < need {
		s.store = make([]byte, 0, max(need, 2*cap(s.store), 512))
	}
	s.buf = append(s.store[:0], s.buf...)
	s.buf = append(s.buf, p...)
}

// compact drops leading bytes that cannot start a packet, so that a line
// that never sends a header does not grow the buffer.
func (s *Splitter) compact() {
	i := bytes.Index(s.buf, header)
	if i < 0 {
		// Keep a trailing 0xEF: its 0x01 may be in the next slice.
		i = len(s.buf)
		if i > 0 && s.buf[i-1] == Header1 {
			i--
		}
	}
	if i > 0 {
		s.stats.GarbageBytes += uint64(i)
		s.buf = s.buf[i:]
	}
}

// Reset discards buffered bytes without counting them (before a command,
// when stale bytes must not be taken for its answer).
func (s *Splitter) Reset() { s.buf = s.buf[:0] }

// Buffered returns the number of bytes waiting for the rest of a packet.
func (s *Splitter) Buffered() int { return len(s.buf) }

// Stats returns the counters.
func (s *Splitter) Stats() StreamStats { return s.stats }

// Next returns the next complete, valid packet, or an error wrapping
// ErrIncomplete when more bytes are needed. The packet's Payload stays
// valid until the next call to Next.
func (s *Splitter) Next() (Packet, error) {
	for {
		s.compact()
		if len(s.buf) < 2 {
			return Packet{}, ErrIncomplete
		}
		p, n, err := Decode(s.buf)
		switch {
		case err == nil:
			s.pkt = append(s.pkt[:0], s.buf[:n]...)
			s.buf = s.buf[n:]
			s.stats.Packets++
			p.Payload = s.pkt[HeaderLen : n-2 : n-2]
			return p, nil
		case errors.Is(err, ErrIncomplete):
			// A corrupted LEN may announce more bytes than were sent;
			// waiting for them would swallow the packets that follow. If
			// a valid packet starts further on, this start was false.
			if j := validPacketAfter(s.buf); j > 0 {
				s.stats.BadHeader++
				s.stats.GarbageBytes += uint64(j)
				s.buf = s.buf[j:]
				continue
			}
			return Packet{}, ErrIncomplete
		case errors.Is(err, ErrBadChecksum):
			// Do not trust LEN: drop the start byte only and resync on
			// the next header, so a corrupted LEN cannot swallow the next
			// packet. A header look-alike inside the dropped payload must
			// still pass the checksum to be taken.
			s.stats.BadChecksum++
			s.stats.GarbageBytes++
			s.buf = s.buf[1:]
		default:
			s.stats.BadHeader++
			s.stats.GarbageBytes++
			s.buf = s.buf[1:]
		}
	}
}

// validPacketAfter returns the offset of the first header after b[0] at
// which a complete packet with a good checksum starts, or 0.
func validPacketAfter(b []byte) int {
	for j := 1; j+Overhead <= len(b); j++ {
		k := bytes.Index(b[j:], header)
		if k < 0 {
			return 0
		}
		j += k
		if _, _, err := Decode(b[j:]); err == nil {
			return j
		}
	}
	return 0
}
