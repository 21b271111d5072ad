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
	// DeletedAfter holds, for users in Deleted, the newest updated time of a
	// record of theirs that this batch superseded (put, then deleted, within
	// the batch): the tombstone keeps at least that time, so a replay of any
	// older record stays refused, as if the entries were applied one by one.
	DeletedAfter map[string]time.Time
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
	// BatchSize is the most entries applied in one transaction (default 2000).
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
	// error (defaults 100 ms and 2 s, doubling). MaxBackoff is also how late a
	// gate may notice that its airport's link to HQ is back (its own link to
	// the leaf never dropped): revocations wait for it, so keep it short.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives rejections and reconnects (default slog.Default()).
	Logger *slog.Logger

	// Verifier holds the HQ public keys; every record and hq.clock must
	// carry a signature that checks with one of them. Nil means signatures
	// are NOT checked (envelopes are still required): a development
	// transition only, logged as a warning at start; a production gate
	// always configures its HQ keys.
	Verifier *Verifier
	// JS, when set and the store is a SnapshotInstaller, lets the watcher
	// bootstrap from HQ's latest snapshot (SnapshotBucket) before watching:
	// when the store is empty, when its revision is older than the bucket's
	// first (the history it missed is gone), or when its HQ clock is older
	// than MaxOffline. The lane keeps the old copy until the new one is
	// complete.
	JS jetstream.JetStream
	// MaxOffline, when positive, is how old the stored HQ clock may be
	// before the watcher rebuilds from a snapshot rather than resume from
	// deltas: set it to HQ's delete-marker retention, since a gate offline
	// longer may have missed deletions.
	MaxOffline time.Duration
	// OnReject, when set, is called for every rejected entry (after it is
	// logged and counted), e.g. to report it to HQ as an event. It must
	// not block.
	OnReject func(Rejection)
}

// Rejection describes one registry entry the watcher refused.
type Rejection struct {
	Key      string // KV key
	Revision uint64 // bucket revision of the entry (0 for a snapshot)
	Reason   string // why (never contains a card number or template data)
	Kind     string // "malformed", "signature" or "replay"
}

func rejectionKind(err error) string {
	switch {
	case errors.Is(err, ErrSignature):
		return "signature"
	case errors.Is(err, ErrReplay):
		return "replay"
	default:
		return "malformed"
	}
}

