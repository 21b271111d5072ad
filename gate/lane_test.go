package gate

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

type fakeRegistry map[string]Traveller

func (f fakeRegistry) LookupCard(n string) (Traveller, error) {
	t, ok := f[n]
	if !ok {
		return Traveller{}, fmt.Errorf("lookup %s: %w", n, ErrUnknownCard)
	}
	return t, nil
}

// fakeVerifier matches a sample equal to one of the enrolled byte strings.
type fakeVerifier struct{}

func (fakeVerifier) Verify(t Traveller, sample []byte) (float64, bool, error) {
	if len(sample) == 0 {
		return 0, false, errors.New("empty sample")
	}
	for _, e := range t.Enrolled {
		if bytes.Equal(e, sample) {
			return 0.9, true, nil
		}
	}
	return 0.1, false, nil
}

var t0 = time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC) // noon in Tokyo

type harness struct {
	t    *testing.T
	lane *Lane
	now  time.Time
}

func newHarness(t *testing.T, dir Direction) *harness {
	tr := validTraveller()
	tr.Enrolled = [][]byte{[]byte("finger-2")}
	reg := fakeRegistry{"1000000001": tr}
	lost := tr
	lost.CardStatus = CardStatusLost
	reg["1000000002"] = lost
	cfg := Config{Direction: dir, Location: tokyo(t), RegistryMaxAge: time.Minute}
	h := &harness{t: t, lane: NewLane(cfg, reg, fakeVerifier{}), now: t0}
	out := h.feed(RegistryFreshness{At: h.now, HQTime: h.now})
	if h.lane.State() != StateIdle || !hasShow(out, ScreenPresentCard) {
		t.Fatalf("lane should open once the registry is fresh: state %s, outputs %v", h.lane.State(), out)
	}
	return h
}

func (h *harness) feed(in Input) []Output { return h.lane.Handle(h.now, in) }

func (h *harness) advance(d time.Duration) []Output {
	h.now = h.now.Add(d)
	return h.feed(Tick{At: h.now})
}

func events(out []Output) []Event {
	var ev []Event
	for _, o := range out {
		if r, ok := o.(Record); ok {
			ev = append(ev, r.Event)
		}
	}
	return ev
}

func hasShow(out []Output, s Screen) bool {
	for _, o := range out {
		if sh, ok := o.(Show); ok && sh.Screen == s {
			return true
		}
	}
	return false
}

func pulses(out []Output) []PulseDoor {
	var p []PulseDoor
	for _, o := range out {
		if d, ok := o.(PulseDoor); ok {
			p = append(p, d)
		}
	}
	return p
}

func TestPassageGranted(t *testing.T) {
	h := newHarness(t, Entry)
	out := h.feed(CardPresented{At: h.now, Number: "1000000001"})
	if h.lane.State() != StateAwaitFinger || !hasShow(out, ScreenPlaceFinger) {
		t.Fatalf("after a valid card: state %s, outputs %v", h.lane.State(), out)
	}
	h.now = h.now.Add(2 * time.Second)
	out = h.feed(SampleCaptured{At: h.now, Data: []byte("finger-2")})
	ev := events(out)
	if len(ev) != 1 || ev[0].Type != PassageGranted || ev[0].Attempts != 1 || ev[0].UserID != "U1" {
		t.Fatalf("granted event: %+v", ev)
	}
	// The event is recorded before the door opens.
	if _, ok := out[0].(Record); !ok {
		t.Fatalf("first output must be the Record, got %T", out[0])
	}
	p := pulses(out)
	if len(p) != 1 || p[0].Door != ExitDoor || p[0].Duration <= 0 {
		t.Fatalf("exit door pulse: %+v", p)
	}
	out = h.feed(BeamCrossed{At: h.now, Sensor: ExitBeam})
	if ev := events(out); len(ev) != 1 || ev[0].Type != PassageCompleted {
		t.Fatalf("completed: %+v", ev)
	}
	out = h.advance(10 * time.Second)
	if h.lane.State() != StateIdle || !hasShow(out, ScreenPresentCard) {
		t.Fatalf("lane should be ready again: %s %v", h.lane.State(), out)
	}
}

