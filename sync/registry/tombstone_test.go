package registry_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

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

	st, err := store.Open(filepath.Join(t.TempDir(), "gate.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
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

// Entries of one user read in the same batch are decided as they would be one by one: a replay
// of an older record right behind a revocation is refused, and the revocation stays.
func TestReplayInTheSameBatchDoesNotUndoARevocation(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	// A long batch delay: the three entries below arrive within one batch.
	w := registry.NewWatcher(e.kv, e.st, registry.WatcherOptions{Verifier: verifier, BatchDelay: 500 * time.Millisecond, Logger: quietLogger()})
	run(t, w)
	waitFor(t, "caught up", func() bool { return w.Stats().CaughtUp })
	v1 := newRecord("U0000001", "1000000001")
	v1Val, err := hqKey.SignRecord(v1)
	if err != nil {
		t.Fatal(err)
	}
	v2 := newRecord("U0000001", "1000000001")
	v2.Status = registry.StatusRevoked
	v2.Updated = v1.Updated.Add(time.Hour)
	v2Val, err := hqKey.SignRecord(v2)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for _, v := range [][]byte{v1Val, v2Val, v1Val} { // active, revoked, the replay behind it
		if last, err = e.kv.Put(ctx, registry.Key("U0000001"), v); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the batch", func() bool { return w.Stats().Revision >= last })
	if s := w.Stats(); s.Replayed != 1 {
		t.Fatalf("the replay must be counted as one: %+v", s)
	}
	cr, err := e.st.LookupCard(ctx, "1000000001")
	if err != nil || cr.User.Status != registry.StatusRevoked {
		t.Fatalf("the revocation must stay: %+v %v", cr, err)
	}
}

// A delete within a batch keeps the newest time of the records it superseded in that batch:
// after (re-issue T1, revocation T2, delete) arrive together, a replay of T1 (HQ-signed, older
// than the revocation) is refused whether it comes in the same batch or in a later one.
func TestDeleteInABatchKeepsTheRevocationsTime(t *testing.T) {
	for _, sameBatch := range []bool{false, true} {
		e := setup(t)
		ctx := context.Background()
		t0 := newRecord("U0000001", "1000000001")
		rev := put(t, e.kv, t0)
		w := registry.NewWatcher(e.kv, e.st, registry.WatcherOptions{Verifier: verifier, BatchDelay: 500 * time.Millisecond, Logger: quietLogger()})
		stop := run(t, w)
		waitFor(t, "T0", func() bool { return w.Stats().Revision == rev })
		t1 := newRecord("U0000001", "1000000001")
		t1.Updated = t0.Updated.Add(time.Hour)
		t1Val, err := hqKey.SignRecord(t1)
		if err != nil {
			t.Fatal(err)
		}
		t2 := newRecord("U0000001", "1000000001")
		t2.Status = registry.StatusRevoked
		t2.Updated = t0.Updated.Add(2 * time.Hour)
		put(t, e.kv, t1)
		put(t, e.kv, t2)
		if err := e.kv.Delete(ctx, registry.Key("U0000001")); err != nil {
			t.Fatal(err)
		}
		if !sameBatch {
			waitFor(t, "the delete", func() bool { return w.Stats().Deleted == 1 })
		}
		rev, err = e.kv.Put(ctx, registry.Key("U0000001"), t1Val) // the replay
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the replay read", func() bool { return w.Stats().Revision >= rev })
		if cr, err := e.st.LookupCard(ctx, "1000000001"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("same batch %v: a record older than the revocation came back after the delete: %+v %v (stats %+v)", sameBatch, cr, err, w.Stats())
		}
		if s := w.Stats(); s.Replayed != 1 {
			t.Fatalf("same batch %v: the replay must be counted: %+v", sameBatch, s)
		}
		stop()
	}
}
