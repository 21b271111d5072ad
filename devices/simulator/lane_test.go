package simulator

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creack/pty"

	"ttpgate/devices/osdp"
	"ttpgate/devices/serialport"
)

const (
	addrCard = 0x01
	addrBio  = 0x02
	addrDoor = 0x03
	wait     = 10 * time.Second // generous: the machine is shared
)

// collector keeps every event of a control panel so tests can wait for one
// without racing the bus loop.
type collector struct {
	mu      sync.Mutex
	events  []osdp.Event
	changed chan struct{}
}

func collect(cp *osdp.ControlPanel) *collector {
	c := &collector{changed: make(chan struct{})}
	go func() {
		for ev := range cp.Events() {
			c.mu.Lock()
			c.events = append(c.events, ev)
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}

// waitFor returns the first event at index >= since for which match is true.
func (c *collector) waitFor(t *testing.T, since int, what string, match func(osdp.Event) bool) osdp.Event {
	t.Helper()
	deadline := time.After(wait)
	for {
		c.mu.Lock()
		for i := since; i < len(c.events); i++ {
			if match(c.events[i]) {
				ev := c.events[i]
				c.mu.Unlock()
				return ev
			}
		}
		since = len(c.events)
		ch := c.changed
		c.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no %s event within %v", what, wait)
		}
	}
}

func isOnline(addr byte) func(osdp.Event) bool {
	return func(ev osdp.Event) bool { e, ok := ev.(osdp.PDOnline); return ok && e.Addr == addr }
}

type lane struct {
	cp   *osdp.ControlPanel
	ev   *collector
	card *CardReader
	bio  *BioReader
	door *DoorBoard
	bus  *Bus
}

var fastOptions = osdp.Options{PollInterval: 10 * time.Millisecond, ReplyTimeout: 100 * time.Millisecond}

// startLane runs a control panel on cpLink and the three simulated PDs on
// pdLink, waits until all three are online, and stops everything at the end
// of the test.
func startLane(t *testing.T, cpLink osdp.Link, pdLink io.ReadWriter, closers []io.Closer, opt osdp.Options) *lane {
	t.Helper()
	l := &lane{card: NewCardReader(addrCard), bio: NewBioReader(addrBio), door: NewDoorBoard(addrDoor)}
	var err error
	l.bus, err = NewBus(pdLink, l.card, l.bio, l.door)
	if err != nil {
		t.Fatal(err)
	}
	l.cp = osdp.NewControlPanel(cpLink, []osdp.PDConfig{
		{Addr: addrCard, Name: "card reader"}, {Addr: addrBio, Name: "fingerprint reader"}, {Addr: addrDoor, Name: "door board"},
	}, opt)
	l.ev = collect(l.cp)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = l.bus.Serve(ctx) }()
	go func() { defer wg.Done(); _ = l.cp.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for _, c := range closers {
			c.Close()
		}
		wg.Wait()
	})
	for _, a := range []byte{addrCard, addrBio, addrDoor} {
		l.ev.waitFor(t, 0, "PDOnline", isOnline(a))
	}
	return l
}