func TestMismatchThreeTimes(t *testing.T) {
	h := newHarness(t, Entry)
	h.feed(CardPresented{At: h.now, Number: "1000000001"})
	for i := 1; i <= 2; i++ {
		out := h.feed(SampleCaptured{At: h.now, Data: []byte("other")})
		if !hasShow(out, ScreenTryAgain) || len(events(out)) != 0 {
			t.Fatalf("attempt %d: want try again, got %v", i, out)
		}
	}
	out := h.feed(SampleCaptured{At: h.now, Data: []byte("other")})
	ev := events(out)
	if len(ev) != 1 || ev[0].Type != Refused || ev[0].Reason != BioMismatch || ev[0].Attempts != 3 {
		t.Fatalf("third mismatch: %+v", ev)
	}
	if len(pulses(out)) != 0 {
		t.Fatal("a refused traveller must not get a door pulse")
	}
}

func TestNoCaptureAndUnusableSamples(t *testing.T) {
	h := newHarness(t, Entry)
	h.feed(CardPresented{At: h.now, Number: "1000000001"})
	h.feed(CaptureFailed{At: h.now})
	h.feed(SampleCaptured{At: h.now, Data: nil}) // unusable: verifier error
	ev := events(h.feed(CaptureFailed{At: h.now}))
	if len(ev) != 1 || ev[0].Reason != BioNoCapture {
		t.Fatalf("want BIO_NO_CAPTURE, got %+v", ev)
	}
}

func TestFingerTimeout(t *testing.T) {
	h := newHarness(t, Entry)
	h.feed(CardPresented{At: h.now, Number: "1000000001"})
	out := h.advance(16 * time.Second)
	ev := events(out)
	if len(ev) != 1 || ev[0].Reason != BioNoCapture {
		t.Fatalf("timeout: %+v", ev)
	}
}

func TestUnknownAndLostCards(t *testing.T) {
	h := newHarness(t, Entry)
	ev := events(h.feed(CardPresented{At: h.now, Number: "999999"}))
	if len(ev) != 1 || ev[0].Reason != CardUnknown {
		t.Fatalf("unknown card: %+v", ev)
	}
	h.advance(5 * time.Second)
	out := h.feed(CardPresented{At: h.now, Number: "1000000002"})
	ev = events(out)
	if len(ev) != 2 || ev[0].Reason != CardLost || ev[1].Type != AlarmRaised || ev[1].Reason != CardLost {
		t.Fatalf("lost card must be refused and raise an alarm: %+v", ev)
	}
	for _, o := range out {
		if s, ok := o.(Show); ok && s.Reason.TravellerMay() {
			t.Fatalf("the traveller must not be shown the lost-card reason: %+v", s)
		}
	}
}

func TestTailgating(t *testing.T) {
	h := newHarness(t, Departure)
	h.feed(CardPresented{At: h.now, Number: "1000000001"})
	h.feed(SampleCaptured{At: h.now, Data: []byte("finger-2")})
	h.feed(BeamCrossed{At: h.now, Sensor: ExitBeam})
	h.now = h.now.Add(300 * time.Millisecond)
	ev := events(h.feed(BeamCrossed{At: h.now, Sensor: ExitBeam}))
	if len(ev) != 1 || ev[0].Type != AlarmRaised || ev[0].Reason != Tailgating {
		t.Fatalf("second person: %+v", ev)
	}
}

func TestWrongWayWhenIdle(t *testing.T) {
	h := newHarness(t, Entry)
	ev := events(h.feed(BeamCrossed{At: h.now, Sensor: ExitBeam}))
	if len(ev) != 1 || ev[0].Reason != WrongWay {
		t.Fatalf("beam with no passage: %+v", ev)
	}
}

