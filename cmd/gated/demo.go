package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/internal/simlane"
	"ttpgate/sync/events"
	"ttpgate/sync/outbox"
	"ttpgate/sync/registry"
)

// demo runs whole lanes on this machine and walks the scripted travellers through them: an
// entry lane with an OSDP fingerprint reader, then a departure lane with an EF01 module that
// sends images. It exits non-zero unless every traveller got the outcome the script expects, as
// seen in HQ's events, and every event reached HQ exactly once.
func demo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gated demo", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print each event as it reaches HQ as one JSON line on stdout (the rest goes to stderr)")
	keep := fs.String("dir", "", "working folder to use and keep (default: a temporary one, removed at the end)")
	verbose := fs.Bool("v", false, "also print the daemons' JSON logs to stderr")
	stay := fs.Bool("stay", false, "after the script, keep the entry lane running for gatectl and read simulator commands from stdin (unplug/plug DEVICE, card NUMBER, finger good|bad, walk, fire on|off, quit)")
	noModule := fs.Bool("no-ef01", false, "skip the second lane (EF01 fingerprint module, images over a 115200-baud UART)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	d := &demoRun{asJSON: *asJSON, out: os.Stdout, logger: slog.New(slog.DiscardHandler)}
	if *asJSON {
		d.out = os.Stderr
	}
	if *verbose {
		d.logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	dir := *keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "ttpgate-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	samples, err := simlane.LoadSamples()
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "ttpgate demo, lane 1: HQ (embedded NATS), gate HND/SIM01 entry lane, card reader + OSDP fingerprint reader + door board on pseudo-terminals\n")
	lane, err := d.start(ctx, simlane.Options{Dir: filepath.Join(dir, "lane1")})
	if err != nil {
		return err
	}
	defer lane.Close()
	script := simlane.DemoScenario(registry.DateOf(time.Now(), lane.Config.Location), samples)
	if err := d.play(ctx, lane, script); err != nil {
		return err
	}
	if !*noModule {
		ms, err := simlane.LoadModuleSamples()
		if err != nil {
			return err
		}
		fmt.Fprintf(d.out, "\nttpgate demo, lane 2: gate HND/SIM02, a departure lane whose fingerprint reader is an EF01 module (R30x/AS608): the gate uploads each image (3.4 s at 115200 baud), extracts and matches it\n")
		lane2, err := d.start(ctx, simlane.Options{Dir: filepath.Join(dir, "lane2"), Direction: "departure", FingerModule: true, PaceModule: true, Gate: "SIM02"})
		if err != nil {
			return err
		}
		err = d.play(ctx, lane2, simlane.ModuleScenario(registry.DateOf(time.Now(), lane2.Config.Location), ms))
		lane2.Close()
		if err != nil {
			return err
		}
	}
	if d.failed > 0 {
		return fmt.Errorf("demo failed: %d of %d travellers did not get the expected outcome, or events were lost", d.failed, d.total)
	}
	fmt.Fprintf(d.out, "\ndemo passed: %d travellers on %d lanes, every outcome as expected, every event at HQ exactly once\n", d.total, d.lanes)
	if *stay {
		return stayInteractive(ctx, lane, samples, d.out)
	}
	return nil
}

// demoRun walks scripted travellers through simulated lanes and checks what HQ receives.
type demoRun struct {
	asJSON               bool
	out                  io.Writer
	logger               *slog.Logger
	total, failed, lanes int
}

// start starts a simulated lane and prints where to find it.
func (d *demoRun) start(ctx context.Context, opt simlane.Options) (*simlane.Lane, error) {
	if err := os.MkdirAll(opt.Dir, 0o700); err != nil {
		return nil, err
	}
	opt.Logger = d.logger
	lane, err := simlane.Start(ctx, opt)
	if err != nil {
		return nil, err
	}
	d.lanes++
	fmt.Fprintf(d.out, "config: %s (OSDP Secure Channel)\n", lane.ConfigPath)
	if disp, status := lane.Daemon.DisplayAddr(); disp != "" {
		fmt.Fprintf(d.out, "display: http://%s/ (kiosk: chromium --kiosk http://%s/)   status page: http://%s/status\n", disp, disp, status)
	}
	fmt.Fprintf(d.out, "admin socket: %s   metrics: http://%s/metrics\n", lane.AdminSocket(), lane.Daemon.MetricsAddr())
	return lane, nil
}

