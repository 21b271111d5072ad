// Package outbox publishes the gate's event outbox (rows of the local store committed together
// with each lane decision) to HQ's JetStream stream, and defines that stream.
//
// Delivery is at-least-once from the gate and exactly-once in the stream within its duplicate
// window: every event is published with Nats-Msg-Id set to its UUIDv7 id, a row is deleted only
// after JetStream acknowledged it, and after any error the publisher resends from the first
// unacknowledged row with the same ids. HQ consumers de-duplicate on the event id for resends
// after the duplicate window (a first attempt stored whose ack was lost before a long outage).
//
// Publishing is pipelined: up to Options.MaxInFlight events are published and unacknowledged at
// once, new rows are read and published as acks free room (not window by window), and
// acknowledged rows are deleted in batches by a second goroutine. On one connection JetStream
// stores a gate's events in the order they were published; after a reconnect the client may
// flush messages buffered during the outage before the resend of an earlier one, so a gate's
// events can reach the stream out of seq order. HQ consumers order a gate's events by seq
// (docs/events.md).
//
// Back-pressure: the outbox is the gate's SQLite table, written by the lane in the same
// transaction as its decision; the publisher never refuses, drops or blocks those writes (its
// delete transactions are short batches). A monitor watches the outbox's rows and bytes and the
// free disk space and reports a fill level (ok, high, full) in Stats and through
// Options.OnLevel, well before a limit is reached.
package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/store"
)

// Options configure a Publisher. Zero values select the defaults.
type Options struct {
	// MaxInFlight is the most events published and not yet acknowledged (default 1024).
	MaxInFlight int
	// BatchSize is how many rows are read from the outbox at a time (default 256, at most
	// MaxInFlight).
	BatchSize int
	// RetryBackoff is the first wait after an error; it doubles on each further error up to
	// MaxBackoff (defaults 250 ms and 5 s).
	RetryBackoff, MaxBackoff time.Duration
	// AckTimeout is how long an event may wait for its ack before the publisher treats it as
	// lost and resends from the first unacknowledged event (default 10 s).
	AckTimeout time.Duration
	// PollInterval is how often the outbox is checked without a Notify (default 1 s).
	PollInterval time.Duration
	// Stream, if set, is the stream every ack must come from (default StreamName); set it to
	// "-" to accept any stream.
	Stream string
	// Logger receives errors, recoveries and fill-level changes (default slog.Default()).
	Logger *slog.Logger

	// MaxRows and MaxBytes are the outbox's limits (defaults 1,000,000 rows and 1 GiB; a
	// negative value disables that limit). Reaching one never drops or refuses an event: it is
	// the level the gate's operators must never see (LevelFull).
	MaxRows  int
	MaxBytes int64
	// AlarmAt is the fraction of a limit at which the level becomes LevelHigh (default 0.5).
	// The level goes back down only below 90% of the threshold it passed (hysteresis).
	AlarmAt float64
	// MinFreeDisk is the free space the outbox's file system must keep (default 100 MiB;
	// negative disables the check): below 4 x MinFreeDisk the level is at least LevelHigh,
	// below MinFreeDisk LevelFull.
	MinFreeDisk int64
	// UsageInterval is how often the outbox's size and the free disk space are measured
	// (default 1 s). The monitor runs whether HQ is reachable or not.
	UsageInterval time.Duration
	// OnLevel, if set, is called with the new fill level each time it changes (also at start if
	// not LevelOK), on the monitor goroutine. It must not block: the daemon turns it into an
	// alarm event (reason OUTBOX_HIGH or OUTBOX_FULL) or an alarm_cleared.
	OnLevel func(Alarm)
}

// Level is the outbox's fill level.
type Level int

// Fill levels; String gives the heartbeat's outbox_alarm values.
const (
	LevelOK   Level = iota // below the alarm thresholds
	LevelHigh              // past AlarmAt of a limit, or the disk is getting full: act now
	LevelFull              // at a limit or MinFreeDisk: events are still kept, the disk is at risk
)

func (l Level) String() string {
	switch l {
	case LevelOK:
		return "ok"
	case LevelHigh:
		return "high"
	case LevelFull:
		return "full"
	}
	return "level(" + strconv.Itoa(int(l)) + ")"
}

// Reason is the alarm reason code for the level (docs/events.md): "" for LevelOK.
func (l Level) Reason() string {
	switch l {
	case LevelHigh:
		return "OUTBOX_HIGH"
	case LevelFull:
		return "OUTBOX_FULL"
	}
	return ""
}