// WatcherStats are the Watcher's counters.
type WatcherStats struct {
	Applied      uint64    // user records upserted
	Deleted      uint64    // user keys deleted or purged by HQ and removed locally
	Rejected     uint64    // entries skipped: malformed record, unknown key, key/user_id mismatch, bad signature, replay
	BadSignature uint64    // of Rejected: missing, malformed or wrong signature, untrusted key id
	Replayed     uint64    // of Rejected: a record or clock older than the one the gate holds
	ClockUpdates uint64    // hq.clock values applied
	Restarts     uint64    // times the KV watch was (re)started after an error
	Revision     uint64    // stored cursor: last applied bucket revision
	HQClock      time.Time // HQ time of the last applied hq.clock (registry freshness)
	CaughtUp     bool      // the current watch has delivered every entry that existed when it started
	LastError    string    // last watch or apply error, "" if none

	Bootstraps        uint64        // snapshots installed
	BootstrapRevision uint64        // revision of the last installed snapshot
	BootstrapTime     time.Duration // how long the last snapshot took to fetch, check and install
	SnapshotRejected  uint64        // snapshots refused (bad signature, hash, older than the store)
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
		opt.BatchSize = 2000
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
		opt.MaxBackoff = max(2*time.Second, opt.MinBackoff)
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	w := &Watcher{kv: kv, st: st, opt: opt, log: opt.Logger.With("component", "registry-watcher")}
	if opt.Verifier == nil {
		w.log.Warn("registry signatures are NOT verified: no HQ public keys configured (WatcherOptions.Verifier is nil)")
	}
	return w
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

// unreachableCheck is how often the stall check looks again while HQ is unreachable.
const unreachableCheck = 500 * time.Millisecond

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
	if inst, ok := w.st.(SnapshotInstaller); ok && w.opt.JS != nil {
		if why := w.needSnapshot(ctx, rev, clock); why != "" {
			if err := w.bootstrap(ctx, inst, rev, why); err != nil {
				return err
			}
			if rev, clock, err = w.st.RegistryCursor(ctx); err != nil {
				return fmt.Errorf("registry: read stored cursor: %w", err)
			}
		}
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

	// The entries go through a pipeline of three stages, so that decoding
	// (signature checks on every core) of one batch overlaps the SQLite
	// apply of the previous one: this loop collects batches; the decoder
	// verifies and parses them, in order; the applier applies them, in
	// order, each with its cursor in one transaction. The channels hold one
	// batch each, which bounds memory and makes this loop wait when the
	// store is the bottleneck.
	p := w.startPipeline(ctx, clock)
	defer p.stop()

	var (
		batch  []jetstream.KeyValueEntry
		timer  = time.NewTimer(time.Hour)
		timerC <-chan time.Time
		stall  = time.NewTimer(w.opt.StallCheck)
		// unreachable: the previous check could not reach HQ (the airport's
		// link is down: the gate's own link to the leaf may well be up).
		unreachable bool
		// Stall detection: target is the bucket's last revision at the
		// previous check; seen is the highest revision known delivered
		// (or known not to exist, once caught up); received tells if any
		// entry arrived since the previous check.
		target, seen uint64
		received     bool
		// queued is the last revision handed to the pipeline.
		queued = rev
	)
	timer.Stop()
	defer timer.Stop()
	defer stall.Stop()
	seen = rev
	flush := func(caughtUp bool) error {
		timerC = nil
		if len(batch) == 0 && !caughtUp {
			return nil
		}
		if err := p.send(pipeItem{entries: batch, caughtUp: caughtUp}); err != nil {
			return err
		}
		if len(batch) > 0 {
			queued = batch[len(batch)-1].Revision()
		}
		batch = make([]jetstream.KeyValueEntry, 0, w.opt.BatchSize)
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil // unapplied entries are re-read on the next run
		case err := <-p.errc:
			return err
		case <-timerC:
			if err := flush(false); err != nil {
				return err
			}
		case <-stall.C:
			last, ok := w.lastRevision(ctx)
			if !ok {
				// HQ unreachable: look again soon (the leaf answers at once while its
				// link is down, so this costs HQ nothing), to resume as soon as it is back.
				unreachable, received = true, false
				stall.Reset(min(w.opt.StallCheck, unreachableCheck))
				continue
			}
			stall.Reset(w.opt.StallCheck)
			if unreachable && last > seen && !received {
				// Back after an outage and behind: what was put meanwhile may never be
				// delivered by the old consumer. Re-watch from the stored cursor now
				// rather than after two more checks.
				return fmt.Errorf("%w (HQ reachable again at revision %d, last received %d)", errWatchStalled, last, seen)
			}
			unreachable = false
			if target > seen && !received {
				return fmt.Errorf("%w (revision %d exists, last received %d)", errWatchStalled, target, seen)
			}
			target, received = last, false
		case e, ok := <-kw.Updates():
			if !ok {
				if err := flush(false); err != nil {
					return err
				}
				if err := p.drain(); err != nil {
					return err
				}
				return errWatchClosed
			}
			if e == nil { // all entries present at start delivered
				// CaughtUp is set once the applier has applied this batch.
				if err := flush(true); err != nil {
					return err
				}
				// Revisions up to the bucket's last one at this point that
				// were not delivered no longer exist (overwritten or purged).
				if last, ok := w.lastRevision(ctx); ok {
					seen = max(seen, last)
				}
				continue
			}
			received = true
			if e.Revision() <= queued || len(batch) > 0 && e.Revision() <= batch[len(batch)-1].Revision() {
				continue // redelivered after an ordered-consumer reset
			}
			seen = max(seen, e.Revision())
			batch = append(batch, e)
			if len(batch) >= w.opt.BatchSize {
				if err := flush(false); err != nil {
					return err
				}
			} else if timerC == nil {
				timer.Reset(w.opt.BatchDelay)
				timerC = timer.C
			}
		}
	}
}

// pipeItem is one batch of entries on its way to the store; caughtUp marks
// the batch that completes the entries present when the watch started.
type pipeItem struct {
	entries  []jetstream.KeyValueEntry
	caughtUp bool
}

// decodedItem is a pipeItem decoded.
type decodedItem struct {
	pipeItem
	b       *Batch
	changes []change
	rej     rejectCounts
	clocks  uint64
}