func TestStaleRegistryClosesLane(t *testing.T) {
	h := newHarness(t, Entry)
	out := h.advance(2 * time.Minute)
	ev := events(out)
	if h.lane.State() != StateClosed || len(ev) != 1 || ev[0].Reason != RegistryStale {
		t.Fatalf("stale: state %s events %+v", h.lane.State(), ev)
	}
	ev = events(h.feed(CardPresented{At: h.now, Number: "1000000001"}))
	if len(ev) != 1 || ev[0].Type != Refused || ev[0].Reason != RegistryStale {
		t.Fatalf("card on a stale lane: %+v", ev)
	}
	out = h.feed(RegistryFreshness{At: h.now, HQTime: h.now})
	if h.lane.State() != StateIdle || events(out)[0].Type != AlarmCleared {
		t.Fatalf("fresh again: %s %v", h.lane.State(), out)
	}
}

func TestDeviceOfflineMidPassageRefusesCleanly(t *testing.T) {
	h := newHarness(t, Entry)
	h.feed(CardPresented{At: h.now, Number: "1000000001"})
	out := h.feed(DeviceStatusChanged{At: h.now, Device: "bio", Online: false, Detail: "no reply for 8s"})
	ev := events(out)
	if len(ev) != 2 || ev[0].Type != DeviceOffline || ev[1].Reason != LaneClosed {
		t.Fatalf("offline during finger: %+v", ev)
	}
	h.advance(5 * time.Second)
	if h.lane.State() != StateClosed {
		t.Fatalf("lane with a device offline must stay closed, is %s", h.lane.State())
	}
	h.feed(DeviceStatusChanged{At: h.now, Device: "bio", Online: true})
	if h.lane.State() != StateIdle {
		t.Fatalf("device back: lane should reopen, is %s", h.lane.State())
	}
}

func TestFireAlarmOpensDoorsUntilReset(t *testing.T) {
	h := newHarness(t, Entry)
	out := h.feed(FireAlarmChanged{At: h.now, Active: true})
	if len(pulses(out)) != 2 || h.lane.State() != StateEmergency {
		t.Fatalf("fire: %v", out)
	}
	if len(pulses(h.advance(3*time.Second))) != 2 {
		t.Fatal("pulses must be renewed while the fire alarm is active")
	}
	// A technician cannot reset while the alarm input is active.
	h.feed(ModeRequested{At: h.now, Mode: InService, Reason: "reset"})
	if h.lane.State() != StateEmergency {
		t.Fatal("reset must be refused while the fire alarm is active")
	}
	h.feed(FireAlarmChanged{At: h.now, Active: false})
	if h.lane.State() != StateEmergency {
		t.Fatal("the lane stays in emergency until a technician resets it")
	}
	h.feed(ModeRequested{At: h.now, Mode: InService, Reason: "reset after drill"})
	h.now = h.now.Add(time.Second)
	h.feed(RegistryFreshness{At: h.now, HQTime: h.now})
	if h.lane.State() != StateIdle {
		t.Fatalf("after reset: %s", h.lane.State())
	}
}

func TestMaintenanceClosesLane(t *testing.T) {
	h := newHarness(t, Entry)
	h.feed(ModeRequested{At: h.now, Mode: Maintenance, Reason: "reader swap"})
	if h.lane.State() != StateClosed {
		t.Fatalf("maintenance: %s", h.lane.State())
	}
	h.feed(ModeRequested{At: h.now, Mode: InService})
	if h.lane.State() != StateIdle {
		t.Fatalf("in service: %s", h.lane.State())
	}
}

func TestCardDuringPassageIgnored(t *testing.T) {
	h := newHarness(t, Entry)
	h.feed(CardPresented{At: h.now, Number: "1000000001"})
	out := h.feed(CardPresented{At: h.now, Number: "1000000002"})
	if len(events(out)) != 0 || !hasShow(out, ScreenWait) {
		t.Fatalf("second card during a passage: %v", out)
	}
}

func TestManualPulseRefusedDuringPassage(t *testing.T) {
	h := newHarness(t, Entry)
	out := h.feed(ManualPulse{At: h.now, Door: ExitDoor, Actor: "tech", Reason: "test"})
	if ev := events(out); len(ev) != 1 || ev[0].Type != DoorPulsedManually || len(pulses(out)) != 1 {
		t.Fatalf("idle lane: manual pulse must be recorded and carried out: %v", out)
	}
	h.feed(CardPresented{At: h.now, Number: "1000000001"})
	out = h.feed(ManualPulse{At: h.now, Door: ExitDoor, Actor: "tech", Reason: "test"})
	if ev := events(out); len(ev) != 1 || ev[0].Type != ManualPulseRefused || len(pulses(out)) != 0 {
		t.Fatalf("traveller in the lane: manual pulse must be refused: %v", out)
	}
}