// Alarm is a fill-level change of the outbox.
type Alarm struct {
	Level    Level
	Previous Level
	Usage    store.OutboxUsage
	FreeDisk int64  // bytes free on the outbox's file system, -1 if unknown
	Detail   string // e.g. "outbox 520000 of 1000000 rows (52%), 230 MB of 1.1 GB"
	Time     time.Time
}

// Stats are the Publisher's counters and the outbox's state.
type Stats struct {
	Published     uint64    // publish attempts, resends included
	Acked         uint64    // events acknowledged by JetStream and deleted from the outbox
	Duplicates    uint64    // acks JetStream flagged as duplicates (a resend of a stored event)
	Resends       uint64    // events published again after an error
	Errors        uint64    // failures: publish errors, negative acks, timeouts, store errors
	LastError     string    // "" if none yet
	LastErrorTime time.Time // zero if none yet
	LastAckTime   time.Time // zero if none yet
	LastAckedSeq  uint64    // gate sequence number of the newest acknowledged event
	InFlight      int       // published, waiting for their acks
	Depth         int       // outbox rows at the last check
	Bytes         int64     // outbox bytes at the last usage check
	Oldest        time.Time // commit time of the oldest unacknowledged event (zero if none)
	FreeDisk      int64     // free bytes on the outbox's file system at the last check (-1 unknown)
	Level         Level     // fill level
	LevelDetail   string    // why, when not LevelOK
}

// Publisher drains the store's outbox to JetStream.
type Publisher struct {
	st     *store.Store
	js     jetstream.JetStream
	opt    Options
	log    *slog.Logger
	notify chan struct{}

	mu      sync.Mutex
	stats   Stats
	deletes uint64 // delete batches done: a usage measured across one is stale
}

// NewPublisher returns a Publisher of st's outbox to js. Call Run to start it.
//
// Create js with jetstream.WithPublishAsyncTimeout (at most AckTimeout) so the client releases
// the futures of publishes the server never answered; the publisher gives up on them after
// AckTimeout either way.
func NewPublisher(st *store.Store, js jetstream.JetStream, opt Options) *Publisher {
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = 1024
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 256
	}
	opt.BatchSize = min(opt.BatchSize, opt.MaxInFlight)
	if opt.RetryBackoff <= 0 {
		opt.RetryBackoff = 250 * time.Millisecond
	}
	if opt.MaxBackoff < opt.RetryBackoff {
		opt.MaxBackoff = max(5*time.Second, opt.RetryBackoff)
	}
	if opt.AckTimeout <= 0 {
		opt.AckTimeout = 10 * time.Second
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = time.Second
	}
	if opt.Stream == "" {
		opt.Stream = StreamName
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.MaxRows == 0 {
		opt.MaxRows = 1_000_000
	}
	if opt.MaxBytes == 0 {
		opt.MaxBytes = 1 << 30
	}
	if opt.AlarmAt <= 0 || opt.AlarmAt >= 1 {
		opt.AlarmAt = 0.5
	}
	if opt.MinFreeDisk == 0 {
		opt.MinFreeDisk = 100 << 20
	}
	if opt.UsageInterval <= 0 {
		opt.UsageInterval = time.Second
	}
	return &Publisher{
		st: st, js: js, opt: opt,
		log:    opt.Logger.With("component", "outbox"),
		notify: make(chan struct{}, 1),
		stats:  Stats{FreeDisk: -1},
	}
}

// Notify wakes the publisher: the lane calls it after each Commit that added events. It never
// blocks.
func (p *Publisher) Notify() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// Stats returns a snapshot of the counters.
func (p *Publisher) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// flight is one published event waiting for its ack.
type flight struct {
	seq      uint64
	id       string
	fut      jetstream.PubAckFuture
	deadline time.Time
}

