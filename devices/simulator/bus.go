// Package simulator provides the peripheral-device (PD) side of OSDP and
// three simulated PDs for the gate lane: a card reader, a biometric
// (fingerprint) reader and a door I/O board. cmd/gatesim, the demo, the
// benchmarks and the tests use it; the gate daemon never imports it.
//
// ServeBus plays the PD side of one bus: it reads commands, dispatches them
// by address, and writes replies, following OSDP's sequence rules (a
// command repeating the previous sequence number is answered with the
// previous reply, without executing it again). With Bus.SetSecure a PD
// speaks Secure Channel: it answers the CHLNG/SCRYPT handshake with its
// SCBK (or SCBK-D in install mode), accepts KEYSET over a session, requires
// a session for every command but ID and CAP, and refuses, without
// executing it, any message whose MAC does not check. The simulated devices are
// goroutine-safe: a scripted traveller drives them from its own goroutine
// while ServeBus runs.
package simulator

import (
	"bytes"
	"context"
	"crypto/rand"
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
	// SecureRefused counts Secure Channel frames refused with a NAK by a PD
	// without Secure Channel (or with a handshake it cannot accept).
	SecureRefused uint64
	// ClearRefused counts clear-text commands refused (NAK "security
	// conditions not met") by a PD that requires Secure Channel, and secure
	// messages for a PD without a session.
	ClearRefused uint64
	// MACErrors counts secure messages refused because their MAC did not
	// check: forged, replayed or corrupted. None was executed.
	MACErrors uint64
	// Handshakes counts Secure Channel sessions established.
	Handshakes uint64
	// HandshakeFailures counts server cryptograms that did not check.
	HandshakeFailures uint64
	// KeySets counts keys installed with KEYSET.
	KeySets uint64
	// Busy counts commands answered BUSY (see SetBusy).
	Busy uint64
	// Link are the frame splitter's counters (garbage, bad CRC, ...).
	Link osdp.StreamStats
}

// SecureConfig is the Secure Channel setup of one simulated PD.
type SecureConfig struct {
	// SCBK is the PD's own key (16 bytes), or nil.
	SCBK []byte
	// InstallMode lets the PD accept a session with the default key SCBK-D,
	// and a KEYSET over it. Installing a key ends install mode.
	InstallMode bool
}

// Bus is the PD side of one OSDP bus. Most callers use ServeBus; a Bus is
// useful to read its Stats while it runs, and to give PDs Secure Channel.
type Bus struct {
	link io.ReadWriter
	pds  map[byte]*pdSession

	mu    sync.Mutex
	stats BusStats

	smu sync.Mutex // guards the Secure Channel fields of every pdSession
}

type pdSession struct {
	dev       PeripheralDevice
	lastSeq   int // -1: none yet
	lastReply []byte

	// Secure Channel, guarded by Bus.smu.
	capable bool   // SetSecure was called with a key or install mode
	scbk    []byte // the PD's key
	install bool
	cuid    [8]byte
	hs      *pdHandshake
	sess    *pdSecure
	busy    int
}

type pdHandshake struct {
	ch         *osdp.Channel
	rndA, rndB [8]byte
	typ        byte
}

type pdSecure struct {
	ch         *osdp.Channel
	cmac, rmac [16]byte
	typ        byte
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
		s := &pdSession{dev: d, lastSeq: -1}
		copy(s.cuid[:], fmt.Sprintf("TTPSIM%02X", a))
		b.pds[a] = s
	}
	return b, nil
}

// ServeBus serves pds on link until ctx ends or the link fails; see Bus.Serve.
func ServeBus(ctx context.Context, link io.ReadWriter, pds ...PeripheralDevice) error {
	return ServeSecureBus(ctx, link, nil, pds...)
}

