// Package outbox publishes the gate's event outbox (rows of the local store
// committed together with each lane decision) to HQ's JetStream stream.
//
// Delivery is at-least-once from the gate and exactly-once in the stream
// within its duplicate window: every event is published with Nats-Msg-Id set
// to its UUIDv7 id, a row is deleted only after JetStream acknowledged it,
// and after any error the publisher resends from the first unacknowledged
// row with the same ids. HQ consumers de-duplicate on the event id for
// outages longer than the duplicate window (a resend whose first attempt was
// stored but whose ack was lost).
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/store"
)

// Stream settings of the events stream.
const (
	// StreamName is the JetStream stream holding every gate's events.
	StreamName = "TTP_EVENTS"
	// StreamSubjects is the subject filter of StreamName.
	StreamSubjects = "ttp.evt.>"
	// DuplicateWindow is how long JetStream remembers message ids.
	DuplicateWindow = 2 * time.Minute
	// SeqHeader carries the gate's event sequence number on every message.
	SeqHeader = "Ttp-Gate-Seq"
)

// EnsureStream creates the events stream (subjects ttp.evt.>, file storage,
// limits retention, 2-minute duplicate window) or updates its configuration.
func EnsureStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "TTP gate events (passages, refusals, alarms); Nats-Msg-Id = event id",
		Subjects:    []string{StreamSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  DuplicateWindow,
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: create or update stream %s: %w", StreamName, err)
	}
	return s, nil
}

// Options configure a Publisher. Zero values select the defaults.
type Options struct {
	// MaxInFlight is the most events published and not yet acknowledged
	// (default 256).
	MaxInFlight int
	// RetryBackoff is the first wait after an error; it doubles on each
	// further error up to MaxBackoff (defaults 250 ms and 5 s).
	RetryBackoff, MaxBackoff time.Duration
	// AckTimeout is how long to wait for the acks of a round of publishes
	// before treating the missing ones as failed (default 10 s).
	AckTimeout time.Duration
	// PollInterval is how often the outbox is checked without a Notify
	// (default 1 s).
	PollInterval time.Duration
	// Stream, if set, is the stream every ack must come from (default
	// StreamName); set it to "-" to accept any stream.
	Stream string
	// Logger receives errors and recoveries (default slog.Default()).
	Logger *slog.Logger
}

// Stats are the Publisher's counters.
type Stats struct {
	Published     uint64    // publish attempts, resends included
	Acked         uint64    // events acknowledged by JetStream and deleted from the outbox
	Duplicates    uint64    // acks JetStream flagged as duplicates (a resend of a stored event)
	Errors        uint64    // failed rounds: publish errors, negative acks, timeouts, store errors
	LastError     string    // "" if none yet
	LastErrorTime time.Time // zero if none yet
	LastAckedSeq  uint64    // gate sequence number of the newest acknowledged event
	Depth         int       // outbox rows at the last check
}

// Publisher drains the store's outbox to JetStream.
type Publisher struct {
	st     *store.Store
	js     jetstream.JetStream
	opt    Options
	log    *slog.Logger
	notify chan struct{}

	mu    sync.Mutex
	stats Stats
}

// NewPublisher returns a Publisher of st's outbox to js. Call Run to start it.
//
// Publish futures that never resolve are abandoned after AckTimeout; create
// js with jetstream.WithPublishAsyncTimeout so the client releases them too.
func NewPublisher(st *store.Store, js jetstream.JetStream, opt Options) *Publisher {
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = 256
	}
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
	return &Publisher{
		st: st, js: js, opt: opt,
		log:    opt.Logger.With("component", "outbox"),
		notify: make(chan struct{}, 1),
	}
}

// Notify wakes the publisher: the lane calls it after each Commit that
// added events. It never blocks.
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

// Run publishes the outbox until ctx is done, then returns nil. Errors are
// counted, logged and retried with backoff; they never end Run.
func (p *Publisher) Run(ctx context.Context) error {
	backoff := p.opt.RetryBackoff
	poll := time.NewTicker(p.opt.PollInterval)
	defer poll.Stop()
	failing := false
	for {
		n, err := p.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			p.mu.Lock()
			p.stats.Errors++
			p.stats.LastError = err.Error()
			p.stats.LastErrorTime = time.Now()
			p.mu.Unlock()
			p.log.Warn("event publish failed, will resend from the first unacknowledged event", "err", err, "backoff", backoff)
			failing = true
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, p.opt.MaxBackoff)
			continue
		}
		if failing {
			p.log.Info("event publishing recovered")
			failing = false
		}
		backoff = p.opt.RetryBackoff
		if n > 0 {
			continue // drain until the outbox is empty
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.notify:
		case <-poll.C:
		}
	}
}

