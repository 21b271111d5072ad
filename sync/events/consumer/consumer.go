package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/outbox"
)

// Options configure Run. Zero values select the defaults.
type Options struct {
	// Durable is the durable consumer's name (required): a restarted consumer resumes after the
	// last message it acknowledged.
	Durable string
	// Filter is the subject filter (default ttp.evt.*.*.*, every gate).
	Filter string
	// Batch is the most messages written in one transaction (default 500).
	Batch int
	// AckWait is how long JetStream waits for an ack before redelivering (default 30 s).
	AckWait time.Duration
	// Logger receives gaps, rejections and errors (default slog.Default()).
	Logger *slog.Logger
	// OnBatch, if set, is called after each committed and acknowledged batch.
	OnBatch func(Result)
}

// Stats are Run's running totals since it started.
type Stats struct {
	Stored, Duplicates, Redelivered, Rejected, Late, GapsOpened, GapsClosed, Batches, Errors uint64
}

// Consumer runs a durable consumer into a DB.
type Consumer struct {
	db  *DB
	js  jetstream.JetStream
	opt Options
	log *slog.Logger

	mu    sync.Mutex
	stats Stats
}

// New returns a consumer of the events stream in js into db. Call Run.
func New(db *DB, js jetstream.JetStream, opt Options) (*Consumer, error) {
	if opt.Durable == "" {
		return nil, errors.New("consumer: a durable name is required")
	}
	if opt.Filter == "" {
		opt.Filter = outbox.StreamSubjects
	}
	if opt.Batch <= 0 {
		opt.Batch = 500
	}
	if opt.AckWait <= 0 {
		opt.AckWait = 30 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Consumer{db: db, js: js, opt: opt, log: opt.Logger.With("component", "consumer", "durable", opt.Durable)}, nil
}

// Stats returns the running totals.
func (c *Consumer) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Run consumes until ctx is done, then returns nil. It creates the durable consumer if needed;
// JetStream errors and database errors are logged and retried (unacknowledged messages come
// back after AckWait).
func (c *Consumer) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := c.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		c.mu.Lock()
		c.stats.Errors++
		c.mu.Unlock()
		c.log.Warn("consumer interrupted, retrying", "err", err, "backoff", backoff.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	return nil
}

func (c *Consumer) session(ctx context.Context) error {
	cons, err := c.js.CreateOrUpdateConsumer(ctx, outbox.StreamName, jetstream.ConsumerConfig{
		Durable:       c.opt.Durable,
		Description:   "hqctl events consume: events into SQLite, idempotent on the event id",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.opt.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: 4 * c.opt.Batch,
		FilterSubject: c.opt.Filter,
	})
	if err != nil {
		return fmt.Errorf("durable consumer %s on %s: %w", c.opt.Durable, outbox.StreamName, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2*c.opt.Batch), jetstream.PullExpiry(5*time.Second))
	if err != nil {
		return fmt.Errorf("durable consumer %s: %w", c.opt.Durable, err)
	}
	msgs := make(chan jetstream.Msg, c.opt.Batch)
	fatal := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(msgs)
		for {
			m, err := it.Next()
			switch {
			case errors.Is(err, jetstream.ErrMsgIteratorClosed):
				return
			case errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound):
				fatal <- err
				return
			case err != nil:
				c.log.Debug("pull", "err", err) // missed heartbeats during a reconnect: the iterator recovers
				continue
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				return
			}
		}
	})
	defer func() {
		it.Stop()
		for range msgs {
		}
		wg.Wait()
	}()
	batch := make([]jetstream.Msg, 0, c.opt.Batch)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case err := <-fatal:
			return err
		case m, ok := <-msgs:
			if !ok {
				return errors.New("message iterator ended")
			}
			batch = append(batch, m)
		}
	fill:
		for len(batch) < c.opt.Batch {
			select {
			case m, ok := <-msgs:
				if !ok {
					break fill
				}
				batch = append(batch, m)
			default:
				break fill
			}
		}
		if err := c.apply(ctx, batch); err != nil {
			return err
		}
	}
}

// apply commits a batch and only then acknowledges its messages.
func (c *Consumer) apply(ctx context.Context, batch []jetstream.Msg) error {
	now := time.Now()
	in := make([]Message, len(batch))
	for i, m := range batch {
		in[i] = Message{Subject: m.Subject(), Data: m.Data(), Received: now}
		if h := m.Headers(); h != nil {
			in[i].MsgID = h.Get(jetstream.MsgIDHeader)
			in[i].SeqHeader = h.Get(outbox.SeqHeader)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("message metadata: %w", err)
		}
		in[i].StreamSeq = md.Sequence.Stream
	}
	res, err := c.db.Apply(context.WithoutCancel(ctx), in)
	if err != nil {
		return err // nothing acknowledged: the messages come back
	}
	for _, m := range batch {
		_ = m.Ack() // a lost ack means a redelivery, which Apply counts and ignores
	}
	c.mu.Lock()
	c.stats.Stored += uint64(res.Stored)
	c.stats.Duplicates += uint64(res.Duplicates)
	c.stats.Redelivered += uint64(res.Redelivered)
	c.stats.Rejected += uint64(res.Rejected)
	c.stats.Late += uint64(res.Late)
	c.stats.GapsOpened += uint64(len(res.Opened))
	c.stats.GapsClosed += uint64(len(res.Closed))
	c.stats.Batches++
	c.mu.Unlock()
	for _, g := range res.Opened {
		c.log.Warn("gap in a gate's events", "gap", g.String())
	}
	for _, g := range res.Closed {
		c.log.Info("gap closed: the gate's events are contiguous again", "gate", g.Airport+"/"+g.Gate, "up_to", g.To)
	}
	if res.Rejected > 0 {
		c.log.Warn("events rejected and kept aside (table rejected)", "count", res.Rejected)
	}
	if c.opt.OnBatch != nil {
		c.opt.OnBatch(res)
	}
	return nil
}