func TestReconfigureKeepsDirection(t *testing.T) {
	h := newHarness(t, Entry)
	h.feed(Reconfigure{At: h.now, Config: Config{Direction: Departure, MaxAttempts: 1}})
	tr := validTraveller()
	tr.EDFrom, tr.EDTo = Date{}, Date{}
	h.lane.registry = fakeRegistry{"5": tr}
	if ev := events(h.feed(CardPresented{At: h.now, Number: "5"})); len(ev) != 1 || ev[0].Reason != EDMissing {
		t.Fatalf("direction must not change on reload: %+v", ev)
	}
	h.advance(5 * time.Second)
	h.lane.registry = fakeRegistry{"1000000001": validTraveller()}
	h.feed(CardPresented{At: h.now, Number: "1000000001"})
	if ev := events(h.feed(SampleCaptured{At: h.now, Data: []byte("x")})); len(ev) != 1 || ev[0].Reason != BioMismatch {
		t.Fatalf("max attempts 1 after reload: %+v", ev)
	}
}

func TestStandingAlarmsRaisedOnceAndCleared(t *testing.T) {
	h := newHarness(t, Entry)
	ev := events(h.feed(OutboxFill{At: h.now, Level: "high", Detail: "60% of 1,000,000 rows"}))
	if len(ev) != 1 || ev[0].Reason != OutboxHigh {
		t.Fatalf("outbox high: %+v", ev)
	}
	if ev := events(h.feed(OutboxFill{At: h.now, Level: "high"})); len(ev) != 0 {
		t.Fatalf("a standing alarm is raised once: %+v", ev)
	}
	ev = events(h.feed(OutboxFill{At: h.now, Level: "full"}))
	if len(ev) != 2 || ev[0].Type != AlarmCleared || ev[1].Reason != OutboxFull {
		t.Fatalf("outbox full: %+v", ev)
	}
	ev = events(h.feed(ExitDoorContact{At: h.now, Closed: false}))
	if len(ev) != 1 || ev[0].Reason != DoorForced {
		t.Fatalf("door forced: %+v", ev)
	}
	if st := h.lane.Status(); len(st.ActiveAlarms) != 2 {
		t.Fatalf("active alarms: %v", st.ActiveAlarms)
	}
	ev = events(h.feed(ExitDoorContact{At: h.now, Closed: true}))
	if len(ev) != 1 || ev[0].Type != AlarmCleared || ev[0].Reason != DoorForced {
		t.Fatalf("door closed clears the alarm: %+v", ev)
	}
	h.feed(OutboxFill{At: h.now, Level: "ok"})
	if st := h.lane.Status(); len(st.ActiveAlarms) != 0 {
		t.Fatalf("all cleared: %v", st.ActiveAlarms)
	}
}

func TestPlaceFingerNamesTheEnrolledFinger(t *testing.T) {
	h := newHarness(t, Entry)
	tr := validTraveller()
	tr.Enrolled = [][]byte{[]byte("finger-6")}
	tr.Fingers = []int{6} // left thumb
	h.lane.registry = fakeRegistry{"1000000001": tr}
	out := h.feed(CardPresented{At: h.now, Number: "1000000001"})
	for _, o := range out {
		if s, ok := o.(Show); ok && s.Screen == ScreenPlaceFinger {
			if s.Finger != 6 {
				t.Fatalf("the traveller must be asked for the enrolled finger 6, got %d", s.Finger)
			}
			out = h.feed(SampleCaptured{At: h.now, Data: []byte("other")})
			for _, o := range out {
				if s, ok := o.(Show); ok && s.Screen == ScreenTryAgain && s.Finger != 6 {
					t.Fatalf("try again must name the same finger, got %d", s.Finger)
				}
			}
			return
		}
	}
	t.Fatalf("no place-finger screen: %v", out)
}
