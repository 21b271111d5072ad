package registry_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ttpgate/sync/internal/natstest"
	"ttpgate/sync/registry"
	"ttpgate/sync/store"
)

func TestWatcherRejectsForgedAndReplayed(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	forger, _ := registry.GenerateSigner("test-hq") // same key id, another key
	stranger, _ := registry.GenerateSigner("other-hq")

	// Version 1 of U1 (active), then version 2 (revoked), both HQ-signed.
	v1 := newRecord("U0000001", "1000000001")
	v1Val, _ := hqKey.SignRecord(v1)
	put(t, e.kv, v1)
	v2 := newRecord("U0000001", "1000000001")
	v2.Status = registry.StatusRevoked
	v2.Updated = v1.Updated.Add(time.Hour)
	put(t, e.kv, v2)
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	if _, err := registry.PutClock(ctx, e.kv, t0); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var rejections []registry.Rejection
	w := registry.NewWatcher(e.kv, e.st, registry.WatcherOptions{Verifier: verifier, BatchDelay: 5 * time.Millisecond, Logger: quietLogger(),
		OnReject: func(r registry.Rejection) { mu.Lock(); rejections = append(rejections, r); mu.Unlock() }})
	run(t, w)
	waitFor(t, "initial sync", func() bool { return w.Stats().CaughtUp })

	// Each entry is put only after the watcher has applied the previous one, so that every
	// rejection is decided on its own (batch boundaries under load do not change the counts).
	raw := func(k string, v []byte) uint64 {
		rev, err := e.kv.Put(ctx, k, v)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the watcher at the entry just put", func() bool { return w.Stats().Revision >= rev })
		return rev
	}
	forged, _ := forger.SignRecord(newRecord("U0000002", "1000000002"))
	raw(registry.Key("U0000002"), forged) // forged: wrong key under a trusted id
	untrusted, _ := stranger.SignRecord(newRecord("U0000003", "1000000003"))
	raw(registry.Key("U0000003"), untrusted) // a key the gate does not trust
	bare, _ := newRecord("U0000004", "1000000004").Marshal()
	raw(registry.Key("U0000004"), bare)                         // unsigned
	raw(registry.Key("U0000001"), v1Val)                        // replay of the older, active version
	raw(registry.ClockKey, hqKey.SignClock(t0.Add(-time.Hour))) // replayed older clock
	raw(registry.ClockKey, forger.SignClock(t0.Add(time.Hour))) // forged clock that would keep the gate fresh
	last := put(t, e.kv, newRecord("U0000005", "1000000005"))

	waitFor(t, "sync past the bad entries", func() bool { return w.Stats().Revision == last })
	s := w.Stats()
	if s.Rejected != 6 || s.BadSignature != 4 || s.Replayed != 2 {
		t.Fatalf("stats %+v: want 6 rejected, 4 bad signatures, 2 replays", s)
	}
	if !s.HQClock.Equal(t0) {
		t.Fatalf("HQ clock moved to %v", s.HQClock)
	}
	if _, clock, _ := e.st.RegistryCursor(ctx); !clock.Equal(t0) {
		t.Fatalf("stored HQ clock moved to %v", clock)
	}
	cr, err := e.st.LookupCard(ctx, "1000000001")
	if err != nil || cr.User.Status != registry.StatusRevoked {
		t.Fatalf("replay of the active version was applied: %+v %v", cr, err)
	}
	for _, c := range []string{"1000000002", "1000000003", "1000000004"} {
		if _, err := e.st.LookupCard(ctx, c); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("card of a rejected record is in the store: %v", err)
		}
	}
	if _, err := e.st.LookupCard(ctx, "1000000005"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	kinds := map[string]int{}
	for _, r := range rejections {
		kinds[r.Kind]++
	}
	mu.Unlock()
	if kinds["signature"] != 4 || kinds["replay"] != 2 {
		t.Fatalf("OnReject kinds %v", kinds)
	}

	// A deleted user cannot be resurrected by replaying its last record.
	if err := e.kv.Delete(ctx, registry.Key("U0000001")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the delete applied", func() bool {
		_, err := e.st.LookupCard(ctx, "1000000001")
		return errors.Is(err, store.ErrNotFound)
	})
	v2Val, _ := hqKey.SignRecord(v2)
	rev := raw(registry.Key("U0000001"), v2Val)
	waitFor(t, "replay after delete", func() bool { return w.Stats().Revision == rev })
	if _, err := e.st.LookupCard(ctx, "1000000001"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted user resurrected by a replay: %v", err)
	}
	// A genuinely newer record of that user is applied.
	v3 := newRecord("U0000001", "1000000001")
	v3.Updated = v2.Updated.Add(time.Hour)
	rev = put(t, e.kv, v3)
	waitFor(t, "re-enrolment", func() bool { return w.Stats().Revision == rev })
	if cr, err := e.st.LookupCard(ctx, "1000000001"); err != nil || cr.User.Status != registry.StatusActive {
		t.Fatalf("re-enrolled user: %+v %v", cr, err)
	}
}

