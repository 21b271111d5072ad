package osdp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// StreamStats counts what a Splitter dropped and delivered.
type StreamStats struct {
	// Frames is the number of valid frames delivered.
	Frames uint64
	// GarbageBytes is the number of bytes dropped outside any frame (noise
	// between frames, mark bytes, the SOM of a false start).
	GarbageBytes uint64
	// BadCheck is the number of whole frames dropped for a CRC or checksum
	// mismatch.
	BadCheck uint64
	// BadHeader is the number of false starts: a SOM byte followed by an
	// impossible length or control byte.
	BadHeader uint64
	// Secure is the number of delivered frames that carry a security block
	// (also counted in Frames).
	Secure uint64
}

// Splitter cuts frames out of a byte stream. Feed it bytes as they arrive
// and call Next until it reports ErrIncomplete. It drops bytes between
// frames and frames whose check fails, resynchronising on the next SOM, and
// counts what it dropped. As long as Next is called until it reports
// ErrIncomplete after each Feed, its buffer holds at most MaxFrameLen bytes
// plus the last slice fed. A Splitter is not safe for concurrent use.
type Splitter struct {
	buf   []byte // unconsumed bytes, a window into store
	store []byte // backing array, reused
	stats StreamStats
	frame []byte // copy of the last delivered frame; Frame slices alias it
}

// Feed appends bytes received from the line.
func (s *Splitter) Feed(p []byte) {
	s.compact()
	if need := len(s.buf) + len(p); cap(s.store) < need {
		s.store = make([]byte, 0, max(need, 2*cap(s.store), 256))
	}
	// Move the unconsumed bytes to the front of the backing array (copy
	// handles the overlap) so that it is reused instead of reallocated.
	s.buf = append(s.store[:0], s.buf...)
	s.buf = append(s.buf, p...)
}

// compact drops leading garbage before appending, so the buffer stays small
// when a noisy line never sends a SOM.
func (s *Splitter) compact() {
	if len(s.buf) == 0 {
		s.buf = s.buf[:0]
		return
	}
	if i := bytes.IndexByte(s.buf, SOM); i != 0 {
		if i < 0 {
			i = len(s.buf)
		}
		s.stats.GarbageBytes += uint64(i)
		s.buf = append(s.buf[:0], s.buf[i:]...)
	}
}

// Reset discards buffered bytes (without counting them), for example before
// the control panel sends a new command and wants no stale reply.
func (s *Splitter) Reset() { s.buf = s.buf[:0] }

// Buffered returns the number of bytes waiting for the rest of a frame.
func (s *Splitter) Buffered() int { return len(s.buf) }

// Stats returns the counters.
func (s *Splitter) Stats() StreamStats { return s.stats }

// Next returns the next complete, valid frame. It returns an error wrapping
// ErrIncomplete when more bytes are needed. A frame with a security block
// is delivered like any other (see Decode). The frame's Data and
// SecurityBlock stay valid until the next call to Next.
func (s *Splitter) Next() (Frame, error) {
	for {
		i := bytes.IndexByte(s.buf, SOM)
		if i < 0 {
			s.stats.GarbageBytes += uint64(len(s.buf))
			s.buf = s.buf[:0]
			return Frame{}, fmt.Errorf("osdp: %w: no SOM in buffer", ErrIncomplete)
		}
		if i > 0 {
			s.stats.GarbageBytes += uint64(i)
			s.buf = s.buf[i:]
		}
		f, n, err := Decode(s.buf)
		switch {
		case err == nil:
			s.frame = append(s.frame[:0], s.buf[:n]...)
			f, _, err = Decode(s.frame) // re-slice Data into the stable copy
			s.buf = s.buf[n:]
			s.stats.Frames++
			if f.SecurityBlock != nil {
				s.stats.Secure++
			}
			return f, err
		case errors.Is(err, ErrIncomplete):
			// A corrupted LEN can announce a frame far longer than the one
			// sent, and waiting for it would swallow the frames that follow.
			// If a complete, valid frame starts at a later SOM, the first
			// one was a false start: skip to it.
			if j := validFrameAfter(s.buf); j > 0 {
				s.stats.BadHeader++
				s.stats.GarbageBytes += uint64(j)
				s.buf = s.buf[j:]
				continue
			}
			return Frame{}, err
		case errors.Is(err, ErrBadCheck):
			// Resynchronise on the next SOM after this one rather than
			// trusting LEN: a corrupted LEN must not swallow the next frame.
			s.stats.BadCheck++
			s.stats.GarbageBytes++
			s.buf = s.buf[1:]
		default:
			s.stats.BadHeader++
			s.stats.GarbageBytes += uint64(n)
			s.buf = s.buf[n:]
		}
	}
}

// validFrameAfter returns the offset of the first SOM after b[0] at which a
// complete frame with a good check starts, or 0.
func validFrameAfter(b []byte) int {
	for j := 1; j+headerLen+2 <= len(b); j++ {
		k := bytes.IndexByte(b[j:], SOM)
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

// FrameReader reads frames from an io.Reader (a serial line) through a
// Splitter.
type FrameReader struct {
	r   io.Reader
	s   Splitter
	buf []byte
}

// NewFrameReader returns a FrameReader reading from r.
func NewFrameReader(r io.Reader) *FrameReader {
	return &FrameReader{r: r, buf: make([]byte, 512)}
}

// ReadFrame returns the next valid frame, reading from the underlying reader
// as needed. Errors from the reader (timeouts included) are returned as they
// are; bytes already buffered are kept for the next call. The frame's
// Data stays valid until the next call.
func (fr *FrameReader) ReadFrame() (Frame, error) {
	for {
		f, err := fr.s.Next()
		if !errors.Is(err, ErrIncomplete) {
			return f, err
		}
		n, rerr := fr.r.Read(fr.buf)
		if n > 0 {
			fr.s.Feed(fr.buf[:n])
		}
		if rerr != nil {
			return Frame{}, rerr
		}
	}
}

// Stats returns the counters of the underlying Splitter.
func (fr *FrameReader) Stats() StreamStats { return fr.s.Stats() }
