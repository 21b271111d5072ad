package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Heartbeat is the payload of a heartbeat event: what the gate reports about itself every few
// seconds (docs/events.md, "Heartbeats"). It goes through the outbox like every event, so HQ sees
// heartbeats exactly once and in the gate's sequence; after an outage the backlog's heartbeats show
// the lane's history and the newest one its present.
type Heartbeat struct {
	// State is the lane state machine's state: closed, idle, await-finger, passage, refused, emergency.
	State string `json:"state"`
	// Mode is the lane mode (Modes).
	Mode string `json:"mode"`
	// ClosedBecause says why the lane refuses travellers; empty when it is open.
	ClosedBecause []string `json:"closed_because,omitempty"`
	// Devices is the health of each configured device.
	Devices []DeviceHealth `json:"devices"`
	// Alarms are the reason codes of the alarms raised and not cleared.
	Alarms []string `json:"alarms,omitempty"`
	// RegistryRevision is the registry revision the gate's store has applied.
	RegistryRevision uint64 `json:"registry_revision"`
	// RegistryAgeS is the age in seconds of the registry copy (now minus HQ's clock as last
	// applied); absent before the gate's first registry clock.
	RegistryAgeS *float64 `json:"registry_age_s,omitempty"`
	// OutboxDepth is the number of events not yet acknowledged by HQ (this one excluded).
	OutboxDepth int `json:"outbox_depth"`
	// OutboxBytes is the outbox's size in bytes.
	OutboxBytes int64 `json:"outbox_bytes,omitempty"`
	// OutboxOldestS is the age in seconds of the oldest unacknowledged event.
	OutboxOldestS float64 `json:"outbox_oldest_s,omitempty"`
	// OutboxAlarm is the outbox's fill level: OutboxOK, OutboxHigh or OutboxFull.
	OutboxAlarm string `json:"outbox_alarm"`
	// HQLink is whether the gate was connected to NATS when it recorded the heartbeat.
	HQLink bool `json:"hq_link,omitempty"`
	// UptimeS is the daemon's uptime in seconds.
	UptimeS float64 `json:"uptime_s,omitempty"`
	// Version is the gate software's version.
	Version string `json:"version,omitempty"`
}

// Outbox fill levels (Heartbeat.OutboxAlarm; outbox.Level's String).
const (
	OutboxOK   = "ok"
	OutboxHigh = "high" // past the alarm threshold: act before it fills
	OutboxFull = "full" // at or past the limit: events are still kept, the disk is at risk
)

// DeviceHealth is one device's health in a heartbeat.
type DeviceHealth struct {
	Name   string `json:"name"`             // card-reader, bio-reader, door-board
	Online bool   `json:"online"`           // answering its polls
	Detail string `json:"detail,omitempty"` // why it is offline, firmware, ...
}

