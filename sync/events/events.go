// Package events is the wire format of the events a gate sends to HQ (schema v1, docs/events.md)
// and the UUIDv7 event ids. It holds no biometric data by construction: there is no field for it.
package events

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// SchemaVersion is the version of the event schema this package writes.
const SchemaVersion = 1

// Event is one event as HQ receives it (JSON, schema v1).
type Event struct {
	Schema    int       `json:"schema"`
	ID        string    `json:"id"`  // UUIDv7
	Seq       uint64    `json:"seq"` // the gate's own sequence number, from 1, without gaps
	Gate      string    `json:"gate"`
	Airport   string    `json:"airport"`
	Direction string    `json:"direction"` // entry or departure
	Type      string    `json:"type"`
	Time      time.Time `json:"time"`
	Card      string    `json:"card,omitempty"`
	UserID    string    `json:"user_id,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Score     *float64  `json:"score,omitempty"`
	Attempts  int       `json:"attempts,omitempty"`
	Device    string    `json:"device,omitempty"`
	Mode      string    `json:"mode,omitempty"`
	Detail    string    `json:"detail,omitempty"`
	Timings   *Timings  `json:"timings,omitempty"`
	// Heartbeat is set on, and only required for, type heartbeat.
	Heartbeat *Heartbeat `json:"heartbeat,omitempty"`
	// Registry is set on, and only required for, type registry_sync.
	Registry *RegistrySync `json:"registry,omitempty"`
}

// Timings are the software times of a decision in milliseconds, capture time excluded.
type Timings struct {
	LookupMS float64 `json:"lookup_ms"`
	MatchMS  float64 `json:"match_ms"`
}

// UnmarshalJSON requires both fields (the schema does).
func (t *Timings) UnmarshalJSON(data []byte) error {
	var raw struct {
		LookupMS *float64 `json:"lookup_ms"`
		MatchMS  *float64 `json:"match_ms"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("timings: %w", err)
	}
	if raw.LookupMS == nil || raw.MatchMS == nil {
		return errors.New("timings: lookup_ms and match_ms are required")
	}
	t.LookupMS, t.MatchMS = *raw.LookupMS, *raw.MatchMS
	return nil
}

// Types lists the event types of schema v1.
var Types = []string{"passage_granted", "passage_completed", "passage_abandoned", "refused", "alarm",
	"alarm_cleared", "device_online", "device_offline", "lane_mode", "door_pulse_manual", "door_pulse_refused", "registry_sync", "heartbeat"}

// Event types with a payload of their own.
const (
	TypeHeartbeat    = "heartbeat"
	TypeRegistrySync = "registry_sync"
)

// Modes lists the lane modes of schema v1 (field mode, and heartbeat.mode).
var Modes = []string{"in-service", "maintenance", "out-of-service", "emergency-open"}

// MaxSafeInteger is the largest integer the schema allows (2^53-1): every JSON reader keeps it exact.
const MaxSafeInteger = 1<<53 - 1

// MaxDetail is the longest detail text, in characters.
const MaxDetail = 4096