// Run publishes the outbox until ctx is done, then returns nil. Errors are counted, logged and
// retried with backoff; they never end Run. Acks that arrived before ctx ended are still
// recorded (their rows deleted).
func (p *Publisher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { p.monitor(ctx) })
	del := newDeleter(p)
	wg.Go(del.run)
	defer func() {
		del.close()
		wg.Wait()
	}()

	var (
		queue     []flight // in publish order
		next      uint64   // the highest seq published in this pass
		exhausted bool     // the last read found no more rows
		backoff   = p.opt.RetryBackoff
		failing   bool
		resending bool // this pass resends after an error
		lastSeqs  = map[uint64]struct{}{}
	)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	poll := time.NewTicker(p.opt.PollInterval)
	defer poll.Stop()

	// fail gives up on this pass: it waits (up to their deadlines) for the acks of what is in
	// flight, has the acknowledged rows deleted, and starts over from the first unacknowledged
	// row after a backoff.
	fail := func(err error) {
		p.mu.Lock()
		p.stats.Errors++
		p.stats.LastError = err.Error()
		p.stats.LastErrorTime = time.Now()
		p.mu.Unlock()
		p.log.Warn("event publish failed, will resend from the first unacknowledged event", "err", err, "backoff", backoff.String())
		failing = true
		acked := p.settle(ctx, queue)
		del.add(acked)
		clear(lastSeqs)
		for _, f := range queue {
			lastSeqs[f.seq] = struct{}{}
		}
		for _, f := range acked {
			delete(lastSeqs, f.seq)
		}
		queue, next, exhausted = queue[:0], 0, false
		p.setInFlight(0)
		del.sync() // the next pass re-reads the outbox: acknowledged rows must be gone
		p.setDepth(ctx)
		sleep(ctx, backoff)
		backoff = min(2*backoff, p.opt.MaxBackoff)
		resending = true
	}

	for {
		if ctx.Err() != nil {
			del.add(p.collectReady(queue))
			return nil
		}
		// Refill the pipeline while there is room for a batch.
		if !exhausted && p.opt.MaxInFlight-len(queue) >= p.opt.BatchSize {
			rows, err := p.st.PendingEvents(ctx, next, p.opt.BatchSize)
			if err != nil {
				if ctx.Err() == nil {
					fail(fmt.Errorf("outbox: read pending events: %w", err))
				}
				continue
			}
			exhausted = len(rows) < p.opt.BatchSize
			var pubErr error
			for i := range rows {
				f, err := p.publish(&rows[i])
				if err != nil {
					pubErr = err
					break
				}
				queue = append(queue, f)
				next = rows[i].Seq
				if resending {
					if _, ok := lastSeqs[f.seq]; ok {
						p.mu.Lock()
						p.stats.Resends++
						p.mu.Unlock()
					}
				}
			}
			p.setInFlight(len(queue))
			if pubErr != nil {
				fail(pubErr)
				continue
			}
			if len(rows) > 0 {
				continue
			}
		}
		if len(queue) == 0 {
			if resending {
				resending = false
				clear(lastSeqs)
			}
			del.sync()
			p.setDepth(ctx)
			select {
			case <-ctx.Done():
			case <-p.notify:
			case <-poll.C:
			}
			exhausted = false
			continue
		}
		// Wait for the oldest event's ack; the others keep flowing meanwhile.
		head := queue[0]
		timer.Reset(time.Until(head.deadline))
		select {
		case ack := <-head.fut.Ok():
			if err := p.checkAck(ack, head); err != nil {
				fail(err)
				continue
			}
			queue = queue[1:]
			del.add([]flight{head})
			p.mu.Lock()
			if ack.Duplicate {
				p.stats.Duplicates++
			}
			p.stats.InFlight = len(queue)
			p.mu.Unlock()
			if failing {
				p.log.Info("event publishing recovered")
				failing = false
			}
			backoff = p.opt.RetryBackoff
		case err := <-head.fut.Err():
			fail(fmt.Errorf("outbox: event seq %d id %s not acknowledged: %w", head.seq, head.id, err))
		case <-timer.C:
			fail(fmt.Errorf("outbox: no ack for event seq %d id %s within %v", head.seq, head.id, p.opt.AckTimeout))
		case <-p.notify:
			exhausted = false
		case <-poll.C:
			exhausted = false
		case <-ctx.Done():
		}
		timer.Stop() // Go 1.23+ timers: no stale tick after Stop
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// publish sends one event asynchronously.
func (p *Publisher) publish(ev *store.OutboxEvent) (flight, error) {
	msg := &nats.Msg{Subject: ev.Subject, Data: ev.Payload, Header: nats.Header{}}
	msg.Header.Set(SeqHeader, strconv.FormatUint(ev.Seq, 10))
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(ev.ID)}
	if p.opt.Stream != "-" {
		opts = append(opts, jetstream.WithExpectStream(p.opt.Stream))
	}
	fut, err := p.js.PublishMsgAsync(msg, opts...)
	if err != nil {
		return flight{}, fmt.Errorf("outbox: publish event seq %d: %w", ev.Seq, err)
	}
	p.mu.Lock()
	p.stats.Published++
	p.mu.Unlock()
	return flight{seq: ev.Seq, id: ev.ID, fut: fut, deadline: time.Now().Add(p.opt.AckTimeout)}, nil
}

