package simlane

import (
	"fmt"
	"path/filepath"
	"time"

	"ttpgate/devices/ef01sim"
	"ttpgate/match/extract"

	"ttpgate/internal/testdata"
	"ttpgate/sync/registry"
)

// Expect is the outcome a scripted traveller should get, as HQ sees it in events.
type Expect struct {
	Type      string // passage_granted or refused
	Reason    string // the refusal's reason code
	Alarm     string // an alarm that must come with it ("" for none)
	Completed bool   // a passage_completed event must follow
}

// String describes the expectation in a few words.
func (e Expect) String() string {
	s := e.Type
	if e.Reason != "" {
		s += " " + e.Reason
	}
	if e.Alarm != "" {
		s += " + alarm " + e.Alarm
	}
	return s
}

// Scripted is a traveller of a scenario with their registry record and expected outcome.
type Scripted struct {
	Traveller
	What   string           // what the traveller shows, in a few words
	Record *registry.Record // nil when the card is not in the registry
	// RevokeFirst: HQ revokes the registration just before the traveller arrives (the
	// revocation must reach the gate first).
	RevokeFirst bool
	Expect      Expect
}

// Samples are the fingerprint templates of the scenarios: one finger enrolled, a second
// impression of the same finger (made by Impression), and another finger (ISO/IEC 19794-2:2005
// records made from real images; see ../shared/testdata/NOTICE.md).
type Samples struct {
	Enrolled, Genuine, Impostor []byte
}

// LoadSamples reads the scenario templates from the shared test data.
func LoadSamples() (Samples, error) {
	var s Samples
	var err error
	if s.Enrolled, err = testdata.Read("templates", "sourceafis-iso-probe.dat"); err != nil {
		return s, err
	}
	// A second impression of the enrolled finger: rotated, shifted, distorted, partial.
	if s.Genuine, err = Impression(s.Enrolled, 1, 12, 18, -10, 2, 0.15); err != nil {
		return s, err
	}
	s.Impostor, err = testdata.Read("templates", "sourceafis-iso-nonmatching.dat")
	return s, err
}

// RecordOptions shape a generated registry record.
type RecordOptions struct {
	Issued         registry.Date // default today - 100 days
	PassportExpiry registry.Date // default today + 5 years
	NoED           bool
	Eligibility    registry.Eligibility
	OldCard        string // a superseded earlier card of the same user
	Lost           bool   // the card is reported lost
	Language       string
}

// NewRecord makes a valid record for an entry on day today (Tokyo), adjusted by o.
func NewRecord(userID, card string, today registry.Date, enrolled []byte, o RecordOptions) *registry.Record {
	if o.Issued.IsZero() {
		o.Issued = today.AddDays(-100)
	}
	if o.PassportExpiry.IsZero() {
		o.PassportExpiry = addYears(today, 5)
	}
	if o.Eligibility == "" {
		o.Eligibility = registry.EligibilityShortTermVisitor
	}
	if o.Language == "" {
		o.Language = "en"
	}
	expires := addYears(o.Issued, 3).AddDays(-1)
	if o.PassportExpiry.Before(expires) {
		expires = o.PassportExpiry
	}
	status := registry.CardActive
	if o.Lost {
		status = registry.CardLost
	}
	r := &registry.Record{
		Schema: registry.SchemaVersion, UserID: userID, Status: registry.StatusActive, Eligibility: o.Eligibility,
		PassportExpiry: o.PassportExpiry, PreferredLanguage: o.Language,
		Cards:     []registry.Card{{Number: card, Status: status, Issued: o.Issued, Expires: expires}},
		Templates: []registry.Template{{Finger: 2, Format: registry.FormatISO19794_2_2005, Data: enrolled}},
		Updated:   time.Now().UTC().Truncate(time.Second),
	}
	if o.OldCard != "" {
		old := o.Issued.AddDays(-400)
		r.Cards = append([]registry.Card{{Number: o.OldCard, Status: registry.CardSuperseded, Issued: old, Expires: addYears(old, 3).AddDays(-1)}}, r.Cards...)
	}
	if !o.NoED {
		r.ED = &registry.DateRange{From: today.AddDays(-2), To: today.AddDays(10)}
	}
	return r
}

