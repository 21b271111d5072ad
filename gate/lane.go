package gate

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// ErrUnknownCard is returned by a Registry for a card number it does not hold.
var ErrUnknownCard = errors.New("card not in registry")

// Registry looks cards up in the local copy of the registry.
type Registry interface {
	LookupCard(number string) (Traveller, error)
}

// Verifier compares a captured fingerprint sample with a traveller's enrolled templates.
type Verifier interface {
	// Verify returns the best score over the enrolled fingers and whether it reaches the
	// decision threshold. An error means the sample could not be used (a retry).
	Verify(t Traveller, sample []byte) (score float64, matched bool, err error)
}

// Mode is the lane's operating mode, set by a technician.
type Mode string

// Lane modes.
const (
	InService     Mode = "in-service"
	Maintenance   Mode = "maintenance"
	OutOfService  Mode = "out-of-service"
	EmergencyOpen Mode = "emergency-open"
)

// Door names a door of the lane.
type Door string

// The lane's doors.
const (
	EntryDoor Door = "entry"
	ExitDoor  Door = "exit"
)

// Sensor names a beam or contact of the lane.
type Sensor string

// The lane's passage beams.
const (
	EntryBeam Sensor = "entry-beam"
	ExitBeam  Sensor = "exit-beam"
)

// Screen is what the lane asks the traveller to do; the display, the reader's LED, buzzer and
// text follow it.
type Screen string

// Screens.
const (
	ScreenClosed      Screen = "closed"       // lane closed or out of service
	ScreenPresentCard Screen = "present-card" // ready for the next traveller
	ScreenPlaceFinger Screen = "place-finger"
	ScreenTryAgain    Screen = "try-again"
	ScreenProceed     Screen = "proceed"
	ScreenSeeOfficer  Screen = "see-officer"
	ScreenWait        Screen = "wait" // wait for the person ahead
	ScreenEmergency   Screen = "emergency"
)

// State is the lane's state in its passage cycle.
type State string

// Lane states.
const (
	StateClosed      State = "closed"
	StateIdle        State = "idle"
	StateAwaitFinger State = "await-finger"
	StatePassage     State = "passage"
	StateRefused     State = "refused"
	StateEmergency   State = "emergency"
)

// Input is something that happened at the lane. Each input carries the time it was observed.
type Input interface{ inputTime() time.Time }

// CardPresented: a card was read at the card reader.
type CardPresented struct {
	At     time.Time
	Number string
}

// SampleCaptured: the fingerprint reader delivered a sample (a template).
type SampleCaptured struct {
	At   time.Time
	Data []byte
}

// CaptureFailed: the fingerprint reader could not capture a usable sample.
type CaptureFailed struct {
	At     time.Time
	Detail string
}

// BeamCrossed: a person crossed a passage beam.
type BeamCrossed struct {
	At     time.Time
	Sensor Sensor
}

// ExitDoorContact: the exit door's closed contact changed.
type ExitDoorContact struct {
	At     time.Time
	Closed bool
}

// DeviceStatusChanged: a device came online or went offline.
type DeviceStatusChanged struct {
	At     time.Time
	Device string
	Online bool
	Detail string
}

// RegistryFreshness: the HQ time of the newest registry clock the gate has applied.
type RegistryFreshness struct {
	At     time.Time
	HQTime time.Time
}

// FireAlarmChanged: the fire-alarm input changed.
type FireAlarmChanged struct {
	At     time.Time
	Active bool
}

// ModeRequested: a technician set the lane's mode.
type ModeRequested struct {
	At     time.Time
	Mode   Mode
	Reason string
}

// Tick: time passed; the lane checks its timers.
type Tick struct{ At time.Time }

// ManualPulse: a technician asks for a door pulse (audited). The lane refuses it while a
// traveller is in the lane.
type ManualPulse struct {
	At     time.Time
	Door   Door
	Actor  string
	Reason string
}

// OutboxFill: the event outbox's fill level changed: "ok", "high" or "full".
type OutboxFill struct {
	At     time.Time
	Level  string
	Detail string
}

// Reconfigure: the lane's settings changed (a config reload). It takes effect for the next
// traveller; the direction and the zone cannot change while running.
type Reconfigure struct {
	At     time.Time
	Config Config
}

