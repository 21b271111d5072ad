// Package crashlane is the crash-and-cut test of the event path: a simulated lane (simlane: a
// development HQ and OSDP devices on pseudo-terminals) driven by the real `gated` running as a
// child process, killed with SIGKILL at random moments and restarted on the same store, while
// the gate's link to HQ goes through a TCP proxy that is cut and restored. Travellers present
// cards the whole time; HQ's consumer (sync/events/consumer) writes every event into SQLite. At
// the end `gated` is stopped cleanly after its outbox drained, and the gate's own record (its
// store, opened read-only) is compared with the consumer's table.
//
// `go test ./cmd/gated` runs it at CI size; `gatebench events -kills K -cuts C` at full size.
package crashlane

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/mattn/go-sqlite3" // the gate's store, read-only
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/devices/osdp"
	"ttpgate/devices/simulator"
	"ttpgate/internal/devhq"
	"ttpgate/internal/simlane"
	"ttpgate/sync/events"
	"ttpgate/sync/events/consumer"
	"ttpgate/sync/store"
)

// Options configure Run.
type Options struct {
	Dir   string   // working folder (required)
	Gated string   // the gated binary (required)
	Args  []string // arguments before "run -config FILE" (none for a real gated)
	Env   []string // extra environment of the child (GATED_TEST_MAIN=1 for a test binary)

	Kills int           // SIGKILLs of gated during the storm
	Cuts  int           // HQ link cuts (each restored after 200 ms to 1 s)
	Storm time.Duration // how long travellers keep coming (default 20 s); kills and cuts fall at random in it
	// Steady is a phase before the storm with travellers, the link up and no kill (default
	// 5 s): the E2E figures.
	Steady time.Duration
	// Backlog events are queued in the gate's store before gated first starts (an outage's
	// worth); gated drains them to HQ first, which gives DrainPerSec.
	Backlog int
	Seed    uint64 // random schedule seed (0: random)
	// Logf receives progress lines (nil: none).
	Logf func(format string, args ...any)
}

// Result is what the run measured. Lost, Duplicates, OutOfOrder, Rejected and Gaps must be 0.
type Result struct {
	Decided uint64 `json:"decided"` // the gate's last event seq (its store, read after it stopped)
	AtHQ    int64  `json:"at_hq"`   // distinct event ids of the gate in the consumer's table
	Lost    int64  `json:"lost"`    // seqs 1..Decided missing from the consumer's table
	// Duplicates are rows of the consumer's table sharing an event id or a gate seq.
	Duplicates int64 `json:"duplicates"`
	// Resent counts later stream messages carrying an id already stored (the consumer kept the
	// first and counted these in its duplicates table); Redelivered, stream messages delivered
	// again after a lost ack. Both are expected after kills and cuts.
	Resent      int64 `json:"resent"`
	Redelivered int64 `json:"redelivered"`
	Rejected    int64 `json:"rejected"` // events the consumer kept aside (schema, envelope, seq held by another id)
	// OutOfOrder: per gate, with the table ordered by seq (as the consumer orders), events whose
	// id (UUIDv7, creation order at the gate) is below the previous one's.
	OutOfOrder int64 `json:"out_of_order"`
	// LateArrivals: events the stream delivered after a later seq of their gate (arrival order,
	// the consumer's "late" count); normal after a crash or a cut, the table is ordered by seq.
	LateArrivals int64    `json:"late_arrivals"`
	Gaps         int      `json:"gaps"`
	Missing      []uint64 `json:"missing,omitempty"` // the first missing seqs, if any
	Kills        int      `json:"kills"`
	Cuts         int      `json:"cuts"`
	Starts       int      `json:"starts"` // gated processes started
	Cards        int      `json:"cards"`  // cards presented
	Refusals     int      `json:"refusals"`
	StormS       float64  `json:"storm_s"`
	// Drain: Backlog events queued before gated started, drained by it.
	Backlog     int     `json:"backlog"`
	DrainS      float64 `json:"drain_s"` // gated started to the outbox empty
	DrainPerSec float64 `json:"drain_per_sec"`
	// E2E: event decided (its time) to stored in the consumer's table, in the steady phase
	// (link up, gated running).
	E2EP50MS   float64 `json:"e2e_p50_ms"`
	E2EP99MS   float64 `json:"e2e_p99_ms"`
	E2ESamples int     `json:"e2e_samples"`
	// StormE2EMaxMS is the longest decided-to-stored time of an event decided in the storm (the
	// recovery after a kill or a cut).
	StormE2EMaxMS float64 `json:"storm_e2e_max_ms"`
}

