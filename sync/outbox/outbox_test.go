package outbox_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/internal/natstest"
	"ttpgate/sync/outbox"
	"ttpgate/sync/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "gate.db"), bytes.Repeat([]byte{1}, store.TemplateKeySize))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func eventID(seq uint64) string { return fmt.Sprintf("0190f0e0-0000-7000-8000-%012d", seq) }

// commit adds events from..to (inclusive), a few per transaction like a lane.
func commit(t *testing.T, st *store.Store, p *outbox.Publisher, from, to uint64) {
	t.Helper()
	for seq := from; seq <= to; {
		var evs []store.OutboxEvent
		for i := 0; i < 3 && seq <= to; i++ {
			evs = append(evs, store.OutboxEvent{Seq: seq, ID: eventID(seq), Subject: "ttp.evt.NRT.G01.passage",
				Payload: []byte(fmt.Sprintf(`{"seq":%d}`, seq))})
			seq++
		}
		if err := st.Commit(context.Background(), []byte("state"), evs, nil); err != nil {
			t.Fatal(err)
		}
		if p != nil {
			p.Notify()
		}
	}
}

func run(t *testing.T, p *outbox.Publisher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := p.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// streamIDs reads every message of the stream and returns the count of each
// Nats-Msg-Id and the gate sequence header of each.
func streamIDs(t *testing.T, js jetstream.JetStream) map[string]int {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, outbox.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get stream msg %d: %v", seq, err)
		}
		id := m.Header.Get(jetstream.MsgIDHeader)
		ids[id]++
		gs, _ := strconv.ParseUint(m.Header.Get(outbox.SeqHeader), 10, 64)
		if eventID(gs) != id {
			t.Errorf("stream msg %d: id %s but %s %d", seq, id, outbox.SeqHeader, gs)
		}
	}
	return ids
}

func checkExactlyOnce(t *testing.T, js jetstream.JetStream, n uint64) {
	t.Helper()
	ids := streamIDs(t, js)
	if uint64(len(ids)) != n {
		t.Errorf("stream holds %d distinct ids, want %d", len(ids), n)
	}
	for seq := uint64(1); seq <= n; seq++ {
		if c := ids[eventID(seq)]; c != 1 {
			t.Errorf("event %d stored %d times", seq, c)
		}
	}
	s, _ := js.Stream(context.Background(), outbox.StreamName)
	info, _ := s.Info(context.Background())
	if info.State.Msgs != n {
		t.Errorf("stream message count %d, want %d", info.State.Msgs, n)
	}
}

func TestEnsureStream(t *testing.T) {
	_, url := natstest.Start(t)
	js := natstest.JetStream(t, natstest.Connect(t, url))
	s, err := outbox.EnsureStream(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if cfg.Name != "TTP_EVENTS" || len(cfg.Subjects) != 1 || cfg.Subjects[0] != "ttp.evt.*.*.*" || cfg.Storage != jetstream.FileStorage ||
		cfg.Duplicates != 2*time.Minute || cfg.Retention != jetstream.LimitsPolicy || !cfg.DenyDelete || !cfg.DenyPurge || cfg.Replicas != 1 {
		t.Fatalf("stream config %+v", cfg)
	}
	// Idempotent.
	if _, err := outbox.EnsureStream(context.Background(), js); err != nil {
		t.Fatal(err)
	}
}

func TestPublisherDeliversAndDeletesAfterAck(t *testing.T) {
	_, url := natstest.Start(t)
	js := natstest.JetStream(t, natstest.Connect(t, url))
	if _, err := outbox.EnsureStream(context.Background(), js); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	p := outbox.NewPublisher(st, js, outbox.Options{MaxInFlight: 16, Logger: quiet()})
	commit(t, st, nil, 1, 100)
	run(t, p)
	waitFor(t, "drain", 10*time.Second, func() bool { return p.Stats().Acked == 100 })
	// Prompt wake-up on Notify (well under the 1 s poll).
	start := time.Now()
	commit(t, st, p, 101, 101)
	waitFor(t, "notify", 10*time.Second, func() bool { return p.Stats().Acked == 101 })
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Logf("slow wake-up after Notify: %v", d) // not asserted: timing is not a test
	}
	if d, _ := st.OutboxDepth(context.Background()); d != 0 {
		t.Fatalf("outbox depth %d after all acks", d)
	}
	if seq, _ := st.LastEventSeq(context.Background()); seq != 101 {
		t.Fatalf("LastEventSeq %d", seq)
	}
	checkExactlyOnce(t, js, 101)
	s := p.Stats()
	if s.Published != 101 || s.Errors != 0 || s.Depth != 0 || s.LastAckedSeq != 101 {
		t.Fatalf("stats %+v", s)
	}
}

func TestPublisherKeepsRowsUntilAcked(t *testing.T) {
	// No stream yet: every publish is refused, nothing may be deleted.
	_, url := natstest.Start(t)
	js := natstest.JetStream(t, natstest.Connect(t, url))
	st := openStore(t)
	commit(t, st, nil, 1, 10)
	p := outbox.NewPublisher(st, js, outbox.Options{RetryBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, AckTimeout: time.Second, Logger: quiet()})
	run(t, p)
	waitFor(t, "errors", 10*time.Second, func() bool { return p.Stats().Errors >= 2 })
	if s := p.Stats(); s.Acked != 0 || s.LastError == "" || s.Depth != 10 {
		t.Fatalf("stats %+v", s)
	}
	if d, _ := st.OutboxDepth(context.Background()); d != 10 {
		t.Fatalf("rows deleted without ack: depth %d", d)
	}
	// HQ creates the stream: the same events go out, once each.
	if _, err := outbox.EnsureStream(context.Background(), js); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "drain", 10*time.Second, func() bool { d, _ := st.OutboxDepth(context.Background()); return d == 0 })
	checkExactlyOnce(t, js, 10)
}

