package gate

import (
	"fmt"
	"time"
)

// Date is a calendar date with no zone. Registry dates are dates in the airport's time zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the calendar date of t in loc.
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return Date{y, m, d}
}

// Before reports whether d is an earlier day than e.
func (d Date) Before(e Date) bool {
	if d.Year != e.Year {
		return d.Year < e.Year
	}
	if d.Month != e.Month {
		return d.Month < e.Month
	}
	return d.Day < e.Day
}

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == Date{} }

// AddYears returns the same day n years later (29 February becomes 1 March, as time.AddDate does).
func (d Date) AddYears(n int) Date {
	t := time.Date(d.Year+n, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
	y, m, dd := t.Date()
	return Date{y, m, dd}
}

// String formats d as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// CardStatus is the status of one card in the registry.
type CardStatus string

// Card statuses.
const (
	CardActive           CardStatus = "active"
	CardStatusSuperseded CardStatus = "superseded"
	CardStatusLost       CardStatus = "lost"
)

// UserStatus is the status of a registration.
type UserStatus string

// Registration statuses.
const (
	UserActive  UserStatus = "active"
	UserRevoked UserStatus = "revoked"
)

// Traveller is what the registry knows of a presented card and its user, as the lane needs it.
type Traveller struct {
	UserID           string
	CardNumber       string
	CardStatus       CardStatus
	UserStatus       UserStatus
	ShortTermVisitor bool // eligibility: TTP lanes are for short-term stays
	CardIssued       Date
	CardExpires      Date // as recorded by HQ; the lane also enforces issue + CardValidityYears
	PassportExpiry   Date
	EDFrom, EDTo     Date // the disembarkation-card pre-registration window; zero when none
	Language         string
	// Enrolled holds the user's enrolled templates, opaque to the lane: it hands them to the Verifier.
	Enrolled [][]byte
	// Fingers are the ISO/IEC 19794-2 finger positions enrolled (1 right thumb .. 10 left little,
	// 0 unknown), in the registry's order: the first is the one the traveller is asked for.
	Fingers []int
}

// CardValidityYears is the longest a card is valid from its issue date.
const CardValidityYears = 3

// Direction is the lane's direction of travel.
type Direction string

// Lane directions.
const (
	Entry     Direction = "entry"
	Departure Direction = "departure"
)

// Check applies the TTP rules of DESIGN.md §3 that need no fingerprint, for a card presented on
// day today (a date in the airport's zone). It returns "" when the traveller may go on to the
// fingerprint check, or the reason for the refusal. The order puts alarms first (a lost or
// superseded card is refused as such even if also expired), then the registration, then dates.
func Check(t Traveller, today Date, dir Direction) Reason {
	switch t.CardStatus {
	case CardStatusLost:
		return CardLost
	case CardStatusSuperseded:
		return CardSuperseded
	case CardActive:
	default:
		return CardUnknown
	}
	if t.UserStatus != UserActive {
		return CardRevoked
	}
	if !t.PassportExpiry.IsZero() && t.PassportExpiry.Before(today) {
		return PassportExpired
	}
	if t.CardExpires.IsZero() || t.CardExpires.Before(today) {
		return CardExpired
	}
	if t.CardIssued.IsZero() || !today.Before(t.CardIssued.AddYears(CardValidityYears)) {
		// A card is valid until the day before the third anniversary of its issue, whatever
		// expiry HQ recorded.
		return CardExpired
	}
	if !t.ShortTermVisitor {
		return NotEligible
	}
	if dir == Entry {
		if t.EDFrom.IsZero() || t.EDTo.IsZero() || today.Before(t.EDFrom) || t.EDTo.Before(today) {
			return EDMissing
		}
	}
	return ""
}