// OK returns an error naming every figure that must be 0 and is not.
func (r Result) OK() error {
	var bad []string
	if r.Decided == 0 {
		bad = append(bad, "no event decided")
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"lost", r.Lost}, {"duplicates", r.Duplicates}, {"out_of_order", r.OutOfOrder}, {"rejected", r.Rejected}, {"gaps", int64(r.Gaps)}} {
		if f.v != 0 {
			bad = append(bad, fmt.Sprintf("%s = %d", f.name, f.v))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("crashlane: %s (missing seqs %v)", strings.Join(bad, ", "), r.Missing)
	}
	return nil
}

type window struct{ from, to time.Time }

type runner struct {
	opt   Options
	lane  *simlane.Lane
	proxy *devhq.Proxy
	log   *os.File
	logf  func(string, ...any)

	mu      sync.Mutex
	child   *exec.Cmd
	exited  chan struct{}
	starts  int
	windows []window
}

// Run runs the crash-and-cut storm and measures it. The returned error is about the harness;
// check Result.OK for the verdict.
func Run(ctx context.Context, opt Options) (Result, error) {
	var res Result
	if opt.Dir == "" || opt.Gated == "" {
		return res, errors.New("crashlane: Options.Dir and Options.Gated are required")
	}
	if _, err := os.Stat(opt.Gated); err != nil {
		return res, fmt.Errorf("crashlane: the gated binary: %w", err)
	}
	if abs, err := filepath.Abs(opt.Gated); err == nil {
		opt.Gated = abs // not looked up in $PATH
	}
	if opt.Storm <= 0 {
		opt.Storm = 20 * time.Second
	}
	if opt.Steady <= 0 {
		opt.Steady = 5 * time.Second
	}
	seed := opt.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	r := &runner{opt: opt, logf: opt.Logf}
	if r.logf == nil {
		r.logf = func(string, ...any) {}
	}
	r.logf("crashlane: seed %d, %d kills, %d cuts over %v", seed, opt.Kills, opt.Cuts, opt.Storm)
	var err error
	if r.log, err = os.OpenFile(filepath.Join(opt.Dir, "gated.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return res, err
	}
	defer r.log.Close()
	lane, err := simlane.Start(ctx, simlane.Options{
		Dir: opt.Dir, NoDaemon: true, Gate: "CRASH01",
		RefusalScreen: 100 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		NATSURL: func(hqURL string) (string, error) {
			p, err := devhq.NewProxy(strings.TrimPrefix(hqURL, "nats://"))
			if err != nil {
				return "", err
			}
			r.proxy = p
			return "nats://" + p.Addr(), nil
		},
	})
	if err != nil {
		if r.proxy != nil {
			r.proxy.Close()
		}
		return res, err
	}
	r.lane = lane
	defer func() {
		r.kill(syscall.SIGKILL)
		r.proxy.Close()
		lane.Close()
	}()
	cfg := lane.Config
	storePath := filepath.Join(cfg.DataDir, "gate.db")

	// The backlog: events queued in the gate's store, as after an outage.
	if opt.Backlog > 0 {
		r.logf("crashlane: queueing %d events in the gate's store", opt.Backlog)
		if err := queueBacklog(ctx, storePath, cfg.TemplateKeyFile, cfg.Airport, cfg.Gate, cfg.Direction, opt.Backlog); err != nil {
			return res, err
		}
		res.Backlog = opt.Backlog
	}
	if err := r.start(ctx); err != nil {
		return res, err
	}
	startedAt := time.Now()
	if opt.Backlog > 0 {
		if err := waitDrained(ctx, storePath, 10*time.Minute); err != nil {
			return res, fmt.Errorf("crashlane: draining the backlog: %w", err)
		}
		res.DrainS = time.Since(startedAt).Seconds()
		res.DrainPerSec = float64(opt.Backlog) / res.DrainS
		r.logf("crashlane: gated drained %d events in %.2fs (%.0f/s)", opt.Backlog, res.DrainS, res.DrainPerSec)
	}
	if err := r.waitReady(ctx, 0, 60*time.Second); err != nil {
		return res, err
	}

	// HQ's consumer, on HQ's side of the cut.
	db, err := consumer.OpenDB(filepath.Join(opt.Dir, "hq-events.db"))
	if err != nil {
		return res, err
	}
	defer db.Close()
	var latMu sync.Mutex
	var lat []sample
	cons, stopCons, err := startConsumer(ctx, lane.HQ.URL, db, func(b consumer.Result) {
		latMu.Lock()
		for i, e := range b.Events {
			lat = append(lat, sample{e.Time, e.Seq, b.Latencies[i]})
		}
		latMu.Unlock()
	})
	if err != nil {
		return res, err
	}
	defer stopCons()
	if opt.Backlog > 0 { // HQ's consumer catches up with the backlog before the steady phase
		catchAt := time.Now()
		for n := int64(0); n < int64(opt.Backlog) && ctx.Err() == nil; sleep(ctx, 20*time.Millisecond) {
			db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM events`).Scan(&n)
			if time.Since(catchAt) > 10*time.Minute {
				return res, fmt.Errorf("crashlane: HQ's consumer stored %d of the %d queued events in 10 min", n, opt.Backlog)
			}
		}
		r.logf("crashlane: HQ's consumer stored the backlog in %.2fs", time.Since(catchAt).Seconds())
	}

	// The steady phase: travellers, the link up.
	steadyAt := time.Now()
	{
		sctx, cancel := context.WithTimeout(ctx, opt.Steady)
		c, f := r.travellers(sctx, rng.Uint64())
		cancel()
		res.Cards, res.Refusals = c, f
	}
	// The storm: travellers at the card reader, kills and cuts at random moments.
	stormAt := time.Now()
	sctx, stopStorm := context.WithTimeout(ctx, opt.Storm)
	var wg sync.WaitGroup
	var cards, refusals int
	travSeed := rng.Uint64() // drawn here: rng is not safe across goroutines
	wg.Go(func() { cards, refusals = r.travellers(sctx, travSeed) })
	type disruption struct {
		at   time.Duration
		kill bool
	}
	var plan []disruption
	for i := 0; i < opt.Kills; i++ {
		plan = append(plan, disruption{time.Duration(rng.Int64N(int64(opt.Storm * 9 / 10))), true})
	}
	for i := 0; i < opt.Cuts; i++ {
		plan = append(plan, disruption{time.Duration(rng.Int64N(int64(opt.Storm * 9 / 10))), false})
	}
	sort.Slice(plan, func(i, j int) bool { return plan[i].at < plan[j].at })
	var stormErr error
	for _, d := range plan {
		if wait := time.Until(stormAt.Add(d.at)); wait > 0 {
			sleep(ctx, wait)
		}
		if ctx.Err() != nil {
			break
		}
		from := time.Now()
		if d.kill {
			res.Kills++
			r.kill(syscall.SIGKILL)
			sleep(ctx, time.Duration(rng.Int64N(int64(300*time.Millisecond))))
			mark := lane.Card.Mark()
			if err := r.start(ctx); err != nil {
				stormErr = err
				break
			}
			if err := r.waitReady(ctx, mark, 60*time.Second); err != nil {
				stormErr = err
				break
			}
			r.logf("crashlane: kill %d: gated back after %v", res.Kills, time.Since(from).Round(time.Millisecond))
		} else {
			res.Cuts++
			r.proxy.Cut()
			sleep(ctx, 200*time.Millisecond+time.Duration(rng.Int64N(int64(800*time.Millisecond))))
			r.proxy.Restore()
			r.logf("crashlane: cut %d: link down %v", res.Cuts, time.Since(from).Round(time.Millisecond))
		}
		r.mu.Lock()
		r.windows = append(r.windows, window{from, time.Now()})
		r.mu.Unlock()
	}
	<-sctx.Done()
	stopStorm()
	wg.Wait()
	res.Cards += cards
	res.Refusals += refusals
	res.StormS = time.Since(stormAt).Seconds()
	if stormErr != nil {
		return res, stormErr
	}

	// The end: the outbox drains with the link up, gated stops cleanly, and whatever it recorded
	// on its way out is drained by one more clean run if needed.
	r.proxy.Restore()
	for round := 0; ; round++ {
		if err := waitDrained(ctx, storePath, 2*time.Minute); err != nil {
			return res, fmt.Errorf("crashlane: final drain: %w", err)
		}
		if err := r.stop(30 * time.Second); err != nil {
			return res, err
		}
		depth, err := outboxDepth(ctx, storePath)
		if err != nil {
			return res, err
		}
		if depth == 0 || round == 3 {
			break
		}
		r.logf("crashlane: %d events left in the outbox at shutdown; running gated once more", depth)
		if err := r.start(ctx); err != nil {
			return res, err
		}
	}
	if res.Decided, err = lastSeq(ctx, storePath); err != nil {
		return res, err
	}
	// HQ's consumer catches up with the stream.
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var n int64
		db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM events WHERE airport = ? AND gate = ? AND seq <= ?`, cfg.Airport, cfg.Gate, res.Decided).Scan(&n)
		if n >= int64(res.Decided) {
			break
		}
		sleep(ctx, 20*time.Millisecond)
	}
	stopCons()
	res.LateArrivals = int64(cons.Stats().Late)
	r.mu.Lock()
	res.Starts = r.starts
	r.mu.Unlock()

	if err := measure(ctx, db, cfg.Airport, cfg.Gate, &res); err != nil {
		return res, err
	}
	// E2E with the link up: events decided in the steady phase.
	var ok []time.Duration
	for _, s := range lat {
		switch {
		case s.seq <= uint64(opt.Backlog) || s.time.Before(steadyAt):
		case s.time.Before(stormAt):
			ok = append(ok, s.lat)
		default:
			res.StormE2EMaxMS = max(res.StormE2EMaxMS, ms(s.lat))
		}
	}
	sort.Slice(ok, func(i, j int) bool { return ok[i] < ok[j] })
	res.E2ESamples = len(ok)
	if len(ok) > 0 {
		res.E2EP50MS = ms(ok[len(ok)/2])
		res.E2EP99MS = ms(ok[len(ok)*99/100])
	}
	return res, nil
}

type sample struct {
	time time.Time
	seq  uint64
	lat  time.Duration
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// measure compares the consumer's table with the gate's seqs 1..res.Decided.
func measure(ctx context.Context, db *consumer.DB, airport, gate string, res *Result) error {
	q := db.SQL()
	if err := q.QueryRowContext(ctx, `SELECT count(DISTINCT id) FROM events WHERE airport = ? AND gate = ?`, airport, gate).Scan(&res.AtHQ); err != nil {
		return fmt.Errorf("crashlane: at_hq: %w", err)
	}
	var byID, bySeq int64
	if err := q.QueryRowContext(ctx, `SELECT count(*) - count(DISTINCT id), count(*) - count(DISTINCT airport || '/' || gate || '/' || seq) FROM events`).Scan(&byID, &bySeq); err != nil {
		return fmt.Errorf("crashlane: duplicates: %w", err)
	}
	res.Duplicates = byID + bySeq
	t, err := db.Totals(ctx)
	if err != nil {
		return err
	}
	res.Resent, res.Redelivered, res.Rejected = t.Duplicates, t.Redelivered, t.Rejected
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT id, LAG(id) OVER (PARTITION BY airport, gate ORDER BY seq) AS prev FROM events) WHERE prev > id`).Scan(&res.OutOfOrder); err != nil {
		return fmt.Errorf("crashlane: out of order: %w", err)
	}
	// Lost: seqs 1..Decided with no row.
	rows, err := q.QueryContext(ctx, `SELECT seq FROM events WHERE airport = ? AND gate = ? AND seq <= ? ORDER BY seq`, airport, gate, res.Decided)
	if err != nil {
		return fmt.Errorf("crashlane: lost: %w", err)
	}
	defer rows.Close()
	var want uint64 = 1
	note := func(from, to uint64) {
		res.Lost += int64(to - from)
		for s := from; s < to && len(res.Missing) < 20; s++ {
			res.Missing = append(res.Missing, s)
		}
	}
	for rows.Next() {
		var s uint64
		if err := rows.Scan(&s); err != nil {
			return err
		}
		if s > want {
			note(want, s)
		}
		want = s + 1
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if want <= res.Decided {
		note(want, res.Decided+1)
	}
	gaps, err := db.Gaps(ctx)
	if err != nil {
		return err
	}
	res.Gaps = len(gaps)
	return nil
}

// start starts a gated child on the lane's config.
func (r *runner) start(ctx context.Context) error {
	args := append(append([]string{}, r.opt.Args...), "run", "-config", r.lane.ConfigPath)
	cmd := exec.Command(r.opt.Gated, args...)
	cmd.Env = append(os.Environ(), r.opt.Env...)
	cmd.Dir = r.opt.Dir
	cmd.Stdout, cmd.Stderr = r.log, r.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("crashlane: starting gated: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	r.mu.Lock()
	r.child, r.exited = cmd, exited
	r.starts++
	r.mu.Unlock()
	return nil
}

// kill signals the child and waits until it exited (SIGKILL) or up to 30 s.
func (r *runner) kill(sig syscall.Signal) {
	r.mu.Lock()
	cmd, exited := r.child, r.exited
	r.child = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// stop stops the child with SIGTERM and checks it exited with status 0.
func (r *runner) stop(timeout time.Duration) error {
	r.mu.Lock()
	cmd, exited := r.child, r.exited
	r.child = nil
	r.mu.Unlock()
	if cmd == nil {
		return errors.New("crashlane: gated is not running")
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("crashlane: gated did not stop within %v of SIGTERM", timeout)
	}
	if c := cmd.ProcessState.ExitCode(); c != 0 {
		return fmt.Errorf("crashlane: gated exited with status %d after SIGTERM (see %s)", c, r.log.Name())
	}
	return nil
}

// waitReady waits until the lane shows "PRESENT CARD" after card reader log position mark.
func (r *runner) waitReady(ctx context.Context, mark int, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan struct{})
	var exitedEarly atomic.Bool
	r.mu.Lock()
	exited := r.exited
	r.mu.Unlock()
	go func() {
		select {
		case <-exited:
			exitedEarly.Store(true)
			cancel()
		case <-done:
		}
	}()
	_, err := r.lane.Card.WaitCommand(wctx, mark, osdp.CmdTEXT, func(m simulator.Received) bool { return m.Text == "PRESENT CARD" })
	close(done)
	if err != nil {
		if exitedEarly.Load() {
			return fmt.Errorf("crashlane: gated exited before the lane was ready (see %s)", r.log.Name())
		}
		return fmt.Errorf("crashlane: the lane was not ready within %v: %w", timeout, err)
	}
	return nil
}

// travellers present unknown cards one after the other until ctx ends: each is refused
// CARD_UNKNOWN (an event), unless gated dies under them.
func (r *runner) travellers(ctx context.Context, seed uint64) (cards, refusals int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	card := r.lane.Card
	for ctx.Err() == nil {
		mark := card.Mark()
		if err := card.Present(fmt.Sprintf("9%09d", rng.IntN(1e9))); err != nil {
			return
		}
		cards++
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := card.WaitCommand(wctx, mark, osdp.CmdTEXT, func(m simulator.Received) bool { return strings.HasPrefix(m.Text, "SEE OFFICER") })
		if err == nil {
			refusals++
			_, err = card.WaitCommand(wctx, mark, osdp.CmdTEXT, func(m simulator.Received) bool { return m.Text == "PRESENT CARD" })
		}
		cancel()
		if err != nil {
			sleep(ctx, 50*time.Millisecond) // gated killed under the traveller: the next one tries
		}
	}
	return
}

// queueBacklog commits n events to the gate's store as the lane would have during an outage.
func queueBacklog(ctx context.Context, path, keyFile, airport, gate, direction string, n int) error {
	kh, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(kh)))
	if err != nil {
		return fmt.Errorf("crashlane: %s: %w", keyFile, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	st, err := store.Open(path, key)
	if err != nil {
		return err
	}
	defer st.Close()
	seq, err := st.LastEventSeq(ctx)
	if err != nil {
		return err
	}
	var ids events.UUIDGenerator
	for i := 0; i < n; {
		rows := make([]store.OutboxEvent, 0, 4)
		for j := 0; j < 4 && i < n; j, i = j+1, i+1 {
			seq++
			e := events.Event{Type: "refused", Reason: "CARD_UNKNOWN", Time: time.Now(), Card: fmt.Sprintf("8%09d", seq),
				Timings: &events.Timings{LookupMS: 0.05}}
			events.Stamp(&e, &ids, seq, airport, gate, direction)
			data, err := e.Marshal()
			if err != nil {
				return err
			}
			rows = append(rows, store.OutboxEvent{Seq: e.Seq, ID: e.ID, Subject: e.Subject(), Payload: data})
		}
		if err := st.Commit(ctx, nil, rows, nil); err != nil {
			return err
		}
	}
	return nil
}

// openRO opens the gate's store read-only (gated may be running: SQLite WAL lets both).
func openRO(path string) (*sql.DB, error) {
	return sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
}

func outboxDepth(ctx context.Context, path string) (int64, error) {
	db, err := openRO(path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("crashlane: outbox depth: %w", err)
	}
	return n, nil
}

func lastSeq(ctx context.Context, path string) (uint64, error) {
	db, err := openRO(path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n uint64
	if err := db.QueryRowContext(ctx, `SELECT last_event_seq FROM gate_state WHERE id = 1`).Scan(&n); err != nil {
		return 0, fmt.Errorf("crashlane: last event seq: %w", err)
	}
	return n, nil
}

// waitDrained waits until the gate's outbox is empty.
func waitDrained(ctx context.Context, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		n, err := outboxDepth(ctx, path)
		if err == nil && n == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("outbox still holds %d events after %v (%v)", n, timeout, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		sleep(ctx, 10*time.Millisecond)
	}
}

func startConsumer(ctx context.Context, hqURL string, db *consumer.DB, onBatch func(consumer.Result)) (*consumer.Consumer, func(), error) {
	nc, err := nats.Connect(hqURL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	c, err := consumer.New(db, js, consumer.Options{Durable: "crashlane", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OnBatch: onBatch})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = c.Run(cctx); close(done) }()
	var once sync.Once
	return c, func() { once.Do(func() { cancel(); <-done; nc.Close() }) }, nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