func addYears(d registry.Date, n int) registry.Date {
	t := time.Date(d.Year+n, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
	return registry.Date{Year: t.Year(), Month: t.Month(), Day: t.Day()}
}

// DemoScenario is the travellers of `make demo` on an entry lane on day today: every outcome
// the walking skeleton must show.
func DemoScenario(today registry.Date, s Samples) []Scripted {
	rec := func(id, card string, o RecordOptions) *registry.Record {
		return NewRecord(id, card, today, s.Enrolled, o)
	}
	three := func(b []byte) [][]byte { return [][]byte{b, b, b} }
	return []Scripted{
		{Traveller: Traveller{Name: "Alice", Card: "1000000001", Samples: [][]byte{s.Genuine}},
			What: "valid card, her own finger", Record: rec("U0001", "1000000001", RecordOptions{}),
			Expect: Expect{Type: "passage_granted", Completed: true}},
		{Traveller: Traveller{Name: "Bob", Card: "1000000002", Samples: three(s.Impostor)},
			What: "someone else's finger, three times", Record: rec("U0002", "1000000002", RecordOptions{}),
			Expect: Expect{Type: "refused", Reason: "BIO_MISMATCH"}},
		{Traveller: Traveller{Name: "Carol", Card: "1000000003", Samples: [][]byte{s.Genuine}},
			What: "registration revoked at HQ moments before", Record: rec("U0003", "1000000003", RecordOptions{}),
			RevokeFirst: true, Expect: Expect{Type: "refused", Reason: "CARD_REVOKED"}},
		{Traveller: Traveller{Name: "Dave", Card: "1000000004", Samples: [][]byte{s.Genuine}},
			What: "card issued over three years ago", Record: rec("U0004", "1000000004", RecordOptions{Issued: addYears(today, -3).AddDays(-10)}),
			Expect: Expect{Type: "refused", Reason: "CARD_EXPIRED"}},
		{Traveller: Traveller{Name: "Erin", Card: "1000000005", Samples: [][]byte{s.Genuine}},
			What: "no ED pre-registration, entry lane", Record: rec("U0005", "1000000005", RecordOptions{NoED: true}),
			Expect: Expect{Type: "refused", Reason: "ED_MISSING"}},
		{Traveller: Traveller{Name: "Frank", Card: "1000000006", Samples: [][]byte{s.Genuine}},
			What: "old card after a re-issue", Record: rec("U0006", "1000000016", RecordOptions{OldCard: "1000000006"}),
			Expect: Expect{Type: "refused", Reason: "CARD_SUPERSEDED", Alarm: "CARD_SUPERSEDED"}},
		{Traveller: Traveller{Name: "Grace", Card: "1000000007", Samples: [][]byte{s.Genuine}, People: 2},
			What: "passes, a second person follows her", Record: rec("U0007", "1000000007", RecordOptions{}),
			Expect: Expect{Type: "passage_granted", Completed: true, Alarm: "TAILGATING"}},
		{Traveller: Traveller{Name: "Heidi", Card: "1000000008", Samples: [][]byte{s.Genuine}},
			What: "card reported lost", Record: rec("U0008", "1000000008", RecordOptions{Lost: true}),
			Expect: Expect{Type: "refused", Reason: "CARD_LOST", Alarm: "CARD_LOST"}},
		{Traveller: Traveller{Name: "Ivan", Card: "1000000009"},
			What: "a card the registry does not know", Expect: Expect{Type: "refused", Reason: "CARD_UNKNOWN"}},
		{Traveller: Traveller{Name: "Judy", Card: "1000000010", Samples: [][]byte{nil, nil, nil}},
			What: "no usable fingerprint, three times", Record: rec("U0010", "1000000010", RecordOptions{}),
			Expect: Expect{Type: "refused", Reason: "BIO_NO_CAPTURE"}},
		{Traveller: Traveller{Name: "Ken", Card: "1000000011", Samples: [][]byte{s.Impostor, s.Genuine}},
			What: "wrong finger first, then the right one", Record: rec("U0011", "1000000011", RecordOptions{Language: "ja"}),
			Expect: Expect{Type: "passage_granted", Completed: true}},
	}
}

// Records returns the registry records of a scenario.
func Records(sc []Scripted) []*registry.Record {
	var out []*registry.Record
	for _, s := range sc {
		if s.Record != nil {
			out = append(out, s.Record)
		}
	}
	return out
}

// Describe is a one-line description of a scripted traveller.
func (s Scripted) Describe() string { return fmt.Sprintf("%s (%s)", s.Name, s.What) }

// ModuleSamples are the samples of a lane whose fingerprint reader is an EF01 module: the
// enrolled template is extracted from one impression of a real finger; the live samples are
// packed 4-bit images of another impression of it and of another finger, as the module uploads
// them.
type ModuleSamples struct {
	Enrolled          []byte // ISO/IEC 19794-2 template of fingers/1_1.png
	Genuine, Impostor []byte // packed images of fingers/1_2.png and 2_1.png
}

// LoadModuleSamples reads and prepares the EF01 lane's samples from the shared test data.
func LoadModuleSamples() (ModuleSamples, error) {
	var s ModuleSamples
	dir, err := testdata.Dir()
	if err != nil {
		return s, err
	}
	png, err := testdata.Read("fingerprints", "1_1.png")
	if err != nil {
		return s, err
	}
	if s.Enrolled, err = extract.ExtractISO(png, extract.Options{}); err != nil {
		return s, fmt.Errorf("enrolling fingers/1_1.png: %w", err)
	}
	if s.Genuine, err = ef01sim.LoadPNG(filepath.Join(dir, "fingerprints", "1_2.png")); err != nil {
		return s, err
	}
	s.Impostor, err = ef01sim.LoadPNG(filepath.Join(dir, "fingerprints", "2_1.png"))
	return s, err
}

// ModuleScenario is the travellers of the EF01 lane of `make demo` (a departure lane).
func ModuleScenario(today registry.Date, s ModuleSamples) []Scripted {
	rec := func(id, card string) *registry.Record { return NewRecord(id, card, today, s.Enrolled, RecordOptions{}) }
	return []Scripted{
		{Traveller: Traveller{Name: "Mia", Card: "3000000001", Samples: [][]byte{s.Genuine}},
			What: "her own finger on the EF01 module", Record: rec("M0001", "3000000001"),
			Expect: Expect{Type: "passage_granted", Completed: true}},
		{Traveller: Traveller{Name: "Noah", Card: "3000000002", Samples: [][]byte{nil, s.Genuine}},
			What: "a smeared capture first, then a good one", Record: rec("M0002", "3000000002"),
			Expect: Expect{Type: "passage_granted", Completed: true}},
		{Traveller: Traveller{Name: "Omar", Card: "3000000003", Samples: [][]byte{s.Impostor, s.Impostor, s.Impostor}},
			What: "another person's finger, three times", Record: rec("M0003", "3000000003"),
			Expect: Expect{Type: "refused", Reason: "BIO_MISMATCH"}},
	}
}