// settle waits for the in-flight events' acks up to their deadlines (or until ctx ends) and
// returns those acknowledged.
func (p *Publisher) settle(ctx context.Context, queue []flight) []flight {
	var acked []flight
	for _, f := range queue {
		wait := time.Until(f.deadline)
		if ctx.Err() != nil || wait <= 0 {
			acked = append(acked, p.collectReady([]flight{f})...)
			continue
		}
		t := time.NewTimer(wait)
		select {
		case ack := <-f.fut.Ok():
			if p.checkAck(ack, f) == nil {
				acked = append(acked, f)
				if ack.Duplicate {
					p.mu.Lock()
					p.stats.Duplicates++
					p.mu.Unlock()
				}
			}
		case <-f.fut.Err():
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	return acked
}

// collectReady returns the events of queue whose acks already arrived, without waiting.
func (p *Publisher) collectReady(queue []flight) []flight {
	var acked []flight
	for _, f := range queue {
		select {
		case ack := <-f.fut.Ok():
			if p.checkAck(ack, f) == nil {
				acked = append(acked, f)
			}
		default:
		}
	}
	return acked
}

func (p *Publisher) checkAck(ack *jetstream.PubAck, f flight) error {
	if ack == nil {
		return fmt.Errorf("outbox: event seq %d id %s: empty ack", f.seq, f.id)
	}
	if p.opt.Stream != "-" && ack.Stream != p.opt.Stream {
		return fmt.Errorf("outbox: event seq %d id %s: acknowledged by stream %q, want %q", f.seq, f.id, ack.Stream, p.opt.Stream)
	}
	return nil
}

func (p *Publisher) setInFlight(n int) {
	p.mu.Lock()
	p.stats.InFlight = n
	p.mu.Unlock()
}

func (p *Publisher) setDepth(ctx context.Context) {
	d, err := p.st.OutboxDepth(ctx)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.stats.Depth = d
	p.deletes++
	p.mu.Unlock()
}

// deleter deletes acknowledged rows in batches on its own goroutine, so the pipeline keeps
// reading acks while SQLite syncs a delete.
type deleter struct {
	p    *Publisher
	mu   sync.Mutex
	cond *sync.Cond
	todo []flight
	busy bool
	done bool
}

func newDeleter(p *Publisher) *deleter {
	d := &deleter{p: p}
	d.cond = sync.NewCond(&d.mu)
	return d
}

func (d *deleter) add(fs []flight) {
	if len(fs) == 0 {
		return
	}
	d.mu.Lock()
	d.todo = append(d.todo, fs...)
	d.mu.Unlock()
	d.cond.Broadcast()
}

// sync waits until every row added so far is deleted (or deleting failed).
func (d *deleter) sync() {
	d.mu.Lock()
	for (len(d.todo) > 0 || d.busy) && !d.done {
		d.cond.Wait()
	}
	d.mu.Unlock()
}

// close deletes what is left and stops run.
func (d *deleter) close() {
	d.mu.Lock()
	d.done = true
	d.mu.Unlock()
	d.cond.Broadcast()
}

func (d *deleter) run() {
	for {
		d.mu.Lock()
		for len(d.todo) == 0 && !d.done {
			d.cond.Wait()
		}
		if len(d.todo) == 0 && d.done {
			d.mu.Unlock()
			return
		}
		batch := d.todo
		d.todo = nil
		d.busy = true
		d.mu.Unlock()

		seqs := make([]uint64, len(batch))
		for i, f := range batch {
			seqs[i] = f.seq
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := d.p.st.AckEvents(ctx, seqs)
		cancel()
		p := d.p
		p.mu.Lock()
		if err != nil {
			// The rows stay and are resent after the next error or restart; JetStream and HQ's
			// consumers drop the duplicates.
			p.stats.Errors++
			p.stats.LastError = err.Error()
			p.stats.LastErrorTime = time.Now()
		} else {
			p.stats.Acked += uint64(len(batch))
			p.stats.LastAckTime = time.Now()
			p.stats.Depth = max(0, p.stats.Depth-len(batch))
			p.deletes++
			for _, s := range seqs {
				p.stats.LastAckedSeq = max(p.stats.LastAckedSeq, s)
			}
		}
		p.mu.Unlock()
		if err != nil {
			p.log.Error("deleting acknowledged events from the outbox failed; they will be resent", "err", err, "events", len(batch))
		}
		d.mu.Lock()
		d.busy = false
		d.mu.Unlock()
		d.cond.Broadcast()
	}
}