// ServeSecureBus is ServeBus with Secure Channel for the PDs whose address
// is in secure (see Bus.SetSecure).
func ServeSecureBus(ctx context.Context, link io.ReadWriter, secure map[byte]SecureConfig, pds ...PeripheralDevice) error {
	b, err := NewBus(link, pds...)
	if err != nil {
		return err
	}
	for a, c := range secure {
		if err := b.SetSecure(a, c); err != nil {
			return err
		}
	}
	return b.Serve(ctx)
}

// SetSecure gives the PD at addr Secure Channel: its key and whether it is
// in install mode. Such a PD advertises Secure Channel in its capabilities
// and requires a session for every command but ID and CAP. It may be called
// while the bus runs; it ends the PD's current session.
func (b *Bus) SetSecure(addr byte, c SecureConfig) error {
	s := b.pds[addr]
	if s == nil {
		return fmt.Errorf("simulator: SetSecure: no PD at address 0x%02X", addr)
	}
	if c.SCBK != nil && len(c.SCBK) != 16 {
		return fmt.Errorf("simulator: SetSecure: PD 0x%02X: key of %d bytes, expected 16", addr, len(c.SCBK))
	}
	b.smu.Lock()
	defer b.smu.Unlock()
	s.scbk = append([]byte(nil), c.SCBK...)
	if len(s.scbk) == 0 {
		s.scbk = nil
	}
	s.install = c.InstallMode
	s.capable = s.scbk != nil || s.install
	s.hs, s.sess = nil, nil
	return nil
}

// SCBK returns the current key of the PD at addr (changed by KEYSET), or
// nil.
func (b *Bus) SCBK(addr byte) []byte {
	b.smu.Lock()
	defer b.smu.Unlock()
	if s := b.pds[addr]; s != nil {
		return append([]byte(nil), s.scbk...)
	}
	return nil
}

// InstallMode tells whether the PD at addr still accepts SCBK-D.
func (b *Bus) InstallMode(addr byte) bool {
	b.smu.Lock()
	defer b.smu.Unlock()
	s := b.pds[addr]
	return s != nil && s.install
}

// Secure tells whether the PD at addr has a Secure Channel session now.
func (b *Bus) Secure(addr byte) bool {
	b.smu.Lock()
	defer b.smu.Unlock()
	s := b.pds[addr]
	return s != nil && s.sess != nil
}

// Reboot simulates a restart of the PD at addr: it forgets its session and
// its last reply (not its key).
func (b *Bus) Reboot(addr byte) {
	b.smu.Lock()
	defer b.smu.Unlock()
	if s := b.pds[addr]; s != nil {
		s.hs, s.sess = nil, nil
		s.lastSeq, s.lastReply = -1, nil
	}
}

// SetBusy makes the PD at addr answer its next n commands with BUSY,
// without executing them.
func (b *Bus) SetBusy(addr byte, n int) {
	b.smu.Lock()
	defer b.smu.Unlock()
	if s := b.pds[addr]; s != nil {
		s.busy = n
	}
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
			if err == nil {
				f.Data = append([]byte(nil), f.Data...)
				if f.SecurityBlock != nil {
					f.SecurityBlock = append([]byte(nil), f.SecurityBlock...)
				}
			}
			select {
			case frames <- rxFrame{f, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-frames:
			if r.err != nil {
				return fmt.Errorf("simulator: bus read: %w", r.err)
			}
			if err := b.handle(r.f); err != nil {
				return err
			}
		}
	}
}

func (b *Bus) handle(f osdp.Frame) error {
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
	if !s.dev.Powered() {
		return nil
	}
	b.smu.Lock()
	raw, cache, stat := b.respond(s, f)
	if raw != nil && cache {
		s.lastSeq, s.lastReply = int(f.Seq), raw
	}
	b.smu.Unlock()
	if raw == nil {
		return nil
	}
	if stat != nil {
		b.count(stat)
	}
	b.count(func(st *BusStats) { st.Replies++ })
	_, err := b.link.Write(raw)
	return wrapWrite(err)
}