// pipeline runs the decoder and the applier of one watch.
type pipeline struct {
	in     chan pipeItem
	errc   chan error // the applier's error, at most one
	cancel context.CancelFunc
	ctx    context.Context
	done   chan struct{} // closed when both stages have returned
	once   sync.Once
}

// startPipeline starts the decoder and applier; lastClock is the stored HQ
// clock (a replayed hq.clock older than it is refused).
func (w *Watcher) startPipeline(ctx context.Context, lastClock time.Time) *pipeline {
	pctx, cancel := context.WithCancel(ctx)
	p := &pipeline{in: make(chan pipeItem, 1), errc: make(chan error, 1), cancel: cancel, ctx: pctx, done: make(chan struct{})}
	decoded := make(chan decodedItem, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // decoder
		defer wg.Done()
		defer close(decoded)
		for it := range p.in {
			d := decodedItem{pipeItem: it}
			if len(it.entries) > 0 {
				d.b, d.changes, d.rej, d.clocks, lastClock = w.decode(it.entries, lastClock)
			}
			select {
			case decoded <- d:
			case <-pctx.Done():
				return
			}
		}
	}()
	go func() { // applier
		defer wg.Done()
		for d := range decoded {
			if pctx.Err() != nil {
				return
			}
			if d.b != nil {
				if err := w.applyDecoded(pctx, d); err != nil {
					p.errc <- err
					cancel()
					return
				}
			}
			if d.caughtUp {
				w.mu.Lock()
				w.stats.CaughtUp = true
				w.mu.Unlock()
			}
		}
	}()
	go func() { wg.Wait(); close(p.done) }()
	return p
}

// send hands a batch to the decoder, or returns the applier's error.
func (p *pipeline) send(it pipeItem) error {
	select {
	case p.in <- it:
		return nil
	case err := <-p.errc:
		return err
	case <-p.ctx.Done():
		select {
		case err := <-p.errc:
			return err
		default:
			return p.ctx.Err()
		}
	}
}

// drain waits until every batch sent is applied, and returns the applier's
// error if any. The pipeline cannot be used after.
func (p *pipeline) drain() error {
	p.once.Do(func() { close(p.in) })
	<-p.done
	select {
	case err := <-p.errc:
		return err
	default:
		return nil
	}
}

// stop abandons the batches not yet applied (they are re-read on the next
// watch) and waits for both stages to return.
func (p *pipeline) stop() {
	p.cancel()
	p.once.Do(func() { close(p.in) })
	<-p.done
}

// lastRevision returns the bucket's last revision (its stream's last
// sequence), and false if it cannot be read now.
func (w *Watcher) lastRevision(ctx context.Context) (uint64, bool) {
	st, ok := w.streamState(ctx)
	if !ok {
		return 0, false
	}
	return st.LastSeq, true
}

// streamState reads the state of the bucket's stream (2 s at most), and
// false if it cannot be read now.
func (w *Watcher) streamState(ctx context.Context) (jetstream.StreamState, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := w.kv.Status(ctx)
	if err != nil {
		return jetstream.StreamState{}, false
	}
	si, ok := st.(interface{ StreamInfo() *jetstream.StreamInfo })
	if !ok || si.StreamInfo() == nil {
		return jetstream.StreamState{}, false
	}
	return si.StreamInfo().State, true
}

// change is the decoded final state of one key within a batch.
type change struct {
	rev     uint64
	rec     *Record // nil for a delete
	userID  string
	deleted bool
	// deletedFirst: the key was deleted earlier in the same batch, then put
	// again; the delete is applied before the record (so a replay of the
	// deleted record is checked against the deletion).
	deletedFirst bool
	// newest is the newest updated time of the user's records accepted in
	// the batch so far (zero if none), carried across deletes.
	newest time.Time
}