func (i CardPresented) inputTime() time.Time       { return i.At }
func (i SampleCaptured) inputTime() time.Time      { return i.At }
func (i CaptureFailed) inputTime() time.Time       { return i.At }
func (i BeamCrossed) inputTime() time.Time         { return i.At }
func (i ExitDoorContact) inputTime() time.Time     { return i.At }
func (i DeviceStatusChanged) inputTime() time.Time { return i.At }
func (i RegistryFreshness) inputTime() time.Time   { return i.At }
func (i FireAlarmChanged) inputTime() time.Time    { return i.At }
func (i ModeRequested) inputTime() time.Time       { return i.At }
func (i Tick) inputTime() time.Time                { return i.At }
func (i ManualPulse) inputTime() time.Time         { return i.At }
func (i Reconfigure) inputTime() time.Time         { return i.At }
func (i OutboxFill) inputTime() time.Time          { return i.At }

// Output is something the lane asks of the devices or the store.
type Output interface{ output() }

// Record: commit this event (with the lane's state) before carrying out the commands that follow.
type Record struct{ Event Event }

// Show: put the lane's display, the reader's LED, buzzer and text in this screen.
type Show struct {
	Screen   Screen
	Attempt  int    // for ScreenTryAgain and ScreenPlaceFinger: this attempt, from 1
	Of       int    // the allowed attempts
	Reason   Reason // for ScreenSeeOfficer: shown only if Reason.TravellerMay
	Language string // the traveller's language, once a card is read
	Finger   int    // for ScreenPlaceFinger and ScreenTryAgain: the finger to place (ISO position, 0 unknown)
}

// RequestSample: ask the fingerprint reader for a sample.
type RequestSample struct{ Attempt int }

// CancelSample: the lane no longer waits for a sample.
type CancelSample struct{}

// PulseDoor: open the door for Duration; the door board closes it by itself.
type PulseDoor struct {
	Door     Door
	Duration time.Duration
}

// CallOfficer: light the officer indicator.
type CallOfficer struct{ On bool }

func (Record) output()        {}
func (Show) output()          {}
func (RequestSample) output() {}
func (CancelSample) output()  {}
func (PulseDoor) output()     {}
func (CallOfficer) output()   {}

// Config is what the lane needs to know of its configuration.
type Config struct {
	Direction       Direction
	Location        *time.Location // the airport's zone: registry dates are dates there
	MaxAttempts     int            // fingerprint attempts, default 3
	FingerTimeout   time.Duration  // no sample within this: refused BIO_NO_CAPTURE
	DoorPulse       time.Duration  // how long the exit door opens
	PassageSettle   time.Duration  // after the pulse ends, beams still count for this passage
	RefusalScreen   time.Duration  // how long a refusal stays on screen
	RegistryMaxAge  time.Duration  // older registry data closes the lane
	EmergencyRepeat time.Duration  // how often door pulses are renewed while the fire alarm is on
}

// WithDefaults fills unset fields with the defaults.
func (c Config) WithDefaults() Config {
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	if c.FingerTimeout <= 0 {
		c.FingerTimeout = 15 * time.Second
	}
	if c.DoorPulse <= 0 {
		c.DoorPulse = 5 * time.Second
	}
	if c.PassageSettle <= 0 {
		c.PassageSettle = time.Second
	}
	if c.RefusalScreen <= 0 {
		c.RefusalScreen = 3 * time.Second
	}
	if c.RegistryMaxAge <= 0 {
		c.RegistryMaxAge = time.Hour
	}
	if c.EmergencyRepeat <= 0 {
		c.EmergencyRepeat = 2 * time.Second
	}
	return c
}

// Status is a snapshot of the lane for operators.
type Status struct {
	State          State
	Mode           Mode
	ModeReason     string
	ClosedBecause  []string // why the lane is closed, empty when it is open
	OfflineDevices []string
	RegistryHQTime time.Time
	FireAlarm      bool
	ActiveAlarms   []string // alarms raised and not cleared, by reason code
}

// Lane is the state machine of one gate lane. It is not safe for concurrent use: one goroutine
// feeds it inputs in order.
type Lane struct {
	cfg      Config
	registry Registry
	verifier Verifier

	state   State
	mode    Mode
	modeWhy string
	offline map[string]string
	hqTime  time.Time
	fire    bool
	stale   bool
	// active holds the standing alarms (stale registry, fire, door forced, outbox), raised and
	// not yet cleared.
	active map[Reason]bool

	// the traveller in the lane
	traveller   Traveller
	cardAt      time.Time
	lookupTime  time.Duration
	attempts    int
	captured    int // attempts that produced a usable sample
	bestScore   float64
	deadline    time.Time // timer of the current state
	crossings   int
	nextPulse   time.Time
	doorPulseAt time.Time
}