// play seeds the lane's registry, walks the script, and checks the outcomes and the events at HQ.
func (d *demoRun) play(ctx context.Context, lane *simlane.Lane, script []simlane.Scripted) error {
	out := d.out
	hqEvents := newEventLog()
	cons, err := lane.HQ.JS.OrderedConsumer(ctx, outbox.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.Subject(lane.Config.Airport, lane.Config.Gate, "*")}})
	if err != nil {
		return err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		ev, err := events.Parse(m.Data())
		if err != nil {
			fmt.Fprintf(os.Stderr, "HQ: invalid event on %s: %v\n", m.Subject(), err)
			return
		}
		switch {
		case d.asJSON:
			b, _ := json.Marshal(ev)
			fmt.Println(string(b))
		case ev.Type == "heartbeat" || ev.Type == "registry_sync":
			// counted, not printed: they come every few seconds
		default:
			fmt.Fprintf(out, "  HQ ← %s\n", ev.Line())
		}
		hqEvents.add(*ev)
	})
	if err != nil {
		return err
	}
	defer cc.Stop()

	today := registry.DateOf(time.Now(), lane.Config.Location)
	rev, err := lane.Put(ctx, simlane.Records(script)...)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := lane.WaitRegistry(wctx, rev); err != nil {
		return fmt.Errorf("seeding the registry: %w", err)
	}
	fmt.Fprintf(out, "registry: %d records put at HQ and applied at the gate (revision %d); today in Asia/Tokyo is %s\n\n",
		len(simlane.Records(script)), rev, today)

	walker := &simlane.Walker{Lane: lane.Devices}
	good := 0
	var revokeLag time.Duration
	for i, s := range script {
		if s.RevokeFirst {
			s.Record.Status = registry.StatusRevoked
			t0 := time.Now()
			rev, err := lane.Put(ctx, s.Record)
			if err != nil {
				return err
			}
			if err := lane.WaitRegistry(wctx, rev); err != nil {
				return fmt.Errorf("revocation never reached the gate: %w", err)
			}
			revokeLag = time.Since(t0)
			fmt.Fprintf(out, "HQ revokes %s's registration: applied at the gate %.1f ms after the put\n", s.Name, ms(revokeLag))
		}
		fmt.Fprintf(out, "[%d/%d] %s presents card %s\n", i+1, len(script), s.Describe(), s.Card)
		from := hqEvents.mark()
		tctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		obs, err := walker.Walk(tctx, s.Traveller)
		if err == nil {
			err = hqEvents.await(tctx, from, s)
		}
		cancel()
		if err == nil && obs.Granted != (s.Expect.Type == "passage_granted") {
			err = fmt.Errorf("the exit door pulsed=%v, but the expected outcome is %s", obs.Granted, s.Expect)
		}
		if err == nil && obs.Granted && obs.ExitPulses != 1 {
			err = fmt.Errorf("the exit door was pulsed %d times for one passage", obs.ExitPulses)
		}
		if err != nil {
			fmt.Fprintf(out, "      ✗ UNEXPECTED: %v\n", err)
			continue
		}
		good++
		fmt.Fprintf(out, "      ✓ %s, as expected\n", s.Expect)
	}

	// Every event the gate recorded must reach HQ, exactly once.
	last, err := lane.Daemon.LastEventSeq(ctx)
	if err != nil {
		return err
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	complete := hqEvents.awaitSeq(dctx, last)
	n, distinct, gaps := hqEvents.check()
	lat := lane.Daemon.Latencies()
	fmt.Fprintf(out, "\nsummary: %d travellers, %d as expected, %d unexpected\n", len(script), good, len(script)-good)
	fmt.Fprintf(out, "events at HQ: %d received, %d distinct ids, gate sequence 1..%d with %d gaps\n", n, distinct, last, gaps)
	fmt.Fprintf(out, "decision time (software, capture excluded) over %d granted passages: p50 %.1f ms, max %.1f ms\n",
		lat.Count(), ms(lat.Quantile(0.5)), ms(lat.Quantile(1)))
	if revokeLag > 0 {
		fmt.Fprintf(out, "revocation HQ put → applied at the gate: %.1f ms\n", ms(revokeLag))
	}
	d.total += len(script)
	d.failed += len(script) - good
	if !complete || n != distinct || gaps != 0 || uint64(n) != last {
		d.failed++
		fmt.Fprintf(out, "✗ events at HQ incomplete: %d received for %d recorded, %d distinct, %d gaps\n", n, last, distinct, gaps)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// eventLog collects the events HQ received.
type eventLog struct {
	mu      sync.Mutex
	evs     []events.Event
	changed chan struct{}
}

func newEventLog() *eventLog { return &eventLog{changed: make(chan struct{})} }

func (l *eventLog) add(e events.Event) {
	l.mu.Lock()
	l.evs = append(l.evs, e)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (l *eventLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.evs)
}

// waitFor waits until ok holds for the events from position from on.
func (l *eventLog) waitFor(ctx context.Context, from int, ok func([]events.Event) bool) bool {
	for {
		l.mu.Lock()
		done := ok(l.evs[min(from, len(l.evs)):])
		ch := l.changed
		l.mu.Unlock()
		if done {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

// await waits until HQ has the events a scripted traveller must produce.
func (l *eventLog) await(ctx context.Context, from int, s simlane.Scripted) error {
	var got []events.Event
	ok := l.waitFor(ctx, from, func(evs []events.Event) bool {
		got = got[:0]
		decision, alarm, completed := false, s.Expect.Alarm == "", !s.Expect.Completed
		for _, e := range evs {
			if e.Card != s.Card {
				continue
			}
			got = append(got, e)
			switch {
			case e.Type == s.Expect.Type && e.Reason == s.Expect.Reason:
				decision = true
			case e.Type == "alarm" && e.Reason == s.Expect.Alarm:
				alarm = true
			case e.Type == "passage_completed":
				completed = true
			}
		}
		return decision && alarm && completed
	})
	if !ok {
		var seen []string
		for _, e := range got {
			seen = append(seen, e.Type+" "+e.Reason)
		}
		return fmt.Errorf("HQ did not receive %s for card %s (received: %v)", s.Expect, s.Card, seen)
	}
	return nil
}

// awaitSeq waits until HQ has the gate's events up to seq.
func (l *eventLog) awaitSeq(ctx context.Context, seq uint64) bool {
	return l.waitFor(ctx, 0, func(evs []events.Event) bool {
		for _, e := range evs {
			if e.Seq == seq {
				return true
			}
		}
		return seq == 0
	})
}

// check counts the events, their distinct ids and the gaps in the gate's sequence.
func (l *eventLog) check() (n, distinct, gaps int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := map[string]bool{}
	seqs := map[uint64]bool{}
	var maxSeq uint64
	for _, e := range l.evs {
		ids[e.ID] = true
		seqs[e.Seq] = true
		maxSeq = max(maxSeq, e.Seq)
	}
	for s := uint64(1); s <= maxSeq; s++ {
		if !seqs[s] {
			gaps++
		}
	}
	return len(l.evs), len(ids), gaps
}