// decode turns entries into a Batch, rejecting malformed, unsigned, wrongly
// signed and replayed ones. The batch's revision is the last entry's even if
// that entry was rejected.
func (w *Watcher) decode(entries []jetstream.KeyValueEntry, lastClock time.Time) (b *Batch, changes []change, rej rejectCounts, clocks uint64, newClock time.Time) {
	b = &Batch{Revision: entries[len(entries)-1].Revision()}
	res := decodeParallel(entries, w.opt.Verifier)
	byUser := make(map[string]change)
	for i, e := range entries {
		key := e.Key()
		del := e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge
		if key == ClockKey {
			if del {
				continue
			}
			if res[i].err != nil {
				rej.add(w.reject(key, e.Revision(), res[i].err))
				continue
			}
			t := *res[i].clock
			if t.Before(lastClock) {
				rej.add(w.reject(key, e.Revision(), &ReplayError{Problem: fmt.Sprintf("hq.clock %s is older than the applied %s",
					t.UTC().Format(time.RFC3339Nano), lastClock.UTC().Format(time.RFC3339Nano))}))
				continue
			}
			lastClock = t
			b.HQClock = &t
			clocks++
			continue
		}
		uid, ok := UserIDFromKey(key)
		if !ok {
			rej.add(w.reject(key, e.Revision(), fmt.Errorf("unknown key: want %q or \"user.<user_id>\" with a user id of 1..%d letters, digits, '_' or '-'", ClockKey, MaxUserIDLen)))
			continue
		}
		prev, seen := byUser[uid]
		delBefore := seen && (prev.deleted || prev.deletedFirst)
		if del {
			byUser[uid] = change{rev: e.Revision(), userID: uid, deleted: true, newest: prev.newest}
			continue
		}
		if res[i].err != nil {
			rej.add(w.reject(key, e.Revision(), res[i].err))
			continue
		}
		// Several entries of one user in a batch are decided as one by one: a record not
		// newer than one already accepted in the batch (even if a delete came between) is a
		// replay, or a replay right behind a revocation (and a delete) would undo it.
		if seen && !prev.newest.IsZero() && !res[i].rec.Updated.After(prev.newest) {
			rej.add(w.reject(key, e.Revision(), &ReplayError{Problem: fmt.Sprintf("user %s: record updated %s is not newer than one earlier in the same batch (updated %s)",
				uid, res[i].rec.Updated.UTC().Format(time.RFC3339Nano), prev.newest.UTC().Format(time.RFC3339Nano))}))
			continue
		}
		byUser[uid] = change{rev: e.Revision(), rec: res[i].rec, userID: uid, deletedFirst: delBefore, newest: res[i].rec.Updated}
	}
	changes = make([]change, 0, len(byUser))
	for _, c := range byUser {
		changes = append(changes, c)
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].rev < changes[j].rev })
	for _, c := range changes {
		if c.deleted || c.deletedFirst {
			b.Deleted = append(b.Deleted, c.userID)
			if c.deleted && !c.newest.IsZero() {
				if b.DeletedAfter == nil {
					b.DeletedAfter = map[string]time.Time{}
				}
				b.DeletedAfter[c.userID] = c.newest
			}
		}
		if !c.deleted {
			b.Records = append(b.Records, c.rec)
		}
	}
	return b, changes, rej, clocks, lastClock
}

// rejectCounts counts rejections by kind.
type rejectCounts struct{ total, signature, replay uint64 }

func (r *rejectCounts) add(kind string) {
	r.total++
	switch kind {
	case "signature":
		r.signature++
	case "replay":
		r.replay++
	}
}

// reject logs and reports one rejected entry and returns its kind.
func (w *Watcher) reject(key string, rev uint64, err error) string {
	kind := rejectionKind(err)
	w.log.Warn("registry entry rejected", "key", key, "revision", rev, "kind", kind, "reason", err.Error())
	if w.opt.OnReject != nil {
		w.opt.OnReject(Rejection{Key: key, Revision: rev, Reason: err.Error(), Kind: kind})
	}
	return kind
}