func pipeLane(t *testing.T, opt osdp.Options, wrap func(io.ReadWriter) io.ReadWriter) *lane {
	cpSide, pdSide := net.Pipe()
	var pd io.ReadWriter = pdSide
	if wrap != nil {
		pd = wrap(pdSide)
	}
	return startLane(t, cpSide, pd, []io.Closer{cpSide, pdSide}, opt)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// ---- tests -------------------------------------------------------------------

func TestIdentification(t *testing.T) {
	l := pipeLane(t, fastOptions, nil)
	ev := l.ev.waitFor(t, 0, "PDOnline door", isOnline(addrDoor)).(osdp.PDOnline)
	if ev.ID.Model != 3 || ev.Name != "door board" || len(ev.Caps) == 0 || ev.Time.IsZero() {
		t.Fatalf("door PDOnline = %+v", ev)
	}
	for _, s := range l.cp.Stats() {
		if !s.Online || s.Replies == 0 {
			t.Errorf("stats %+v: want online with replies", s)
		}
	}
}

func TestCardReadBecomesEvent(t *testing.T) {
	l := pipeLane(t, fastOptions, nil)
	m := l.ev.mark()
	if err := l.card.Present("0012345678"); err != nil {
		t.Fatal(err)
	}
	ev := l.ev.waitFor(t, m, "CardRead", func(e osdp.Event) bool { _, ok := e.(osdp.CardRead); return ok }).(osdp.CardRead)
	if ev.Number != "0012345678" || ev.Err != nil || ev.Addr != addrCard || ev.Time.IsZero() {
		t.Fatalf("CardRead = %+v", ev)
	}
	m = l.ev.mark()
	if err := l.card.PresentRaw(osdp.EncodeH10301(0, 18, 1234)); err != nil {
		t.Fatal(err)
	}
	ev = l.ev.waitFor(t, m, "CardRead", func(e osdp.Event) bool { _, ok := e.(osdp.CardRead); return ok }).(osdp.CardRead)
	if ev.Number != "01801234" || ev.Raw.Bits != 26 {
		t.Fatalf("Wiegand CardRead = %+v", ev)
	}
}

func TestReaderFeedbackIsRecorded(t *testing.T) {
	l := pipeLane(t, fastOptions, nil)
	ctx := ctxT(t)
	since := l.card.Mark()
	go func() {
		_ = l.cp.LED(ctx, addrCard, osdp.LED{Permanent: osdp.LEDPermanent{Control: osdp.LEDPermSet, OnTime: 1, OnColor: osdp.ColorAmber}})
		_ = l.cp.Buzzer(ctx, addrCard, osdp.Buzzer{Tone: osdp.ToneDefault, OnTime: 2, Count: 1})
		_ = l.cp.Text(ctx, addrCard, osdp.Text{Control: osdp.TextPermanent, Row: 1, Col: 1, Text: "Place finger"})
	}()
	r, err := l.card.WaitCommand(ctx, since, osdp.CmdTEXT, func(r Received) bool { return r.Text == "Place finger" })
	if err != nil {
		t.Fatal(err)
	}
	if r.Time.IsZero() || l.card.LastText() != "Place finger" {
		t.Fatalf("TEXT recorded as %+v, LastText %q", r, l.card.LastText())
	}
	if led, ok := l.card.LastLED(); !ok || led.Permanent.OnColor != osdp.ColorAmber {
		t.Fatalf("LastLED = %+v, %v", led, ok)
	}
	if n := len(l.card.Log()); n != 3 {
		t.Fatalf("card reader log has %d commands, want LED, BUZ, TEXT", n)
	}
}

func TestBioReadReturnsTemplate(t *testing.T) {
	l := pipeLane(t, fastOptions, nil)
	ctx := ctxT(t)
	tmpl := append([]byte("FMR\x00 20\x00"), bytes.Repeat([]byte{0xA5}, 300)...)
	m := l.ev.mark()
	if err := l.cp.BioRead(ctx, addrBio, osdp.BioReadRequest{Type: osdp.BioTypeRightIndex, Format: osdp.BioFormatTemplate, Quality: 40}); err != nil {
		t.Fatalf("BioRead: %v", err)
	}
	req, err := l.bio.WaitCaptureRequest(ctx)
	if err != nil || req.Type != osdp.BioTypeRightIndex {
		t.Fatalf("WaitCaptureRequest = %+v, %v", req, err)
	}
	if err := l.bio.PlaceFinger(tmpl, 87); err != nil {
		t.Fatal(err)
	}
	ev := l.ev.waitFor(t, m, "BioRead", func(e osdp.Event) bool { _, ok := e.(osdp.BioRead); return ok }).(osdp.BioRead)
	if ev.Status != osdp.BioStatusSuccess || ev.Quality != 87 || ev.Format != osdp.BioFormatTemplate || !bytes.Equal(ev.Template, tmpl) {
		t.Fatalf("BioRead event = status %d quality %d format %d template %d bytes", ev.Status, ev.Quality, ev.Format, len(ev.Template))
	}

	// A failed capture.
	m = l.ev.mark()
	if err := l.cp.BioRead(ctx, addrBio, osdp.BioReadRequest{Format: osdp.BioFormatTemplate}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.bio.WaitCaptureRequest(ctx); err != nil {
		t.Fatal(err)
	}
	l.bio.FailCapture()
	ev = l.ev.waitFor(t, m, "BioRead", func(e osdp.Event) bool { _, ok := e.(osdp.BioRead); return ok }).(osdp.BioRead)
	if ev.Status != osdp.BioStatusTimeout || len(ev.Template) != 0 {
		t.Fatalf("failed capture event = %+v", ev)
	}

	// A format the reader does not deliver is refused with a NAK.
	err = l.cp.BioRead(ctx, addrBio, osdp.BioReadRequest{Format: osdp.BioFormatRawPGM})
	var nak *osdp.NakError
	if !errors.As(err, &nak) || nak.Nak.Reason != osdp.NakBioFormat {
		t.Fatalf("BIOREAD for a PGM image: err = %v, want NAK bio format", err)
	}
}

func TestNAKIsAnError(t *testing.T) {
	l := pipeLane(t, fastOptions, nil)
	_, err := l.cp.Send(ctxT(t), addrCard, osdp.CmdBIOREAD, osdp.BioReadRequest{}.Marshal())
	var nak *osdp.NakError
	if !errors.As(err, &nak) || nak.Nak.Reason != osdp.NakUnknownCommand || nak.Command != osdp.CmdBIOREAD {
		t.Fatalf("BIOREAD to the card reader: err = %v, want NAK unknown command", err)
	}
	if _, err := l.cp.Send(ctxT(t), 0x44, osdp.CmdPOLL, nil); !errors.Is(err, osdp.ErrUnknownPD) {
		t.Fatalf("Send to an unconfigured address: %v, want ErrUnknownPD", err)
	}
	if s := l.cp.Stats()[0]; s.NAKs != 1 {
		t.Fatalf("card reader NAKs = %d, want 1", s.NAKs)
	}
}

// dropFirstOUTReply loses the PD's reply to the first OUT command, as a
// noisy line would: the control panel times out and repeats the frame.
type dropFirstOUTReply struct {
	io.ReadWriter
	split   osdp.Splitter
	mu      sync.Mutex
	armed   bool
	dropped atomic.Int32
}

func (d *dropFirstOUTReply) Read(p []byte) (int, error) {
	n, err := d.ReadWriter.Read(p)
	d.mu.Lock()
	d.split.Feed(p[:n])
	for {
		f, ferr := d.split.Next()
		if errors.Is(ferr, osdp.ErrIncomplete) {
			break
		}
		if ferr == nil && f.Code == osdp.CmdOUT && d.dropped.Load() == 0 {
			d.armed = true
		}
	}
	d.mu.Unlock()
	return n, err
}

func (d *dropFirstOUTReply) Write(p []byte) (int, error) {
	d.mu.Lock()
	drop := d.armed
	d.armed = false
	d.mu.Unlock()
	if drop {
		d.dropped.Add(1)
		return len(p), nil
	}
	return d.ReadWriter.Write(p)
}

func TestOutputPulsesOnceWhenReplyIsLost(t *testing.T) {
	var dropper *dropFirstOUTReply
	l := pipeLane(t, fastOptions, func(rw io.ReadWriter) io.ReadWriter {
		dropper = &dropFirstOUTReply{ReadWriter: rw}
		return dropper
	})
	ctx := ctxT(t)
	if err := l.cp.Output(ctx, addrDoor, OutputExitDoor, osdp.OutputPulse, 300*time.Millisecond); err != nil {
		t.Fatalf("Output: %v", err)
	}
	if dropper.dropped.Load() != 1 {
		t.Fatalf("the test link dropped %d replies, want 1", dropper.dropped.Load())
	}
	if n := l.door.PulseCount(OutputExitDoor); n != 1 {
		t.Fatalf("exit door pulsed %d times, want exactly 1 (the retry must not re-execute)", n)
	}
	if p := l.door.Pulses()[0]; p.Duration != 300*time.Millisecond {
		t.Fatalf("pulse %+v, want 300ms", p)
	}
	st := l.cp.Stats()[2]
	if st.Timeouts < 1 || st.Retries < 1 {
		t.Fatalf("door stats %+v: want a timeout and a retry", st)
	}
	if bs := l.bus.Stats(); bs.Repeats < 1 {
		t.Fatalf("bus stats %+v: want the repeated command answered from the last reply", bs)
	}
	// The pulse ends by itself: the door is never latched open.
	deadline := time.Now().Add(wait)
	for l.door.OutputActive(OutputExitDoor) {
		if time.Now().After(deadline) {
			t.Fatal("exit door still open long after its 300ms pulse")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if l.door.PulseCount(OutputEntryDoor) != 0 {
		t.Fatal("entry door pulsed")
	}
}

func TestBeamBreakReportsInputs(t *testing.T) {
	l := pipeLane(t, fastOptions, nil)
	ctx := ctxT(t)
	in, err := l.cp.InputStatus(ctx, addrDoor)
	if err != nil || len(in) != 5 || !in.Active(InputExitDoorClosed) || in.Active(InputExitBeam) {
		t.Fatalf("InputStatus = %v, %v; want 5 inputs, exit door closed", in, err)
	}
	m := l.ev.mark()
	if err := l.door.BreakBeam(InputExitBeam); err != nil {
		t.Fatal(err)
	}
	isInput := func(e osdp.Event) bool { _, ok := e.(osdp.InputStatus); return ok }
	first := l.ev.waitFor(t, m, "InputStatus", isInput).(osdp.InputStatus)
	if !first.Inputs.Active(InputExitBeam) {
		t.Fatalf("first InputStatus %v: exit beam should be interrupted", first.Inputs)
	}
	m2 := l.ev.mark()
	second := l.ev.waitFor(t, m2, "InputStatus", isInput).(osdp.InputStatus)
	if second.Inputs.Active(InputExitBeam) {
		t.Fatalf("second InputStatus %v: exit beam should be clear again", second.Inputs)
	}
	if err := l.door.SetInput(9, true); err == nil {
		t.Fatal("SetInput(9) succeeded")
	}
}

func TestSilentPDGoesOfflineAndComesBack(t *testing.T) {
	opt := fastOptions
	opt.ReplyTimeout = 30 * time.Millisecond
	opt.OfflineAfter = 300 * time.Millisecond
	opt.OfflineProbeInterval = 50 * time.Millisecond
	l := pipeLane(t, opt, nil)
	ctx := ctxT(t)
	m := l.ev.mark()
	l.door.PowerOff()
	off := l.ev.waitFor(t, m, "PDOffline", func(e osdp.Event) bool { o, ok := e.(osdp.PDOffline); return ok && o.Addr == addrDoor }).(osdp.PDOffline)
	if off.Reason == "" {
		t.Fatal("PDOffline without a reason")
	}
	if err := l.cp.Output(ctx, addrDoor, OutputExitDoor, osdp.OutputPulse, time.Second); !errors.Is(err, osdp.ErrPDOffline) {
		t.Fatalf("Output to an offline PD: %v, want ErrPDOffline", err)
	}
	if s := l.cp.Stats()[2]; s.Online {
		t.Fatal("stats say the door board is online")
	}
	// The other PDs keep working.
	m2 := l.ev.mark()
	l.card.Present("42")
	l.ev.waitFor(t, m2, "CardRead", func(e osdp.Event) bool { _, ok := e.(osdp.CardRead); return ok })

	l.door.PowerOn()
	l.ev.waitFor(t, m, "PDOnline again", isOnline(addrDoor))
	if err := l.cp.Output(ctx, addrDoor, OutputExitDoor, osdp.OutputPulse, 100*time.Millisecond); err != nil {
		t.Fatalf("Output after the door board came back: %v", err)
	}
	if l.door.PulseCount(OutputExitDoor) != 1 {
		t.Fatalf("pulses %v", l.door.Pulses())
	}
}

func TestLaneOverPseudoTerminal(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatalf("pty.Open: %v", err)
	}
	port, err := serialport.Open(slave.Name(), 115200)
	slave.Close()
	if err != nil {
		master.Close()
		t.Fatalf("serialport.Open(%s): %v", slave.Name(), err)
	}
	if err := port.SetReadTimeout(50 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	l := startLane(t, port, master, []io.Closer{port, master}, fastOptions)
	ctx := ctxT(t)

	m := l.ev.mark()
	l.card.Present("123456789012")
	ev := l.ev.waitFor(t, m, "CardRead", func(e osdp.Event) bool { _, ok := e.(osdp.CardRead); return ok }).(osdp.CardRead)
	if ev.Number != "123456789012" {
		t.Fatalf("CardRead over pty = %+v", ev)
	}
	if err := l.cp.BioRead(ctx, addrBio, osdp.BioReadRequest{Format: osdp.BioFormatTemplate}); err != nil {
		t.Fatal(err)
	}
	tmpl := bytes.Repeat([]byte{0x53, 0x00, 0x0A}, 150) // SOM bytes inside the data must not confuse framing
	m = l.ev.mark()
	if err := l.bio.PlaceFinger(tmpl, 70); err != nil {
		t.Fatal(err)
	}
	bev := l.ev.waitFor(t, m, "BioRead", func(e osdp.Event) bool { _, ok := e.(osdp.BioRead); return ok }).(osdp.BioRead)
	if !bytes.Equal(bev.Template, tmpl) {
		t.Fatalf("template over pty: %d bytes, want %d", len(bev.Template), len(tmpl))
	}
	if err := l.cp.Output(ctx, addrDoor, OutputEntryDoor, osdp.OutputPulse, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if l.door.PulseCount(OutputEntryDoor) != 1 {
		t.Fatalf("entry door pulses %v", l.door.Pulses())
	}
}