// round publishes up to MaxInFlight of the oldest outbox rows, waits for
// their acks and deletes the acknowledged rows. It returns the number of
// rows it found.
func (p *Publisher) round(ctx context.Context) (int, error) {
	evs, err := p.st.PendingEvents(ctx, 0, p.opt.MaxInFlight)
	if err != nil {
		return 0, err
	}
	if len(evs) == 0 {
		p.setDepth(ctx)
		return 0, nil
	}
	type pending struct {
		ev  *store.OutboxEvent
		fut jetstream.PubAckFuture
	}
	futs := make([]pending, 0, len(evs))
	var pubErr error
	for i := range evs {
		ev := &evs[i]
		msg := &nats.Msg{Subject: ev.Subject, Data: ev.Payload, Header: nats.Header{}}
		msg.Header.Set(SeqHeader, strconv.FormatUint(ev.Seq, 10))
		opts := []jetstream.PublishOpt{jetstream.WithMsgID(ev.ID)}
		if p.opt.Stream != "-" {
			opts = append(opts, jetstream.WithExpectStream(p.opt.Stream))
		}
		fut, err := p.js.PublishMsgAsync(msg, opts...)
		if err != nil {
			pubErr = fmt.Errorf("outbox: publish event seq %d: %w", ev.Seq, err)
			break
		}
		futs = append(futs, pending{ev, fut})
	}
	p.mu.Lock()
	p.stats.Published += uint64(len(futs))
	p.mu.Unlock()

	deadline := time.NewTimer(p.opt.AckTimeout)
	defer deadline.Stop()
	acked := make([]uint64, 0, len(futs))
	var dups uint64
	var ackErr error
	timedOut := false
wait:
	for _, f := range futs {
		if timedOut {
			// Collect acks that already arrived; do not wait.
			select {
			case ack := <-f.fut.Ok():
				if p.checkAck(ack, f.ev) == nil {
					acked = append(acked, f.ev.Seq)
				}
			default:
			}
			continue
		}
		select {
		case ack := <-f.fut.Ok():
			if err := p.checkAck(ack, f.ev); err != nil {
				ackErr = cmp(ackErr, err)
				continue
			}
			if ack.Duplicate {
				dups++
			}
			acked = append(acked, f.ev.Seq)
		case err := <-f.fut.Err():
			ackErr = cmp(ackErr, fmt.Errorf("outbox: event seq %d id %s not acknowledged: %w", f.ev.Seq, f.ev.ID, err))
		case <-deadline.C:
			ackErr = cmp(ackErr, fmt.Errorf("outbox: no ack for event seq %d id %s within %v", f.ev.Seq, f.ev.ID, p.opt.AckTimeout))
			timedOut = true
		case <-ctx.Done():
			break wait
		}
	}
	// Delete what was acknowledged, even if ctx is done: the acks are real.
	if len(acked) > 0 {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err := p.st.AckEvents(actx, acked)
		cancel()
		if err != nil {
			return len(evs), fmt.Errorf("outbox: delete %d acknowledged events: %w", len(acked), err)
		}
		p.mu.Lock()
		p.stats.Acked += uint64(len(acked))
		p.stats.Duplicates += dups
		p.stats.LastAckedSeq = max(p.stats.LastAckedSeq, acked[len(acked)-1])
		p.mu.Unlock()
	}
	p.setDepth(ctx)
	if err := errors.Join(pubErr, ackErr); err != nil {
		return len(evs), err
	}
	return len(evs), ctx.Err()
}

func cmp(first, next error) error {
	if first != nil {
		return first
	}
	return next
}

func (p *Publisher) checkAck(ack *jetstream.PubAck, ev *store.OutboxEvent) error {
	if ack == nil {
		return fmt.Errorf("outbox: event seq %d id %s: empty ack", ev.Seq, ev.ID)
	}
	if p.opt.Stream != "-" && ack.Stream != p.opt.Stream {
		return fmt.Errorf("outbox: event seq %d id %s: acknowledged by stream %q, want %q", ev.Seq, ev.ID, ack.Stream, p.opt.Stream)
	}
	return nil
}

func (p *Publisher) setDepth(ctx context.Context) {
	d, err := p.st.OutboxDepth(ctx)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.stats.Depth = d
	p.mu.Unlock()
}
