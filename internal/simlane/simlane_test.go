package simlane

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"ttpgate/devices/osdp"
	"ttpgate/devices/simulator"
	"ttpgate/sync/events"
	"ttpgate/sync/outbox"
	"ttpgate/sync/registry"
)

type localTail struct {
	mu  sync.Mutex
	evs []events.Event
}

func (l *localTail) add(e events.Event) { l.mu.Lock(); l.evs = append(l.evs, e); l.mu.Unlock() }

// waitForFunc waits for an event for which ok holds.
func (l *localTail) waitForFunc(t *testing.T, ok func(events.Event) bool) events.Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, e := range l.evs {
			if ok(e) {
				l.mu.Unlock()
				return e
			}
		}
		l.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no such event within 20s")
	return events.Event{}
}

func (l *localTail) lastSeq() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var m uint64
	for _, e := range l.evs {
		m = max(m, e.Seq)
	}
	return m
}

func (l *localTail) mark() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.evs) }

// waitFor waits for an event recorded at position from or later.
func (l *localTail) waitFor(t *testing.T, from int, typ, reason, device string) events.Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, e := range l.evs[from:] {
			if e.Type == typ && e.Reason == reason && (device == "" || e.Device == device) {
				l.mu.Unlock()
				return e
			}
		}
		l.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %s %s %s event within 20s", typ, reason, device)
	return events.Event{}
}

