package daemon

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"

	"ttpgate/gate"
	"ttpgate/match"
	"ttpgate/match/template"
	"ttpgate/sync/registry"
	"ttpgate/sync/store"
)

// storeRegistry lets the lane look cards up in the local SQLite store.
type storeRegistry struct{ st *store.Store }

func (r storeRegistry) LookupCard(number string) (gate.Traveller, error) {
	rec, err := r.st.LookupCard(context.Background(), number)
	if errors.Is(err, store.ErrNotFound) {
		return gate.Traveller{}, gate.ErrUnknownCard
	}
	if err != nil {
		return gate.Traveller{}, err
	}
	t := gate.Traveller{
		UserID:           rec.User.ID,
		CardNumber:       rec.Card.Number,
		CardStatus:       gate.CardStatus(rec.Card.Status),
		UserStatus:       gate.UserStatus(rec.User.Status),
		ShortTermVisitor: rec.User.Eligibility == registry.EligibilityShortTermVisitor,
		CardIssued:       gate.Date(rec.Card.Issued),
		CardExpires:      gate.Date(rec.Card.Expires),
		PassportExpiry:   gate.Date(rec.User.PassportExpiry),
		Language:         rec.User.PreferredLanguage,
	}
	if rec.User.ED != nil {
		t.EDFrom, t.EDTo = gate.Date(rec.User.ED.From), gate.Date(rec.User.ED.To)
	}
	for _, tp := range rec.Templates {
		t.Enrolled = append(t.Enrolled, tp.Data)
		t.Fingers = append(t.Fingers, tp.Finger)
	}
	return t, nil
}

// templateVerifier verifies a live template against the enrolled ones with the matcher.
type templateVerifier struct {
	threshold atomic.Uint64 // float64 bits; a config reload changes it
}

// setThreshold sets the decision threshold: a fixed score, or (0) the threshold calibrated for
// the target false-match rate.
func (v *templateVerifier) setThreshold(fixed, targetFMR float64) {
	t := fixed
	if t <= 0 {
		t = match.ThresholdForFMR(targetFMR)
	}
	v.threshold.Store(math.Float64bits(t))
}

func (v *templateVerifier) Verify(t gate.Traveller, sample []byte) (float64, bool, error) {
	probe, err := template.Decode(sample)
	if err != nil {
		return 0, false, fmt.Errorf("live sample: %w", err)
	}
	var enrolled []*template.Template
	for i, e := range t.Enrolled {
		tp, err := template.Decode(e)
		if err != nil {
			return 0, false, fmt.Errorf("enrolled template %d of the user is not usable: %w", i, err)
		}
		enrolled = append(enrolled, tp)
	}
	if len(enrolled) == 0 {
		return 0, false, errors.New("the user has no enrolled fingerprint")
	}
	return match.Matcher{Threshold: math.Float64frombits(v.threshold.Load())}.Verify(probe, enrolled)
}
