package outbox_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/internal/natstest"
	"ttpgate/sync/outbox"
)

// With HQ unreachable the outbox grows: the level goes high at AlarmAt of MaxRows and full at
// MaxRows, commits are never refused, and the level comes back to ok once HQ drains it.
func TestOutboxLevelAlarms(t *testing.T) {
	_, url := natstest.Start(t)
	js := natstest.JetStream(t, natstest.Connect(t, url), jetstream500ms())
	st := openStore(t)
	var mu sync.Mutex
	var levels []outbox.Level
	p := outbox.NewPublisher(st, js, outbox.Options{MaxRows: 100, MaxBytes: -1, MinFreeDisk: -1, AlarmAt: 0.5,
		UsageInterval: 10 * time.Millisecond, RetryBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		AckTimeout: 500 * time.Millisecond, Logger: quiet(),
		OnLevel: func(a outbox.Alarm) {
			mu.Lock()
			levels = append(levels, a.Level)
			mu.Unlock()
			if a.Level != outbox.LevelOK && (a.Detail == "" || a.Level.Reason() == "") {
				t.Errorf("alarm without detail or reason: %+v", a)
			}
		}})
	run(t, p)
	last := func() outbox.Level {
		mu.Lock()
		defer mu.Unlock()
		if len(levels) == 0 {
			return outbox.LevelOK
		}
		return levels[len(levels)-1]
	}
	commit(t, st, p, 1, 49) // no stream: nothing is acknowledged
	time.Sleep(50 * time.Millisecond)
	if l := last(); l != outbox.LevelOK {
		t.Fatalf("level %v at 49%%", l)
	}
	commit(t, st, p, 50, 60)
	waitFor(t, "high", 5*time.Second, func() bool { return last() == outbox.LevelHigh })
	if s := p.Stats(); s.Level != outbox.LevelHigh || s.Depth < 50 || s.Oldest.IsZero() || s.Bytes == 0 {
		t.Fatalf("stats %+v", s)
	}
	commit(t, st, p, 61, 130) // past the limit: still committed
	waitFor(t, "full", 5*time.Second, func() bool { return last() == outbox.LevelFull })
	if d, _ := st.OutboxDepth(context.Background()); d != 130 {
		t.Fatalf("depth %d: a full outbox must keep every event", d)
	}
	if _, err := outbox.EnsureStream(context.Background(), js); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ok after the drain", 10*time.Second, func() bool { return last() == outbox.LevelOK })
	mu.Lock()
	defer mu.Unlock()
	// Draining steps down through high, unless one measurement saw both thresholds crossed.
	if len(levels) < 3 || levels[0] != outbox.LevelHigh || levels[1] != outbox.LevelFull || levels[len(levels)-1] != outbox.LevelOK {
		t.Fatalf("level changes %v, want high, full, (high,) ok", levels)
	}
	mu.Unlock()
	waitFor(t, "drained", 10*time.Second, func() bool { d, _ := st.OutboxDepth(context.Background()); return d == 0 })
	mu.Lock()
	checkExactlyOnce(t, js, 130)
}

// Without errors the pipelined publisher stores a gate's events in seq order.
func TestPipelinedPublisherKeepsSeqOrder(t *testing.T) {
	_, url := natstest.Start(t)
	js := natstest.JetStream(t, natstest.Connect(t, url))
	ctx := context.Background()
	if _, err := outbox.EnsureStream(ctx, js); err != nil {
		t.Fatal(err)
	}
	st := openStore(t)
	p := outbox.NewPublisher(st, js, outbox.Options{MaxInFlight: 64, BatchSize: 16, Logger: quiet()})
	run(t, p)
	commit(t, st, p, 1, 2000)
	waitFor(t, "drain", 30*time.Second, func() bool { return p.Stats().Acked == 2000 })
	s, _ := js.Stream(ctx, outbox.StreamName)
	for seq := uint64(1); seq <= 2000; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Header.Get(outbox.SeqHeader); got != strconv.FormatUint(seq, 10) {
			t.Fatalf("stream message %d holds gate seq %s", seq, got)
		}
	}
	if st := p.Stats(); st.InFlight != 0 || st.Published != 2000 {
		t.Fatalf("stats %+v", st)
	}
}

func jetstream500ms() jetstream.JetStreamOpt {
	return jetstream.WithPublishAsyncTimeout(500 * time.Millisecond)
}
