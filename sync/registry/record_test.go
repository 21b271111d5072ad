package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const validJSON = `{"schema":1,"user_id":"U0000001","status":"active","eligibility":"short_term_visitor",
 "passport_expiry":"2030-01-31","preferred_language":"en",
 "cards":[{"number":"1000000001","status":"superseded","issued":"2022-01-10","expires":"2025-01-09"},
          {"number":"1000000002","status":"active","issued":"2025-01-10","expires":"2028-01-09"}],
 "ed":{"from":"2026-11-20","to":"2026-12-10"},
 "templates":[{"finger":2,"format":"iso19794-2:2005","data":"Rk1SACAyMAA="}],
 "updated":"2026-01-02T03:04:05Z"}`

func TestParseValid(t *testing.T) {
	r, err := Parse([]byte(validJSON))
	if err != nil {
		t.Fatal(err)
	}
	want := &Record{
		Schema: 1, UserID: "U0000001", Status: StatusActive, Eligibility: EligibilityShortTermVisitor,
		PassportExpiry: MustParseDate("2030-01-31"), PreferredLanguage: "en",
		Cards: []Card{
			{Number: "1000000001", Status: CardSuperseded, Issued: MustParseDate("2022-01-10"), Expires: MustParseDate("2025-01-09")},
			{Number: "1000000002", Status: CardActive, Issued: MustParseDate("2025-01-10"), Expires: MustParseDate("2028-01-09")},
		},
		ED:        &DateRange{From: MustParseDate("2026-11-20"), To: MustParseDate("2026-12-10")},
		Templates: []Template{{Finger: 2, Format: FormatISO19794_2_2005, Data: []byte("FMR\x00 20\x00")}},
		Updated:   time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("Parse:\n got %+v\nwant %+v", r, want)
	}
	c, ok := r.ActiveCard()
	if !ok || c.Number != "1000000002" {
		t.Fatalf("ActiveCard = %v, %v", c, ok)
	}
	// Round trip.
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(Marshal()): %v\n%s", err, b)
	}
	if !reflect.DeepEqual(r, r2) {
		t.Fatalf("round trip changed the record:\n%+v\n%+v", r, r2)
	}
}

