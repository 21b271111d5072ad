package events

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// schemaPath is the JSON Schema of events v1, the documented contract with HQ's consumers.
const schemaPath = "../../docs/events.schema.json"

// loadSchema reads docs/events.schema.json; a test that needs it fails naming the path.
func loadSchema(t testing.TB) map[string]any {
	t.Helper()
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatalf("the event schema %s is required: %v", schemaPath, err)
	}
	s, err := decodeNumbers(data)
	if err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	m, ok := s.(map[string]any)
	if !ok {
		t.Fatalf("%s: not an object", schemaPath)
	}
	return m
}

func decodeNumbers(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// schemaValidate checks instance against schema with the subset of JSON Schema 2020-12 that
// docs/events.schema.json uses. A keyword it does not know is an error, so the schema cannot
// silently say more than this validator checks. "integer" is a JSON number written without a
// fraction or exponent (what Go's integer fields accept).
func schemaValidate(schema, instance any, path string) []string {
	s, ok := schema.(map[string]any)
	if !ok {
		return []string{path + ": schema is not an object"}
	}
	var errs []string
	fail := func(format string, a ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, a...)) }
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := s[k]
		switch k {
		case "$schema", "$id", "title", "description", "$comment", "format", "then":
			// annotations; "then" is applied with "if"; "format" is an annotation in 2020-12
			// (the pattern next to it carries the rule).
		case "type":
			if !hasType(v.(string), instance) {
				fail("expected %s", v)
			}
		case "const":
			if !jsonEqual(v, instance) {
				fail("expected %v", v)
			}
		case "enum":
			found := false
			for _, e := range v.([]any) {
				found = found || jsonEqual(e, instance)
			}
			if !found {
				fail("%v not one of %v", instance, v)
			}
		case "pattern":
			if str, ok := instance.(string); ok && !regexp.MustCompile(v.(string)).MatchString(str) {
				fail("%q does not match %s", str, v)
			}
		case "minLength", "maxLength":
			if str, ok := instance.(string); ok {
				n, _ := v.(json.Number).Int64()
				c := int64(utf8.RuneCountInString(str))
				if (k == "minLength" && c < n) || (k == "maxLength" && c > n) {
					fail("length %d, %s %d", c, k, n)
				}
			}
		case "minimum", "maximum":
			if num, ok := instance.(json.Number); ok {
				if bad := compare(num, v.(json.Number)); (k == "minimum" && bad < 0) || (k == "maximum" && bad > 0) {
					fail("%s beyond %s %s", num, k, v)
				}
			}
		case "required":
			if obj, ok := instance.(map[string]any); ok {
				for _, r := range v.([]any) {
					if _, ok := obj[r.(string)]; !ok {
						fail("%s is required", r)
					}
				}
			}
		case "properties":
			if obj, ok := instance.(map[string]any); ok {
				props := v.(map[string]any)
				for name, sub := range props {
					if val, ok := obj[name]; ok {
						errs = append(errs, schemaValidate(sub, val, path+"."+name)...)
					}
				}
			}
		case "additionalProperties":
			if v != false {
				fail("schema: only additionalProperties false is supported")
			}
			if obj, ok := instance.(map[string]any); ok {
				props, _ := s["properties"].(map[string]any)
				for name := range obj {
					if _, ok := props[name]; !ok {
						fail("unknown property %q", name)
					}
				}
			}
		case "items":
			if arr, ok := instance.([]any); ok {
				for i, it := range arr {
					errs = append(errs, schemaValidate(v, it, fmt.Sprintf("%s[%d]", path, i))...)
				}
			}
		case "maxItems":
			if arr, ok := instance.([]any); ok {
				if n, _ := v.(json.Number).Int64(); int64(len(arr)) > n {
					fail("%d items, at most %d", len(arr), n)
				}
			}
		case "allOf":
			for _, sub := range v.([]any) {
				errs = append(errs, schemaValidate(sub, instance, path)...)
			}
		case "if":
			if len(schemaValidate(v, instance, path)) == 0 {
				if then, ok := s["then"]; ok {
					errs = append(errs, schemaValidate(then, instance, path)...)
				}
			}
		default:
			fail("schema keyword %q is not supported by this validator", k)
		}
	}
	return errs
}

