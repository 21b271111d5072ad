package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/internal/crashlane"
	"ttpgate/internal/devhq"
	"ttpgate/sync/events"
	"ttpgate/sync/events/consumer"
	"ttpgate/sync/outbox"
	"ttpgate/sync/store"
)

func init() {
	register("events", "[-events N] [-kills K] [-cuts C] [-storm 10s] [-gated PATH]   with -kills: the real gated as a child, SIGKILLed K times and its HQ link cut C times in a storm of travellers, after draining N queued events; without: in-process outbox drain, HQ restarts and publisher restarts [-restarts K] [-rate R] (JSON last line)", eventsBench)
}

// CrashResult is the result of `gatebench events -kills K`: the crash-and-cut run of
// internal/crashlane with the real gated.
type CrashResult struct {
	Bench string `json:"bench"`
	Mode  string `json:"mode"` // "gated": the real daemon as a child process
	crashlane.Result
	Machine Machine `json:"machine"`
}

// crashBench runs internal/crashlane: gated (the binary at gated) drains backlog queued events,
// then a steady phase and a storm of travellers with kills SIGKILLs and cuts link cuts.
func crashBench(ctx context.Context, gated string, backlog, kills, cuts int, steady, storm time.Duration) (any, error) {
	if gated == "" {
		gated = filepath.Join(filepath.Dir(os.Args[0]), "gated")
	}
	if fi, err := os.Stat(gated); err != nil || fi.IsDir() {
		return nil, fmt.Errorf("events -kills needs the gated binary: %s not found (build it with `go build -o %s ./cmd/gated`, or pass -gated PATH)", gated, gated)
	}
	if storm <= 0 {
		return nil, fmt.Errorf("events -kills needs a storm (-storm > 0)")
	}
	dir, err := os.MkdirTemp("", "gatebench-crash-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(os.Stderr, "crash-and-cut: %s, %d events queued, %d kills, %d cuts over %v\n", gated, backlog, kills, cuts, storm)
	res, err := crashlane.Run(ctx, crashlane.Options{Dir: dir, Gated: gated, Kills: kills, Cuts: cuts, Storm: storm, Steady: steady,
		Backlog: backlog, Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }})
	if err != nil {
		if log, rerr := os.ReadFile(filepath.Join(dir, "gated.log")); rerr == nil {
			if len(log) > 4000 {
				log = log[len(log)-4000:]
			}
			fmt.Fprintf(os.Stderr, "gated.log (end):\n%s\n", log)
		}
		return nil, err
	}
	if err := res.OK(); err != nil {
		fmt.Fprintln(os.Stderr, "FAILED:", err)
	}
	return CrashResult{Bench: "events", Mode: "gated", Result: res, Machine: machine()}, nil
}

// EventsResult is the result of `gatebench events`.
type EventsResult struct {
	Bench string `json:"bench"`
	// Drain: Events committed to the gate's outbox while HQ was down, then drained to JetStream.
	Events         int     `json:"events"`
	DrainS         float64 `json:"drain_s"`          // HQ up to the last row acknowledged and deleted
	EventsPerSec   float64 `json:"events_per_sec"`   // Events / DrainS
	DrainPerSec    float64 `json:"drain_per_sec"`    // the same (the name)
	ConsumerS      float64 `json:"consumer_s"`       // HQ up to the last event in the consumer's table
	DuplicatesAtHQ int64   `json:"duplicates_at_hq"` // duplicate events in the consumer's table (must be 0: it is keyed by id)
	// Storm: events decided at Rate a second for Storm, with Cuts HQ server restarts and Restarts
	// publisher crashes (in-process: the publisher is abandoned mid-flight, a new one starts).
	Decided    int     `json:"decided"`
	AtHQ       int64   `json:"at_hq"`        // distinct events in the consumer's table, both phases
	Lost       int64   `json:"lost"`         // decided and never stored at HQ (must be 0)
	Duplicates int64   `json:"duplicates"`   // stream messages carrying an id already stored (counted, not stored)
	Resends    uint64  `json:"resends"`      // events the publishers published again after an error
	OutOfOrder int64   `json:"out_of_order"` // events whose seq order disagrees with their id (creation) order in the table (must be 0)
	Late       uint64  `json:"late"`         // events that reached the consumer after a later seq of their gate (reordered by seq)
	Gaps       int     `json:"gaps"`         // gaps left in the table (must be 0)
	Cuts       int     `json:"cuts"`
	Restarts   int     `json:"restarts"`
	E2EP50MS   float64 `json:"e2e_p50_ms"` // event decided to stored in the consumer's table, link up (steady phase)
	E2EP99MS   float64 `json:"e2e_p99_ms"`
	E2ESamples int     `json:"e2e_samples"`
	Machine    Machine `json:"machine"`
}