// NewLane returns a lane in service but closed until the registry freshness is known: a lane
// never decides before it knows its data is current. Devices are taken as online until reported
// otherwise by DeviceStatusChanged; the daemon reports each configured device as offline at start.
func NewLane(cfg Config, reg Registry, ver Verifier) *Lane {
	l := &Lane{cfg: cfg.WithDefaults(), registry: reg, verifier: ver, mode: InService,
		offline: map[string]string{}, stale: true, state: StateClosed, active: map[Reason]bool{}}
	return l
}

// State returns the lane's current state.
func (l *Lane) State() State { return l.state }

// Status returns a snapshot for operators.
func (l *Lane) Status() Status {
	s := Status{State: l.state, Mode: l.mode, ModeReason: l.modeWhy, RegistryHQTime: l.hqTime, FireAlarm: l.fire}
	for d := range l.offline {
		s.OfflineDevices = append(s.OfflineDevices, d)
	}
	sort.Strings(s.OfflineDevices)
	s.ClosedBecause = l.closedBecause()
	for r := range l.active {
		s.ActiveAlarms = append(s.ActiveAlarms, string(r))
	}
	sort.Strings(s.ActiveAlarms)
	return s
}

// closedBecause lists why the lane may not take travellers now.
func (l *Lane) closedBecause() []string {
	var why []string
	if l.mode != InService {
		why = append(why, "mode "+string(l.mode))
	}
	if l.stale {
		if l.hqTime.IsZero() {
			why = append(why, "registry freshness unknown")
		} else {
			why = append(why, "registry stale since "+l.hqTime.UTC().Format(time.RFC3339))
		}
	}
	for _, d := range sortedKeys(l.offline) {
		why = append(why, "device "+d+" offline")
	}
	return why
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// open reports whether the lane may take a traveller.
func (l *Lane) open() bool { return len(l.closedBecause()) == 0 }

// Handle feeds one input to the lane at time now and returns what must be done, in order. Record
// outputs must be committed before any later output of the same call is carried out.
func (l *Lane) Handle(now time.Time, in Input) []Output {
	var out []Output
	switch in := in.(type) {
	case CardPresented:
		out = l.onCard(now, in)
	case SampleCaptured:
		out = l.onSample(now, in)
	case CaptureFailed:
		out = l.onCaptureFailed(now, in)
	case BeamCrossed:
		out = l.onBeam(now, in)
	case ExitDoorContact:
		out = l.onDoorContact(now, in)
	case DeviceStatusChanged:
		out = l.onDevice(now, in)
	case RegistryFreshness:
		if in.HQTime.After(l.hqTime) {
			l.hqTime = in.HQTime
		}
	case FireAlarmChanged:
		out = l.onFire(now, in)
	case ModeRequested:
		out = l.onMode(now, in)
	case ManualPulse:
		out = l.onManualPulse(now, in)
	case OutboxFill:
		out = l.onOutbox(now, in)
	case Reconfigure:
		c := in.Config.WithDefaults()
		c.Direction, c.Location = l.cfg.Direction, l.cfg.Location
		l.cfg = c
	case Tick:
	}
	out = append(out, l.checkTimers(now)...)
	return append(out, l.settle(now)...)
}

// settle moves the lane between closed and idle as its conditions change, and reports it.
func (l *Lane) settle(now time.Time) []Output {
	var out []Output
	stale := l.hqTime.IsZero() || now.Sub(l.hqTime) > l.cfg.RegistryMaxAge
	if stale != l.stale {
		l.stale = stale
		if stale {
			out = append(out, l.raise(now, RegistryStale, fmt.Sprintf("registry older than %s: lane closed", l.cfg.RegistryMaxAge))...)
		} else {
			out = append(out, l.clear(now, RegistryStale, "registry current")...)
		}
	}
	switch l.state {
	case StateEmergency:
		return out
	case StateClosed:
		if l.open() {
			l.state = StateIdle
			out = append(out, Show{Screen: ScreenPresentCard})
		}
	case StateIdle:
		if !l.open() {
			l.state = StateClosed
			out = append(out, Show{Screen: ScreenClosed})
		}
	case StateAwaitFinger:
		if !l.open() {
			// The lane closed under a traveller: refuse cleanly, never decide on stale data or
			// with a device gone.
			reason := LaneClosed
			if l.stale {
				reason = RegistryStale
			}
			out = append(out, l.refuse(now, reason, "lane closed while waiting for a fingerprint")...)
			out = append(out, CancelSample{})
		}
	}
	return out
}

func (l *Lane) checkTimers(now time.Time) []Output {
	switch l.state {
	case StateAwaitFinger:
		if !now.Before(l.deadline) {
			out := l.refuse(now, BioNoCapture, "no fingerprint within "+l.cfg.FingerTimeout.String())
			return append(out, CancelSample{})
		}
	case StatePassage:
		if !now.Before(l.deadline) {
			var out []Output
			if l.crossings == 0 {
				out = append(out, Record{Event{Type: PassageAbandoned, Time: now, Card: l.traveller.CardNumber,
					UserID: l.traveller.UserID, Detail: "exit door closed with nobody through"}})
			}
			l.endPassage()
			return append(out, Show{Screen: ScreenPresentCard})
		}
	case StateRefused:
		if !now.Before(l.deadline) {
			l.endPassage()
			return []Output{Show{Screen: ScreenPresentCard}, CallOfficer{On: false}}
		}
	case StateEmergency:
		if !now.Before(l.nextPulse) {
			l.nextPulse = now.Add(l.cfg.EmergencyRepeat)
			return l.emergencyPulses()
		}
	}
	return nil
}

// endPassage forgets the traveller and returns the lane to idle (settle closes it if needed).
func (l *Lane) endPassage() {
	l.traveller = Traveller{}
	l.attempts, l.captured, l.crossings, l.bestScore = 0, 0, 0, 0
	l.state = StateIdle
	if !l.open() {
		l.state = StateClosed
	}
}

func (l *Lane) onCard(now time.Time, in CardPresented) []Output {
	switch l.state {
	case StateIdle:
	case StateClosed:
		reason := LaneClosed
		if l.stale {
			reason = RegistryStale
		}
		return []Output{Record{Event{Type: Refused, Time: now, Card: in.Number, Reason: reason,
			Detail: "card presented while the lane is closed"}}, Show{Screen: ScreenClosed}}
	default:
		// One traveller at a time: a card presented during a passage is not acted on.
		return []Output{Show{Screen: ScreenWait}}
	}
	l.cardAt = in.At
	t, err := l.registry.LookupCard(in.Number)
	l.lookupTime = now.Sub(in.At)
	if err != nil {
		l.traveller = Traveller{CardNumber: in.Number}
		if errors.Is(err, ErrUnknownCard) {
			return l.refuse(now, CardUnknown, "")
		}
		return l.refuse(now, RegistryError, err.Error())
	}
	t.CardNumber = in.Number
	l.traveller = t
	if r := Check(t, DateOf(now, l.cfg.Location), l.cfg.Direction); r != "" {
		return l.refuse(now, r, "")
	}
	l.state = StateAwaitFinger
	l.attempts = 1
	l.deadline = now.Add(l.cfg.FingerTimeout)
	l.lookupTime = now.Sub(in.At)
	return []Output{Show{Screen: ScreenPlaceFinger, Attempt: 1, Of: l.cfg.MaxAttempts, Language: t.Language, Finger: l.finger()},
		RequestSample{Attempt: 1}}
}

func (l *Lane) onSample(now time.Time, in SampleCaptured) []Output {
	if l.state != StateAwaitFinger {
		return nil
	}
	score, matched, err := l.verifier.Verify(l.traveller, in.Data)
	if err != nil {
		return l.retryOrRefuse(now, in.At, "sample unusable: "+err.Error())
	}
	l.captured++
	if score > l.bestScore {
		l.bestScore = score
	}
	if !matched {
		return l.retryOrRefuse(now, in.At, "")
	}
	l.state = StatePassage
	l.crossings = 0
	l.doorPulseAt = now
	l.deadline = now.Add(l.cfg.DoorPulse + l.cfg.PassageSettle)
	ev := l.decisionEvent(now, PassageGranted, "")
	ev.Score = score
	ev.Timings.Match = now.Sub(in.At)
	return []Output{Record{ev}, PulseDoor{Door: ExitDoor, Duration: l.cfg.DoorPulse},
		Show{Screen: ScreenProceed, Language: l.traveller.Language}}
}

func (l *Lane) onCaptureFailed(now time.Time, in CaptureFailed) []Output {
	if l.state != StateAwaitFinger {
		return nil
	}
	return l.retryOrRefuse(now, in.At, in.Detail)
}

// retryOrRefuse counts a failed attempt: another attempt if any are left, else a refusal.
func (l *Lane) retryOrRefuse(now, sampleAt time.Time, detail string) []Output {
	if l.attempts >= l.cfg.MaxAttempts {
		reason := BioMismatch
		if l.captured == 0 {
			reason = BioNoCapture
		}
		out := l.refuse(now, reason, detail)
		if rec, ok := out[0].(Record); ok {
			rec.Event.Timings.Match = now.Sub(sampleAt)
			out[0] = rec
		}
		return out
	}
	l.attempts++
	l.deadline = now.Add(l.cfg.FingerTimeout)
	return []Output{Show{Screen: ScreenTryAgain, Attempt: l.attempts, Of: l.cfg.MaxAttempts, Language: l.traveller.Language, Finger: l.finger()},
		RequestSample{Attempt: l.attempts}}
}

// decisionEvent builds the event of a decision about the traveller in the lane.
func (l *Lane) decisionEvent(now time.Time, typ EventType, reason Reason) Event {
	return Event{Type: typ, Time: now, Card: l.traveller.CardNumber, UserID: l.traveller.UserID,
		Reason: reason, Score: l.bestScore, Attempts: l.attempts,
		Timings: Timings{LookupAndPolicy: l.lookupTime}}
}

// refuse refers the traveller to the officer's booth. Cards that may be stolen also raise an alarm.
func (l *Lane) refuse(now time.Time, reason Reason, detail string) []Output {
	ev := l.decisionEvent(now, Refused, reason)
	ev.Detail = detail
	out := []Output{Record{ev}}
	if reason == CardLost || reason == CardSuperseded {
		out = append(out, Record{Event{Type: AlarmRaised, Time: now, Card: l.traveller.CardNumber,
			UserID: l.traveller.UserID, Reason: reason, Detail: "card may be stolen"}}, CallOfficer{On: true})
	}
	l.state = StateRefused
	l.deadline = now.Add(l.cfg.RefusalScreen)
	return append(out, Show{Screen: ScreenSeeOfficer, Reason: reason, Language: l.traveller.Language})
}

func (l *Lane) onBeam(now time.Time, in BeamCrossed) []Output {
	if in.Sensor != ExitBeam {
		return nil
	}
	switch l.state {
	case StatePassage:
		l.crossings++
		if l.crossings == 1 {
			return []Output{Record{Event{Type: PassageCompleted, Time: now, Card: l.traveller.CardNumber,
				UserID: l.traveller.UserID, Attempts: l.attempts}}}
		}
		return []Output{Record{Event{Type: AlarmRaised, Time: now, Reason: Tailgating, Card: l.traveller.CardNumber,
			UserID: l.traveller.UserID, Detail: fmt.Sprintf("%d people crossed the exit beam for one authorised passage", l.crossings)}},
			CallOfficer{On: true}}
	case StateEmergency:
		return nil
	default:
		return []Output{Record{Event{Type: AlarmRaised, Time: now, Reason: WrongWay,
			Detail: "exit beam crossed with no authorised passage"}}, CallOfficer{On: true}}
	}
}

func (l *Lane) onDoorContact(now time.Time, in ExitDoorContact) []Output {
	if in.Closed {
		return l.clear(now, DoorForced, "exit door closed")
	}
	if l.state == StateEmergency {
		return nil
	}
	if l.state == StatePassage && now.Sub(l.doorPulseAt) <= l.cfg.DoorPulse+l.cfg.PassageSettle {
		return nil
	}
	out := l.raise(now, DoorForced, "exit door opened without an authorised pulse")
	if len(out) > 0 {
		out = append(out, CallOfficer{On: true})
	}
	return out
}

func (l *Lane) onDevice(now time.Time, in DeviceStatusChanged) []Output {
	_, wasOffline := l.offline[in.Device]
	if in.Online == !wasOffline {
		return nil
	}
	if in.Online {
		delete(l.offline, in.Device)
		return []Output{Record{Event{Type: DeviceOnline, Time: now, Device: in.Device, Detail: in.Detail}}}
	}
	l.offline[in.Device] = in.Detail
	return []Output{Record{Event{Type: DeviceOffline, Time: now, Device: in.Device, Detail: in.Detail}}}
}

func (l *Lane) onFire(now time.Time, in FireAlarmChanged) []Output {
	if in.Active == l.fire {
		return nil
	}
	l.fire = in.Active
	if in.Active {
		out := l.raise(now, FireAlarm, "fire alarm: every door open")
		if l.state == StateAwaitFinger {
			out = append(out, CancelSample{})
		}
		l.state = StateEmergency
		l.nextPulse = now.Add(l.cfg.EmergencyRepeat)
		out = append(out, Show{Screen: ScreenEmergency})
		return append(out, l.emergencyPulses()...)
	}
	// The alarm input cleared; the lane stays in emergency until a technician resets the mode,
	// unless it was never put there by mode.
	return l.clear(now, FireAlarm, "fire alarm input cleared; the lane stays in emergency until a technician resets it")
}

func (l *Lane) emergencyPulses() []Output {
	d := l.cfg.EmergencyRepeat + l.cfg.EmergencyRepeat/2
	return []Output{PulseDoor{Door: EntryDoor, Duration: d}, PulseDoor{Door: ExitDoor, Duration: d}}
}

func (l *Lane) onMode(now time.Time, in ModeRequested) []Output {
	prev := l.mode
	l.mode, l.modeWhy = in.Mode, in.Reason
	out := []Output{Record{Event{Type: LaneModeChanged, Time: now, Mode: in.Mode, Detail: in.Reason}}}
	switch {
	case in.Mode == EmergencyOpen:
		if l.state == StateAwaitFinger {
			out = append(out, CancelSample{})
		}
		l.state = StateEmergency
		l.nextPulse = now.Add(l.cfg.EmergencyRepeat)
		out = append(out, Show{Screen: ScreenEmergency})
		return append(out, l.emergencyPulses()...)
	case l.state == StateEmergency && !l.fire:
		// A technician resets the emergency (only once the fire alarm input has cleared).
		l.endPassage()
		if l.state == StateIdle {
			out = append(out, Show{Screen: ScreenPresentCard})
		} else {
			out = append(out, Show{Screen: ScreenClosed})
		}
	case l.state == StateEmergency:
		l.mode = prev
		out[0] = Record{Event{Type: LaneModeChanged, Time: now, Mode: prev,
			Detail: "mode change to " + string(in.Mode) + " refused: fire alarm still active"}}
	}
	return out
}

// ManualPulseDuration is how long a technician's manual pulse opens a door.
const ManualPulseDuration = 3 * time.Second

func (l *Lane) onManualPulse(now time.Time, in ManualPulse) []Output {
	ev := Event{Type: DoorPulsedManually, Time: now, Device: string(in.Door), Detail: in.Actor + ": " + in.Reason}
	switch l.state {
	case StateAwaitFinger, StatePassage, StateRefused:
		ev.Type = ManualPulseRefused
		ev.Detail = "a traveller is in the lane; " + ev.Detail
		return []Output{Record{ev}}
	}
	return []Output{Record{ev}, PulseDoor{Door: in.Door, Duration: ManualPulseDuration}}
}

// raise records a standing alarm once; clear records its end once.
func (l *Lane) raise(now time.Time, r Reason, detail string) []Output {
	if l.active[r] {
		return nil
	}
	l.active[r] = true
	return []Output{Record{Event{Type: AlarmRaised, Time: now, Reason: r, Detail: detail}}}
}

func (l *Lane) clear(now time.Time, r Reason, detail string) []Output {
	if !l.active[r] {
		return nil
	}
	delete(l.active, r)
	return []Output{Record{Event{Type: AlarmCleared, Time: now, Reason: r, Detail: detail}}}
}

func (l *Lane) onOutbox(now time.Time, in OutboxFill) []Output {
	switch in.Level {
	case "full":
		out := l.clear(now, OutboxHigh, "outbox now full")
		return append(out, l.raise(now, OutboxFull, in.Detail)...)
	case "high":
		out := l.clear(now, OutboxFull, "outbox below its limit")
		return append(out, l.raise(now, OutboxHigh, in.Detail)...)
	default:
		out := l.clear(now, OutboxFull, "outbox drained")
		return append(out, l.clear(now, OutboxHigh, "outbox drained")...)
	}
}

// finger is the finger the traveller in the lane is asked for: the first enrolled one with a
// known position, 0 when none is known.
func (l *Lane) finger() int {
	for _, f := range l.traveller.Fingers {
		if f >= 1 && f <= 10 {
			return f
		}
	}
	return 0
}
