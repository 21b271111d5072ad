package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Batch is a set of registry changes applied atomically together with the
// cursor that covers them.
type Batch struct {
	// Records are upserted in order (a later record wins a card number
	// that an earlier one also lists).
	Records []*Record
	// Deleted lists user ids whose key HQ deleted or purged: the user, its
	// cards and templates are removed. Applied before Records.
	Deleted []string
	// Revision is the bucket revision of the last entry the batch covers;
	// it becomes the stored cursor.
	Revision uint64
	// HQClock, when not nil, is the new freshness time.
	HQClock *time.Time
}

// Applier is the part of the local store the Watcher needs.
// *store.Store implements it.
type Applier interface {
	// ApplyBatch applies b and its cursor in one transaction. A record the
	// store cannot hold must fail with an error wrapping ErrInvalid, and
	// leave nothing applied.
	ApplyBatch(ctx context.Context, b *Batch) error
	// RegistryCursor returns the last applied revision and HQ clock.
	RegistryCursor(ctx context.Context) (revision uint64, hqClock time.Time, err error)
}

// WatcherOptions configure a Watcher. Zero values select the defaults.
type WatcherOptions struct {
	// BatchSize is the most entries applied in one transaction (default 500).
	BatchSize int
	// BatchDelay is how long the first entry of a batch may wait for more
	// (default 50 ms).
	BatchDelay time.Duration
	// StallCheck is how often the watch is checked against the bucket's
	// last revision (default 5 s). If an entry that existed at one check
	// has not been received by the next, and nothing at all arrived in
	// between, the watch is restarted from the stored revision. This
	// recovers a watch whose server-side consumer vanished (a server
	// restart) faster than the client's own heartbeat check.
	StallCheck time.Duration
	// MinBackoff and MaxBackoff bound the wait before re-watching after an
	// error (defaults 100 ms and 10 s, doubling).
	MinBackoff, MaxBackoff time.Duration
	// Logger receives rejections and reconnects (default slog.Default()).
	Logger *slog.Logger
}

// WatcherStats are the Watcher's counters.
type WatcherStats struct {
	Applied      uint64    // user records upserted
	Deleted      uint64    // user keys deleted or purged by HQ and removed locally
	Rejected     uint64    // entries skipped: malformed record, unknown key, key/user_id mismatch
	ClockUpdates uint64    // hq.clock values applied
	Restarts     uint64    // times the KV watch was (re)started after an error
	Revision     uint64    // stored cursor: last applied bucket revision
	HQClock      time.Time // HQ time of the last applied hq.clock (registry freshness)
	CaughtUp     bool      // the current watch has delivered every entry that existed when it started
	LastError    string    // last watch or apply error, "" if none
}

// Watcher applies the registry bucket to the local store: it resumes from the
// stored revision, batches updates and applies each batch with its cursor in
// one transaction. Malformed entries are logged, counted and skipped.
type Watcher struct {
	kv  jetstream.KeyValue
	st  Applier
	opt WatcherOptions
	log *slog.Logger

	mu    sync.Mutex
	stats WatcherStats
}

// NewWatcher returns a Watcher of kv that applies to st. Call Run to start it.
func NewWatcher(kv jetstream.KeyValue, st Applier, opt WatcherOptions) *Watcher {
	if opt.BatchSize <= 0 {
		opt.BatchSize = 500
	}
	if opt.BatchDelay <= 0 {
		opt.BatchDelay = 50 * time.Millisecond
	}
	if opt.StallCheck <= 0 {
		opt.StallCheck = 5 * time.Second
	}
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = 100 * time.Millisecond
	}
	if opt.MaxBackoff < opt.MinBackoff {
		opt.MaxBackoff = max(10*time.Second, opt.MinBackoff)
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	return &Watcher{kv: kv, st: st, opt: opt, log: opt.Logger.With("component", "registry-watcher")}
}

// Stats returns a snapshot of the counters.
func (w *Watcher) Stats() WatcherStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Errors that end one watch; Run restarts it.
var (
	errWatchClosed  = errors.New("registry: KV watch closed (connection closed or consumer deleted)")
	errWatchStalled = errors.New("registry: KV watch stalled: the bucket has newer revisions that are not delivered")
)

