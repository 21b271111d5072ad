package consumer_test

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

	"ttpgate/sync/events"
	"ttpgate/sync/events/consumer"
	"ttpgate/sync/internal/natstest"
	"ttpgate/sync/outbox"
	"ttpgate/sync/store"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

var ids events.UUIDGenerator

// event builds a valid event of gate g with sequence number seq.
func event(t testing.TB, airport, g string, seq uint64) (*events.Event, []byte) {
	t.Helper()
	typ := []string{"passage_granted", "passage_completed", "heartbeat", "refused"}[seq%4]
	e := events.Event{Time: time.Now(), Type: typ}
	switch typ {
	case "refused":
		e.Reason, e.Card = "CARD_UNKNOWN", "1000000009"
	case "heartbeat":
		e = events.NewHeartbeat(time.Now(), events.Heartbeat{State: "idle", Mode: "in-service", OutboxDepth: int(seq)})
	}
	events.Stamp(&e, &ids, seq, airport, g, "entry")
	data, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return &e, data
}

func openDB(t *testing.T) (*consumer.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hq.db")
	db, err := consumer.OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func msg(t *testing.T, streamSeq uint64, airport, g string, seq uint64) (consumer.Message, *events.Event) {
	e, data := event(t, airport, g, seq)
	return consumer.Message{Subject: e.Subject(), MsgID: e.ID, SeqHeader: strconv.FormatUint(seq, 10), StreamSeq: streamSeq,
		Data: data, Received: time.Now()}, e
}

// Apply alone: idempotence, duplicates, redeliveries, rejects, gaps opening and closing.
func TestApply(t *testing.T) {
	db, _ := openDB(t)
	ctx := context.Background()
	m1, _ := msg(t, 1, "HND", "G01", 1)
	m2, _ := msg(t, 2, "HND", "G01", 2)
	m4, _ := msg(t, 3, "HND", "G01", 4)
	m6, _ := msg(t, 4, "HND", "G01", 6)
	res, err := db.Apply(ctx, []consumer.Message{m1, m2, m4, m6})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 4 || len(res.Opened) != 2 || res.Opened[0] != (consumer.Gap{Airport: "HND", Gate: "G01", From: 3, To: 3}) ||
		res.Opened[1] != (consumer.Gap{Airport: "HND", Gate: "G01", From: 5, To: 5}) {
		t.Fatalf("first batch: %+v", res)
	}
	gaps, _ := db.Gaps(ctx)
	if len(gaps) != 2 || gaps[0].From != 3 || gaps[1].From != 5 {
		t.Fatalf("gaps %v", gaps)
	}
	// The same messages again (the acks were lost): nothing new.
	res, err = db.Apply(ctx, []consumer.Message{m1, m2})
	if err != nil || res.Stored != 0 || res.Redelivered != 2 || res.Duplicates != 0 {
		t.Fatalf("redelivery: %+v %v", res, err)
	}
	// A resend stored again by the stream (after its duplicate window): kept once, counted.
	dup := m2
	dup.StreamSeq = 10
	// Late events fill the gaps; a bad one is kept aside; a forged subject is kept aside; the same
	// seq under another id is kept aside.
	m3, _ := msg(t, 11, "HND", "G01", 3)
	m5, _ := msg(t, 12, "HND", "G01", 5)
	bad := consumer.Message{Subject: "ttp.evt.HND.G01.refused", StreamSeq: 13, Data: []byte(`{"schema":1,"template":"AAAA"}`), Received: time.Now()}
	forged, _ := msg(t, 14, "HND", "G02", 1)
	forged.Subject = "ttp.evt.HND.G01." + forged.Subject[len("ttp.evt.HND.G02."):]
	conflict, _ := msg(t, 15, "HND", "G01", 2)
	res, err = db.Apply(ctx, []consumer.Message{dup, m3, bad, m5, forged, conflict})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 2 || res.Duplicates != 1 || res.Rejected != 3 || res.Late != 2 || len(res.Closed) != 1 || res.Closed[0].To != 6 {
		t.Fatalf("second batch: %+v", res)
	}
	if gaps, _ := db.Gaps(ctx); len(gaps) != 0 {
		t.Fatalf("gaps left: %v", gaps)
	}
	tot, _ := db.Totals(ctx)
	if tot != (consumer.Totals{Events: 6, Duplicates: 1, Rejected: 3, Redelivered: 2, Gates: 1}) {
		t.Fatalf("totals %+v", tot)
	}
	var why string
	if err := db.SQL().QueryRow(`SELECT error FROM rejected WHERE stream_seq = 13`).Scan(&why); err != nil || why == "" {
		t.Fatalf("the bad event must be kept with its reason: %q %v", why, err)
	}
	var contiguous int
	db.SQL().QueryRow(`SELECT contiguous FROM gates WHERE gate = 'G01'`).Scan(&contiguous)
	if contiguous != 6 {
		t.Fatalf("contiguous %d, want 6", contiguous)
	}
}

// gateSide is one gate: its store and publisher, committing events in lane-sized transactions.
type gateSide struct {
	airport, gate string
	st            *store.Store
	pub           *outbox.Publisher
	seq           uint64
}

func newGate(t *testing.T, js jetstream.JetStream, airport, g string) *gateSide {
	st, err := store.Open(filepath.Join(t.TempDir(), "gate.db"), bytes.Repeat([]byte{1}, store.TemplateKeySize))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := outbox.NewPublisher(st, js, outbox.Options{MaxInFlight: 128, BatchSize: 32, RetryBackoff: 20 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond, AckTimeout: 2 * time.Second, Logger: quiet()})
	return &gateSide{airport: airport, gate: g, st: st, pub: p}
}

func (g *gateSide) commit(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; {
		var rows []store.OutboxEvent
		for j := 0; j < 3 && i < n; j, i = j+1, i+1 {
			g.seq++
			e, data := event(t, g.airport, g.gate, g.seq)
			rows = append(rows, store.OutboxEvent{Seq: e.Seq, ID: e.ID, Subject: e.Subject(), Payload: data})
		}
		if err := g.st.Commit(context.Background(), nil, rows, nil); err != nil {
			t.Fatal(err)
		}
		g.pub.Notify()
	}
}

func start(t *testing.T, run func(ctx context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := run(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	})
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
		time.Sleep(10 * time.Millisecond)
	}
}

