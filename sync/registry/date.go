package registry

import (
	"encoding/json"
	"fmt"
	"time"
)

// Date is a calendar date without a time zone, as written in registry
// records ("YYYY-MM-DD"). The gate interprets it in the airport's zone: a
// card that expires on day D is valid until the end of day D local time.
// The zero Date is "no date".
type Date struct {
	Year  int        // 1..9999
	Month time.Month // January..December
	Day   int        // 1..31
}

// ParseDate parses a calendar date in the form "YYYY-MM-DD" (four-digit year
// 0001..9999, two-digit month and day). It rejects dates that do not exist,
// such as 2025-02-29.
func ParseDate(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Date{}, fmt.Errorf("date %q: want YYYY-MM-DD", clip(s))
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return Date{}, fmt.Errorf("date %q: want YYYY-MM-DD with digits only", clip(s))
	}
	if y < 1 {
		return Date{}, fmt.Errorf("date %q: year must be 0001..9999", s)
	}
	if m < 1 || m > 12 {
		return Date{}, fmt.Errorf("date %q: month must be 01..12", s)
	}
	if d < 1 || d > daysIn(y, time.Month(m)) {
		return Date{}, fmt.Errorf("date %q: day must be 01..%02d for that month", s, daysIn(y, time.Month(m)))
	}
	return Date{Year: y, Month: time.Month(m), Day: d}, nil
}

// MustParseDate is ParseDate that panics on error; for tests and constants.
func MustParseDate(s string) Date {
	d, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// DateOf returns the calendar date of t in loc.
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return Date{Year: y, Month: m, Day: d}
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// String formats d as "YYYY-MM-DD"; the zero Date formats as "".
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	if d.Year < 0 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 0 || d.Day > 99 {
		return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
	}
	// By hand: the store formats several dates a record it applies.
	b := [10]byte{byte('0' + d.Year/1000), byte('0' + d.Year/100%10), byte('0' + d.Year/10%10), byte('0' + d.Year%10), '-',
		byte('0' + d.Month/10), byte('0' + d.Month%10), '-', byte('0' + d.Day/10), byte('0' + d.Day%10)}
	return string(b[:])
}

// Compare returns -1 if d is before o, 0 if they are the same day and +1 if
// d is after o.
func (d Date) Compare(o Date) int {
	switch {
	case d.Year != o.Year:
		return sign(d.Year - o.Year)
	case d.Month != o.Month:
		return sign(int(d.Month) - int(o.Month))
	default:
		return sign(d.Day - o.Day)
	}
}

// Before reports whether d is strictly before o.
func (d Date) Before(o Date) bool { return d.Compare(o) < 0 }

// After reports whether d is strictly after o.
func (d Date) After(o Date) bool { return d.Compare(o) > 0 }

// AddDays returns the date n days after d (n may be negative).
func (d Date) AddDays(n int) Date {
	t := time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC)
	return DateOf(t, time.UTC)
}

// Start returns the first instant of day d in loc (local midnight, or the
// first existing instant after it on a DST transition day).
func (d Date) Start(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// ValidThrough reports whether instant t is on or before the end of day d in
// loc, i.e. t < start of the next day. This is the "expires on day D" rule.
func (d Date) ValidThrough(t time.Time, loc *time.Location) bool {
	return t.Before(d.AddDays(1).Start(loc))
}

// MarshalJSON encodes d as a "YYYY-MM-DD" string.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return nil, fmt.Errorf("registry: cannot encode the zero Date")
	}
	return json.Marshal(d.String())
}

// UnmarshalJSON decodes a "YYYY-MM-DD" string.
func (d *Date) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("date: want a \"YYYY-MM-DD\" string")
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 32
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