// applyDecoded applies one decoded batch. If the store rejects the batch as
// invalid, the changes are applied one by one so that only the offending
// record is skipped.
func (w *Watcher) applyDecoded(ctx context.Context, d decodedItem) error {
	b, changes, rej, clocks := d.b, d.changes, d.rej, d.clocks
	err := w.st.ApplyBatch(ctx, b)
	if err != nil && !errors.Is(err, ErrInvalid) {
		return fmt.Errorf("registry: apply batch ending at revision %d: %w", b.Revision, err)
	}
	applied, deleted := uint64(len(b.Records)), uint64(len(b.Deleted))
	if err != nil {
		w.log.Warn("registry batch rejected by store, applying one by one", "revision", b.Revision, "err", err.Error())
		applied, deleted = 0, 0
		for _, c := range changes {
			var ones []*Batch
			if c.deleted || c.deletedFirst {
				one := &Batch{Revision: c.rev, Deleted: []string{c.userID}}
				if t, ok := b.DeletedAfter[c.userID]; ok {
					one.DeletedAfter = map[string]time.Time{c.userID: t}
				}
				ones = append(ones, one)
			}
			if !c.deleted {
				ones = append(ones, &Batch{Revision: c.rev, Records: []*Record{c.rec}})
			}
			for _, one := range ones {
				err := w.st.ApplyBatch(ctx, one)
				switch {
				case err == nil && len(one.Deleted) > 0:
					deleted++
				case err == nil:
					applied++
				case errors.Is(err, ErrInvalid):
					rej.add(w.reject(Key(c.userID), c.rev, err))
				default:
					return fmt.Errorf("registry: apply revision %d: %w", c.rev, err)
				}
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
	w.stats.Rejected += rej.total
	w.stats.BadSignature += rej.signature
	w.stats.Replayed += rej.replay
	w.stats.Revision = b.Revision
	w.stats.ClockUpdates += clocks
	if b.HQClock != nil {
		w.stats.HQClock = *b.HQClock
	}
	return nil
}

// needSnapshot says why the store should be rebuilt from a snapshot before
// watching, or "" if deltas suffice.
func (w *Watcher) needSnapshot(ctx context.Context, rev uint64, clock time.Time) string {
	if rev == 0 {
		return "empty store"
	}
	if w.opt.MaxOffline > 0 && !clock.IsZero() && time.Since(clock) > w.opt.MaxOffline {
		return fmt.Sprintf("stored HQ clock %s is older than MaxOffline %s", clock.Format(time.RFC3339), w.opt.MaxOffline)
	}
	first, ok := w.firstRevision(ctx)
	if ok && first > rev+1 {
		return fmt.Sprintf("stored revision %d is older than the bucket's first revision %d: history the gate missed is gone", rev, first)
	}
	return ""
}

// firstRevision returns the bucket's first revision still stored.
func (w *Watcher) firstRevision(ctx context.Context) (uint64, bool) {
	st, ok := w.streamState(ctx)
	if !ok || st.Msgs == 0 {
		return 0, false
	}
	return st.FirstSeq, true
}

// bootstrap installs HQ's latest snapshot. It fails (and the watch is
// retried) only on an error worth retrying; a missing snapshot or one that
// cannot help (older than the store) leaves the store to the deltas.
func (w *Watcher) bootstrap(ctx context.Context, inst SnapshotInstaller, rev uint64, why string) error {
	start := time.Now()
	w.log.Info("registry bootstrap from snapshot", "reason", why, "stored_revision", rev)
	m, err := Bootstrap(ctx, w.opt.JS, inst, w.opt.Verifier)
	switch {
	case err == nil:
		d := time.Since(start)
		w.mu.Lock()
		w.stats.Bootstraps++
		w.stats.BootstrapRevision = m.Revision
		w.stats.BootstrapTime = d
		w.mu.Unlock()
		w.log.Info("registry snapshot installed", "revision", m.Revision, "users", m.Users, "bytes", m.Size, "took", d.String())
		return nil
	case errors.Is(err, ErrNoSnapshot):
		if rev == 0 {
			w.log.Info("no registry snapshot published: reading the whole bucket")
		} else {
			w.log.Error("registry needs a snapshot but HQ has published none: resuming from deltas, deletions made while offline may be missed", "reason", why)
		}
		return nil
	case errors.Is(err, ErrInvalid):
		w.mu.Lock()
		w.stats.SnapshotRejected++
		w.stats.LastError = err.Error()
		w.mu.Unlock()
		w.reject(SnapshotBucket+"/"+ManifestObject, 0, err)
		return nil // never applied; deltas go on
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		// The snapshot store is unreachable or the install failed: the
		// deltas still bring the store forward; the next watch start
		// tries again.
		w.mu.Lock()
		w.stats.LastError = err.Error()
		w.mu.Unlock()
		w.log.Error("registry bootstrap from snapshot failed: going on with deltas", "err", err.Error(), "reason", why)
		return nil
	}
}
