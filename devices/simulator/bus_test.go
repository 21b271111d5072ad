package simulator

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"ttpgate/devices/osdp"
)

// rawBus serves a door board on one end of a pipe and returns the other end
// for a test that plays the control panel byte by byte.
func rawBus(t *testing.T) (net.Conn, *DoorBoard, *Bus) {
	t.Helper()
	cpSide, pdSide := net.Pipe()
	door := NewDoorBoard(addrDoor)
	bus, err := NewBus(pdSide, door)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = bus.Serve(ctx) }()
	t.Cleanup(func() { cancel(); cpSide.Close(); pdSide.Close(); <-done })
	return cpSide, door, bus
}

func exchange(t *testing.T, c net.Conn, f osdp.Frame) (osdp.Frame, []byte, error) {
	t.Helper()
	raw, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return exchangeRaw(t, c, raw)
}

func exchangeRaw(t *testing.T, c net.Conn, raw []byte) (osdp.Frame, []byte, error) {
	t.Helper()
	c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Write(raw); err != nil {
		return osdp.Frame{}, nil, err
	}
	fr := osdp.NewFrameReader(c)
	f, err := fr.ReadFrame()
	if err != nil {
		return f, nil, err
	}
	back, _ := f.Marshal()
	return f, back, nil
}

func TestBusRepeatedSequenceResendsWithoutExecuting(t *testing.T) {
	c, door, bus := rawBus(t)
	out := osdp.Frame{Addr: addrDoor, Seq: 1, UseCRC: true, Code: osdp.CmdOUT, Data: osdp.Output{Number: 1, Control: osdp.OutputPulse, Timer: 10}.Marshal()}
	_, first, err := exchange(t, c, out)
	if err != nil {
		t.Fatal(err)
	}
	_, again, err := exchange(t, c, out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Fatalf("repeat answered % X, first answer % X", again, first)
	}
	if n := door.PulseCount(1); n != 1 {
		t.Fatalf("%d pulses after a repeated OUT, want 1", n)
	}
	// A new sequence number executes again; sequence 0 always does.
	out.Seq = 2
	exchange(t, c, out)
	out.Seq = 0
	exchange(t, c, out)
	exchange(t, c, out)
	if n := door.PulseCount(1); n != 4 {
		t.Fatalf("%d pulses, want 4 (seq 1, 2, 0, 0)", n)
	}
	if s := bus.Stats(); s.Repeats != 1 {
		t.Fatalf("bus stats %+v, want 1 repeat", s)
	}
}

func TestBusIgnoresBadCRCAndOtherAddresses(t *testing.T) {
	c, _, bus := rawBus(t)
	raw, _ := osdp.Frame{Addr: addrDoor, Seq: 1, UseCRC: true, Code: osdp.CmdPOLL}.Marshal()
	raw[len(raw)-1] ^= 0xFF
	if _, _, err := exchangeRaw(t, c, raw); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("bad CRC: err = %v, want no reply (deadline)", err)
	}
	if _, _, err := exchange(t, c, osdp.Frame{Addr: 0x09, Seq: 1, UseCRC: true, Code: osdp.CmdPOLL}); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("other address: err = %v, want no reply", err)
	}
	f, _, err := exchange(t, c, osdp.Frame{Addr: addrDoor, Seq: 2, Code: osdp.CmdPOLL})
	if err != nil || f.Code != osdp.ReplyACK || !f.Reply || f.UseCRC || f.Seq != 2 {
		t.Fatalf("checksum POLL: reply %v, %v; want a checksum ACK with seq 2", f, err)
	}
	if s := bus.Stats(); s.Link.BadCheck != 1 {
		t.Fatalf("bus link stats %+v, want 1 bad check", s.Link)
	}
	// Broadcast reaches the only PD on the line.
	f, _, err = exchange(t, c, osdp.Frame{Addr: osdp.BroadcastAddr, Seq: 3, UseCRC: true, Code: osdp.CmdID, Data: []byte{0}})
	if err != nil || f.Code != osdp.ReplyPDID {
		t.Fatalf("broadcast ID: %v, %v", f, err)
	}
}

