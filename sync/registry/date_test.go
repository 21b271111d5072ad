package registry

import (
	"fmt"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	for _, s := range []string{"2030-01-31", "2024-02-29", "0001-01-01", "9999-12-31"} {
		d, err := ParseDate(s)
		if err != nil {
			t.Fatalf("ParseDate(%q): %v", s, err)
		}
		if d.String() != s {
			t.Fatalf("String() = %q, want %q", d.String(), s)
		}
	}
	for _, s := range []string{"", "2030-1-31", "2025-02-29", "2030-13-01", "2030-00-10", "2030-01-00", "0000-01-01",
		"2030/01/31", "+030-01-31", "2030-01-3x", "2030-01-31T00:00:00Z", "２０３０-01-31"} {
		if _, err := ParseDate(s); err == nil {
			t.Errorf("ParseDate(%q) accepted", s)
		}
	}
}

func TestDateCompare(t *testing.T) {
	a, b := MustParseDate("2025-12-31"), MustParseDate("2026-01-01")
	if !a.Before(b) || !b.After(a) || a.Compare(a) != 0 || b.Compare(a) != 1 {
		t.Fatal("compare wrong")
	}
	if a.AddDays(1) != b || b.AddDays(-1) != a || MustParseDate("2024-02-28").AddDays(1) != MustParseDate("2024-02-29") {
		t.Fatal("AddDays wrong")
	}
	if !(Date{}).IsZero() || a.IsZero() {
		t.Fatal("IsZero wrong")
	}
}

// A card that expires on day D is valid until the end of day D in the
// airport's zone, whatever the machine's zone.
func TestValidThroughBoundaries(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatalf("load Asia/Tokyo (tzdata): %v", err)
	}
	d := MustParseDate("2026-03-31")
	last := time.Date(2026, 3, 31, 23, 59, 59, 999999999, tokyo).UTC() // as a UTC-clocked gate sees it
	first := time.Date(2026, 4, 1, 0, 0, 0, 0, tokyo).UTC()
	if !d.ValidThrough(last, tokyo) {
		t.Error("not valid at 23:59:59.999 local on the expiry day")
	}
	if d.ValidThrough(first, tokyo) {
		t.Error("still valid at 00:00:00 local the day after")
	}
	if DateOf(first, tokyo) != MustParseDate("2026-04-01") || DateOf(first, time.UTC) != d {
		t.Error("DateOf wrong")
	}
	r := DateRange{From: MustParseDate("2026-11-20"), To: MustParseDate("2026-12-10")}
	if !r.Contains(r.From) || !r.Contains(r.To) || r.Contains(r.To.AddDays(1)) || r.Contains(r.From.AddDays(-1)) {
		t.Error("DateRange.Contains wrong")
	}
}

func TestDateStringMatchesFmt(t *testing.T) {
	for _, d := range []Date{{1, 1, 1}, {2025, 2, 28}, {9999, 12, 31}, {2026, 10, 9}, {999, 7, 30}, {-1, 1, 1}, {10000, 1, 1}, {2025, 13, 1}, {2025, 1, 100}} {
		if got, want := d.String(), fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day); got != want {
			t.Errorf("%+v: %q, want %q", d, got, want)
		}
	}
	if (Date{}).String() != "" {
		t.Error("zero date")
	}
}