func TestPublisherExactlyOnceAcrossServerRestart(t *testing.T) {
	srv, url := natstest.Start(t)
	js := natstest.JetStream(t, natstest.Connect(t, url), jetstream.WithPublishAsyncTimeout(2*time.Second))
	ctx := context.Background()
	if _, err := outbox.EnsureStream(ctx, js); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	const n = 1500
	commit(t, st, nil, 1, n)
	p := outbox.NewPublisher(st, js, outbox.Options{MaxInFlight: 64, RetryBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		AckTimeout: 2 * time.Second, Logger: quiet()})

	// Invariant, checked while draining: a row is gone only if its event is
	// in the stream, so stored >= deleted at every instant (depth is read
	// first, so deletions after that only make stored larger).
	total := uint64(n)
	checkInvariant := func() {
		d, err := st.OutboxDepth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s, err := js.Stream(ctx, outbox.StreamName)
		if err != nil {
			return // server down
		}
		info, err := s.Info(ctx)
		if err != nil {
			return
		}
		if deleted := total - uint64(d); info.State.Msgs < deleted {
			t.Fatalf("%d rows deleted but only %d events in the stream", deleted, info.State.Msgs)
		}
	}

	run(t, p)
	waitFor(t, "some acks", 20*time.Second, func() bool { checkInvariant(); return p.Stats().Acked > 0 })
	natstest.Shutdown(srv) // mid-drain
	// Acks that arrived before the shutdown are still being deleted (in batches, on the
	// deleter goroutine): wait until the count settles, then nothing more may be acknowledged.
	acked := p.Stats().Acked
	for settled := time.Now(); time.Since(settled) < 200*time.Millisecond; time.Sleep(10 * time.Millisecond) {
		if a := p.Stats().Acked; a != acked {
			acked, settled = a, time.Now()
		}
	}
	// More decisions while HQ is unreachable.
	commit(t, st, p, n+1, n+200)
	total = n + 200
	time.Sleep(100 * time.Millisecond)
	if s := p.Stats(); s.Acked != acked {
		t.Fatalf("acks while the server is down: %d before, now %+v", acked, s)
	}
	srv, _ = natstest.Restart(t, srv)
	_ = srv
	waitFor(t, "drain after restart", 30*time.Second, func() bool {
		checkInvariant()
		d, _ := st.OutboxDepth(ctx)
		return d == 0
	})
	checkExactlyOnce(t, js, n+200)
	s := p.Stats()
	t.Logf("stats after restart: %+v", s)
	if s.Acked != n+200 || s.LastAckedSeq != n+200 {
		t.Fatalf("stats %+v: want %d acked", s, n+200)
	}
}

// An event whose first publish was stored but whose ack was lost (simulated
// by publishing it directly), followed by a server restart: the publisher's
// resend with the same id is a duplicate, acked, and stored once.
func TestPublisherResendAfterLostAckIsDeduplicated(t *testing.T) {
	srv, url := natstest.Start(t)
	js := natstest.JetStream(t, natstest.Connect(t, url))
	ctx := context.Background()
	if _, err := outbox.EnsureStream(ctx, js); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	commit(t, st, nil, 1, 5)
	evs, _ := st.PendingEvents(ctx, 0, 2)
	for _, e := range evs { // events 1 and 2 "reached HQ, ack lost"
		m := nats.NewMsg(e.Subject)
		m.Data = e.Payload
		m.Header.Set(outbox.SeqHeader, strconv.FormatUint(e.Seq, 10))
		if _, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(e.ID)); err != nil {
			t.Fatal(err)
		}
	}
	natstest.Restart(t, srv) // the duplicate window survives a restart
	p := outbox.NewPublisher(st, js, outbox.Options{RetryBackoff: 20 * time.Millisecond, Logger: quiet()})
	run(t, p)
	waitFor(t, "drain", 20*time.Second, func() bool { return p.Stats().Acked == 5 })
	if s := p.Stats(); s.Duplicates != 2 {
		t.Fatalf("stats %+v: want 2 duplicates", s)
	}
	checkExactlyOnce(t, js, 5)
}

func BenchmarkDrain(b *testing.B) {
	_, url := natstest.Start(b)
	js := natstest.JetStream(b, natstest.Connect(b, url))
	ctx := context.Background()
	if _, err := outbox.EnsureStream(ctx, js); err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(filepath.Join(b.TempDir(), "gate.db"), bytes.Repeat([]byte{1}, store.TemplateKeySize))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	p := outbox.NewPublisher(st, js, outbox.Options{Logger: quiet()})
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go p.Run(rctx)
	const batch = 1000
	seq := uint64(0)
	payload := bytes.Repeat([]byte("x"), 400)
	for b.Loop() {
		b.StopTimer()
		evs := make([]store.OutboxEvent, batch)
		for i := range evs {
			seq++
			evs[i] = store.OutboxEvent{Seq: seq, ID: eventID(seq), Subject: "ttp.evt.NRT.G01.passage", Payload: payload}
		}
		if err := st.Commit(ctx, nil, evs, nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		p.Notify()
		for p.Stats().Acked < seq {
			time.Sleep(100 * time.Microsecond)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
}
