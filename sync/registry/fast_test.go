package registry

import (
	"bytes"
	"crypto/ed25519"
	"reflect"
	"testing"
	"time"
)

func fastTestRecords() []*Record {
	base := &Record{Schema: 2, UserID: "U0000042", Status: StatusActive, Eligibility: EligibilityShortTermVisitor,
		PassportExpiry: MustParseDate("2031-06-30"), PreferredLanguage: "ja",
		Cards: []Card{{Number: "900000000042", Status: CardActive, Issued: MustParseDate("2025-01-10"), Expires: MustParseDate("2028-01-09")}},
		ED:    &DateRange{From: MustParseDate("2026-01-01"), To: MustParseDate("2026-12-31")},
		Templates: []Template{{Finger: 2, Format: FormatISO19794_2_2005, Data: []byte("FMR\x00 20\x00abc")},
			{Finger: 7, Format: FormatANSI378_2004, Data: []byte{1, 2, 3, 4, 5}}},
		Updated: time.Date(2026, 3, 1, 0, 0, 0, 42000, time.UTC)}
	noED := *base
	noED.ED = nil
	noT := *base
	noT.Templates = nil
	many := *base
	many.Status, many.Eligibility, many.PreferredLanguage = StatusRevoked, EligibilityOther, "zh-Hant-TW"
	many.Cards = []Card{base.Cards[0], {Number: "1234567", Status: CardSuperseded, Issued: MustParseDate("2020-02-29"), Expires: MustParseDate("2020-03-01")},
		{Number: "12345678901234567890", Status: CardLost, Issued: MustParseDate("2021-01-01"), Expires: MustParseDate("2021-01-01")}}
	many.Updated = time.Date(2026, 3, 1, 9, 0, 0, 0, time.FixedZone("", 9*3600))
	return []*Record{base, &noED, &noT, &many}
}

// The fast decoder accepts what Marshal writes, with the strict decoder's result.
func TestParseFastMatchesStrict(t *testing.T) {
	for i, r := range fastTestRecords() {
		body, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		fast, ok := parseFast(body)
		if !ok {
			t.Fatalf("record %d: fast path refused Marshal's output %s", i, body)
		}
		strict, err := parseStrict(body)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, strict) {
			t.Fatalf("record %d: fast %+v != strict %+v", i, fast, strict)
		}
	}
}

// Whatever one-byte change is made to a body, the fast decoder never accepts
// something the strict decoder refuses, nor decodes it differently.
func TestParseFastNeverLooserThanStrict(t *testing.T) {
	subst := []byte(`"\ {}[],:0129aAzZ-_.+eE` + "\x00\x7f\xff\n")
	for i, r := range fastTestRecords() {
		body, _ := r.Marshal()
		check := func(b []byte) {
			fast, ok := parseFast(b)
			if !ok {
				return
			}
			strict, err := parseStrict(b)
			if err != nil {
				t.Fatalf("record %d: fast path accepted %q, strict: %v", i, b, err)
			}
			if !reflect.DeepEqual(fast, strict) {
				t.Fatalf("record %d: %q: fast %+v != strict %+v", i, b, fast, strict)
			}
		}
		for p := range body {
			for _, c := range subst {
				b := bytes.Clone(body)
				b[p] = c
				check(b)
			}
			check(append(bytes.Clone(body[:p]), body[p+1:]...))            // deleted
			check(append(append(bytes.Clone(body[:p]), ' '), body[p:]...)) // inserted
		}
	}
}

// The fast envelope path accepts HQ's values and nothing the general path refuses.
func TestOpenRecordFast(t *testing.T) {
	s, _ := GenerateSigner("k1")
	other, _ := GenerateSigner("k1")
	v, _ := NewVerifier(map[string]ed25519.PublicKey{"k1": s.PublicKey()})
	r := fastTestRecords()[0]
	val, err := s.SignRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := openRecordFast(Key(r.UserID), r.UserID, val, v); !ok {
		t.Fatal("fast path refused a signed record")
	}
	if _, ok := openRecordFast(Key("U0000043"), "U0000043", val, v); ok {
		t.Fatal("fast path accepted a record under another key")
	}
	forged, _ := other.SignRecord(r)
	if _, ok := openRecordFast(Key(r.UserID), r.UserID, forged, v); ok {
		t.Fatal("fast path accepted a forged signature")
	}
	if _, err := OpenRecord(Key(r.UserID), forged, v); err == nil {
		t.Fatal("forged record accepted")
	}
	for p := range val {
		b := bytes.Clone(val)
		b[p] ^= 0x01
		if _, ok := openRecordFast(Key(r.UserID), r.UserID, b, v); ok {
			if _, err := OpenRecord(Key(r.UserID), b, v); err != nil {
				t.Fatalf("byte %d: fast path accepted what the general path refuses: %v", p, err)
			}
		}
	}
}