func TestSnapshotBootstrapThenDeltas(t *testing.T) {
	js, _, kv := signedBucket(t)
	ctx := context.Background()
	const n = 300
	for i := 0; i < n; i++ {
		put(t, kv, newRecord(userN(i), cardN(i)))
	}
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	if _, err := registry.PutClock(ctx, kv, t0); err != nil {
		t.Fatal(err)
	}

	// HQ: read the bucket (verifying its own signatures), build, publish.
	dir := t.TempDir()
	tk := registry.NewTransportKey()
	b, err := store.CreateSnapshot(filepath.Join(dir, "snap.db"), tk)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := registry.ReadBucket(ctx, js, verifier, b.Add)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Finish(bs.Revision, bs.HQClock); err != nil {
		t.Fatal(err)
	}
	if bs.Records != n || bs.Rejected != 0 || !bs.HQClock.Equal(t0) || b.Users != n || b.Templates != n {
		t.Fatalf("read %+v, built %d users %d templates", bs, b.Users, b.Templates)
	}
	m, err := registry.PublishSnapshot(ctx, js, hqKey, filepath.Join(dir, "snap.db"),
		registry.Manifest{Revision: bs.Revision, Users: b.Users, Cards: b.Cards, Templates: b.Templates, TransportKey: tk}, 1)
	if err != nil {
		t.Fatal(err)
	}

	// Changes after the snapshot: a revocation and a new user.
	rv := newRecord(userN(7), cardN(7))
	rv.Status = registry.StatusRevoked
	rv.Updated = rv.Updated.Add(time.Minute)
	put(t, kv, rv)
	last := put(t, kv, newRecord("NEW", "2000000001"))

	// A new gate bootstraps from the snapshot, then applies only the deltas.
	st := openStore(t)
	gkv, _ := js.KeyValue(ctx, registry.Bucket)
	w := registry.NewWatcher(gkv, st, registry.WatcherOptions{Verifier: verifier, JS: js, BatchDelay: 5 * time.Millisecond, Logger: quietLogger()})
	stop := run(t, w)
	waitFor(t, "bootstrap and deltas", func() bool { return w.Stats().Revision == last })
	s := w.Stats()
	if s.Bootstraps != 1 || s.BootstrapRevision != m.Revision || s.Applied != 2 || s.Rejected != 0 {
		t.Fatalf("stats %+v: want 1 bootstrap at %d and 2 deltas", s, m.Revision)
	}
	if users, _, _ := st.Counts(ctx); users != n+1 {
		t.Fatalf("users = %d", users)
	}
	cr, err := st.LookupCard(ctx, cardN(7))
	if err != nil || cr.User.Status != registry.StatusRevoked {
		t.Fatalf("revoked after snapshot: %+v %v", cr, err)
	}
	cr, err = st.LookupCard(ctx, cardN(100))
	if err != nil || len(cr.Templates) != 1 || string(cr.Templates[0].Data) != "FMR\x00 20\x00"+userN(100) {
		t.Fatalf("template from the snapshot: %+v %v", cr, err)
	}
	if _, clock, _ := st.RegistryCursor(ctx); !clock.Equal(t0) {
		t.Fatalf("HQ clock after bootstrap = %v", clock)
	}
	// Nothing of the snapshot is left beside the database.
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(st.Path()), "registry-snapshot-*")); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
	stop()

	// A restarted gate resumes from its cursor: no second bootstrap.
	w2 := registry.NewWatcher(gkv, st, registry.WatcherOptions{Verifier: verifier, JS: js, BatchDelay: 5 * time.Millisecond, Logger: quietLogger()})
	run(t, w2)
	last = put(t, kv, newRecord("NEW2", "2000000002"))
	waitFor(t, "resume", func() bool { return w2.Stats().Revision == last })
	if s := w2.Stats(); s.Bootstraps != 0 || s.Applied != 1 {
		t.Fatalf("resumed watcher: %+v", s)
	}
}