func eventsBench(ctx context.Context, args []string) (any, error) {
	fs := newFlags("events")
	n := fs.Int("events", 200000, "events queued while HQ is down, then drained")
	cuts := fs.Int("cuts", 5, "HQ server restarts during the storm")
	restarts := fs.Int("restarts", 5, "publisher crashes during the storm")
	rate := fs.Int("rate", 500, "events a second during the storm")
	storm := fs.Duration("storm", 10*time.Second, "how long the storm lasts (0: no storm)")
	inflight := fs.Int("inflight", 0, "publisher MaxInFlight (0: the default)")
	batch := fs.Int("batch", 0, "publisher BatchSize (0: the default)")
	steady := fs.Duration("steady", 3*time.Second, "steady traffic with the link up, for the e2e latency")
	kills := fs.Int("kills", 0, "SIGKILLs of the real gated (a child process) during the storm; > 0 selects the crash-and-cut run, where -cuts are cuts of gated's HQ link")
	gated := fs.String("gated", "", "the gated binary for -kills (default: gated next to gatebench)")
	if err := fs.Parse(args); err != nil || *n < 1 || *rate < 1 {
		return nil, errUsage
	}
	if *kills > 0 {
		return crashBench(ctx, *gated, *n, *kills, *cuts, *steady, *storm)
	}
	dir, err := os.MkdirTemp("", "gatebench-events-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	res := EventsResult{Bench: "events", Events: *n, Machine: machine()}
	pubOptions.MaxInFlight, pubOptions.BatchSize = *inflight, *batch

	st, err := store.Open(filepath.Join(dir, "gate.db"), bytes.Repeat([]byte{7}, store.TemplateKeySize))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	g := &benchGate{st: st, airport: "HND", gate: "G01"}

	// 1. The outage: N events decided in lane-sized transactions, HQ unreachable.
	fmt.Fprintf(os.Stderr, "committing %d events with HQ down...\n", *n)
	if err := g.commit(ctx, *n, 4); err != nil {
		return nil, err
	}
	// 2. HQ comes back: the stream, a consumer into SQLite, the gate's publisher.
	hqDir := filepath.Join(dir, "hq")
	hq, err := devhq.Start(ctx, devhq.Options{Dir: hqDir, Port: -1, ClockEvery: time.Hour})
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(hq.URL)
	port, _ := strconv.Atoi(u.Port())
	defer func() { hq.Close() }()
	upAt := time.Now()
	db, err := consumer.OpenDB(filepath.Join(dir, "hq.db"))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	nc, err := nats.Connect(hq.URL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true))
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(5*time.Second))
	if err != nil {
		return nil, err
	}
	var resends uint64
	pub, stopPub := startPublisher(st, js)
	if err := waitUntil(ctx, 10*time.Minute, func() bool { return pub.Stats().Acked >= uint64(*n) }); err != nil {
		return nil, fmt.Errorf("drain: %w (stats %+v)", err, pub.Stats())
	}
	res.DrainS = time.Since(upAt).Seconds()
	res.EventsPerSec = float64(*n) / res.DrainS
	res.DrainPerSec = res.EventsPerSec
	// HQ's consumer runs on HQ's machines; here it starts after the drain so the two do not
	// share this machine's cores, and its catch-up is timed on its own.
	consAt := time.Now()
	cons, stopCons, err := startConsumer(ctx, hq.URL, db)
	if err != nil {
		return nil, err
	}
	defer stopCons()
	if err := waitUntil(ctx, 10*time.Minute, func() bool { t, _ := db.Totals(ctx); return t.Events >= int64(*n) }); err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	res.ConsumerS = time.Since(consAt).Seconds()
	fmt.Fprintf(os.Stderr, "drained %d events in %.2fs (%.0f/s); the consumer stored them in %.2fs\n", *n, res.DrainS, res.EventsPerSec, res.ConsumerS)

	// 3. Steady traffic with the link up: decided to stored at HQ.
	var lat []time.Duration
	var latMu sync.Mutex
	cons.mu.Lock()
	cons.onBatch = func(r consumer.Result) {
		latMu.Lock()
		lat = append(lat, r.Latencies...)
		latMu.Unlock()
	}
	cons.mu.Unlock()
	{
		sctx, cancel := context.WithTimeout(ctx, *steady)
		err := g.storm(sctx, *rate, pub)
		cancel()
		if err != nil {
			return nil, err
		}
		if err := waitUntil(ctx, time.Minute, func() bool { t, _ := db.Totals(ctx); return t.Events >= int64(g.seq) }); err != nil {
			return nil, fmt.Errorf("steady phase: %w", err)
		}
	}
	cons.mu.Lock()
	cons.onBatch = nil
	cons.mu.Unlock()
	e2eSamples := len(lat)

	// 4. The storm: HQ cut and restored, the publisher crashed and restarted.
	decided := int(g.seq)
	if *storm > 0 {
		sctx, cancel := context.WithTimeout(ctx, *storm)
		var wg sync.WaitGroup
		var lerr error
		wg.Go(func() { lerr = g.storm(sctx, *rate, pub) })
		events := max(*cuts+*restarts, 1)
		every := *storm / time.Duration(events+1)
		cutsLeft, restartsLeft := *cuts, *restarts
		for i := 0; i < events && sctx.Err() == nil; i++ {
			sleepCtx(sctx, every)
			if sctx.Err() != nil {
				break
			}
			if cutsLeft > 0 && (i%2 == 0 || restartsLeft == 0) {
				cutsLeft--
				res.Cuts++
				hq.Close()
				sleepCtx(sctx, 200*time.Millisecond+time.Duration(rand.IntN(300))*time.Millisecond)
				if hq, err = devhq.Start(ctx, devhq.Options{Dir: hqDir, Port: port, ClockEvery: time.Hour}); err != nil {
					cancel()
					wg.Wait()
					return nil, fmt.Errorf("restarting HQ: %w", err)
				}
			} else {
				restartsLeft--
				res.Restarts++
				stopPub() // abandons whatever is in flight; the rows stay
				resends += pub.Stats().Resends
				pub, stopPub = startPublisher(st, js)
				g.setPub(pub)
			}
		}
		<-sctx.Done()
		cancel()
		wg.Wait()
		if lerr != nil {
			return nil, lerr
		}
		decided = int(g.seq)
	}
	res.Decided = decided
	if err := waitUntil(ctx, 5*time.Minute, func() bool { t, _ := db.Totals(ctx); return t.Events >= int64(decided) }); err != nil {
		t, _ := db.Totals(ctx)
		fmt.Fprintf(os.Stderr, "not every event reached HQ: %+v, publisher %+v\n", t, pub.Stats())
	}
	stopPub()
	resends += pub.Stats().Resends
	stopCons()
	t, err := db.Totals(ctx)
	if err != nil {
		return nil, err
	}
	res.AtHQ = t.Events
	res.Lost = int64(decided) - t.Events
	res.Duplicates = t.Duplicates
	res.Resends = resends
	res.Late = cons.c.Stats().Late
	q := db.SQL()
	q.QueryRowContext(ctx, `SELECT count(*) - count(DISTINCT id) FROM events`).Scan(&res.DuplicatesAtHQ)
	q.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT id, LAG(id) OVER (PARTITION BY airport, gate ORDER BY seq) AS prev FROM events) WHERE prev > id`).Scan(&res.OutOfOrder)
	gaps, err := db.Gaps(ctx)
	if err != nil {
		return nil, err
	}
	res.Gaps = len(gaps)
	res.E2ESamples = e2eSamples
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		res.E2EP50MS = ms(lat[len(lat)/2])
		res.E2EP99MS = ms(lat[len(lat)*99/100])
	}
	return res, nil
}

// benchGate commits events like a lane: a few per transaction, seq without gaps.
type benchGate struct {
	st            *store.Store
	airport, gate string
	ids           events.UUIDGenerator
	seq           uint64
	mu            sync.Mutex
	pub           *outbox.Publisher
}

func (g *benchGate) setPub(p *outbox.Publisher) {
	g.mu.Lock()
	g.pub = p
	g.mu.Unlock()
}

func (g *benchGate) commit(ctx context.Context, n, perTx int) error {
	for i := 0; i < n; {
		rows := make([]store.OutboxEvent, 0, perTx)
		for j := 0; j < perTx && i < n; j, i = j+1, i+1 {
			row, err := g.next()
			if err != nil {
				return err
			}
			rows = append(rows, row)
		}
		if err := g.st.Commit(ctx, nil, rows, nil); err != nil {
			return err
		}
	}
	return nil
}

var benchScore = 0.42

func (g *benchGate) next() (store.OutboxEvent, error) {
	g.seq++
	e := events.Event{Type: "passage_granted", Time: time.Now(), Card: "1000000001", UserID: "U0001", Score: &benchScore, Attempts: 1,
		Timings: &events.Timings{LookupMS: 0.05, MatchMS: 3.1}}
	if g.seq%3 == 0 {
		e.Type = "passage_completed"
		e.Score, e.Timings, e.Attempts = nil, nil, 0
	}
	events.Stamp(&e, &g.ids, g.seq, g.airport, g.gate, "entry")
	data, err := e.Marshal()
	if err != nil {
		return store.OutboxEvent{}, err
	}
	return store.OutboxEvent{Seq: e.Seq, ID: e.ID, Subject: e.Subject(), Payload: data}, nil
}

// storm decides rate events a second (one per transaction) until ctx ends.
func (g *benchGate) storm(ctx context.Context, rate int, pub *outbox.Publisher) error {
	g.setPub(pub)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		row, err := g.next()
		if err != nil {
			return err
		}
		if err := g.st.Commit(context.WithoutCancel(ctx), nil, []store.OutboxEvent{row}, nil); err != nil {
			return err
		}
		g.mu.Lock()
		g.pub.Notify()
		g.mu.Unlock()
	}
}

// pubOptions are the -inflight and -batch flags.
var pubOptions outbox.Options

func startPublisher(st *store.Store, js jetstream.JetStream) (*outbox.Publisher, func()) {
	p := outbox.NewPublisher(st, js, outbox.Options{MaxInFlight: pubOptions.MaxInFlight, BatchSize: pubOptions.BatchSize, RetryBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		AckTimeout: 5 * time.Second, Logger: quietLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	var once sync.Once
	return p, func() { once.Do(func() { cancel(); <-done }) }
}

type benchConsumer struct {
	c       *consumer.Consumer
	mu      sync.Mutex
	onBatch func(consumer.Result)
}

func startConsumer(ctx context.Context, hqURL string, db *consumer.DB) (*benchConsumer, func(), error) {
	nc, err := nats.Connect(hqURL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	bc := &benchConsumer{}
	c, err := consumer.New(db, js, consumer.Options{Durable: "gatebench", Logger: quietLogger(), OnBatch: func(r consumer.Result) {
		bc.mu.Lock()
		f := bc.onBatch
		bc.mu.Unlock()
		if f != nil {
			f(r)
		}
	}})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	bc.c = c
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { c.Run(cctx); close(done) }()
	var once sync.Once
	return bc, func() { once.Do(func() { cancel(); <-done; nc.Close() }) }, nil
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func waitUntil(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done within %v", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