// Run watches the bucket until ctx is done, then returns nil. Watch and
// store errors are logged and retried with backoff, resuming from the stored
// revision each time.
func (w *Watcher) Run(ctx context.Context) error {
	backoff := w.opt.MinBackoff
	for {
		err := w.watch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		w.mu.Lock()
		w.stats.Restarts++
		w.stats.CaughtUp = false
		if err != nil {
			w.stats.LastError = err.Error()
		}
		w.mu.Unlock()
		w.log.Warn("registry watch stopped, retrying", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, w.opt.MaxBackoff)
		if err == nil {
			backoff = w.opt.MinBackoff
		}
	}
}

// watch runs one KV watch from the stored cursor until an error.
func (w *Watcher) watch(ctx context.Context) error {
	rev, clock, err := w.st.RegistryCursor(ctx)
	if err != nil {
		return fmt.Errorf("registry: read stored cursor: %w", err)
	}
	w.mu.Lock()
	w.stats.Revision, w.stats.HQClock = rev, clock
	w.mu.Unlock()

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// ResumeFromRevision sets the consumer's start sequence, which takes
	// precedence over the default "last value per key" delivery: every
	// entry still in the stream with revision > rev is delivered, in order.
	// (IncludeHistory is irrelevant here: with history 1 the stream holds
	// only the latest revision of each key.)
	kw, err := w.kv.WatchAll(wctx, jetstream.ResumeFromRevision(rev+1))
	if err != nil {
		return fmt.Errorf("registry: watch bucket from revision %d: %w", rev+1, err)
	}
	defer kw.Stop()
	w.log.Info("registry watch started", "from_revision", rev+1)

	var (
		batch  []jetstream.KeyValueEntry
		timer  = time.NewTimer(time.Hour)
		timerC <-chan time.Time
		stall  = time.NewTicker(w.opt.StallCheck)
		// Stall detection: target is the bucket's last revision at the
		// previous check; seen is the highest revision known delivered
		// (or known not to exist, once caught up); received tells if any
		// entry arrived since the previous check.
		target, seen uint64
		received     bool
	)
	timer.Stop()
	defer timer.Stop()
	defer stall.Stop()
	seen = rev
	flush := func() error {
		timerC = nil
		if len(batch) == 0 {
			return nil
		}
		err := w.apply(ctx, batch)
		if err == nil {
			rev = batch[len(batch)-1].Revision()
		}
		batch = batch[:0]
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil // unapplied entries are re-read on the next run
		case <-timerC:
			if err := flush(); err != nil {
				return err
			}
		case <-stall.C:
			last, ok := w.lastRevision(ctx)
			if !ok {
				continue // not connected: the client reconnects, check again later
			}
			if target > seen && !received {
				return fmt.Errorf("%w (revision %d exists, last received %d)", errWatchStalled, target, seen)
			}
			target, received = last, false
		case e, ok := <-kw.Updates():
			if !ok {
				if err := flush(); err != nil {
					return err
				}
				return errWatchClosed
			}
			if e == nil { // all entries present at start delivered
				if err := flush(); err != nil {
					return err
				}
				// Revisions up to the bucket's last one at this point that
				// were not delivered no longer exist (overwritten or purged).
				if last, ok := w.lastRevision(ctx); ok {
					seen = max(seen, last)
				}
				w.mu.Lock()
				w.stats.CaughtUp = true
				w.mu.Unlock()
				continue
			}
			received = true
			if e.Revision() <= rev || len(batch) > 0 && e.Revision() <= batch[len(batch)-1].Revision() {
				continue // redelivered after an ordered-consumer reset
			}
			seen = max(seen, e.Revision())
			batch = append(batch, e)
			if len(batch) >= w.opt.BatchSize {
				if err := flush(); err != nil {
					return err
				}
			} else if timerC == nil {
				timer.Reset(w.opt.BatchDelay)
				timerC = timer.C
			}
		}
	}
}

// lastRevision returns the bucket's last revision (its stream's last
// sequence), and false if it cannot be read now.
func (w *Watcher) lastRevision(ctx context.Context) (uint64, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := w.kv.Status(ctx)
	if err != nil {
		return 0, false
	}
	si, ok := st.(interface{ StreamInfo() *jetstream.StreamInfo })
	if !ok || si.StreamInfo() == nil {
		return 0, false
	}
	return si.StreamInfo().State.LastSeq, true
}

