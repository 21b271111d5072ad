// Package simulator provides the peripheral-device (PD) side of OSDP and
// three simulated PDs for the gate lane: a card reader, a biometric
// (fingerprint) reader and a door I/O board. cmd/gatesim, the demo, the
// benchmarks and the tests use it; the gate daemon never imports it.
//
// ServeBus plays the PD side of one bus: it reads commands, dispatches them
// by address, and writes replies, following OSDP's sequence rules (a
// command repeating the previous sequence number is answered with the
// previous reply, without executing it again). The simulated devices are
// goroutine-safe: a scripted traveller drives them from its own goroutine
// while ServeBus runs.
package simulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"ttpgate/devices/osdp"
)

// PeripheralDevice is a PD that ServeBus can serve.
type PeripheralDevice interface {
	// Address returns the PD's OSDP address (0x00-0x7E).
	Address() byte
	// Powered tells whether the device answers at all; false simulates a
	// device that is unplugged or powered off (ServeBus stays silent).
	Powered() bool
	// Handle executes one command and returns the reply code and data.
	Handle(code byte, data []byte) (reply byte, replyData []byte)
}

// BusStats counts what ServeBus did.
type BusStats struct {
	// Commands counts commands executed.
	Commands uint64
	// Repeats counts repeated commands answered with the previous reply.
	Repeats uint64
	// Replies counts replies written.
	Replies uint64
	// SecureRefused counts Secure Channel frames answered with a NAK.
	SecureRefused uint64
	// Link are the frame splitter's counters (garbage, bad CRC, ...).
	Link osdp.StreamStats
}

// Bus is the PD side of one OSDP bus. Most callers use ServeBus; a Bus is
// useful to read its Stats while it runs.
type Bus struct {
	link io.ReadWriter
	pds  map[byte]*pdSession

	mu    sync.Mutex
	stats BusStats
}

type pdSession struct {
	dev       PeripheralDevice
	lastSeq   int // -1: none yet
	lastReply []byte
}

// NewBus returns a Bus serving pds over link. Addresses must be distinct.
func NewBus(link io.ReadWriter, pds ...PeripheralDevice) (*Bus, error) {
	b := &Bus{link: link, pds: make(map[byte]*pdSession, len(pds))}
	for _, d := range pds {
		a := d.Address()
		if a >= osdp.BroadcastAddr {
			return nil, fmt.Errorf("simulator: PD address 0x%02X, expected 0x00-0x7E", a)
		}
		if _, dup := b.pds[a]; dup {
			return nil, fmt.Errorf("simulator: PD address 0x%02X used twice, expected distinct addresses", a)
		}
		b.pds[a] = &pdSession{dev: d, lastSeq: -1}
	}
	return b, nil
}

// ServeBus serves pds on link until ctx ends or the link fails; see Bus.Serve.
func ServeBus(ctx context.Context, link io.ReadWriter, pds ...PeripheralDevice) error {
	b, err := NewBus(link, pds...)
	if err != nil {
		return err
	}
	return b.Serve(ctx)
}

// Stats returns a snapshot of the counters.
func (b *Bus) Stats() BusStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stats
}

type rxFrame struct {
	f   osdp.Frame
	err error
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// Serve reads commands from the link and answers them until ctx ends (it
// returns ctx.Err()) or a read or write fails (it returns that error).
// Frames with a bad CRC get no reply. If the link's Read blocks without
// timeouts, its reading goroutine ends when the caller closes the link.
func (b *Bus) Serve(ctx context.Context) error {
	frames := make(chan rxFrame)
	done := make(chan struct{})
	defer close(done)
	go func() {
		fr := osdp.NewFrameReader(b.link)
		for {
			f, err := fr.ReadFrame()
			b.mu.Lock()
			b.stats.Link = fr.Stats()
			b.mu.Unlock()
			if err != nil && isTimeout(err) {
				select {
				case <-done:
					return
				default:
					continue
				}
			}
			if err == nil || errors.Is(err, osdp.ErrSecureChannelUnsupported) {
				f.Data = append([]byte(nil), f.Data...)
				f.SecurityBlock = append([]byte(nil), f.SecurityBlock...)
			}
			select {
			case frames <- rxFrame{f, err}:
			case <-done:
				return
			}
			if err != nil && !errors.Is(err, osdp.ErrSecureChannelUnsupported) {
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-frames:
			if r.err != nil && !errors.Is(r.err, osdp.ErrSecureChannelUnsupported) {
				return fmt.Errorf("simulator: bus read: %w", r.err)
			}
			if err := b.handle(r.f, r.err != nil); err != nil {
				return err
			}
		}
	}
}

func (b *Bus) handle(f osdp.Frame, secure bool) error {
	if f.Reply {
		return nil // another PD's reply on a shared bus
	}
	var s *pdSession
	if f.Addr == osdp.BroadcastAddr {
		if len(b.pds) != 1 {
			return nil // broadcast only makes sense with a single PD on the line
		}
		for _, only := range b.pds {
			s = only
		}
	} else if s = b.pds[f.Addr]; s == nil {
		return nil
	}
	var code byte
	var data []byte
	if !s.dev.Powered() {
		return nil
	}
	switch {
	case secure:
		b.count(func(st *BusStats) { st.SecureRefused++ })
		code, data = osdp.ReplyNAK, osdp.Nak{Reason: osdp.NakSecureBlock}.Marshal()
	case f.Seq != 0 && int(f.Seq) == s.lastSeq && s.lastReply != nil:
		// The CP repeats a command whose reply it did not get: send the same
		// reply again and do not execute the command twice.
		if !s.dev.Powered() {
			return nil
		}
		b.count(func(st *BusStats) { st.Repeats++; st.Replies++ })
		_, err := b.link.Write(s.lastReply)
		return wrapWrite(err)
	default:
		if !s.dev.Powered() {
			return nil
		}
		code, data = s.dev.Handle(f.Code, f.Data)
		b.count(func(st *BusStats) { st.Commands++ })
	}
	raw, err := osdp.Frame{Addr: s.dev.Address(), Reply: true, Seq: f.Seq, UseCRC: f.UseCRC, Code: code, Data: data}.Marshal()
	if err != nil {
		// The device built a reply too large for a frame: answer NAK rather
		// than nothing, so the CP sees a refusal, not a dead device.
		raw, _ = osdp.Frame{Addr: s.dev.Address(), Reply: true, Seq: f.Seq, UseCRC: f.UseCRC, Code: osdp.ReplyNAK, Data: []byte{byte(osdp.NakRecord)}}.Marshal()
	}
	if !secure {
		s.lastSeq, s.lastReply = int(f.Seq), raw
	}
	b.count(func(st *BusStats) { st.Replies++ })
	_, err = b.link.Write(raw)
	return wrapWrite(err)
}

func wrapWrite(err error) error {
	if err != nil {
		return fmt.Errorf("simulator: bus write: %w", err)
	}
	return nil
}

func (b *Bus) count(f func(*BusStats)) {
	b.mu.Lock()
	f(&b.stats)
	b.mu.Unlock()
}