func hasType(typ string, v any) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(json.Number)
		return ok
	case "integer":
		n, ok := v.(json.Number)
		return ok && !strings.ContainsAny(string(n), ".eE")
	}
	panic("unknown type " + typ)
}

// compare compares two JSON numbers exactly for integers, by float64 otherwise.
func compare(a, b json.Number) int {
	ai, errA := strconv.ParseInt(string(a), 10, 64)
	bi, errB := strconv.ParseInt(string(b), 10, 64)
	if errA == nil && errB == nil {
		return cmp.Compare(ai, bi)
	}
	af, _ := a.Float64()
	bf, _ := b.Float64()
	return cmp.Compare(af, bf)
}

func jsonEqual(a, b any) bool {
	if an, ok := a.(json.Number); ok {
		bn, ok := b.(json.Number)
		return ok && compare(an, bn) == 0 && hasType("integer", an) == hasType("integer", bn)
	}
	return reflect.DeepEqual(a, b)
}

// corpus returns named event documents and whether each is a valid v1 event.
func corpus(t *testing.T) (docs map[string][]byte, valid map[string]bool) {
	docs, valid = map[string][]byte{}, map[string]bool{}
	var g UUIDGenerator
	now := time.Date(2026, 11, 26, 3, 12, 9, 481922000, time.UTC)
	good := func(name string, e Event) {
		data, err := e.Marshal()
		if err != nil {
			t.Fatalf("corpus %s: %v", name, err)
		}
		docs[name], valid[name] = data, true
	}
	base := func(typ string) Event {
		return Event{Schema: 1, ID: g.New(now).String(), Seq: 6, Gate: "G01", Airport: "HND", Direction: "entry", Type: typ, Time: now}
	}
	score := 0.132
	e := base("refused")
	e.Card, e.UserID, e.Reason, e.Score, e.Attempts, e.Timings = "1000000002", "U0002", "BIO_MISMATCH", &score, 3, &Timings{LookupMS: 0.41, MatchMS: 2.9}
	good("refused", e)
	e = base("passage_granted")
	e.Card, e.UserID, e.Score, e.Attempts, e.Timings = "1000000001", "U0001", &score, 1, &Timings{}
	good("granted", e)
	good("completed", base("passage_completed"))
	e = base("alarm")
	e.Reason, e.Detail = "TAILGATING", "2 through for 1 opening"
	good("alarm", e)
	e = base("alarm_cleared")
	e.Reason = "REGISTRY_STALE"
	good("alarm_cleared", e)
	e = base("device_offline")
	e.Device, e.Detail = "bio-reader", "no reply for 8s"
	good("device_offline", e)
	e = base("lane_mode")
	e.Mode, e.Detail = "maintenance", "gatectl:tech"
	good("lane_mode", e)
	e = base("passage_abandoned")
	e.Direction, e.Detail = "departure", strings.Repeat("é", MaxDetail) // characters, not bytes
	good("departure_long_detail", e)
	age := 3.5
	hb := NewHeartbeat(now, Heartbeat{State: "idle", Mode: "in-service",
		Devices: []DeviceHealth{{Name: "card-reader", Online: true}, {Name: "bio-reader", Online: false, Detail: "no reply"}},
		Alarms:  []string{"DOOR_FORCED"}, RegistryRevision: 1234, RegistryAgeS: &age, OutboxDepth: 17, OutboxBytes: 8000,
		OutboxOldestS: 2.5, OutboxAlarm: OutboxHigh, HQLink: true, UptimeS: 100, Version: "0.1.0", ClosedBecause: []string{"bio-reader offline"}})
	Stamp(&hb, &g, 7, "HND", "G01", "entry")
	good("heartbeat", hb)
	good("heartbeat_minimal", func() Event {
		e := NewHeartbeat(now, Heartbeat{State: "closed", Mode: "out-of-service"})
		Stamp(&e, &g, 8, "NRT", "G-2", "departure")
		return e
	}())
	hq := now.Add(-time.Second)
	rs := NewRegistrySync(now, RegistrySync{Status: "applied", Revision: 99, Records: 3, HQTime: &hq, AgeS: &age}, "3 records")
	Stamp(&rs, &g, 9, "HND", "G01", "entry")
	good("registry_sync", rs)

	// Bad documents: edits of a good one, as raw JSON so the bad values reach both checkers.
	edit := func(name, from string, change func(m map[string]any)) {
		v, err := decodeNumbers(docs[from])
		if err != nil {
			t.Fatal(err)
		}
		change(v.(map[string]any))
		data, _ := json.Marshal(v)
		docs["bad_"+name], valid["bad_"+name] = data, false
	}
	set := func(k string, val any) func(m map[string]any) { return func(m map[string]any) { m[k] = val } }
	del := func(k string) func(m map[string]any) { return func(m map[string]any) { delete(m, k) } }
	edit("schema2", "refused", set("schema", 2))
	edit("no_id", "refused", del("id"))
	edit("uuid_v4", "refused", set("id", "123e4567-e89b-42d3-a456-426614174000"))
	edit("seq0", "refused", set("seq", 0))
	edit("seq_negative", "refused", set("seq", -1))
	edit("seq_fraction", "refused", set("seq", 1.5))
	edit("seq_too_big", "refused", set("seq", json.Number("9007199254740992")))
	edit("seq_string", "refused", set("seq", "6"))
	edit("gate_dot", "refused", set("gate", "G.01"))
	edit("gate_long", "refused", set("gate", strings.Repeat("G", 33)))
	edit("airport_empty", "refused", set("airport", ""))
	edit("direction", "refused", set("direction", "up"))
	edit("type", "refused", set("type", "party"))
	edit("time_offset", "refused", set("time", "2026-11-26T12:12:09+09:00"))
	edit("time_text", "refused", set("time", "yesterday"))
	edit("time_1969", "refused", set("time", "1969-12-31T23:59:59Z"))
	edit("no_time", "refused", del("time"))
	edit("refused_no_reason", "refused", del("reason"))
	edit("refused_empty_reason", "refused", set("reason", ""))
	edit("reason_lower", "alarm", set("reason", "tailgating"))
	edit("template", "refused", set("template", "Rk1SACAyMAA="))
	edit("minutiae", "granted", set("minutiae", []any{1, 2}))
	edit("null_card", "refused", set("card", nil))
	edit("null_score", "refused", set("score", nil))
	edit("score_string", "refused", set("score", "0.1"))
	edit("attempts_negative", "refused", set("attempts", -1))
	edit("attempts_101", "refused", set("attempts", 101))
	edit("card_long", "refused", set("card", strings.Repeat("1", 65)))
	edit("detail_long", "alarm", set("detail", strings.Repeat("x", MaxDetail+1)))
	edit("timings_extra", "refused", set("timings", map[string]any{"lookup_ms": 1, "match_ms": 1, "image": "x"}))
	edit("timings_negative", "refused", set("timings", map[string]any{"lookup_ms": -1, "match_ms": 1}))
	edit("timings_missing", "refused", set("timings", map[string]any{"lookup_ms": 1}))
	edit("device_no_device", "device_offline", del("device"))
	edit("lane_mode_no_mode", "lane_mode", del("mode"))
	edit("mode_bad", "lane_mode", set("mode", "party"))
	edit("heartbeat_missing", "heartbeat", del("heartbeat"))
	edit("registry_missing", "registry_sync", del("registry"))
	hbEdit := func(name string, change func(h map[string]any)) {
		edit(name, "heartbeat", func(m map[string]any) { change(m["heartbeat"].(map[string]any)) })
	}
	hbEdit("hb_state", func(h map[string]any) { h["state"] = "dancing" })
	hbEdit("hb_no_devices", func(h map[string]any) { delete(h, "devices") })
	hbEdit("hb_device_extra", func(h map[string]any) { h["devices"] = []any{map[string]any{"name": "x", "online": true, "fw": "1"}} })
	hbEdit("hb_device_no_online", func(h map[string]any) { h["devices"] = []any{map[string]any{"name": "x"}} })
	hbEdit("hb_depth_negative", func(h map[string]any) { h["outbox_depth"] = -1 })
	hbEdit("hb_alarm_level", func(h map[string]any) { h["outbox_alarm"] = "meh" })
	hbEdit("hb_no_alarm_level", func(h map[string]any) { delete(h, "outbox_alarm") })
	hbEdit("hb_alarms_lower", func(h map[string]any) { h["alarms"] = []any{"door"} })
	hbEdit("hb_extra", func(h map[string]any) { h["cpu"] = 3 })
	hbEdit("hb_null_devices", func(h map[string]any) { h["devices"] = nil })
	edit("rs_status", "registry_sync", func(m map[string]any) { m["registry"].(map[string]any)["status"] = "fine" })
	edit("rs_hq_time", "registry_sync", func(m map[string]any) { m["registry"].(map[string]any)["hq_time"] = "2026-01-01T00:00:00+01:00" })
	docs["bad_not_object"], valid["bad_not_object"] = []byte(`[1,2]`), false
	docs["bad_empty_object"], valid["bad_empty_object"] = []byte(`{}`), false
	return docs, valid
}

