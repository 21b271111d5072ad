package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"ttpgate/sync/registry"
)

// buildSnapshot writes a snapshot of n users (ids S000000..) at revision rev.
func buildSnapshot(t *testing.T, n int, rev uint64, status registry.Status) (string, *registry.Manifest) {
	t.Helper()
	tk := bytes.Repeat([]byte{0x5a}, TransportKeySize)
	path := filepath.Join(t.TempDir(), "snap.db")
	b, err := CreateSnapshot(path, tk)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		r := rec(fmt.Sprintf("S%06d", i), card(fmt.Sprintf("3%09d", i), registry.CardActive, "2025-01-10"))
		r.Status = status
		if err := b.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	clock := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if err := b.Finish(rev, clock); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte("SECRETMINUTIAE")) {
		t.Fatal("snapshot file holds a template in the clear")
	}
	return path, &registry.Manifest{Revision: rev, Size: int64(len(data)), SHA256: sha256.Sum256(data), TransportKey: tk,
		Users: b.Users, Cards: b.Cards, Templates: b.Templates}
}

func TestInstallSnapshotSwapsWhileServing(t *testing.T) {
	defer func(n int) { installChunk = n }(installChunk)
	installChunk = 400 // several chunks of every table
	s, dbPath := openTest(t)
	ctx := context.Background()
	// The live copy: one user, and an unsent event in the outbox.
	if err := s.ApplyRegistry(ctx, []*registry.Record{rec("U000001", card("2000000001", registry.CardActive, "2025-01-10"))}, 10, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, []byte("state"), []OutboxEvent{{Seq: 1, ID: "0190-x", Subject: "ttp.evt.HND.G01.passage", Payload: []byte(`{}`)}}, nil); err != nil {
		t.Fatal(err)
	}
	path, m := buildSnapshot(t, 3*installChunk/2, 500, registry.StatusActive)
	if m.Users != int64(3*installChunk/2) || m.Templates != 2*m.Users {
		t.Fatalf("counts %+v", m)
	}

	// Lookups go on during the install: the old card until the swap, the
	// new ones after; never an error.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var lookups, errs atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		swapped := false // once the new copy is seen, the old one never comes back
		for !stop.Load() {
			_, errOld := s.LookupCard(ctx, "2000000001")
			_, errNew := s.LookupCard(ctx, "3000000007")
			lookups.Add(1)
			for _, err := range []error{errOld, errNew} {
				if err != nil && !errors.Is(err, ErrNotFound) {
					errs.Add(1)
				}
			}
			if swapped && errOld == nil || errOld == nil && errNew == nil && swapped || errOld != nil && errNew != nil {
				errs.Add(1)
			}
			if errNew == nil {
				swapped = true
			}
		}
	}()
	if err := s.InstallSnapshot(ctx, path, m); err != nil {
		t.Fatal(err)
	}
	stop.Store(true)
	wg.Wait()
	if errs.Load() != 0 {
		t.Fatalf("%d of %d lookups saw neither or both copies", errs.Load(), lookups.Load())
	}
	if rev, clock, _ := s.RegistryCursor(ctx); rev != 500 || clock.IsZero() {
		t.Fatalf("cursor = %d %v", rev, clock)
	}
	if users, cards, _ := s.Counts(ctx); users != int(m.Users) || cards != int(m.Cards) {
		t.Fatalf("counts = %d %d", users, cards)
	}
	cr, err := s.LookupCard(ctx, "3000000007")
	if err != nil || len(cr.Templates) != 2 || !bytes.Equal(cr.Templates[0].Data, templateBytes("S000007", 2)) {
		t.Fatalf("lookup after install: %+v %v", cr, err)
	}
	if _, err := s.LookupCard(ctx, "2000000001"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old card after install: %v", err)
	}
	if n, _ := s.OutboxDepth(ctx); n != 1 {
		t.Fatalf("outbox depth after install = %d, want the unsent event kept", n)
	}
	// Deltas apply on top, with the foreign keys of the swapped tables intact.
	if err := s.ApplyRegistry(ctx, []*registry.Record{rec("S000001", card("3000000001", registry.CardLost, "2025-01-10"))}, 501, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyBatch(ctx, &registry.Batch{Deleted: []string{"S000002"}, Revision: 502}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LookupCard(ctx, "3000000002"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("card of deleted user: %v", err)
	}
	var tmpl int
	s.r.QueryRow(`SELECT count(*) FROM templates WHERE user_id = 'S000002'`).Scan(&tmpl)
	if tmpl != 0 {
		t.Fatalf("templates of a deleted user remain: %d", tmpl)
	}
	var leftovers int
	s.r.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name LIKE '%_old' OR name LIKE '%_next'`).Scan(&leftovers)
	if leftovers != 0 {
		t.Fatalf("%d leftover tables", leftovers)
	}
	// The templates at rest are sealed with the gate's key: none in the clear.
	s.Close()
	for _, p := range []string{dbPath, dbPath + "-wal"} {
		data, _ := os.ReadFile(p)
		if bytes.Contains(data, []byte("SECRETMINUTIAE")) {
			t.Fatalf("%s holds a template in the clear", p)
		}
	}
	// Reopens with the gate's key.
	s2, err := Open(dbPath, testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.LookupCard(ctx, "3000000009"); err != nil {
		t.Fatal(err)
	}
}

func TestInstallSnapshotRefusesOldOrWrong(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if err := s.ApplyRegistry(ctx, []*registry.Record{rec("U000001")}, 1000, nil); err != nil {
		t.Fatal(err)
	}
	path, m := buildSnapshot(t, 10, 900, registry.StatusActive)
	if err := s.InstallSnapshot(ctx, path, m); !errors.Is(err, registry.ErrReplay) {
		t.Fatalf("older snapshot: %v", err)
	}
	path, m = buildSnapshot(t, 10, 2000, registry.StatusActive)
	wrong := *m
	wrong.Revision = 2001
	if err := s.InstallSnapshot(ctx, path, &wrong); !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("revision mismatch: %v", err)
	}
	wrong = *m
	wrong.TransportKey = bytes.Repeat([]byte{1}, TransportKeySize)
	if err := s.InstallSnapshot(ctx, path, &wrong); !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("wrong transport key: %v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk.db")
	os.WriteFile(junk, []byte("not sqlite at all, not sqlite at all, not sqlite at all, not sqlite at all, not sqlite at all"), 0o600)
	if err := s.InstallSnapshot(ctx, junk, m); err == nil {
		t.Fatal("junk file installed")
	}
	// Nothing changed.
	if rev, _, _ := s.RegistryCursor(ctx); rev != 1000 {
		t.Fatalf("cursor = %d", rev)
	}
	if users, _, _ := s.Counts(ctx); users != 1 {
		t.Fatalf("users = %d", users)
	}
	if _, err := s.LookupCard(ctx, "1000000001"); err != nil {
		t.Fatal(err)
	}
	// And a good one still installs afterwards.
	if err := s.InstallSnapshot(ctx, path, m); err != nil {
		t.Fatal(err)
	}
}

func TestReplayedOlderRecordRefused(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	newer := rec("U000001")
	newer.Status = registry.StatusRevoked
	newer.Updated = newer.Updated.Add(time.Hour)
	if err := s.ApplyRegistry(ctx, []*registry.Record{newer}, 2, nil); err != nil {
		t.Fatal(err)
	}
	older := rec("U000001")
	err := s.ApplyRegistry(ctx, []*registry.Record{older}, 3, nil)
	if !errors.Is(err, registry.ErrReplay) || !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("older record: %v", err)
	}
	cr, _ := s.LookupCard(ctx, "1000000001")
	if cr.User.Status != registry.StatusRevoked {
		t.Fatal("older record applied")
	}
	// The same record again is fine (idempotent re-put).
	if err := s.ApplyRegistry(ctx, []*registry.Record{newer}, 3, nil); err != nil {
		t.Fatal(err)
	}
	// The clock never goes back in the store either.
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t0 := t1.Add(-time.Hour)
	s.ApplyBatch(ctx, &registry.Batch{Revision: 4, HQClock: &t1})
	s.ApplyBatch(ctx, &registry.Batch{Revision: 5, HQClock: &t0})
	if _, c, _ := s.RegistryCursor(ctx); !c.Equal(t1) {
		t.Fatalf("clock went back to %v", c)
	}
}

// A user this gate held that the installed snapshot no longer has (HQ erased them while the gate
// did not see the delete) gets a tombstone: a replay of the record the gate held is refused
// after the install, while users still in the snapshot take no tombstone.
func TestInstallSnapshotTombstonesDroppedUsers(t *testing.T) {
	defer func(n int) { installChunk = n }(installChunk)
	installChunk = 3 // several chunks of the live users
	s, _ := openTest(t)
	ctx := context.Background()
	var live []*registry.Record
	for i := 0; i < 8; i++ {
		live = append(live, rec(fmt.Sprintf("S%06d", i), card(fmt.Sprintf("3%09d", i), registry.CardActive, "2025-01-10")))
	}
	gone := rec("GONE01", card("4000000001", registry.CardActive, "2025-01-10"))
	if err := s.ApplyRegistry(ctx, append(live, gone), 10, nil); err != nil {
		t.Fatal(err)
	}
	path, m := buildSnapshot(t, 8, 500, registry.StatusActive) // S000000..S000007, not GONE01
	if err := s.InstallSnapshot(ctx, path, m); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LookupCard(ctx, "4000000001"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the erased user must be gone after the install: %v", err)
	}
	err := s.ApplyRegistry(ctx, []*registry.Record{gone}, 501, nil)
	if !errors.Is(err, registry.ErrReplay) {
		t.Fatalf("a replay of the erased user's record must be refused after the install, got %v", err)
	}
	var n int
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM user_tombstones`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("tombstones = %d (%v), want 1 (the erased user only)", n, err)
	}
}
