package gate

import "time"

// EventType is the kind of an event the lane records and sends to HQ.
type EventType string

// Event types. The string values are part of the event schema (docs/events.md).
const (
	PassageGranted   EventType = "passage_granted"
	PassageCompleted EventType = "passage_completed"
	PassageAbandoned EventType = "passage_abandoned"
	Refused          EventType = "refused"
	AlarmRaised      EventType = "alarm"
	AlarmCleared     EventType = "alarm_cleared"
	DeviceOnline     EventType = "device_online"
	DeviceOffline    EventType = "device_offline"
	LaneModeChanged  EventType = "lane_mode"
	// DoorPulsedManually: a technician pulsed a door (audited); Device names the door.
	DoorPulsedManually EventType = "door_pulse_manual"
	// ManualPulseRefused: a technician's pulse was refused (a traveller in the lane).
	ManualPulseRefused EventType = "door_pulse_refused"
)

// Event is one thing that happened at the lane. It never holds biometric data: a match is
// reported by its score and attempt count only.
type Event struct {
	Type     EventType
	Time     time.Time
	Card     string  // card number, where a card is involved
	UserID   string  // registered user, where known
	Reason   Reason  // refusal or alarm code
	Score    float64 // best match score, for fingerprint decisions
	Attempts int     // fingerprint attempts used
	Device   string  // device name, for device events
	Mode     Mode    // lane mode after the change, for lane_mode events
	Detail   string  // a short human-readable explanation; never a template or a secret
	// Timings are software times of this decision, for decision events.
	Timings Timings
}

// Timings are the software times of one decision, capture time excluded.
type Timings struct {
	// LookupAndPolicy is from the card read arriving to the fingerprint request (or refusal).
	LookupAndPolicy time.Duration
	// Match is from the sample arriving to the decision.
	Match time.Duration
}