var (
	tokenPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	reasonPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{1,63}$`)
)

// Subject returns the NATS subject of an event: ttp.evt.<airport>.<gate>.<type>.
func Subject(airport, gate, typ string) string {
	return "ttp.evt." + airport + "." + gate + "." + typ
}

// Subject returns the event's NATS subject.
func (e *Event) Subject() string { return Subject(e.Airport, e.Gate, e.Type) }

// Marshal validates and encodes the event.
func (e *Event) Marshal() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(e)
}

// Parse decodes and validates an event; unknown fields are rejected.
//
// Parse is exactly as strict as docs/events.schema.json: besides the schema's rules it rejects a
// JSON null anywhere (the schema allows none) and trailing data after the object.
func Parse(data []byte) (*Event, error) {
	if err := noNulls(data); err != nil {
		return nil, fmt.Errorf("event: not a schema v%d event: %w", SchemaVersion, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var e Event
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("event: not a schema v%d event: %w", SchemaVersion, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("event: not a schema v%d event: data after the JSON object", SchemaVersion)
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return &e, nil
}

// Validate checks the event against schema v1 (docs/events.schema.json; a test keeps the two in
// agreement). It names every field that is wrong.
func (e *Event) Validate() error {
	var probs []string
	bad := func(format string, a ...any) { probs = append(probs, fmt.Sprintf(format, a...)) }
	if e.Schema != SchemaVersion {
		bad("schema is %d, expected %d", e.Schema, SchemaVersion)
	}
	if _, err := ParseUUID(e.ID); err != nil {
		bad("id: %v", err)
	}
	if e.Seq == 0 || e.Seq > MaxSafeInteger {
		bad("seq %d: expected a sequence number from 1 to 2^53-1", e.Seq)
	}
	if !tokenPattern.MatchString(e.Gate) || !tokenPattern.MatchString(e.Airport) {
		bad("gate and airport: expected 1 to 32 letters, digits, - or _")
	}
	if e.Direction != "entry" && e.Direction != "departure" {
		bad("direction %q: expected entry or departure", e.Direction)
	}
	if !slices.Contains(Types, e.Type) {
		bad("type %q: expected one of %s", e.Type, strings.Join(Types, ", "))
	}
	if _, off := e.Time.Zone(); e.Time.Year() < 1970 || e.Time.Year() > 9999 || off != 0 {
		bad("time: required, UTC (RFC 3339 ending in Z), years 1970 to 9999")
	}
	if chars(e.Card) > 64 || chars(e.UserID) > 64 || chars(e.Device) > 64 {
		bad("card, user_id and device: at most 64 characters")
	}
	if chars(e.Detail) > MaxDetail {
		bad("detail: at most %d characters, got %d", MaxDetail, chars(e.Detail))
	}
	if e.Reason != "" && !reasonPattern.MatchString(e.Reason) {
		bad("reason %q: expected an upper-case code such as CARD_UNKNOWN", e.Reason)
	}
	if (e.Type == "refused" || e.Type == "alarm" || e.Type == "alarm_cleared") && e.Reason == "" {
		bad("reason: required for %s", e.Type)
	}
	if e.Score != nil && (math.IsNaN(*e.Score) || math.IsInf(*e.Score, 0)) {
		bad("score: expected a finite number")
	}
	if e.Attempts < 0 || e.Attempts > 100 {
		bad("attempts %d: expected 0 to 100", e.Attempts)
	}
	if (e.Type == "device_online" || e.Type == "device_offline") && e.Device == "" {
		bad("device: required for %s", e.Type)
	}
	if e.Mode != "" && !slices.Contains(Modes, e.Mode) {
		bad("mode %q: expected one of %s", e.Mode, strings.Join(Modes, ", "))
	}
	if e.Type == "lane_mode" && e.Mode == "" {
		bad("mode: required for lane_mode")
	}
	if t := e.Timings; t != nil && !(nonNeg(t.LookupMS) && nonNeg(t.MatchMS)) {
		bad("timings: lookup_ms and match_ms must be finite and >= 0")
	}
	switch {
	case e.Type == TypeHeartbeat && e.Heartbeat == nil:
		bad("heartbeat: required for type heartbeat")
	case e.Heartbeat != nil:
		probs = append(probs, e.Heartbeat.problems()...)
	}
	switch {
	case e.Type == TypeRegistrySync && e.Registry == nil:
		bad("registry: required for type registry_sync")
	case e.Registry != nil:
		probs = append(probs, e.Registry.problems()...)
	}
	if len(probs) > 0 {
		return errors.New("event: " + strings.Join(probs, "; "))
	}
	return nil
}

// chars counts characters as JSON Schema's maxLength does (code points).
func chars(s string) int { return utf8.RuneCountInString(s) }

func nonNeg(f float64) bool { return f >= 0 && !math.IsInf(f, 0) }

// UUID is a 16-byte RFC 9562 UUID.
type UUID [16]byte

// String formats u in the canonical 8-4-4-4-12 form.
func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// Time returns the millisecond timestamp of a version 7 UUID.
func (u UUID) Time() time.Time {
	ms := int64(binary.BigEndian.Uint64(append([]byte{0, 0}, u[0:6]...)))
	return time.UnixMilli(ms)
}

// ParseUUID parses the canonical form and requires version 7.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("%q is not a UUID (expected 8-4-4-4-12 hex digits)", s)
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, fmt.Errorf("%q is not a UUID: %v", s, err)
	}
	if u[6]>>4 != 7 || u[8]>>6 != 2 {
		return u, fmt.Errorf("%q is not a version 7 UUID", s)
	}
	return u, nil
}

// UUIDGenerator makes version 7 UUIDs that sort in the order they were made, even within one
// millisecond (RFC 9562 §6.2 method 1: a 12-bit counter in rand_a, reseeded each millisecond).
type UUIDGenerator struct {
	mu      sync.Mutex
	lastMS  int64
	counter uint16
}

// New returns a UUIDv7 for time now.
func (g *UUIDGenerator) New(now time.Time) UUID {
	var u UUID
	if _, err := rand.Read(u[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on Linux
	}
	g.mu.Lock()
	ms := now.UnixMilli()
	if ms <= g.lastMS {
		ms = g.lastMS
		g.counter++
		if g.counter > 0x0FFF { // counter overflow: borrow the next millisecond
			ms++
			g.counter = 0
		}
	} else {
		g.counter = uint16(u[6]&0x03)<<8 | uint16(u[7]) // start low in the range to leave room
	}
	g.lastMS = ms
	c := g.counter
	g.mu.Unlock()
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(ms))
	copy(u[0:6], ts[2:8])
	u[6] = 0x70 | byte(c>>8)&0x0F
	u[7] = byte(c)
	u[8] = u[8]&0x3F | 0x80
	return u
}

// noNulls reports a JSON null anywhere in data (a syntax error is left to the decoder).
func noNulls(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		if tok == nil {
			return errors.New("null is not allowed (leave the field out instead)")
		}
	}
}

// Line formats the event as one human-readable line (for tails and the demo).
func (e *Event) Line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s/%s #%d %-17s", e.Time.UTC().Format("15:04:05.000"), e.Airport, e.Gate, e.Seq, e.Type)
	if e.Reason != "" {
		fmt.Fprintf(&b, " %s", e.Reason)
	}
	if e.Card != "" {
		fmt.Fprintf(&b, " card=%s", e.Card)
	}
	if e.UserID != "" {
		fmt.Fprintf(&b, " user=%s", e.UserID)
	}
	if e.Score != nil {
		fmt.Fprintf(&b, " score=%.3f", *e.Score)
	}
	if e.Attempts > 0 {
		fmt.Fprintf(&b, " attempts=%d", e.Attempts)
	}
	if e.Device != "" {
		fmt.Fprintf(&b, " device=%s", e.Device)
	}
	if e.Mode != "" {
		fmt.Fprintf(&b, " mode=%s", e.Mode)
	}
	if h := e.Heartbeat; h != nil {
		fmt.Fprintf(&b, " %s/%s outbox=%d reg=%d", h.Mode, h.State, h.OutboxDepth, h.RegistryRevision)
		if h.OutboxAlarm != OutboxOK {
			fmt.Fprintf(&b, " outbox_alarm=%s", h.OutboxAlarm)
		}
		for _, d := range h.Devices {
			if !d.Online {
				fmt.Fprintf(&b, " %s=offline", d.Name)
			}
		}
		if len(h.Alarms) > 0 {
			fmt.Fprintf(&b, " alarms=%s", strings.Join(h.Alarms, ","))
		}
	}
	if r := e.Registry; r != nil {
		fmt.Fprintf(&b, " %s rev=%d", r.Status, r.Revision)
		if r.Records > 0 {
			fmt.Fprintf(&b, " records=%d", r.Records)
		}
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, " (%s)", e.Detail)
	}
	return b.String()
}