// UnmarshalJSON requires name and online (the schema does) and rejects unknown fields.
func (d *DeviceHealth) UnmarshalJSON(data []byte) error {
	var raw struct {
		Name   *string `json:"name"`
		Online *bool   `json:"online"`
		Detail string  `json:"detail"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("heartbeat.devices: %w", err)
	}
	if raw.Name == nil || raw.Online == nil {
		return errors.New("heartbeat.devices: name and online are required")
	}
	d.Name, d.Online, d.Detail = *raw.Name, *raw.Online, raw.Detail
	return nil
}

// RegistrySync is the payload of a registry_sync event: the gate's registry copy changed state.
type RegistrySync struct {
	// Status is one of RegistryStatuses.
	Status string `json:"status"`
	// Revision is the registry revision applied.
	Revision uint64 `json:"revision"`
	// Records is how many records were applied since the previous registry_sync event.
	Records int `json:"records,omitempty"`
	// HQTime is HQ's registry clock as last applied.
	HQTime *time.Time `json:"hq_time,omitempty"`
	// AgeS is the age of the copy in seconds (the gate's now minus HQTime).
	AgeS *float64 `json:"age_s,omitempty"`
}

// RegistryStatuses are the values of RegistrySync.Status: in step with HQ after a catch-up,
// records applied, bootstrapped from a snapshot, stale (older than the lane's limit), or an
// error (the detail field says which).
var RegistryStatuses = []string{"in_step", "applied", "bootstrapped", "stale", "error"}

// States are the lane states a heartbeat may report.
var States = []string{"closed", "idle", "await-finger", "passage", "refused", "emergency"}

func (h *Heartbeat) problems() []string {
	var p []string
	bad := func(format string, a ...any) { p = append(p, "heartbeat."+fmt.Sprintf(format, a...)) }
	if !slices.Contains(States, h.State) {
		bad("state %q: expected one of %v", h.State, States)
	}
	if !slices.Contains(Modes, h.Mode) {
		bad("mode %q: expected one of %v", h.Mode, Modes)
	}
	if len(h.ClosedBecause) > 16 {
		bad("closed_because: at most 16 entries")
	}
	for _, c := range h.ClosedBecause {
		if chars(c) > 256 {
			bad("closed_because: entries of at most 256 characters")
		}
	}
	if h.Devices == nil || len(h.Devices) > 16 {
		bad("devices: required, at most 16")
	}
	for _, d := range h.Devices {
		if !tokenPattern.MatchString(d.Name) || chars(d.Detail) > 256 {
			bad("devices: name of 1 to 32 letters, digits, - or _, detail of at most 256 characters")
		}
	}
	if len(h.Alarms) > 32 {
		bad("alarms: at most 32")
	}
	for _, a := range h.Alarms {
		if !reasonPattern.MatchString(a) {
			bad("alarms: %q is not a reason code", a)
		}
	}
	if h.RegistryRevision > MaxSafeInteger {
		bad("registry_revision: at most 2^53-1")
	}
	if h.RegistryAgeS != nil && !finite(*h.RegistryAgeS) {
		bad("registry_age_s: expected a finite number")
	}
	if h.OutboxDepth < 0 || h.OutboxBytes < 0 || h.OutboxBytes > MaxSafeInteger || !nonNeg(h.OutboxOldestS) || !nonNeg(h.UptimeS) {
		bad("outbox_depth, outbox_bytes, outbox_oldest_s, uptime_s: expected >= 0")
	}
	if !slices.Contains([]string{OutboxOK, OutboxHigh, OutboxFull}, h.OutboxAlarm) {
		bad("outbox_alarm %q: expected ok, high or full", h.OutboxAlarm)
	}
	if chars(h.Version) > 64 {
		bad("version: at most 64 characters")
	}
	return p
}

func (r *RegistrySync) problems() []string {
	var p []string
	if !slices.Contains(RegistryStatuses, r.Status) {
		p = append(p, fmt.Sprintf("registry.status %q: expected one of %v", r.Status, RegistryStatuses))
	}
	if r.Revision > MaxSafeInteger || r.Records < 0 {
		p = append(p, "registry.revision and records: expected 0 to 2^53-1")
	}
	if r.HQTime != nil {
		if _, off := r.HQTime.Zone(); r.HQTime.Year() < 1970 || r.HQTime.Year() > 9999 || off != 0 {
			p = append(p, "registry.hq_time: expected UTC (RFC 3339 ending in Z), years 1970 to 9999")
		}
	}
	if r.AgeS != nil && !finite(*r.AgeS) {
		p = append(p, "registry.age_s: expected a finite number")
	}
	return p
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// NewHeartbeat returns a heartbeat event observed at time at, without its id, sequence number and
// gate identity: the daemon stamps those (Stamp) in the lane goroutine, like every event, and
// commits it to the outbox.
func NewHeartbeat(at time.Time, hb Heartbeat) Event {
	if hb.OutboxAlarm == "" {
		hb.OutboxAlarm = OutboxOK
	}
	if hb.Devices == nil {
		hb.Devices = []DeviceHealth{}
	}
	return Event{Schema: SchemaVersion, Type: TypeHeartbeat, Time: at.UTC(), Heartbeat: &hb}
}

// NewRegistrySync returns a registry_sync event observed at time at (to be stamped like
// NewHeartbeat's). detail is optional.
func NewRegistrySync(at time.Time, rs RegistrySync, detail string) Event {
	if rs.HQTime != nil {
		t := rs.HQTime.UTC()
		rs.HQTime = &t
	}
	return Event{Schema: SchemaVersion, Type: TypeRegistrySync, Time: at.UTC(), Registry: &rs, Detail: detail}
}

// Stamp gives e its identity: a new UUIDv7 from ids (made from e.Time), the sequence number seq,
// and the gate's airport, gate id and direction. The caller owns the sequence (the lane goroutine
// increments it once per event and rolls it back if the commit fails).
func Stamp(e *Event, ids *UUIDGenerator, seq uint64, airport, gate, direction string) {
	e.Schema = SchemaVersion
	e.ID = ids.New(e.Time).String()
	e.Seq = seq
	e.Airport, e.Gate, e.Direction = airport, gate, direction
	e.Time = e.Time.UTC()
}
