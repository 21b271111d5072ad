package registry_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/registry"
	"ttpgate/sync/store"
)

// A user HQ deleted stays deleted at a gate that never saw the delete but bootstrapped from a
// snapshot made after it: the snapshot carries a tombstone, so a replay of the user's old signed
// record (by anyone who can write to the airport's stream) is refused, while a genuinely newer
// record of that user is applied.
func TestSnapshotCarriesDeletesAsTombstones(t *testing.T) {
	js, kv0, kv := signedBucket(t)
	ctx := context.Background()
	old := newRecord("GONE", "3000000001")
	oldVal, err := hqKey.SignRecord(old)
	if err != nil {
		t.Fatal(err)
	}
	put(t, kv, old)
	put(t, kv, newRecord("STAYS", "3000000002"))
	if err := kv0.Delete(ctx, registry.Key("GONE")); err != nil {
		t.Fatal(err)
	}
	if _, err := registry.PutClock(ctx, kv, time.Now()); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	tk := registry.NewTransportKey()
	path := filepath.Join(dir, "snap.db")
	b, bs, err := store.BuildSnapshot(ctx, js, verifier, path, tk)
	if err != nil {
		t.Fatal(err)
	}
	if b.Users != 1 || b.Tombstones != 1 || len(bs.Deleted) != 1 || bs.Deleted[0].UserID != "GONE" {
		t.Fatalf("snapshot: %d users, %d tombstones, deleted %+v; want 1, 1, [GONE]", b.Users, b.Tombstones, bs.Deleted)
	}
	if _, err := registry.PublishSnapshot(ctx, js, hqKey, path,
		registry.Manifest{Revision: bs.Revision, Users: b.Users, Cards: b.Cards, Templates: b.Templates, TransportKey: tk}, 1); err != nil {
		t.Fatal(err)
	}

	st := openStore(t)
	gkv, _ := js.KeyValue(ctx, registry.Bucket)
	w := registry.NewWatcher(gkv, st, registry.WatcherOptions{Verifier: verifier, JS: js, BatchDelay: 5 * time.Millisecond, Logger: quietLogger()})
	run(t, w)
	waitFor(t, "bootstrap", func() bool { return w.Stats().Bootstraps == 1 && w.Stats().CaughtUp })

	// The replay: the old record's signed bytes, put again.
	rev, err := kv0.Put(ctx, registry.Key("GONE"), oldVal)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replay read", func() bool { return w.Stats().Revision >= rev })
	if s := w.Stats(); s.Replayed != 1 {
		t.Fatalf("the replay of a deleted user's record must be refused as a replay: %+v", s)
	}
	if _, err := st.LookupCard(ctx, "3000000001"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a deleted user came back through a replay after a snapshot bootstrap: %v", err)
	}
	// Re-enrolment at HQ after the deletion is a newer record: applied.
	again := newRecord("GONE", "3000000001")
	again.Updated = time.Now().Add(time.Minute).UTC().Truncate(time.Millisecond)
	rev = put(t, kv, again)
	waitFor(t, "re-enrolment", func() bool { return w.Stats().Revision >= rev })
	if cr, err := st.LookupCard(ctx, "3000000001"); err != nil || cr.User.ID != "GONE" {
		t.Fatalf("re-enrolled user: %+v %v", cr, err)
	}
}

// playBatches runs a watcher over a fake bucket on st, once per element of batches: each run
// delivers the entries of all batches so far (the watcher skips what it applied), so that each
// element arrives as one batch, exactly. It returns the watcher stats of the last run.
func playBatches(t *testing.T, st *store.Store, batches ...[]jetstream.KeyValueEntry) registry.WatcherStats {
	t.Helper()
	var all []jetstream.KeyValueEntry
	var s registry.WatcherStats
	for _, b := range batches {
		all = append(all, b...)
		kv := &outageKV{entries: append([]jetstream.KeyValueEntry(nil), all...)}
		w := registry.NewWatcher(kv, st, registry.WatcherOptions{Verifier: verifier, BatchDelay: time.Hour, Logger: quietLogger()})
		stop := run(t, w)
		last := all[len(all)-1].Revision()
		waitFor(t, "the batch", func() bool { return w.Stats().Revision >= last })
		stop()
		s = w.Stats()
	}
	return s
}

// signedEntry is user's record as a put entry at revision rev.
func signedEntry(t *testing.T, r *registry.Record, rev uint64) outageEntry {
	t.Helper()
	v, err := hqKey.SignRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	return outageEntry{key: registry.Key(r.UserID), value: v, rev: rev}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "gate.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Entries of one user read in the same batch are decided as they would be one by one: a replay
// of an older record right behind a revocation is refused, and the revocation stays.
func TestReplayInTheSameBatchDoesNotUndoARevocation(t *testing.T) {
	st := openStore(t)
	v1 := newRecord("U0000001", "1000000001")
	v2 := newRecord("U0000001", "1000000001")
	v2.Status = registry.StatusRevoked
	v2.Updated = v1.Updated.Add(time.Hour)
	s := playBatches(t, st, []jetstream.KeyValueEntry{signedEntry(t, v1, 1), signedEntry(t, v2, 2), signedEntry(t, v1, 3)})
	if s.Replayed != 1 {
		t.Fatalf("the replay must be counted as one: %+v", s)
	}
	cr, err := st.LookupCard(context.Background(), "1000000001")
	if err != nil || cr.User.Status != registry.StatusRevoked {
		t.Fatalf("the revocation must stay: %+v %v", cr, err)
	}
}

// A delete within a batch keeps the newest time of the records it superseded in that batch:
// after (re-issue T1, revocation T2, delete) arrive together, a replay of T1 (HQ-signed, older
// than the revocation) is refused whether it comes in the same batch or in a later one.
func TestDeleteInABatchKeepsTheRevocationsTime(t *testing.T) {
	for _, sameBatch := range []bool{false, true} {
		st := openStore(t)
		t0 := newRecord("U0000001", "1000000001")
		t1 := newRecord("U0000001", "1000000001")
		t1.Updated = t0.Updated.Add(time.Hour)
		t2 := newRecord("U0000001", "1000000001")
		t2.Status = registry.StatusRevoked
		t2.Updated = t0.Updated.Add(2 * time.Hour)
		first := []jetstream.KeyValueEntry{signedEntry(t, t0, 1)}
		burst := []jetstream.KeyValueEntry{signedEntry(t, t1, 2), signedEntry(t, t2, 3),
			outageEntry{key: registry.Key("U0000001"), rev: 4, op: jetstream.KeyValueDelete}}
		replay := []jetstream.KeyValueEntry{signedEntry(t, t1, 5)}
		var s registry.WatcherStats
		if sameBatch {
			s = playBatches(t, st, first, append(burst, replay...))
		} else {
			s = playBatches(t, st, first, burst, replay)
		}
		if cr, err := st.LookupCard(context.Background(), "1000000001"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("same batch %v: a record older than the revocation came back after the delete: %+v %v (stats %+v)", sameBatch, cr, err, s)
		}
		if s.Replayed != 1 {
			t.Fatalf("same batch %v: the replay must be counted: %+v", sameBatch, s)
		}
	}
}
