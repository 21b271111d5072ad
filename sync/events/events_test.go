package events

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestUUIDv7OrderAndFormat(t *testing.T) {
	var g UUIDGenerator
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	prev := ""
	for i := 0; i < 10000; i++ {
		at := now.Add(time.Duration(i/100) * time.Millisecond) // 100 ids per millisecond
		s := g.New(at).String()
		u, err := ParseUUID(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := u.Time(); got.UnixMilli() < at.UnixMilli() {
			t.Fatalf("timestamp %v earlier than %v", got, at)
		}
		if s <= prev {
			t.Fatalf("ids must sort in creation order: %s after %s", s, prev)
		}
		prev = s
	}
	if _, err := ParseUUID("123e4567-e89b-42d3-a456-426614174000"); err == nil {
		t.Fatal("a version 4 UUID must be rejected")
	}
}

func validEvent() *Event {
	var g UUIDGenerator
	s := 0.42
	return &Event{Schema: 1, ID: g.New(time.Now()).String(), Seq: 7, Gate: "G01", Airport: "HND",
		Direction: "entry", Type: "passage_granted", Time: time.Now().UTC(), Card: "1000000001",
		UserID: "U1", Score: &s, Attempts: 1, Timings: &Timings{LookupMS: 0.1, MatchMS: 2}}
}

func TestRoundTripAndSubject(t *testing.T) {
	e := validEvent()
	data, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != e.ID || back.Seq != 7 || *back.Score != 0.42 || back.Subject() != "ttp.evt.HND.G01.passage_granted" {
		t.Fatalf("round trip: %+v", back)
	}
}

func TestRejectsBadEvents(t *testing.T) {
	cases := map[string]func(*Event){
		"schema":    func(e *Event) { e.Schema = 2 },
		"id":        func(e *Event) { e.ID = "nope" },
		"seq":       func(e *Event) { e.Seq = 0 },
		"direction": func(e *Event) { e.Direction = "up" },
		"type":      func(e *Event) { e.Type = "party" },
		"reason":    func(e *Event) { e.Type = "refused" },
		"gate":      func(e *Event) { e.Gate = "a.b" },
	}
	for field, edit := range cases {
		e := validEvent()
		edit(e)
		if _, err := e.Marshal(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: want an error naming it, got %v", field, err)
		}
	}
	data, _ := json.Marshal(map[string]any{"schema": 1, "template": "AAAA"})
	if _, err := Parse(data); err == nil {
		t.Error("an unknown field (here a template) must be rejected")
	}
}

func FuzzParse(f *testing.F) {
	good, _ := validEvent().Marshal()
	f.Add(good)
	f.Add([]byte(`{"schema":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse(data)
		if err != nil {
			return
		}
		if _, err := e.Marshal(); err != nil {
			t.Fatalf("a parsed event must re-encode: %v", err)
		}
	})
}
