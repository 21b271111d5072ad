package registry_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/internal/natstest"
	"ttpgate/sync/registry"
	"ttpgate/sync/store"
)

var key = bytes.Repeat([]byte{7}, store.TemplateKeySize)

// hqKey signs everything the tests put; gates trust it through verifier.
var (
	hqKey, _    = registry.GenerateSigner("test-hq")
	verifier, _ = registry.NewVerifier(map[string]ed25519.PublicKey{"test-hq": hqKey.PublicKey()})
)

func newRecord(userID, cardNumber string) *registry.Record {
	return &registry.Record{
		Schema: 1, UserID: userID, Status: registry.StatusActive, Eligibility: registry.EligibilityShortTermVisitor,
		PassportExpiry: registry.MustParseDate("2030-01-31"), PreferredLanguage: "ja",
		Cards: []registry.Card{{Number: cardNumber, Status: registry.CardActive,
			Issued: registry.MustParseDate("2025-01-10"), Expires: registry.MustParseDate("2028-01-09")}},
		Templates: []registry.Template{{Finger: 1, Format: registry.FormatISO19794_2_2005, Data: []byte("FMR\x00 20\x00" + userID)}},
		Updated:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

type env struct {
	kv jetstream.KeyValue
	st *store.Store
}

func setup(t *testing.T) env {
	t.Helper()
	_, url := natstest.Start(t)
	js := natstest.JetStream(t, natstest.Connect(t, url))
	ctx := context.Background()
	kv, err := registry.EnsureBucket(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	kv = registry.SigningKV(kv, hqKey)
	if st, err := kv.Status(ctx); err != nil || st.History() != 1 {
		t.Fatalf("bucket history = %v, %v", st, err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "gate.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return env{kv: kv, st: st}
}

// signedBucket starts a server and returns its JetStream, the registry bucket and the bucket
// wrapped so that puts are signed by hqKey.
func signedBucket(t *testing.T) (jetstream.JetStream, jetstream.KeyValue, jetstream.KeyValue) {
	t.Helper()
	_, url := natstest.Start(t)
	js := natstest.JetStream(t, natstest.Connect(t, url))
	kv, err := registry.EnsureBucket(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	return js, kv, registry.SigningKV(kv, hqKey)
}

// run starts w and returns a function that stops it and waits for Run.
func run(t *testing.T, w *registry.Watcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := w.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func put(t *testing.T, kv jetstream.KeyValue, r *registry.Record) uint64 {
	t.Helper()
	rev, err := registry.Put(context.Background(), kv, r)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestWatcherAppliesRevocationAndResumes(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	put(t, e.kv, newRecord("U0000001", "1000000001"))
	put(t, e.kv, newRecord("U0000002", "1000000002"))
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	rev, err := registry.PutClock(ctx, e.kv, t0)
	if err != nil {
		t.Fatal(err)
	}

	w := registry.NewWatcher(e.kv, e.st, registry.WatcherOptions{Verifier: verifier, BatchDelay: 5 * time.Millisecond, Logger: quietLogger()})
	stop := run(t, w)
	waitFor(t, "initial sync", func() bool { s := w.Stats(); return s.Revision == rev && s.CaughtUp })
	s := w.Stats()
	if s.Applied != 2 || s.Rejected != 0 || !s.HQClock.Equal(t0) || !s.CaughtUp {
		t.Fatalf("stats after initial sync: %+v", s)
	}
	if users, cards, _ := e.st.Counts(ctx); users != 2 || cards != 2 {
		t.Fatalf("counts = %d users %d cards", users, cards)
	}
	if srev, clock, _ := e.st.RegistryCursor(ctx); srev != rev || !clock.Equal(t0) {
		t.Fatalf("stored cursor = %d %v", srev, clock)
	}

	// Revocation: a put of the changed record.
	revoked := newRecord("U0000001", "1000000001")
	revoked.Status = registry.StatusRevoked
	rev = put(t, e.kv, revoked)
	t1 := t0.Add(5 * time.Second)
	if rev, err = registry.PutClock(ctx, e.kv, t1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "revocation", func() bool { return w.Stats().Revision == rev })
	cr, err := e.st.LookupCard(ctx, "1000000001")
	if err != nil || cr.User.Status != registry.StatusRevoked {
		t.Fatalf("after revocation: %+v %v", cr, err)
	}
	if _, clock, _ := e.st.RegistryCursor(ctx); !clock.Equal(t1) {
		t.Fatalf("hq clock = %v, want %v", clock, t1)
	}
	stop()

	// While the watcher is down, one more record; a new watcher on the same
	// store resumes from the stored revision and applies only that one.
	rev = put(t, e.kv, newRecord("U0000003", "1000000003"))
	w2 := registry.NewWatcher(e.kv, e.st, registry.WatcherOptions{Verifier: verifier, BatchDelay: 5 * time.Millisecond, Logger: quietLogger()})
	run(t, w2)
	waitFor(t, "resume", func() bool { return w2.Stats().Revision == rev })
	if s := w2.Stats(); s.Applied != 1 || s.Rejected != 0 {
		t.Fatalf("resumed watcher reapplied: %+v", s)
	}
	if users, _, _ := e.st.Counts(ctx); users != 3 {
		t.Fatalf("users = %d, want 3", users)
	}
	// HQ deletes a user key: the user is removed locally.
	if err := e.kv.Delete(ctx, registry.Key("U0000002")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delete", func() bool { return w2.Stats().Deleted == 1 })
	if _, err := e.st.LookupCard(ctx, "1000000002"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted user's card: %v", err)
	}
}

func TestWatcherRejectsMalformed(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))

	good1 := put(t, e.kv, newRecord("U0000001", "1000000001"))
	mustPut := func(k string, v []byte) uint64 {
		rev, err := e.kv.Put(ctx, k, v)
		if err != nil {
			t.Fatal(err)
		}
		return rev
	}
	mustPut("user.U0000009", []byte(`{"schema":1,"user_id":"U0000009"`)) // truncated JSON
	mismatch, _ := hqKey.SignRecord(newRecord("U0000008", "1000000008")) // record of another user, signed for its own key
	mustPut("user.U0000007", mismatch)                                   //
	mustPut("junk.key", []byte(`{}`))                                    // unknown key
	mustPut(registry.ClockKey, []byte(`{"time":"yesterday"}`))           // bad (and unsigned) clock
	bad, _ := newRecord("U0000006", "1000000006").Marshal()              // a valid body signed with its status changed
	badEnv := hqKey.SignRecordBody(registry.Key("U0000006"), bytes.Replace(bad, []byte(`"active"`), []byte(`"suspended"`), 1))
	mustPut("user.U0000006", badEnv)
	last := put(t, e.kv, newRecord("U0000002", "1000000002"))

	w := registry.NewWatcher(e.kv, e.st, registry.WatcherOptions{Verifier: verifier, BatchSize: 3, BatchDelay: 5 * time.Millisecond, Logger: logger})
	run(t, w)
	waitFor(t, "sync past malformed entries", func() bool { return w.Stats().Revision == last })
	s := w.Stats()
	if s.Applied != 2 || s.Rejected != 5 {
		t.Fatalf("stats: %+v; want 2 applied, 5 rejected", s)
	}
	if rev, _, _ := e.st.RegistryCursor(ctx); rev != last {
		t.Fatalf("cursor %d, want %d (first good %d)", rev, last, good1)
	}
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	for _, want := range []string{"key=user.U0000009", "key=junk.key", "key=user.U0000007", `signature: does not verify`,
		"key=hq.clock", `key=user.U0000006`, `\"suspended\" is not one of active, revoked`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "1000000008") || strings.Contains(out, "1000000006") {
		t.Errorf("log contains a card number:\n%s", out)
	}
}

// failingStore refuses, as invalid, any batch that contains user "U-BAD",
// like a store whose constraint rejects one record of a batch.
type failingStore struct{ *store.Store }

func (f failingStore) ApplyBatch(ctx context.Context, b *registry.Batch) error {
	for _, r := range b.Records {
		if r.UserID == "U-BAD" {
			return fmt.Errorf("test store: %w", registry.ErrInvalid)
		}
	}
	return f.Store.ApplyBatch(ctx, b)
}

func TestWatcherSkipsRecordTheStoreRejects(t *testing.T) {
	e := setup(t)
	put(t, e.kv, newRecord("U0000001", "1000000001"))
	put(t, e.kv, newRecord("U-BAD", "1000000099"))
	last := put(t, e.kv, newRecord("U0000002", "1000000002"))
	w := registry.NewWatcher(e.kv, failingStore{e.st}, registry.WatcherOptions{Verifier: verifier, BatchDelay: 20 * time.Millisecond, Logger: quietLogger()})
	run(t, w)
	waitFor(t, "sync", func() bool { return w.Stats().Revision == last })
	if s := w.Stats(); s.Applied != 2 || s.Rejected != 1 {
		t.Fatalf("stats %+v; want 2 applied, 1 rejected", s)
	}
	if users, _, _ := e.st.Counts(context.Background()); users != 2 {
		t.Fatalf("users = %d", users)
	}
}

func TestWatcherSurvivesServerRestart(t *testing.T) {
	srv, url := natstest.Start(t)
	js := natstest.JetStream(t, natstest.Connect(t, url))
	ctx := context.Background()
	kv, err := registry.EnsureBucket(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	kv = registry.SigningKV(kv, hqKey)
	st, err := store.Open(filepath.Join(t.TempDir(), "gate.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	put(t, kv, newRecord("U0000001", "1000000001"))
	w := registry.NewWatcher(kv, st, registry.WatcherOptions{Verifier: verifier, BatchDelay: 5 * time.Millisecond, StallCheck: 100 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Logger: quietLogger()})
	run(t, w)
	waitFor(t, "first record", func() bool { return w.Stats().Applied == 1 })

	natstest.Restart(t, srv)
	var rev uint64
	waitFor(t, "put after restart", func() bool {
		pctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		r, err := registry.Put(pctx, kv, newRecord("U0000002", "1000000002"))
		rev = r
		return err == nil
	})
	waitFor(t, "record put after server restart", func() bool { return w.Stats().Revision >= rev })
	// A put that timed out during the restart may have been stored too, so
	// U0000002 may have been applied twice.
	if s := w.Stats(); s.Applied < 2 || s.Rejected != 0 || s.Restarts == 0 {
		t.Fatalf("stats %+v", s)
	}
	if _, err := st.LookupCard(ctx, "1000000002"); err != nil {
		t.Fatal(err)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