// clearReply marshals a reply without a MAC (clear text, a handshake reply,
// or a NAK from a PD that cannot or will not use the session).
func clearReply(s *pdSession, f osdp.Frame, sb []byte, code byte, data []byte) []byte {
	raw, err := osdp.Frame{Addr: s.dev.Address(), Reply: true, Seq: f.Seq, UseCRC: f.UseCRC || sb != nil, SecurityBlock: sb, Code: code, Data: data}.Marshal()
	if err != nil {
		// The device built a reply too large for a frame: answer NAK rather
		// than nothing, so the CP sees a refusal, not a dead device.
		raw, _ = osdp.Frame{Addr: s.dev.Address(), Reply: true, Seq: f.Seq, UseCRC: f.UseCRC, Code: osdp.ReplyNAK, Data: []byte{byte(osdp.NakRecord)}}.Marshal()
	}
	return raw
}

func nakFrame(s *pdSession, f osdp.Frame, r osdp.NakReason) []byte {
	return clearReply(s, f, nil, osdp.ReplyNAK, []byte{byte(r)})
}

// respond decides the reply to one command for PD s: the wire bytes (nil:
// stay silent), whether they answer the command's sequence number for a
// repeat, and a counter update. b.smu is held.
func (b *Bus) respond(s *pdSession, f osdp.Frame) (raw []byte, cache bool, stat func(*BusStats)) {
	if f.Seq != 0 && int(f.Seq) == s.lastSeq && s.lastReply != nil {
		// The CP repeats a command whose reply it did not get: send the same
		// reply again and do not execute the command twice. The bytes were
		// already on the wire, so this discloses nothing and runs nothing.
		return s.lastReply, false, func(st *BusStats) { st.Repeats++ }
	}
	if s.busy > 0 {
		s.busy--
		return clearReply(s, f, nil, osdp.ReplyBUSY, nil), false, func(st *BusStats) { st.Busy++ }
	}
	if f.Seq == 0 {
		// The CP starts over: any session ends (libosdp does the same).
		s.hs, s.sess = nil, nil
	}
	sb := f.SecurityBlock
	if sb != nil && !s.capable {
		return nakFrame(s, f, osdp.NakSecureBlock), false, func(st *BusStats) { st.SecureRefused++ }
	}
	if sb == nil {
		if s.capable && (s.sess != nil || (f.Code != osdp.CmdID && f.Code != osdp.CmdCAP)) {
			return nakFrame(s, f, osdp.NakSecureCondition), true, func(st *BusStats) { st.ClearRefused++ }
		}
		code, data := b.execute(s, f.Code, f.Data)
		return clearReply(s, f, nil, code, data), true, func(st *BusStats) { st.Commands++ }
	}
	switch {
	case len(sb) == 3 && sb[1] == osdp.SCS11 && f.Code == osdp.CmdCHLNG && len(f.Data) == 8:
		var key []byte
		switch sb[2] {
		case osdp.KeySCBKD:
			if s.install {
				key = osdp.SCBKD[:]
			}
		case osdp.KeySCBK:
			key = s.scbk
		}
		if key == nil {
			s.hs, s.sess = nil, nil
			return nakFrame(s, f, osdp.NakSecureCondition), true, func(st *BusStats) { st.SecureRefused++ }
		}
		var h pdHandshake
		copy(h.rndA[:], f.Data)
		if _, err := rand.Read(h.rndB[:]); err != nil {
			return nakFrame(s, f, osdp.NakRecord), false, nil
		}
		h.ch, _ = osdp.NewChannel(key, h.rndA)
		h.typ = sb[2]
		s.hs, s.sess = &h, nil
		cc := osdp.CCrypt{CUID: s.cuid, RndB: h.rndB, ClientCryptogram: h.ch.ClientCryptogram(h.rndA, h.rndB)}
		return clearReply(s, f, osdp.HandshakeBlock(osdp.SCS12, h.typ), osdp.ReplyCCRYPT, cc.Marshal()), true, nil
	case len(sb) == 3 && sb[1] == osdp.SCS13 && f.Code == osdp.CmdSCRYPT && len(f.Data) == 16:
		h := s.hs
		s.hs = nil
		if h == nil {
			return nakFrame(s, f, osdp.NakSecureCondition), true, func(st *BusStats) { st.SecureRefused++ }
		}
		want := h.ch.ServerCryptogram(h.rndA, h.rndB)
		if !bytes.Equal(want[:], f.Data) {
			return clearReply(s, f, osdp.HandshakeBlock(osdp.SCS14, 0xFF), osdp.ReplyRMACI, make([]byte, 16)), true,
				func(st *BusStats) { st.HandshakeFailures++ }
		}
		rmac := h.ch.InitialRMAC(want)
		s.sess = &pdSecure{ch: h.ch, rmac: rmac, typ: h.typ}
		return clearReply(s, f, osdp.HandshakeBlock(osdp.SCS14, 0x01), osdp.ReplyRMACI, rmac[:]), true,
			func(st *BusStats) { st.Handshakes++ }
	case osdp.IsSecureMessage(f):
		if s.sess == nil {
			return nakFrame(s, f, osdp.NakSecureCondition), false, func(st *BusStats) { st.ClearRefused++ }
		}
		g, cmac, err := s.sess.ch.Open(f, s.sess.rmac)
		if err != nil {
			// Forged, replayed or damaged: never executed, not remembered
			// as the last command, and the session goes on.
			return nakFrame(s, f, osdp.NakSecureCondition), false, func(st *BusStats) { st.MACErrors++ }
		}
		s.sess.cmac = cmac
		var code byte
		var data []byte
		var keyset func(*BusStats)
		if g.Code == osdp.CmdKEYSET {
			code, data, keyset = b.keySet(s, g.Data)
		} else {
			code, data = b.execute(s, g.Code, g.Data)
		}
		sess := s.sess
		out, rmac, err := sess.ch.Seal(osdp.Frame{Addr: s.dev.Address(), Reply: true, Seq: f.Seq, Code: code, Data: data}, cmac)
		if err != nil {
			out, rmac, _ = sess.ch.Seal(osdp.Frame{Addr: s.dev.Address(), Reply: true, Seq: f.Seq, Code: osdp.ReplyNAK, Data: []byte{byte(osdp.NakRecord)}}, cmac)
		}
		sess.rmac = rmac
		return out, true, func(st *BusStats) {
			st.Commands++
			if keyset != nil {
				keyset(st)
			}
		}
	}
	return nakFrame(s, f, osdp.NakSecureBlock), false, func(st *BusStats) { st.SecureRefused++ }
}