func TestBusRefusesSecureChannel(t *testing.T) {
	c, _, bus := rawBus(t)
	f, _, err := exchange(t, c, osdp.Frame{Addr: addrDoor, Seq: 1, UseCRC: true, SecurityBlock: []byte{3, 0x11, 0}, Code: osdp.CmdCHLNG, Data: make([]byte, 8)})
	if err != nil {
		t.Fatal(err)
	}
	nak, perr := osdp.ParseNak(f.Data)
	if f.Code != osdp.ReplyNAK || perr != nil || nak.Reason != osdp.NakSecureBlock {
		t.Fatalf("secure CHLNG answered %v (% X), want NAK security block not supported", f, f.Data)
	}
	if bus.Stats().SecureRefused != 1 {
		t.Fatal("SecureRefused not counted")
	}
}

func TestNewBusRejectsDuplicateAddresses(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := NewBus(a, NewCardReader(1), NewDoorBoard(1)); err == nil {
		t.Fatal("duplicate address accepted")
	}
	if _, err := NewBus(a, NewCardReader(0x7F)); err == nil {
		t.Fatal("broadcast address accepted as a PD address")
	}
}

func TestConcurrentCommands(t *testing.T) {
	l := pipeLane(t, fastOptions, nil)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 10 {
		wg.Add(3)
		go func() {
			defer wg.Done()
			errs <- l.cp.Output(ctx, addrDoor, OutputOfficerCall, osdp.OutputPulse, 100*time.Millisecond)
		}()
		go func() {
			defer wg.Done()
			errs <- l.cp.Text(ctx, addrCard, osdp.Text{Control: osdp.TextPermanent, Row: 1, Col: 1, Text: "Welcome"})
		}()
		go func() {
			defer wg.Done()
			errs <- l.card.Present("1000" + string(rune('0'+i)))
			_ = l.cp.Stats()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := l.door.PulseCount(OutputOfficerCall); n != 10 {
		t.Fatalf("%d officer-call pulses, want 10", n)
	}
	seen := map[string]bool{}
	for len(seen) < 10 {
		ev := l.ev.waitFor(t, 0, "CardRead", func(e osdp.Event) bool {
			c, ok := e.(osdp.CardRead)
			return ok && !seen[c.Number]
		}).(osdp.CardRead)
		seen[ev.Number] = true
	}
}

// corruptReplies flips one bit in a fraction of the PD's replies, like the
// randomly corrupting channels of libosdp's tests.
type corruptReplies struct {
	net.Conn
	mu      sync.Mutex
	rnd     *rand.Rand
	percent int
	hits    int
}

func (c *corruptReplies) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.rnd.IntN(100) < c.percent {
		q := append([]byte(nil), p...)
		q[c.rnd.IntN(len(q))] ^= 1 << c.rnd.IntN(8)
		p = q
		c.hits++
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func TestNoisyLineExecutesEachCommandOnce(t *testing.T) {
	var noisy *corruptReplies
	opt := fastOptions
	opt.ReplyTimeout = 40 * time.Millisecond
	opt.Retries = 6
	cpSide, pdSide := net.Pipe()
	noisy = &corruptReplies{Conn: pdSide, rnd: rand.New(rand.NewPCG(1, 2)), percent: 20}
	l := startLane(t, cpSide, noisy, []io.Closer{cpSide, pdSide}, opt)
	ctx := ctxT(t)
	for i := range 20 {
		if err := l.cp.Output(ctx, addrDoor, OutputExitDoor, osdp.OutputPulse, 100*time.Millisecond); err != nil {
			t.Fatalf("Output %d on a noisy line: %v", i, err)
		}
		if err := l.card.Present("77" + string(rune('0'+i%10))); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.door.PulseCount(OutputExitDoor); n != 20 {
		t.Fatalf("%d pulses for 20 OUT commands on a noisy line, want 20", n)
	}
	cards := 0
	l.ev.waitFor(t, 0, "20 CardRead", func(e osdp.Event) bool {
		if _, ok := e.(osdp.CardRead); ok {
			cards++
		}
		return cards == 20
	})
	noisy.mu.Lock()
	hits := noisy.hits
	noisy.mu.Unlock()
	var crc uint64
	for _, s := range l.cp.Stats() {
		crc += s.CRCErrors
	}
	if hits == 0 || crc == 0 {
		t.Fatalf("corrupted %d replies, CP counted %d CRC errors: the test did not exercise the noise", hits, crc)
	}
	t.Logf("%d replies corrupted, %d CRC errors counted, link stats %+v", hits, crc, l.cp.LinkStats())
}