// change is the decoded final state of one key within a batch.
type change struct {
	rev     uint64
	rec     *Record // nil for a delete
	userID  string
	deleted bool
}

// decode turns entries into a Batch, rejecting malformed ones. The batch's
// revision is the last entry's even if that entry was rejected.
func (w *Watcher) decode(entries []jetstream.KeyValueEntry) (b *Batch, changes []change, rejected, clocks uint64) {
	b = &Batch{Revision: entries[len(entries)-1].Revision()}
	byUser := make(map[string]change)
	for _, e := range entries {
		key := e.Key()
		del := e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge
		if key == ClockKey {
			if del {
				continue
			}
			t, err := ParseClock(e.Value())
			if err != nil {
				rejected++
				w.reject(e, err)
				continue
			}
			b.HQClock = &t
			clocks++
			continue
		}
		uid, ok := UserIDFromKey(key)
		if !ok {
			rejected++
			w.reject(e, fmt.Errorf("unknown key: want %q or \"user.<user_id>\" with a user id of 1..%d letters, digits, '_' or '-'", ClockKey, MaxUserIDLen))
			continue
		}
		if del {
			byUser[uid] = change{rev: e.Revision(), userID: uid, deleted: true}
			continue
		}
		r, err := Parse(e.Value())
		if err == nil && r.UserID != uid {
			err = fieldErr("user_id", "%q does not match the key's user id %q", r.UserID, uid)
		}
		if err != nil {
			rejected++
			w.reject(e, err)
			continue
		}
		byUser[uid] = change{rev: e.Revision(), rec: r, userID: uid}
	}
	changes = make([]change, 0, len(byUser))
	for _, c := range byUser {
		changes = append(changes, c)
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].rev < changes[j].rev })
	for _, c := range changes {
		if c.deleted {
			b.Deleted = append(b.Deleted, c.userID)
		} else {
			b.Records = append(b.Records, c.rec)
		}
	}
	return b, changes, rejected, clocks
}

func (w *Watcher) reject(e jetstream.KeyValueEntry, err error) {
	w.log.Warn("registry entry rejected", "key", e.Key(), "revision", e.Revision(), "reason", err.Error())
}

// apply decodes and applies one batch. If the store rejects the batch as
// invalid, the changes are applied one by one so that only the offending
// record is skipped.
func (w *Watcher) apply(ctx context.Context, entries []jetstream.KeyValueEntry) error {
	b, changes, rejected, clocks := w.decode(entries)
	err := w.st.ApplyBatch(ctx, b)
	if err != nil && !errors.Is(err, ErrInvalid) {
		return fmt.Errorf("registry: apply batch ending at revision %d: %w", b.Revision, err)
	}
	applied, deleted := uint64(len(b.Records)), uint64(len(b.Deleted))
	if err != nil {
		w.log.Warn("registry batch rejected by store, applying one by one", "revision", b.Revision, "err", err.Error())
		applied, deleted = 0, 0
		for _, c := range changes {
			one := &Batch{Revision: c.rev}
			if c.deleted {
				one.Deleted = []string{c.userID}
			} else {
				one.Records = []*Record{c.rec}
			}
			err := w.st.ApplyBatch(ctx, one)
			switch {
			case err == nil && c.deleted:
				deleted++
			case err == nil:
				applied++
			case errors.Is(err, ErrInvalid):
				rejected++
				w.log.Warn("registry entry rejected", "key", Key(c.userID), "revision", c.rev, "reason", err.Error())
			default:
				return fmt.Errorf("registry: apply revision %d: %w", c.rev, err)
			}
		}
		// Advance the cursor past the last entry and record the clock.
		if err := w.st.ApplyBatch(ctx, &Batch{Revision: b.Revision, HQClock: b.HQClock}); err != nil {
			return fmt.Errorf("registry: apply cursor %d: %w", b.Revision, err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stats.Applied += applied
	w.stats.Deleted += deleted
	w.stats.Rejected += rejected
	w.stats.Revision = b.Revision
	w.stats.ClockUpdates += clocks
	if b.HQClock != nil {
		w.stats.HQClock = *b.HQClock
	}
	return nil
}