// keySet installs a new key received over the session. b.smu is held.
func (b *Bus) keySet(s *pdSession, data []byte) (byte, []byte, func(*BusStats)) {
	k, err := osdp.ParseKeySet(data)
	if err != nil {
		return osdp.ReplyNAK, []byte{byte(osdp.NakCommandLength)}, nil
	}
	if k.Type != osdp.KeyTypeSCBK {
		return osdp.ReplyNAK, []byte{byte(osdp.NakRecord)}, nil
	}
	s.scbk, s.install = k.Key, false
	return osdp.ReplyACK, nil, func(st *BusStats) { st.KeySets++ }
}

// execute runs a command on the device, adding Secure Channel to the
// capabilities of a PD that has it. b.smu is held; devices do not call
// back into the bus.
func (b *Bus) execute(s *pdSession, code byte, data []byte) (byte, []byte) {
	rc, rd := s.dev.Handle(code, data)
	if code == osdp.CmdCAP && rc == osdp.ReplyPDCAP && s.capable {
		if caps, err := osdp.ParsePDCAP(rd); err == nil {
			has := false
			for _, c := range caps {
				has = has || c.Function == osdp.CapCommSecurity
			}
			if !has {
				rd = osdp.MarshalPDCAP(append(caps, osdp.Capability{Function: osdp.CapCommSecurity, Compliance: 1, NumItems: 1}))
			}
		}
	}
	return rc, rd
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
