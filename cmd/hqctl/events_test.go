package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/internal/devhq"
	"ttpgate/sync/events"
)

// stdoutMu serialises the tests that capture os.Stdout.
var stdoutMu sync.Mutex

// capture runs hqctl with args and returns what it printed on stdout.
func capture(t *testing.T, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	stdoutMu.Lock()
	defer stdoutMu.Unlock()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&buf, r); close(done) }()
	err = run(ctx, args)
	os.Stdout = old
	w.Close()
	<-done
	return buf.String(), err
}

func startHQ(t *testing.T) *devhq.HQ {
	t.Helper()
	hq, err := devhq.Start(context.Background(), devhq.Options{Dir: t.TempDir(), Port: -1, ClockEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hq.Close)
	return hq
}

var testIDs events.UUIDGenerator

func publish(t *testing.T, js jetstream.JetStream, e events.Event, seq uint64, airport, gate string) {
	t.Helper()
	events.Stamp(&e, &testIDs, seq, airport, gate, "entry")
	data, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(e.Subject())
	m.Data = data
	if _, err := js.PublishMsg(context.Background(), m, jetstream.WithMsgID(e.ID)); err != nil {
		t.Fatal(err)
	}
}

// The HQ tools end to end against a development HQ: consume into SQLite (with a gap and a bad
// event), fleet from the database and from the stream, replay, gaps, stream.
func TestHQEventTools(t *testing.T) {
	hq := startHQ(t)
	t.Setenv("TTPGATE_NATS", hq.URL)
	js := hq.JS
	now := time.Now()
	age := 4.0
	hb := func(at time.Time, depth int, alarms ...string) events.Event {
		return events.NewHeartbeat(at, events.Heartbeat{State: "idle", Mode: "in-service", RegistryRevision: 42, RegistryAgeS: &age,
			Devices:     []events.DeviceHealth{{Name: "card-reader", Online: true}, {Name: "bio-reader", Online: len(alarms) == 0}},
			OutboxDepth: depth, Alarms: alarms})
	}
	publish(t, js, hb(now.Add(-2*time.Second), 3), 1, "HND", "G01")
	publish(t, js, events.Event{Type: "alarm", Reason: "TAILGATING", Time: now}, 2, "HND", "G01")
	publish(t, js, hb(now, 0, "TAILGATING"), 3, "HND", "G01")
	publish(t, js, hb(now.Add(-time.Hour), 9), 1, "NRT", "G02")
	publish(t, js, events.Event{Type: "passage_completed", Time: now}, 3, "NRT", "G02") // seq 2 missing
	if _, err := js.Publish(context.Background(), "ttp.evt.HND.G01.refused", []byte(`not json`)); err != nil {
		t.Fatal(err)
	}

	dbPath := filepath.Join(t.TempDir(), "hq.db")
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan string, 1)
	go func() {
		// Not captured (it would hold stdoutMu); its final totals go to the real stdout.
		err := run(ctx, []string{"events", "consume", "-durable", "test", "-db", dbPath, "-report", "0"})
		if err != nil {
			out <- err.Error()
		}
		close(out)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, _ := capture(t, context.Background(), "events", "gaps", "-db", dbPath)
		if strings.Contains(s, "events 5,") && strings.Contains(s, "rejected 1,") {
			if !strings.Contains(s, "gap: NRT/G02 seq 2") {
				t.Fatalf("gaps: %s", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer did not store the events: %s", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if msg, ok := <-out; ok {
		t.Fatalf("consume: %s", msg)
	}

	s, err := capture(t, context.Background(), "fleet", "-db", dbPath, "-json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []FleetRow
	if err := json.Unmarshal([]byte(s), &rows); err != nil {
		t.Fatalf("fleet -json: %v\n%s", err, s)
	}
	if len(rows) != 2 || rows[0].Gate != "G01" || rows[0].Status != "degraded" || rows[0].LastAlarm != "TAILGATING" ||
		rows[0].Heartbeat.Alarms[0] != "TAILGATING" || rows[1].Status != "stale" || len(rows[1].Gaps) != 1 {
		t.Fatalf("fleet from the database: %s", s)
	}
	s, err = capture(t, context.Background(), "fleet")
	if err != nil || !strings.Contains(s, "HND/G01") || !strings.Contains(s, "degraded") || !strings.Contains(s, "bio-reader offline") ||
		!strings.Contains(s, "NRT/G02") || !strings.Contains(s, "stale") || !strings.Contains(s, "rev 42") {
		t.Fatalf("fleet from the stream: %v\n%s", err, s)
	}
	s, err = capture(t, context.Background(), "events", "replay", "-since", "1h", "-gate", "G01", "-json")
	if err != nil || strings.Count(s, "\n") != 3 {
		t.Fatalf("replay: %v\n%s", err, s)
	}
	s, err = capture(t, context.Background(), "events", "replay", "-since", "1h", "-reason", "TAILGATING")
	if err != nil || strings.Count(s, "\n") != 1 || !strings.Contains(s, "alarm") {
		t.Fatalf("replay -reason: %v\n%s", err, s)
	}
	s, err = capture(t, context.Background(), "events", "replay", "-since", time.Now().Add(time.Minute).Format(time.RFC3339))
	if err != nil || s != "" {
		t.Fatalf("replay from the future: %v %q", err, s)
	}
	s, err = capture(t, context.Background(), "events", "stream")
	if err != nil || !strings.Contains(s, "ttp.evt.*.*.*") || !strings.Contains(s, "6 events") {
		t.Fatalf("stream: %v\n%s", err, s)
	}
	if _, err := capture(t, context.Background(), "events", "consume", "-db", dbPath); err != errUsage {
		t.Fatalf("consume without -durable: %v", err)
	}
}