func TestParseMinimal(t *testing.T) {
	// No ed, no templates.
	r, err := Parse([]byte(`{"schema":1,"user_id":"u-1_A","status":"revoked","eligibility":"resident",
		"passport_expiry":"2030-01-31","preferred_language":"zh-Hant",
		"cards":[{"number":"123456","status":"lost","issued":"2025-01-10","expires":"2025-01-10"}],
		"updated":"2026-01-02T03:04:05.123+09:00"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.ED != nil || len(r.Templates) != 0 || r.Status != StatusRevoked {
		t.Fatalf("got %+v", r)
	}
}

// mutate returns validJSON with one top-level or nested change applied.
func mutate(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(validJSON), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func card(m map[string]any, i int) map[string]any { return m["cards"].([]any)[i].(map[string]any) }
func tmpl(m map[string]any, i int) map[string]any { return m["templates"].([]any)[i].(map[string]any) }

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string // substring of the error
	}{
		{"not json", []byte(`{"schema":`), "not a JSON object"},
		{"array", []byte(`[]`), "not a JSON object"},
		{"trailing", []byte(validJSON + ` {}`), "trailing data"},
		{"unknown field", mutate(t, func(m map[string]any) { m["nickname"] = "x" }), `field nickname: unknown field in the record (allowed: schema, user_id`},
		{"wrong case", mutate(t, func(m map[string]any) { m["User_ID"] = m["user_id"]; delete(m, "user_id") }), "field User_ID: unknown field"},
		{"schema 3", mutate(t, func(m map[string]any) { m["schema"] = 3 }), "field schema: this gate reads schema 1..2, got 3"},
		{"schema 0", mutate(t, func(m map[string]any) { m["schema"] = 0 }), "field schema: this gate reads schema 1..2, got 0"},
		{"schema string", mutate(t, func(m map[string]any) { m["schema"] = "1" }), "field schema: must be an integer"},
		{"missing user_id", mutate(t, func(m map[string]any) { delete(m, "user_id") }), "field user_id: required"},
		{"empty user_id", mutate(t, func(m map[string]any) { m["user_id"] = "" }), "field user_id: must not be empty"},
		{"bad user_id", mutate(t, func(m map[string]any) { m["user_id"] = "U 1" }), "field user_id: must contain only letters"},
		{"bad status", mutate(t, func(m map[string]any) { m["status"] = "suspended" }), `field status: "suspended" is not one of active, revoked`},
		{"bad eligibility", mutate(t, func(m map[string]any) { m["eligibility"] = "tourist" }), `field eligibility: "tourist" is not one of short_term_visitor, resident, other`},
		{"bad date", mutate(t, func(m map[string]any) { m["passport_expiry"] = "2030-02-30" }), "field passport_expiry: date \"2030-02-30\": day must be 01..28"},
		{"date format", mutate(t, func(m map[string]any) { m["passport_expiry"] = "31/01/2030" }), "field passport_expiry: date \"31/01/2030\": want YYYY-MM-DD"},
		{"date number", mutate(t, func(m map[string]any) { m["passport_expiry"] = 20300131 }), "field passport_expiry: date: want a"},
		{"bad language", mutate(t, func(m map[string]any) { m["preferred_language"] = "english!" }), "field preferred_language:"},
		{"no cards", mutate(t, func(m map[string]any) { m["cards"] = []any{} }), "field cards: required, at least one card"},
		{"missing cards", mutate(t, func(m map[string]any) { delete(m, "cards") }), "field cards: required"},
		{"cards object", mutate(t, func(m map[string]any) { m["cards"] = map[string]any{} }), "field cards: must be a JSON array"},
		{"card number letters", mutate(t, func(m map[string]any) { card(m, 0)["number"] = "10000A0001" }), "field cards[0].number: must be digits only"},
		{"card number short", mutate(t, func(m map[string]any) { card(m, 1)["number"] = "12345" }), "field cards[1].number: must be 6 to 20 digits, got 5"},
		{"card number as int", mutate(t, func(m map[string]any) { card(m, 1)["number"] = 1234567 }), "field cards[1].number: must be a string of digits"},
		{"duplicate card", mutate(t, func(m map[string]any) { card(m, 1)["number"] = card(m, 0)["number"] }), "field cards[1].number: same card number as cards[0]"},
		{"card status", mutate(t, func(m map[string]any) { card(m, 0)["status"] = "stolen" }), `field cards[0].status: "stolen" is not one of active, superseded, lost`},
		{"card unknown field", mutate(t, func(m map[string]any) { card(m, 0)["pin"] = "1234" }), "field cards[0].pin: unknown field in cards[0] (allowed: number, status, issued, expires)"},
		{"card missing expires", mutate(t, func(m map[string]any) { delete(card(m, 0), "expires") }), "field cards[0].expires: required"},
		{"card expires before issue", mutate(t, func(m map[string]any) { card(m, 0)["expires"] = "2021-01-01" }), "field cards[0].expires: 2021-01-01 is before issued 2022-01-10"},
		{"ed backwards", mutate(t, func(m map[string]any) { m["ed"] = map[string]any{"from": "2026-12-10", "to": "2026-11-20"} }), "field ed.to: 2026-11-20 is before ed.from"},
		{"ed missing to", mutate(t, func(m map[string]any) { m["ed"] = map[string]any{"from": "2026-12-10"} }), "field ed.to: required"},
		{"template base64", mutate(t, func(m map[string]any) { tmpl(m, 0)["data"] = "not base64!" }), "field templates[0].data: must be standard base64"},
		{"template url base64", mutate(t, func(m map[string]any) { tmpl(m, 0)["data"] = "_-8=" }), "field templates[0].data: must be standard base64"},
		{"template empty", mutate(t, func(m map[string]any) { tmpl(m, 0)["data"] = "" }), "field templates[0].data: must be 1..65536 bytes"},
		{"template finger", mutate(t, func(m map[string]any) { tmpl(m, 0)["finger"] = 11 }), "field templates[0].finger: must be an ISO/IEC 19794-2 finger position 0..10, got 11"},
		{"template format", mutate(t, func(m map[string]any) { tmpl(m, 0)["format"] = "png" }), `field templates[0].format: "png" is not one of iso19794-2:2005, ansi-incits378:2004`},
		{"template dup", mutate(t, func(m map[string]any) { m["templates"] = append(m["templates"].([]any), tmpl(m, 0)) }), "field templates[1]: same finger and format as templates[0]"},
		{"updated missing", mutate(t, func(m map[string]any) { delete(m, "updated") }), "field updated: required"},
		{"updated bad", mutate(t, func(m map[string]any) { m["updated"] = "yesterday" }), `field updated: want an RFC 3339 time`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.data)
			if err == nil {
				t.Fatalf("Parse accepted %s", c.data)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\n does not contain %q", err, c.want)
			}
		})
	}
}

func TestErrorsNeverContainCardNumbersOrTemplates(t *testing.T) {
	const secretCard = "98765432109876543"
	bad := [][]byte{
		mutate(t, func(m map[string]any) { card(m, 0)["number"] = secretCard + "x" }),
		mutate(t, func(m map[string]any) { card(m, 0)["number"] = secretCard; card(m, 1)["number"] = secretCard }),
		mutate(t, func(m map[string]any) { card(m, 0)["number"] = secretCard + "12345678" }),
		mutate(t, func(m map[string]any) { tmpl(m, 0)["data"] = "QUJDREVGR0hJSktMTU5PUA=!" }),
	}
	for _, b := range bad {
		_, err := Parse(b)
		if err == nil {
			t.Fatalf("accepted %s", b)
		}
		if strings.Contains(err.Error(), secretCard) || strings.Contains(err.Error(), "QUJDREVGR0hJ") {
			t.Errorf("error leaks data: %v", err)
		}
	}
}

func TestKey(t *testing.T) {
	if got := Key("U0000001"); got != "user.U0000001" {
		t.Fatalf("Key = %q", got)
	}
	if id, ok := UserIDFromKey("user.U0000001"); !ok || id != "U0000001" {
		t.Fatalf("UserIDFromKey = %q %v", id, ok)
	}
	for _, k := range []string{"user.", "users.U1", "user.a.b", ClockKey, "U1"} {
		if _, ok := UserIDFromKey(k); ok {
			t.Errorf("UserIDFromKey(%q) accepted", k)
		}
	}
}

func TestClock(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC)
	got, err := ParseClock(MarshalClock(now))
	if err != nil || !got.Equal(now) {
		t.Fatalf("ParseClock(MarshalClock) = %v, %v", got, err)
	}
	for _, bad := range []string{`{}`, `{"time":"now"}`, `{"time":"2026-01-01T00:00:00Z","x":1}`, `"2026"`} {
		if _, err := ParseClock([]byte(bad)); err == nil {
			t.Errorf("ParseClock(%s) accepted", bad)
		}
	}
}

func TestMarshalValidates(t *testing.T) {
	r, _ := Parse([]byte(validJSON))
	r.Cards[0].Number = "x"
	if _, err := r.Marshal(); err == nil || !strings.Contains(err.Error(), "cards[0].number") {
		t.Fatalf("Marshal of invalid record: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(validJSON))
	f.Add([]byte(`{"schema":1}`))
	f.Add([]byte(`{"schema":1,"user_id":"U1","status":"active","eligibility":"other","passport_expiry":"2030-01-31","preferred_language":"ja","cards":[{"number":"123456","status":"active","issued":"2025-01-10","expires":"2025-01-10"}],"ed":null,"templates":[],"updated":"2026-01-02T03:04:05Z"}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"cards":[null]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Parse(data)
		if err != nil {
			if r != nil {
				t.Fatal("non-nil record with error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("Parse returned a record that fails Validate: %v", err)
		}
		b, err := r.Marshal()
		if err != nil {
			t.Fatalf("Marshal of parsed record: %v", err)
		}
		r2, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(Marshal(r)): %v\n%s", err, b)
		}
		b2, _ := r2.Marshal()
		if !bytes.Equal(b, b2) {
			t.Fatalf("Marshal not stable:\n%s\n%s", b, b2)
		}
	})
}