// TestSchemaAndValidateAgree: docs/events.schema.json and Parse (Validate) accept and reject the
// same documents, and each does so for the documents the corpus says.
func TestSchemaAndValidateAgree(t *testing.T) {
	schema := loadSchema(t)
	docs, valid := corpus(t)
	names := make([]string, 0, len(docs))
	for n := range docs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		inst, err := decodeNumbers(docs[name])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		schemaErrs := schemaValidate(schema, inst, "$")
		_, parseErr := Parse(docs[name])
		if (len(schemaErrs) == 0) != valid[name] {
			t.Errorf("%s: schema says valid=%v (%v), want %v\n%s", name, len(schemaErrs) == 0, schemaErrs, valid[name], docs[name])
		}
		if (parseErr == nil) != valid[name] {
			t.Errorf("%s: Parse says valid=%v (%v), want %v\n%s", name, parseErr == nil, parseErr, valid[name], docs[name])
		}
	}
	if len(docs) < 60 {
		t.Fatalf("corpus too small: %d", len(docs))
	}
}

// TestSchemaCoversTheStruct: every JSON field of Event, Heartbeat, DeviceHealth, RegistrySync and
// Timings is in the schema and the other way round, and the schema's enums are the Go lists.
func TestSchemaCoversTheStruct(t *testing.T) {
	schema := loadSchema(t)
	props := func(m map[string]any) []string {
		var out []string
		for k := range m["properties"].(map[string]any) {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	fields := func(v any) []string {
		var out []string
		rt := reflect.TypeOf(v)
		for i := 0; i < rt.NumField(); i++ {
			out = append(out, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
		}
		sort.Strings(out)
		return out
	}
	sub := func(m map[string]any, path ...string) map[string]any {
		for _, p := range path {
			m = m["properties"].(map[string]any)[p].(map[string]any)
		}
		return m
	}
	check := func(what string, got, want []string) {
		if !slices.Equal(got, want) {
			t.Errorf("%s: schema has %v, Go has %v", what, got, want)
		}
	}
	check("event", props(schema), fields(Event{}))
	check("timings", props(sub(schema, "timings")), fields(Timings{}))
	check("heartbeat", props(sub(schema, "heartbeat")), fields(Heartbeat{}))
	check("registry", props(sub(schema, "registry")), fields(RegistrySync{}))
	check("devices", props(sub(schema, "heartbeat", "devices")["items"].(map[string]any)), fields(DeviceHealth{}))
	enum := func(m map[string]any) []string {
		var out []string
		for _, v := range m["enum"].([]any) {
			if v != "" {
				out = append(out, v.(string))
			}
		}
		return out
	}
	check("type enum", enum(sub(schema, "type")), Types)
	check("mode enum", enum(sub(schema, "mode")), Modes)
	check("heartbeat.state enum", enum(sub(schema, "heartbeat", "state")), States)
	check("registry.status enum", enum(sub(schema, "registry", "status")), RegistryStatuses)
}
