package osdp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Link is the bus a ControlPanel talks over: a serial line in production
// (serialport.Port), a pipe or pseudo-terminal in tests. Reads may fail with
// a timeout error (one with a Timeout() bool method returning true, like
// serialport.ErrTimeout or os.ErrDeadlineExceeded); the control panel
// ignores those. Any other read or write error stops Run.
type Link interface {
	io.ReadWriter
}

// PDConfig names one peripheral device on the bus.
type PDConfig struct {
	// Addr is the PD's address, 0x00-0x7E.
	Addr byte
	// Name is a human name for logs and errors ("entry card reader").
	Name string
	// SCBK is the PD's Secure Channel Base Key (16 bytes). When it is set,
	// the control panel talks to the PD only over Secure Channel: a PD that
	// will not establish it stays offline, with the reason in PDOffline.
	// nil: no key (see InstallMode and Options.RequireSecure).
	SCBK []byte
	// InstallMode allows the default key SCBK-D for this PD: with no SCBK,
	// Secure Channel is set up with SCBK-D; with an SCBK, SCBK-D is tried
	// when the PD does not know the SCBK. Use it only to commission a new
	// PD: establish the channel, install the PD's own key with KeySet,
	// store that key, and restart with InstallMode off.
	InstallMode bool
}

// Options tune a ControlPanel. Zero values select the defaults.
type Options struct {
	// PollInterval is how often each online PD is polled. Default 50 ms.
	PollInterval time.Duration
	// ReplyTimeout is how long to wait for a reply before repeating the
	// frame. Default 200 ms (OSDP v2.2).
	ReplyTimeout time.Duration
	// OfflineAfter is how long a PD may give no valid reply before it is
	// reported offline. Default 8 s (OSDP v2.2).
	OfflineAfter time.Duration
	// Retries is how many times a frame is repeated, with the same sequence
	// number, after a reply timeout before the command fails. Default 2.
	// Negative means no repeat.
	Retries int
	// OfflineProbeInterval is how often a PD that is offline (or never
	// answered) is probed with an ID request. Default 1 s.
	OfflineProbeInterval time.Duration
	// EventBuffer is the capacity of the Events channel. Default 64.
	EventBuffer int
	// Now is the clock used to stamp events and to decide when a PD is
	// offline. Default time.Now. Reply timeouts use real timers.
	Now func() time.Time
	// RequireSecure refuses clear text: a PD with neither an SCBK nor
	// InstallMode stays offline. Production configurations set it. When it
	// is false, a PD without a key is spoken to in clear text (a PD with a
	// key always gets Secure Channel).
	RequireSecure bool
	// Rand is the source of the CP's Secure Channel random numbers.
	// Default crypto/rand.Reader; tests may make it deterministic.
	Rand io.Reader
}

