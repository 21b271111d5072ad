package gate

import (
	"testing"
	"time"
)

func tokyo(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatalf("load Asia/Tokyo: %v", err)
	}
	return loc
}

func validTraveller() Traveller {
	return Traveller{
		UserID: "U1", CardNumber: "1000000001", CardStatus: CardActive, UserStatus: UserActive,
		ShortTermVisitor: true,
		CardIssued:       Date{2025, 1, 10}, CardExpires: Date{2028, 1, 9},
		PassportExpiry: Date{2030, 6, 30},
		EDFrom:         Date{2026, 11, 20}, EDTo: Date{2026, 12, 10},
	}
}

func TestCheckRules(t *testing.T) {
	today := Date{2026, 11, 26}
	cases := []struct {
		name string
		edit func(*Traveller)
		dir  Direction
		want Reason
	}{
		{"valid entry", func(*Traveller) {}, Entry, ""},
		{"lost", func(t *Traveller) { t.CardStatus = CardStatusLost }, Entry, CardLost},
		{"superseded", func(t *Traveller) { t.CardStatus = CardStatusSuperseded }, Entry, CardSuperseded},
		{"lost beats expired", func(t *Traveller) { t.CardStatus = CardStatusLost; t.CardExpires = Date{2020, 1, 1} }, Entry, CardLost},
		{"unknown status", func(t *Traveller) { t.CardStatus = "weird" }, Entry, CardUnknown},
		{"revoked", func(t *Traveller) { t.UserStatus = UserRevoked }, Entry, CardRevoked},
		{"passport expired", func(t *Traveller) { t.PassportExpiry = Date{2026, 11, 25} }, Entry, PassportExpired},
		{"passport expires today still valid", func(t *Traveller) { t.PassportExpiry = today; t.CardExpires = today }, Entry, ""},
		{"card expired", func(t *Traveller) { t.CardExpires = Date{2026, 11, 25} }, Entry, CardExpired},
		{"card past three years despite recorded expiry", func(t *Traveller) {
			t.CardIssued = Date{2023, 11, 26}
			t.CardExpires = Date{2027, 1, 1}
		}, Entry, CardExpired},
		{"card last day of three years", func(t *Traveller) { t.CardIssued = Date{2023, 11, 27} }, Entry, ""},
		{"not eligible", func(t *Traveller) { t.ShortTermVisitor = false }, Entry, NotEligible},
		{"no ED on entry", func(t *Traveller) { t.EDFrom, t.EDTo = Date{}, Date{} }, Entry, EDMissing},
		{"ED window past", func(t *Traveller) { t.EDTo = Date{2026, 11, 25} }, Entry, EDMissing},
		{"ED window future", func(t *Traveller) { t.EDFrom = Date{2026, 11, 27} }, Entry, EDMissing},
		{"no ED on departure is fine", func(t *Traveller) { t.EDFrom, t.EDTo = Date{}, Date{} }, Departure, ""},
	}
	for _, c := range cases {
		tr := validTraveller()
		c.edit(&tr)
		if got := Check(tr, today, c.dir); got != c.want {
			t.Errorf("%s: Check = %q, want %q", c.name, got, c.want)
		}
	}
}

// A card that expires on day D opens the gate until the end of day D in the airport's zone, on a
// gate whose system clock runs in UTC.
func TestExpiryBoundaryInAirportZone(t *testing.T) {
	loc := tokyo(t)
	tr := validTraveller()
	tr.CardExpires = Date{2026, 11, 26}
	lastSecond := time.Date(2026, 11, 26, 23, 59, 59, 0, loc).UTC() // 14:59:59 UTC
	firstSecond := time.Date(2026, 11, 27, 0, 0, 0, 0, loc).UTC()   // 15:00:00 UTC, still the 26th in UTC
	if got := Check(tr, DateOf(lastSecond, loc), Entry); got != "" {
		t.Errorf("at 23:59:59 Tokyo on the expiry day: %q, want accepted", got)
	}
	if firstSecond.Day() != 26 {
		t.Fatalf("test premise: %v should still be the 26th in UTC", firstSecond)
	}
	if got := Check(tr, DateOf(firstSecond, loc), Entry); got != CardExpired {
		t.Errorf("at 00:00:00 Tokyo the day after expiry: %q, want CARD_EXPIRED", got)
	}
	// The machine's zone (UTC) would have said the card is still valid: the lane must not use it.
	if got := Check(tr, DateOf(firstSecond, time.UTC), Entry); got != "" {
		t.Errorf("premise: in UTC the card looks valid, got %q", got)
	}
}

func TestReasonVisibility(t *testing.T) {
	for _, r := range []Reason{CardLost, CardSuperseded} {
		if r.TravellerMay() {
			t.Errorf("%s must be shown only to the officer", r)
		}
	}
	if !BioMismatch.TravellerMay() || !CardExpired.TravellerMay() {
		t.Error("BIO_MISMATCH and CARD_EXPIRED may be shown to the traveller")
	}
}