// A device that stops answering closes the lane (a card is refused LANE_CLOSED, the door never
// opens); when it answers again the lane reopens by itself, with no restart.
func TestDeviceLossClosesLaneAndRecovers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tail := &localTail{}
	l, err := Start(ctx, Options{Dir: t.TempDir(), OnEvent: tail.add, OfflineAfter: 600 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := LoadSamples()
	if err != nil {
		t.Fatal(err)
	}
	today := registry.DateOf(time.Now(), l.Config.Location)
	rev := enrol(t, ctx, l, NewRecord("U1", "1000000001", today, s.Enrolled, RecordOptions{}))
	w := &Walker{Lane: l.Devices}
	if err := w.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	l.Bio.PowerOff()
	tail.waitFor(t, 0, "device_offline", "", "bio-reader")
	mark := l.Card.Mark()
	if _, err := l.Card.WaitCommand(ctx, mark-1, osdp.CmdTEXT, func(r simulator.Received) bool { return r.Text == "LANE CLOSED" }); err != nil {
		t.Fatal(err)
	}
	if got := displayScreen(t, l); got != "closed" {
		t.Fatalf("the lane display must show the lane closed, shows %q", got)
	}
	pulses := l.Door.PulseCount(simulator.OutputExitDoor)
	from := tail.mark()
	if err := l.Card.Present("1000000001"); err != nil {
		t.Fatal(err)
	}
	tail.waitFor(t, from, "refused", "LANE_CLOSED", "")
	if got := l.Door.PulseCount(simulator.OutputExitDoor); got != pulses {
		t.Fatalf("the exit door opened on a closed lane (%d pulses)", got-pulses)
	}
	from = tail.mark()
	l.Bio.PowerOn()
	tail.waitFor(t, from, "device_online", "", "bio-reader")
	obs, err := w.Walk(ctx, Traveller{Name: "after recovery", Card: "1000000001", Samples: [][]byte{s.Genuine}})
	if err != nil || !obs.Granted {
		t.Fatalf("after the reader came back the lane must work: %+v %v", obs, err)
	}
	resp, err := http.Get("http://" + l.Daemon.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`ttpgate_passages_total{outcome="granted"} 1`, `ttpgate_refusals_total{reason="LANE_CLOSED"} 1`,
		`ttpgate_device_online{device="bio-reader"} 1`, `ttpgate_decision_seconds_count 1`, "ttpgate_registry_age_seconds", "ttpgate_outbox_depth"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	hb := tail.waitFor(t, 0, "heartbeat", "", "")
	if hb.Heartbeat == nil || len(hb.Heartbeat.Devices) != 3 || hb.Heartbeat.RegistryRevision == 0 {
		t.Fatalf("a heartbeat must report the devices and the registry revision: %+v", hb.Heartbeat)
	}
	rs := tail.waitFor(t, 0, "registry_sync", "", "")
	if rs.Registry == nil || rs.Registry.Revision < rev {
		t.Fatalf("registry_sync must report the applied revision: %+v", rs.Registry)
	}
}

// A stale registry closes the lane: with no registry clock from HQ for longer than
// registry_max_age, the lane refuses with REGISTRY_STALE and raises the alarm.
func TestStaleRegistryClosesLane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tail := &localTail{}
	// HQ puts its clock once, at start; the lane allows 10 s.
	l, err := Start(ctx, Options{Dir: t.TempDir(), OnEvent: tail.add, HQClock: time.Hour, RegistryMaxAge: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tail.waitFor(t, 0, "alarm", "REGISTRY_STALE", "")
	if err := l.Card.Present("1000000001"); err != nil {
		t.Fatal(err)
	}
	tail.waitFor(t, 0, "refused", "REGISTRY_STALE", "")
	if _, err := registry.PutClock(ctx, l.HQ.KV, time.Now()); err != nil {
		t.Fatal(err)
	}
	tail.waitFor(t, 0, "alarm_cleared", "REGISTRY_STALE", "")
}

// SIGTERM with a traveller waiting for a fingerprint: the traveller is refused cleanly, every
// event reaches HQ, and after a restart the gate's sequence goes on without a gap or a repeat.
func TestShutdownRefusesCleanlyAndRestartLosesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tail := &localTail{}
	l, err := Start(ctx, Options{Dir: t.TempDir(), OnEvent: tail.add})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := LoadSamples()
	if err != nil {
		t.Fatal(err)
	}
	today := registry.DateOf(time.Now(), l.Config.Location)
	rec := NewRecord("U1", "1000000001", today, s.Enrolled, RecordOptions{})
	rec.Templates[0].Finger = 7 // left index: the display must light this one, not the default
	enrol(t, ctx, l, rec)
	w := &Walker{Lane: l.Devices}
	if err := w.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Card.Present("1000000001"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Bio.WaitCaptureRequest(ctx); err != nil {
		t.Fatal(err)
	}
	// The display asks for the enrolled finger.
	for deadline := time.Now().Add(5 * time.Second); ; {
		scr, finger := displayState(t, l)
		if scr == "place-finger" && finger == 7 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("display shows %q with finger %d, want place-finger with finger 7", scr, finger)
		}
		time.Sleep(20 * time.Millisecond)
	}
	from := tail.mark()
	l.StopDaemon()
	ev := tail.waitFor(t, from, "refused", "LANE_CLOSED", "")
	if ev.Card != "1000000001" {
		t.Fatalf("the waiting traveller must be refused: %+v", ev)
	}
	last := tail.lastSeq()
	if n, err := countAtHQ(ctx, l); err != nil || n != last {
		t.Fatalf("after a clean shutdown HQ must have every event: %d at HQ, last seq %d (%v)", n, last, err)
	}
	restart := tail.mark()
	if err := l.StartDaemon(); err != nil {
		t.Fatal(err)
	}
	started := tail.waitFor(t, restart, "lane_mode", "", "")
	if started.Seq != last+1 {
		t.Fatalf("after a restart the sequence must go on: got %d, want %d", started.Seq, last+1)
	}
	if _, err := w.Walk(ctx, Traveller{Name: "after restart", Card: "1000000001", Samples: [][]byte{s.Genuine}}); err != nil {
		t.Fatal(err)
	}
}

// countAtHQ counts the gate's events in HQ's stream.
func countAtHQ(ctx context.Context, l *Lane) (uint64, error) {
	st, err := l.HQ.JS.Stream(ctx, "TTP_EVENTS")
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// displayScreen reads the screen the lane display shows now.
func displayScreen(t *testing.T, l *Lane) string {
	t.Helper()
	s, _ := displayState(t, l)
	return s
}

// displayState reads the screen the lane display shows now and the finger it lights.
func displayState(t *testing.T, l *Lane) (string, int) {
	t.Helper()
	addr, _ := l.Daemon.DisplayAddr()
	resp, err := http.Get("http://" + addr + "/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct {
		Screen string `json:"screen"`
		Finger int    `json:"finger"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	return p.Screen, p.Finger
}

// A lane whose fingerprint reader is an EF01 module: captures are uploaded as images, extracted
// and matched by the gate; a smeared capture is a retry within the attempt budget.
func TestFingerModuleLane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tail := &localTail{}
	l, err := Start(ctx, Options{Dir: t.TempDir(), Direction: "departure", OnEvent: tail.add, FingerModule: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := LoadModuleSamples()
	if err != nil {
		t.Fatal(err)
	}
	script := ModuleScenario(registry.DateOf(time.Now(), l.Config.Location), s)
	enrol(t, ctx, l, Records(script)...)
	w := &Walker{Lane: l.Devices}
	for _, sc := range script {
		from := tail.mark()
		obs, err := w.Walk(ctx, sc.Traveller)
		if err != nil {
			t.Fatalf("%s: %v", sc.Name, err)
		}
		ev := tail.waitFor(t, from, sc.Expect.Type, sc.Expect.Reason, "")
		if obs.Granted != (sc.Expect.Type == "passage_granted") || ev.Card != sc.Card {
			t.Fatalf("%s: observed %+v, event %+v, want %s", sc.Name, obs, ev, sc.Expect)
		}
		if sc.Name == "Noah" && ev.Attempts != 2 {
			t.Fatalf("the smeared capture must count as an attempt: %+v", ev)
		}
	}
}

// A traveller forged into the registry bucket by someone without HQ's key is rejected at the
// gate, reported to HQ, and never opens the door.
func TestForgedRecordNeverOpensTheGate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tail := &localTail{}
	l, err := Start(ctx, Options{Dir: t.TempDir(), OnEvent: tail.add})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := LoadSamples()
	if err != nil {
		t.Fatal(err)
	}
	forger, err := registry.GenerateSigner(l.HQ.Signer.KeyID()) // same key id, another key
	if err != nil {
		t.Fatal(err)
	}
	rec := NewRecord("EVIL", "6666666666", registry.DateOf(time.Now(), l.Config.Location), s.Enrolled, RecordOptions{})
	rev, err := registry.PutSigned(ctx, l.HQ.KV, forger, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitRegistry(ctx, rev); err != nil {
		t.Fatal(err)
	}
	rej := tail.waitForFunc(t, func(e events.Event) bool {
		return e.Type == "registry_sync" && e.Registry != nil && e.Registry.Status == "error"
	})
	if !strings.Contains(rej.Detail, "signature") {
		t.Fatalf("the rejection must say why: %q", rej.Detail)
	}
	w := &Walker{Lane: l.Devices}
	obs, err := w.Walk(ctx, Traveller{Name: "forger", Card: "6666666666", Samples: [][]byte{s.Genuine}})
	if err != nil || obs.Granted {
		t.Fatalf("a forged record must never open the gate: %+v %v", obs, err)
	}
	tail.waitFor(t, 0, "refused", "CARD_UNKNOWN", "")
}

// SIGHUP's reload: what can change safely changes for the next traveller; anything else is
// refused whole, naming the fields.
func TestReloadAppliesSafeChangesAndRefusesOthers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := Start(ctx, Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	bad := *l.Config
	bad.Gate = "OTHER"
	bad.Devices.DoorBoard.Address = 9
	bad.Lane.MaxAttempts = 1
	err = l.Daemon.Reload(&bad)
	if err == nil || !strings.Contains(err.Error(), "gate, devices") || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("a reload changing the gate id and devices must be refused naming them: %v", err)
	}
	good := *l.Config
	good.Lane.MaxAttempts = 1
	if err := l.Daemon.Reload(&good); err != nil {
		t.Fatalf("a lane timing change must be accepted: %v", err)
	}
	s, err := LoadSamples()
	if err != nil {
		t.Fatal(err)
	}
	enrol(t, ctx, l, NewRecord("U1", "1000000001", registry.DateOf(time.Now(), l.Config.Location), s.Enrolled, RecordOptions{}))
	w := &Walker{Lane: l.Devices}
	obs, err := w.Walk(ctx, Traveller{Name: "one try", Card: "1000000001", Samples: [][]byte{s.Impostor, s.Genuine}})
	if err != nil || obs.Granted || obs.Attempts != 1 {
		t.Fatalf("after reloading max_attempts 1, one wrong finger must refuse: %+v %v", obs, err)
	}
}

// enrol puts registry records at HQ and waits until the gate has applied them; it returns the
// revision of the last one.
func enrol(t *testing.T, ctx context.Context, l *Lane, recs ...*registry.Record) uint64 {
	t.Helper()
	rev, err := l.Put(ctx, recs...)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitRegistry(ctx, rev); err != nil {
		t.Fatal(err)
	}
	return rev
}

// A gate deployed as in configs/nats: through its airport's leaf node, signed in by its NKey
// seed file, with HQ's JetStream domain. The registry reaches it, the traveller passes, and the
// passage reaches HQ's events stream under the gate's own subject.
func TestLaneThroughAirportLeafWithNKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := Start(ctx, Options{Dir: t.TempDir(), ViaLeaf: true, Gate: "LEAF01"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Config.NATS.NKeySeedFile == "" || l.Config.NATS.URL != l.Leaf.URL {
		t.Fatalf("the gate must sign in at the leaf with its seed: %+v", l.Config.NATS)
	}
	s, err := LoadSamples()
	if err != nil {
		t.Fatal(err)
	}
	rec := NewRecord("LEAFUSER", "7777777777", registry.DateOf(time.Now(), l.Config.Location), s.Enrolled, RecordOptions{})
	rev, err := l.Put(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WaitRegistry(ctx, rev); err != nil {
		t.Fatal(err)
	}
	w := &Walker{Lane: l.Devices}
	obs, err := w.Walk(ctx, Traveller{Name: "leaf traveller", Card: "7777777777", Samples: [][]byte{s.Genuine}})
	if err != nil || !obs.Granted {
		t.Fatalf("the registered traveller must pass through a leaf-connected gate: %+v %v", obs, err)
	}
	stream, err := l.HQ.JS.Stream(ctx, outbox.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		msg, err := stream.GetLastMsgForSubject(ctx, events.Subject("HND", "LEAF01", "passage_completed"))
		if err == nil {
			var e events.Event
			if err := json.Unmarshal(msg.Data, &e); err != nil {
				t.Fatal(err)
			}
			if e.Card == "7777777777" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the passage did not reach HQ through the leaf within 20s (last: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