func (o *Options) fill() {
	if o.PollInterval <= 0 {
		o.PollInterval = 50 * time.Millisecond
	}
	if o.ReplyTimeout <= 0 {
		o.ReplyTimeout = 200 * time.Millisecond
	}
	if o.OfflineAfter <= 0 {
		o.OfflineAfter = 8 * time.Second
	}
	if o.Retries == 0 {
		o.Retries = 2
	} else if o.Retries < 0 {
		o.Retries = 0
	}
	if o.OfflineProbeInterval <= 0 {
		o.OfflineProbeInterval = time.Second
	}
	if o.EventBuffer <= 0 {
		o.EventBuffer = 64
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
}

// Errors returned by ControlPanel methods, wrapped with details; test with
// errors.Is.
var (
	// ErrUnknownPD: the address is not one of the PDs the control panel
	// was created with.
	ErrUnknownPD = errors.New("no such PD on this bus")
	// ErrPDOffline: the PD is offline (or not yet online), so the command
	// was not sent.
	ErrPDOffline = errors.New("PD is offline")
	// ErrNoReply: the command was sent, repeated, and never answered. The PD
	// may or may not have executed it.
	ErrNoReply = errors.New("no reply from PD")
	// ErrUnexpectedReply: the PD answered with a reply the command does not
	// allow.
	ErrUnexpectedReply = errors.New("unexpected reply from PD")
	// ErrNotRunning: Run has returned; the control panel no longer sends.
	ErrNotRunning = errors.New("control panel is not running")
)

// NakError is returned when a PD refuses a command with a NAK reply.
type NakError struct {
	// Addr is the PD's address.
	Addr byte
	// Name is the PD's configured name.
	Name string
	// Command is the refused command code.
	Command byte
	// Nak is the NAK reply.
	Nak Nak
}

// Error describes the refusal.
func (e *NakError) Error() string {
	return fmt.Sprintf("osdp: PD 0x%02X (%s) refused %s: NAK %s (0x%02X)", e.Addr, e.Name, CommandName(e.Command), e.Nak.Reason, byte(e.Nak.Reason))
}

// PDStats is a snapshot of one PD's counters.
type PDStats struct {
	// Addr is the PD's address.
	Addr byte
	// Name is the PD's configured name.
	Name string
	// Online tells whether the PD is online now.
	Online bool
	// ID is the PD's identification, once it was online.
	ID PDID
	// FramesSent counts frames sent to the PD, repeats included.
	FramesSent uint64
	// Replies counts valid replies received.
	Replies uint64
	// Timeouts counts frames that got no valid reply in time, or whose
	// reply arrived damaged (bad CRC), which is repeated at once.
	Timeouts uint64
	// Retries counts frames repeated after a timeout.
	Retries uint64
	// CRCErrors counts frames with a bad CRC/checksum received while
	// waiting for this PD's reply.
	CRCErrors uint64
	// NAKs counts NAK replies.
	NAKs uint64
	// Busy counts BUSY replies.
	Busy uint64
	// BadReplies counts replies to a POLL whose payload did not parse, and
	// replies dropped because they were not allowed in the current mode
	// (clear text during a secure session, a secure message without one).
	BadReplies uint64
	// LastReply is when the last valid reply arrived (Options.Now).
	LastReply time.Time

	// Secure tells whether a Secure Channel session is established now.
	Secure bool
	// DefaultKey tells whether that session uses SCBK-D (install mode).
	DefaultKey bool
	// Handshakes counts Secure Channel sessions established.
	Handshakes uint64
	// HandshakeFailures counts handshakes refused or broken off.
	HandshakeFailures uint64
	// MACErrors counts replies dropped because their MAC did not check
	// (forged, replayed, or corrupted past the CRC). They are never acted on.
	MACErrors uint64
	// Resyncs counts POLLs sent with the sequence number of an unanswered
	// frame, to collect its reply (a lost card read) and resynchronise the
	// sequence and the MAC chain without executing a command twice.
	Resyncs uint64
	// Reason is why the PD is offline, when it is.
	Reason string
}

type request struct {
	ctx   context.Context
	addr  byte
	code  byte
	data  []byte
	reply chan result
	key   []byte // KEYSET: the new key
}

type result struct {
	f   Frame
	err error
}

type pdState struct {
	cfg PDConfig

	// Owned by the bus goroutine.
	online      bool
	everOnline  bool
	reportedOff bool
	resetSeq    bool
	lastSeq     uint8
	lastValid   time.Time
	nextPoll    time.Time
	queue       []*request
	bioFormat   byte // format asked by the last BIOREAD, for BioRead events

	// Secure Channel, owned by the bus goroutine.
	scbk          []byte     // the PD's key (PDConfig.SCBK, then KeySet)
	pendingKey    []byte     // a KEYSET was sent but its ACK not seen: the PD may use this key
	sc            *scSession // nil: clear text
	needEstablish bool       // run ID, CAP and the handshake again before anything else
	tryDefault    bool       // install mode: the last handshake with the SCBK failed, try SCBK-D
	macFails      int        // consecutive replies with a bad MAC
	offReason     string     // last reason reported in PDOffline while not online
	demandsSC     bool       // a clear-text PD answered NAK "security conditions not met"

	// An unanswered frame: its sequence number stays in use until a reply
	// with it arrives, so that a lost reply (a card read) is collected and
	// a command is never executed twice nor left half-chained.
	pending    bool
	pendingSeq uint8
	cands      []candidate // MACs of the frames sent with pendingSeq

	// Guarded by ControlPanel.mu.
	stats PDStats
}

// ControlPanel is the OSDP control panel of one bus. Create it with
// NewControlPanel, start Run in a goroutine, read Events, and send commands
// with Send or the convenience methods from any goroutine.
//
// Run's goroutine alone writes to the link and owns all protocol state; a
// helper goroutine only reads bytes from the link and hands them over.
type ControlPanel struct {
	link   Link
	opt    Options
	pds    []*pdState
	byAddr map[byte]*pdState
	events chan Event
	reqs   chan *request
	stop   chan struct{} // closed when Run returns
	ran    atomic.Bool

	split Splitter

	mu        sync.Mutex // guards pdState.stats and linkStats
	linkStats StreamStats
}

// NewControlPanel returns a control panel for the PDs on link. Addresses
// must be distinct and below 0x7F and keys 16 bytes; NewControlPanel panics
// otherwise, as that is a programming or configuration error to catch at
// start.
func NewControlPanel(link Link, pds []PDConfig, opt Options) *ControlPanel {
	opt.fill()
	cp := &ControlPanel{
		link:   link,
		opt:    opt,
		byAddr: make(map[byte]*pdState, len(pds)),
		events: make(chan Event, opt.EventBuffer),
		reqs:   make(chan *request),
		stop:   make(chan struct{}),
	}
	for _, c := range pds {
		if c.Addr >= BroadcastAddr {
			panic(fmt.Sprintf("osdp: NewControlPanel: PD %q address 0x%02X, expected 0x00-0x7E", c.Name, c.Addr))
		}
		if _, dup := cp.byAddr[c.Addr]; dup {
			panic(fmt.Sprintf("osdp: NewControlPanel: address 0x%02X used twice, expected distinct addresses", c.Addr))
		}
		if c.SCBK != nil && len(c.SCBK) != 16 {
			panic(fmt.Sprintf("osdp: NewControlPanel: PD %q SCBK of %d bytes, expected 16", c.Name, len(c.SCBK)))
		}
		c.SCBK = append([]byte(nil), c.SCBK...)
		if len(c.SCBK) == 0 {
			c.SCBK = nil
		}
		p := &pdState{cfg: c, resetSeq: true, scbk: c.SCBK}
		p.stats.Addr, p.stats.Name = c.Addr, c.Name
		cp.pds = append(cp.pds, p)
		cp.byAddr[c.Addr] = p
	}
	return cp
}

// Events returns the channel of events. The consumer must keep reading it:
// when it is full the bus loop waits, and polling stops meanwhile. The
// channel is closed when Run returns.
func (cp *ControlPanel) Events() <-chan Event { return cp.events }

// Stats returns a snapshot of every PD's counters, in configuration order.
func (cp *ControlPanel) Stats() []PDStats {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	out := make([]PDStats, len(cp.pds))
	for i, p := range cp.pds {
		out[i] = p.stats
	}
	return out
}

// LinkStats returns the counters of the receive side of the link: frames,
// garbage bytes, bad-check frames, secure frames.
func (cp *ControlPanel) LinkStats() StreamStats {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.linkStats
}

func (cp *ControlPanel) stat(p *pdState, f func(s *PDStats)) {
	cp.mu.Lock()
	f(&p.stats)
	cp.mu.Unlock()
}

// Send queues a command for the PD at addr and waits for its reply. The
// command goes out between polls, before the next poll of that PD. An ACK
// or any other reply is returned as a Frame; a NAK returns the frame and a
// *NakError. A PD that is not online (offline, or not yet identified after
// start) fails at once with ErrPDOffline. If ctx ends before the command was
// sent it is not sent.
func (cp *ControlPanel) Send(ctx context.Context, addr byte, code byte, data []byte) (Frame, error) {
	return cp.submit(ctx, addr, &request{code: code, data: append([]byte(nil), data...)})
}

// submit queues req for the PD at addr and waits for its reply.
func (cp *ControlPanel) submit(ctx context.Context, addr byte, req *request) (Frame, error) {
	code := req.code
	p, ok := cp.byAddr[addr]
	if !ok {
		return Frame{}, fmt.Errorf("osdp: send %s to 0x%02X: %w", CommandName(code), addr, ErrUnknownPD)
	}
	// Room for the Secure Channel overhead: security block, padding, MAC.
	if maxData := MaxFrameLen - 8 - 2 - 16 - MACLen; len(req.data) > maxData {
		return Frame{}, fmt.Errorf("osdp: send %s to PD 0x%02X (%s): %d data bytes, expected at most %d", CommandName(code), addr, p.cfg.Name, len(req.data), maxData)
	}
	req.ctx, req.addr, req.reply = ctx, addr, make(chan result, 1)
	select {
	case cp.reqs <- req:
	case <-ctx.Done():
		return Frame{}, fmt.Errorf("osdp: send %s to PD 0x%02X (%s): %w", CommandName(code), addr, p.cfg.Name, ctx.Err())
	case <-cp.stop:
		return Frame{}, fmt.Errorf("osdp: send %s to PD 0x%02X (%s): %w", CommandName(code), addr, p.cfg.Name, ErrNotRunning)
	}
	select {
	case r := <-req.reply:
		return r.f, r.err
	case <-ctx.Done():
		return Frame{}, fmt.Errorf("osdp: send %s to PD 0x%02X (%s): %w (the command may still be sent)", CommandName(code), addr, p.cfg.Name, ctx.Err())
	}
}

// sendAck sends a command that must be answered with ACK.
func (cp *ControlPanel) sendAck(ctx context.Context, addr, code byte, data []byte) error {
	f, err := cp.Send(ctx, addr, code, data)
	if err != nil {
		return err
	}
	if f.Code != ReplyACK {
		return fmt.Errorf("osdp: %s to PD 0x%02X: %w: got %s, expected ACK", CommandName(code), addr, ErrUnexpectedReply, ReplyName(f.Code))
	}
	return nil
}

// LED sets a reader LED.
func (cp *ControlPanel) LED(ctx context.Context, addr byte, led LED) error {
	return cp.sendAck(ctx, addr, CmdLED, led.Marshal())
}

// Buzzer sounds a reader's buzzer.
func (cp *ControlPanel) Buzzer(ctx context.Context, addr byte, b Buzzer) error {
	return cp.sendAck(ctx, addr, CmdBUZ, b.Marshal())
}

// Text shows text on a reader's display.
func (cp *ControlPanel) Text(ctx context.Context, addr byte, t Text) error {
	data, err := t.Marshal()
	if err != nil {
		return err
	}
	return cp.sendAck(ctx, addr, CmdTEXT, data)
}

// Output drives output number output of the PD at addr with a control code
// (Output*) and, for timed codes such as OutputPulse, a duration that is
// rounded up to the protocol's 100 ms units (at most 6553.5 s). A retry
// after a lost reply repeats the frame with the same sequence number, so
// the PD executes the command once.
func (cp *ControlPanel) Output(ctx context.Context, addr byte, output byte, control byte, timer time.Duration) error {
	if timer < 0 || timer > 0xFFFF*100*time.Millisecond {
		return fmt.Errorf("osdp: OUT to PD 0x%02X: timer %v, expected 0-6553.5s", addr, timer)
	}
	units := uint16((timer + 100*time.Millisecond - 1) / (100 * time.Millisecond))
	return cp.sendAck(ctx, addr, CmdOUT, Output{Number: output, Control: control, Timer: units}.Marshal())
}

// BioRead asks the PD at addr to capture a biometric sample. It returns
// once the PD accepted the request; the sample arrives later as a BioRead
// event.
func (cp *ControlPanel) BioRead(ctx context.Context, addr byte, r BioReadRequest) error {
	return cp.sendAck(ctx, addr, CmdBIOREAD, r.Marshal())
}

// InputStatus asks the PD at addr for the state of its inputs.
func (cp *ControlPanel) InputStatus(ctx context.Context, addr byte) (Status, error) {
	return cp.status(ctx, addr, CmdISTAT, ReplyISTATR)
}

// OutputStatus asks the PD at addr for the state of its outputs.
func (cp *ControlPanel) OutputStatus(ctx context.Context, addr byte) (Status, error) {
	return cp.status(ctx, addr, CmdOSTAT, ReplyOSTATR)
}

func (cp *ControlPanel) status(ctx context.Context, addr, cmd, want byte) (Status, error) {
	f, err := cp.Send(ctx, addr, cmd, nil)
	if err != nil {
		return nil, err
	}
	if f.Code != want {
		return nil, fmt.Errorf("osdp: %s to PD 0x%02X: %w: got %s, expected %s", CommandName(cmd), addr, ErrUnexpectedReply, ReplyName(f.Code), ReplyName(want))
	}
	return ParseStatus(f.Data)
}

// ---- the bus loop ------------------------------------------------------------

type rxChunk struct {
	b   []byte
	err error
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// readLoop pumps bytes from the link to rx until a non-timeout read error or
// until done is closed. If the link's Read blocks forever, the goroutine ends
// when the caller closes the link.
func (cp *ControlPanel) readLoop(rx chan<- rxChunk, done <-chan struct{}) {
	buf := make([]byte, 512)
	for {
		n, err := cp.link.Read(buf)
		if n > 0 {
			select {
			case rx <- rxChunk{b: append([]byte(nil), buf[:n]...)}:
			case <-done:
				return
			}
		}
		if err != nil && !isTimeout(err) {
			select {
			case rx <- rxChunk{err: err}:
			case <-done:
			}
			return
		}
		select {
		case <-done:
			return
		default:
		}
	}
}

// errLink marks an error of the link itself, which stops Run.
type errLink struct{ err error }

// Error describes the link failure.
func (e errLink) Error() string { return "osdp: link failed: " + e.err.Error() }

// Unwrap returns the link's error.
func (e errLink) Unwrap() error { return e.err }

// Run drives the bus until ctx ends or the link fails, and returns why. It
// identifies each PD (ID, CAP), polls online PDs every PollInterval, sends
// queued commands between polls, and reports events. Run may be called
// once; when it returns the Events channel is closed and queued commands
// fail.
func (cp *ControlPanel) Run(ctx context.Context) error {
	if !cp.ran.CompareAndSwap(false, true) {
		return errors.New("osdp: ControlPanel.Run called twice, expected a single call")
	}
	done := make(chan struct{})
	rx := make(chan rxChunk, 16)
	go cp.readLoop(rx, done)
	defer func() {
		close(done)
		close(cp.stop)
		cp.failAll(ErrNotRunning)
		close(cp.events)
	}()

	start := cp.opt.Now()
	for _, p := range cp.pds {
		p.lastValid = start
		p.nextPoll = start
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	next := 0 // round-robin start
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		cp.takeRequests()
		now := cp.opt.Now()

		// Commands first: they go out between polls.
		var err error
		served := false
		for _, p := range cp.pds {
			if len(p.queue) > 0 {
				err = cp.serveRequest(ctx, rx, p)
				served = true
				break
			}
		}
		if !served {
			for i := range cp.pds {
				p := cp.pds[(next+i)%len(cp.pds)]
				if !now.Before(p.nextPoll) {
					next = (next + i + 1) % len(cp.pds)
					err = cp.pollOrProbe(ctx, rx, p)
					served = true
					break
				}
			}
		}
		if err != nil {
			var le errLink
			if errors.As(err, &le) || ctx.Err() != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return err
			}
		}
		if served {
			continue
		}

		// Nothing due: wait for the next poll, a command, or the end.
		wait := time.Hour
		for _, p := range cp.pds {
			if d := p.nextPoll.Sub(now); d < wait {
				wait = d
			}
		}
		if len(cp.pds) == 0 {
			wait = time.Hour
		}
		timer.Reset(max(wait, 0)) // Go ≥1.23 timers: Reset needs no drain
		select {
		case <-ctx.Done():
			return ctx.Err()
		case req := <-cp.reqs:
			cp.enqueue(req)
		case c := <-rx:
			if c.err != nil {
				return errLink{c.err}
			}
			// Unsolicited bytes between transactions are stale; they are
			// discarded before the next command.
		case <-timer.C:
		}
	}
}

// takeRequests moves every waiting request into its PD's queue.
func (cp *ControlPanel) takeRequests() {
	for {
		select {
		case req := <-cp.reqs:
			cp.enqueue(req)
		default:
			return
		}
	}
}

func (cp *ControlPanel) enqueue(req *request) {
	p := cp.byAddr[req.addr]
	if !p.online {
		req.reply <- result{err: fmt.Errorf("osdp: %s to PD 0x%02X (%s): %w", CommandName(req.code), p.cfg.Addr, p.cfg.Name, ErrPDOffline)}
		return
	}
	p.queue = append(p.queue, req)
}

func (cp *ControlPanel) failQueue(p *pdState, err error) {
	for _, req := range p.queue {
		req.reply <- result{err: fmt.Errorf("osdp: %s to PD 0x%02X (%s): %w", CommandName(req.code), p.cfg.Addr, p.cfg.Name, err)}
	}
	p.queue = nil
}

func (cp *ControlPanel) failAll(err error) {
	for _, p := range cp.pds {
		cp.failQueue(p, err)
	}
	for {
		select {
		case req := <-cp.reqs:
			req.reply <- result{err: fmt.Errorf("osdp: %s to PD 0x%02X: %w", CommandName(req.code), req.addr, err)}
		default:
			return
		}
	}
}

func (cp *ControlPanel) serveRequest(ctx context.Context, rx chan rxChunk, p *pdState) error {
	req := p.queue[0]
	p.queue = p.queue[1:]
	if err := req.ctx.Err(); err != nil {
		req.reply <- result{err: fmt.Errorf("osdp: %s to PD 0x%02X (%s): %w (not sent)", CommandName(req.code), p.cfg.Addr, p.cfg.Name, err)}
		return nil
	}
	if p.needEstablish {
		if err := cp.establish(ctx, rx, p); err != nil || !p.online {
			if err == nil {
				err = fmt.Errorf("osdp: %s to PD 0x%02X (%s): %w", CommandName(req.code), p.cfg.Addr, p.cfg.Name, ErrPDOffline)
			}
			req.reply <- result{err: fmt.Errorf("osdp: %s to PD 0x%02X (%s): not sent, the session could not be re-established: %w", CommandName(req.code), p.cfg.Addr, p.cfg.Name, err)}
			return err
		}
	}
	if req.code == CmdKEYSET {
		if p.sc == nil {
			req.reply <- result{err: fmt.Errorf("osdp: KEYSET to PD 0x%02X (%s): %w", p.cfg.Addr, p.cfg.Name, ErrNotSecure)}
			return nil
		}
		p.pendingKey = req.key
	}
	f, err := cp.transact(ctx, rx, p, req.code, req.data, cp.opt.Retries, nil)
	if err == nil && f.Code == ReplyNAK {
		nak, perr := ParseNak(f.Data)
		if perr != nil {
			err = fmt.Errorf("osdp: %s to PD 0x%02X (%s): %w", CommandName(req.code), p.cfg.Addr, p.cfg.Name, perr)
		} else {
			err = &NakError{Addr: p.cfg.Addr, Name: p.cfg.Name, Command: req.code, Nak: nak}
		}
	}
	if err == nil && req.code == CmdBIOREAD && f.Code == ReplyACK {
		if r, perr := ParseBioRead(req.data); perr == nil {
			p.bioFormat = r.Format
		}
	}
	if req.code == CmdKEYSET {
		switch {
		case err == nil && f.Code == ReplyACK:
			cp.keyInstalled(p, req.key)
		case err == nil:
			p.pendingKey = nil
			err = fmt.Errorf("osdp: KEYSET to PD 0x%02X (%s): %w: got %s, expected ACK", p.cfg.Addr, p.cfg.Name, ErrUnexpectedReply, ReplyName(f.Code))
		case errors.Is(err, ErrNoReply):
			// The PD may have switched: the next handshake tries both keys.
			err = fmt.Errorf("%w; the PD may or may not have the new key: keep both until a KeySet succeeds", err)
		default:
			p.pendingKey = nil
		}
	}
	req.reply <- result{f: f, err: err}
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