// Two gates publish through real outboxes while the server restarts twice, the consumer is
// stopped and restarted (durable: it resumes), a gate's event is resent after the stream's
// duplicate window (stored twice in the stream), and a malformed event arrives. HQ's table ends
// with every event exactly once, contiguous per gate; the rest is counted.
func TestExactlyOnceAtTheConsumer(t *testing.T) {
	srv, url := natstest.Start(t)
	ctx := context.Background()
	hqJS := natstest.JetStream(t, natstest.Connect(t, url))
	cfg := outbox.StreamConfig(1)
	cfg.Duplicates = time.Second // so the test can resend after the window
	if _, err := outbox.EnsureStreamConfig(ctx, hqJS, cfg); err != nil {
		t.Fatal(err)
	}
	db, _ := openDB(t)
	newConsumer := func() *consumer.Consumer {
		c, err := consumer.New(db, hqJS, consumer.Options{Durable: "hq-test", Batch: 100, AckWait: 2 * time.Second, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1 := newConsumer()
	stopC1 := start(t, c1.Run)

	gateJS := natstest.JetStream(t, natstest.Connect(t, url), jetstream.WithPublishAsyncTimeout(2*time.Second))
	g1, g2 := newGate(t, gateJS, "HND", "G01"), newGate(t, gateJS, "NRT", "G07")
	start(t, g1.pub.Run)
	start(t, g2.pub.Run)
	const per = 600
	total := func() int64 { tot, _ := db.Totals(ctx); return tot.Events }

	g1.commit(t, per/3)
	g2.commit(t, per/3)
	waitFor(t, "first events at HQ", 30*time.Second, func() bool { return total() > 0 })
	srv, _ = natstest.Restart(t, srv) // mid-stream
	g1.commit(t, per/3)
	stopC1() // the consumer goes away ...
	g2.commit(t, per/3)
	waitFor(t, "gate outboxes drained", 30*time.Second, func() bool { return g1.pub.Stats().Acked+g2.pub.Stats().Acked >= 4*per/3 })
	c2 := newConsumer() // ... and comes back: it resumes from its last ack
	start(t, c2.Run)
	g1.commit(t, per/3)
	g2.commit(t, per/3)
	srv, _ = natstest.Restart(t, srv)
	_ = srv

	// A resend after the duplicate window (the ack was lost, the link was down for longer).
	time.Sleep(1100 * time.Millisecond)
	resend := nats.NewMsg("")
	e1 := waitEvent(t, db, "HND", "G01", 1)
	resend.Subject, resend.Data = e1.subject, e1.payload
	resend.Header.Set(outbox.SeqHeader, "1")
	if _, err := gateJS.PublishMsg(ctx, resend, jetstream.WithMsgID(e1.id)); err != nil {
		t.Fatal(err)
	}
	// A malformed event.
	if _, err := hqJS.Publish(ctx, "ttp.evt.HND.G01.refused", []byte(`{"schema":1,"seq":"x"}`)); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "every event at HQ", 60*time.Second, func() bool {
		tot, _ := db.Totals(ctx)
		return tot.Events == 2*per && tot.Duplicates >= 1 && tot.Rejected == 1
	})
	tot, _ := db.Totals(ctx)
	t.Logf("totals %+v; consumer 1 %+v; consumer 2 %+v; publishers %+v / %+v", tot, c1.Stats(), c2.Stats(), g1.pub.Stats(), g2.pub.Stats())
	if tot.Events != 2*per || tot.Rejected != 1 || tot.Gates != 2 {
		t.Fatalf("totals %+v", tot)
	}
	if gaps, _ := db.Gaps(ctx); len(gaps) != 0 {
		t.Fatalf("gaps %v", gaps)
	}
	rows, _ := db.SQL().Query(`SELECT airport, gate, contiguous, max_seq, events FROM gates`)
	defer rows.Close()
	for rows.Next() {
		var a, g string
		var contiguous, maxSeq, n int
		rows.Scan(&a, &g, &contiguous, &maxSeq, &n)
		if contiguous != per || maxSeq != per || n != per {
			t.Errorf("%s/%s: contiguous %d max %d events %d, want %d", a, g, contiguous, maxSeq, n, per)
		}
	}
	// Ordered by seq, each gate's ids are in creation order (UUIDv7): nothing reordered or made up.
	var inversions int
	db.SQL().QueryRow(`SELECT count(*) FROM (SELECT id, LAG(id) OVER (PARTITION BY airport, gate ORDER BY seq) AS prev FROM events) WHERE prev > id`).Scan(&inversions)
	if inversions != 0 {
		t.Fatalf("%d events out of order by seq and id", inversions)
	}
}

type stored struct {
	id, subject string
	payload     []byte
}

func waitEvent(t *testing.T, db *consumer.DB, airport, g string, seq int) stored {
	t.Helper()
	var s stored
	waitFor(t, fmt.Sprintf("%s/%s seq %d", airport, g, seq), 30*time.Second, func() bool {
		err := db.SQL().QueryRow(`SELECT id, payload FROM events WHERE airport = ? AND gate = ? AND seq = ?`, airport, g, seq).Scan(&s.id, &s.payload)
		return err == nil
	})
	e, err := events.Parse(s.payload)
	if err != nil {
		t.Fatal(err)
	}
	s.subject = e.Subject()
	return s
}

// Events missing from a gate's sequence are reported as a gap when a later one arrives, and
// the gap closes when they come.
func TestGapDetectionThroughTheStream(t *testing.T) {
	_, url := natstest.Start(t)
	ctx := context.Background()
	js := natstest.JetStream(t, natstest.Connect(t, url))
	if _, err := outbox.EnsureStream(ctx, js); err != nil {
		t.Fatal(err)
	}
	db, _ := openDB(t)
	var mu sync.Mutex
	var opened, closed []consumer.Gap
	c, _ := consumer.New(db, js, consumer.Options{Durable: "gaps", Logger: quiet(), OnBatch: func(r consumer.Result) {
		mu.Lock()
		opened, closed = append(opened, r.Opened...), append(closed, r.Closed...)
		mu.Unlock()
	}})
	start(t, c.Run)
	publish := func(seq uint64) {
		e, data := event(t, "KIX", "G03", seq)
		m := nats.NewMsg(e.Subject())
		m.Data = data
		if _, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(e.ID)); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []uint64{1, 2, 5} {
		publish(s)
	}
	waitFor(t, "gap reported", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(opened) == 1 })
	if opened[0] != (consumer.Gap{Airport: "KIX", Gate: "G03", From: 3, To: 4}) {
		t.Fatalf("gap %+v", opened[0])
	}
	if gaps, _ := db.Gaps(ctx); len(gaps) != 1 || gaps[0].String() != "KIX/G03 seq 3-4 (2 events)" {
		t.Fatalf("gaps %v", gaps)
	}
	publish(4)
	publish(3)
	waitFor(t, "gap closed", 10*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(closed) == 1 })
	if gaps, _ := db.Gaps(ctx); len(gaps) != 0 {
		t.Fatalf("gaps %v", gaps)
	}
}