func TestSnapshotRejectedWhenForgedOrCorrupt(t *testing.T) {
	_, url := natstest.Start(t)
	js := natstest.JetStream(t, natstest.Connect(t, url))
	ctx := context.Background()
	kv0, _ := registry.EnsureBucket(ctx, js)
	kv := registry.SigningKV(kv0, hqKey)
	for i := 0; i < 20; i++ {
		put(t, kv, newRecord(userN(i), cardN(i)))
	}
	dir := t.TempDir()
	build := func(name string) (string, registry.Manifest) {
		tk := registry.NewTransportKey()
		p := filepath.Join(dir, name)
		b, err := store.CreateSnapshot(p, tk)
		if err != nil {
			t.Fatal(err)
		}
		bs, err := registry.ReadBucket(ctx, js, nil, b.Add)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Finish(bs.Revision, bs.HQClock); err != nil {
			t.Fatal(err)
		}
		return p, registry.Manifest{Revision: bs.Revision, TransportKey: tk}
	}
	forger, _ := registry.GenerateSigner("test-hq")
	cases := []struct {
		name    string
		publish func()
	}{
		{"forged manifest", func() {
			p, m := build("forged.db")
			if _, err := registry.PublishSnapshot(ctx, js, forger, p, m, 1); err != nil {
				t.Fatal(err)
			}
		}},
		{"file replaced after signing", func() {
			p, m := build("swapped.db")
			if _, err := registry.PublishSnapshot(ctx, js, hqKey, p, m, 1); err != nil {
				t.Fatal(err)
			}
			obs, _ := js.ObjectStore(ctx, registry.SnapshotBucket)
			data, _ := os.ReadFile(p)
			data[len(data)/2] ^= 0xff
			if _, err := obs.PutBytes(ctx, "registry-"+itoa(m.Revision)+".db", data); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.publish()
			st, err := store.Open(filepath.Join(t.TempDir(), "gate.db"), key)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			gkv, _ := js.KeyValue(ctx, registry.Bucket)
			w := registry.NewWatcher(gkv, st, registry.WatcherOptions{Verifier: verifier, JS: js, BatchDelay: 5 * time.Millisecond, Logger: quietLogger()})
			stop := run(t, w)
			defer stop()
			// The snapshot is refused and counted; the gate reads the whole bucket instead.
			waitFor(t, "full read", func() bool { return w.Stats().CaughtUp })
			s := w.Stats()
			if s.SnapshotRejected != 1 || s.Bootstraps != 0 || s.Applied != 20 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func userN(i int) string { return "U" + pad(i) }
func cardN(i int) string { return "1" + pad(i) }
func pad(i int) string {
	s := itoa(uint64(i))
	for len(s) < 9 {
		s = "0" + s
	}
	return s
}
func itoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// Batch-signed records (PutBatch) are applied; a batch-signed record that
// was forged, altered or moved is rejected and counted like a bad single
// signature.
func TestWatcherBatchSigned(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	var recs []*registry.Record
	for i := 1; i <= 300; i++ { // two signing batches (256 + 44)
		recs = append(recs, newRecord(userN(i), cardN(i)))
	}
	revs, err := registry.PutBatch(ctx, e.kv, hqKey, recs)
	if err != nil || len(revs) != len(recs) {
		t.Fatalf("PutBatch: %d revisions, %v", len(revs), err)
	}
	var mu sync.Mutex
	var rejections []registry.Rejection
	w := registry.NewWatcher(e.kv, e.st, registry.WatcherOptions{Verifier: verifier, BatchDelay: 5 * time.Millisecond, Logger: quietLogger(),
		OnReject: func(r registry.Rejection) { mu.Lock(); rejections = append(rejections, r); mu.Unlock() }})
	run(t, w)
	waitFor(t, "the batch applied", func() bool { return w.Stats().Revision >= revs[len(revs)-1] })
	if s := w.Stats(); s.Applied != 300 || s.Rejected != 0 {
		t.Fatalf("stats %+v: want 300 applied", s)
	}
	for _, i := range []int{1, 256, 257, 300} {
		if _, err := e.st.LookupCard(ctx, cardN(i)); err != nil {
			t.Fatalf("card of user %d: %v", i, err)
		}
	}

	forger, _ := registry.GenerateSigner("test-hq")
	later := func(i int) *registry.Record {
		r := newRecord(userN(i), cardN(i))
		r.Status = registry.StatusRevoked
		r.Updated = r.Updated.Add(time.Hour)
		return r
	}
	forged, _ := forger.SignBatch([]*registry.Record{later(1), later(2)})
	genuine, _ := hqKey.SignBatch([]*registry.Record{later(3), later(4)})
	other, _ := hqKey.SignBatch([]*registry.Record{later(5), later(6), later(7)})
	// The genuine batch's second record with the other batch's proof for the same index.
	mixed := bytes.Replace(genuine[1], batchMember(genuine[1]), batchMember(other[1]), 1)
	for _, kv := range []struct {
		key string
		val []byte
	}{
		{registry.Key(userN(1)), forged[0]},  // forged under the trusted key id
		{registry.Key(userN(5)), genuine[0]}, // user 3's genuine record moved to user 5
		{registry.Key(userN(3)), bytes.Replace(genuine[0], []byte(`"revoked"`), []byte(`"active"`), 1)}, // altered
		{registry.Key(userN(4)), mixed}, // a path from another batch
	} {
		// One at a time: the bucket keeps one value a key, so a later put of
		// user 4 could replace the mixed value before the watcher reads it.
		rev, err := e.kv.Put(ctx, kv.key, kv.val)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the watcher at the entry just put", func() bool { return w.Stats().Revision >= rev })
	}
	last, err := e.kv.Put(ctx, registry.Key(userN(4)), genuine[1])
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bad entries", func() bool { return w.Stats().Revision >= last })
	if s := w.Stats(); s.Rejected != 4 || s.BadSignature != 4 || s.Applied != 301 {
		t.Fatalf("stats %+v: want 4 rejected, 4 bad signatures, 301 applied", s)
	}
	for i, want := range map[int]registry.Status{1: registry.StatusActive, 3: registry.StatusActive, 4: registry.StatusRevoked, 5: registry.StatusActive} {
		if cr, err := e.st.LookupCard(ctx, cardN(i)); err != nil || cr.User.Status != want {
			t.Fatalf("user %d: %+v %v, want %s", i, cr, err, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, r := range rejections {
		if r.Kind != "signature" || !strings.Contains(r.Reason, "batch signature does not verify") {
			t.Errorf("rejection %+v", r)
		}
	}
}

// batchMember is the "batch":{…} member of a batch envelope.
func batchMember(val []byte) []byte {
	i, j := bytes.Index(val, []byte(`"batch":`)), bytes.Index(val, []byte(`},"record":`))
	return val[i : j+1]
}
