// Package registry defines the registry record that HQ publishes for every
// registered traveller (schema v1, see docs/registry.md), its strict parser,
// the helpers HQ tools use to write the JetStream KV bucket, and the Watcher
// that applies the bucket to a gate's local store.
//
// Card numbers and template data are personal and biometric data: nothing in
// this package puts them in an error message or a log line.
package registry

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// SchemaVersion is the registry record schema this code writes: schema 2
// is the schema 1 record body inside an HQ-signed envelope (see sign.go and
// docs/registry.md).
const SchemaVersion = 2

// MinSchemaVersion is the oldest record body schema Parse accepts. A schema 1
// body has the same fields as schema 2; import files may still use it, and
// HQ signs it as schema 2. Gates never apply a bare (unsigned) body.
const MinSchemaVersion = 1

// Limits on record fields.
const (
	MaxUserIDLen       = 64       // user_id is 1..64 characters of [A-Za-z0-9_-]
	MinCardNumberLen   = 6        // card numbers are 6..20 decimal digits
	MaxCardNumberLen   = 20       //
	MaxCards           = 32       // cards per record
	MaxTemplates       = 20       // templates per record
	MaxTemplateSize    = 64 << 10 // decoded template bytes
	MaxFinger          = 10       // ISO/IEC 19794-2 finger position 0 (unknown) .. 10
	userKeyPrefix      = "user."
	maxLanguageTagSize = 35
)

// ClockKey is the KV key under which HQ puts its current time every few
// seconds ({"time":"<RFC 3339>"}). The HQ time of the last applied clock is
// the gate's registry freshness.
const ClockKey = "hq.clock"

// Status is a registration status.
type Status string

// Registration statuses.
const (
	StatusActive  Status = "active"  // the traveller may use TTP lanes
	StatusRevoked Status = "revoked" // registration cancelled: CARD_REVOKED
)

// Eligibility is the traveller's residence category.
type Eligibility string

// Eligibility values. Only short-term visitors may use TTP lanes.
const (
	EligibilityShortTermVisitor Eligibility = "short_term_visitor"
	EligibilityResident         Eligibility = "resident"
	EligibilityOther            Eligibility = "other"
)

// CardStatus is the status of one issued card.
type CardStatus string

// Card statuses.
const (
	CardActive     CardStatus = "active"     // the current card
	CardSuperseded CardStatus = "superseded" // replaced by a re-issued card: CARD_SUPERSEDED, alarm
	CardLost       CardStatus = "lost"       // reported lost or stolen: CARD_LOST, alarm
)

// Template formats accepted in records.
const (
	FormatISO19794_2_2005 = "iso19794-2:2005"
	FormatANSI378_2004    = "ansi-incits378:2004"
)

var (
	statuses     = []string{string(StatusActive), string(StatusRevoked)}
	eligibility  = []string{string(EligibilityShortTermVisitor), string(EligibilityResident), string(EligibilityOther)}
	cardStatuses = []string{string(CardActive), string(CardSuperseded), string(CardLost)}
	formats      = []string{FormatISO19794_2_2005, FormatANSI378_2004}
)

// Record is one registered traveller, as HQ publishes it under Key(UserID).
type Record struct {
	Schema            int         // always SchemaVersion
	UserID            string      // HQ's user id
	Status            Status      // registration status
	Eligibility       Eligibility // residence category
	PassportExpiry    Date        // expiry of the registered passport
	PreferredLanguage string      // BCP 47 language tag for guidance, e.g. "en", "ja", "zh-Hant"
	Cards             []Card      // every card issued to the user, at least one
	ED                *DateRange  // disembarkation-card pre-registration window, nil if none
	Templates         []Template  // enrolled fingerprint templates (may be empty)
	Updated           time.Time   // when HQ last changed the record
}

// Card is one card issued to a user.
type Card struct {
	Number  string     // 6..20 decimal digits, unique across the registry
	Status  CardStatus // active, superseded or lost
	Issued  Date       // issue date
	Expires Date       // last valid day (airport's local calendar)
}

// DateRange is an inclusive range of calendar days.
type DateRange struct {
	From Date // first valid day
	To   Date // last valid day
}

// Contains reports whether day d is within the range (inclusive).
func (r DateRange) Contains(d Date) bool { return !d.Before(r.From) && !d.After(r.To) }

// Template is one enrolled fingerprint template.
type Template struct {
	Finger int    // ISO/IEC 19794-2 finger position, 0 (unknown) .. 10
	Format string // FormatISO19794_2_2005 or FormatANSI378_2004
	Data   []byte // the template record (base64 in JSON)
}

// ErrInvalid is wrapped by every error that reports an invalid record: a
// FieldError from Parse or Validate, or a store rejecting a record.
var ErrInvalid = errors.New("invalid registry record")

// FieldError reports one invalid field of a record. Field is a JSON path
// such as "cards[1].number". The message never contains a card number or
// template data.
type FieldError struct {
	Field   string // JSON path of the field, "" for the record as a whole
	Problem string // what is wrong and what is allowed
}

// Error implements error.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return "registry record: " + e.Problem
	}
	return "registry record: field " + e.Field + ": " + e.Problem
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Key returns the KV key of a user's record: "user.<user_id>".
func Key(userID string) string { return userKeyPrefix + userID }

// UserIDFromKey returns the user id of a record key, and false if key is not
// a well-formed user key.
func UserIDFromKey(key string) (string, bool) {
	id, ok := strings.CutPrefix(key, userKeyPrefix)
	if !ok || ValidUserID(id) != nil {
		return "", false
	}
	return id, true
}

// ValidUserID reports whether id is a valid user id: 1..64 characters of
// letters, digits, '_' and '-'.
func ValidUserID(id string) error {
	if id == "" {
		return errors.New("must not be empty")
	}
	if len(id) > MaxUserIDLen {
		return fmt.Errorf("must be at most %d characters, got %d", MaxUserIDLen, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("must contain only letters, digits, '_' and '-', got %q at offset %d", rune(c), i)
		}
	}
	return nil
}

func validCardNumber(n string) error {
	if len(n) < MinCardNumberLen || len(n) > MaxCardNumberLen {
		return fmt.Errorf("must be %d to %d digits, got %d characters", MinCardNumberLen, MaxCardNumberLen, len(n))
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return fmt.Errorf("must be digits only, found a non-digit at offset %d", i)
		}
	}
	return nil
}

func validLanguage(tag string) error {
	if tag == "" || len(tag) > maxLanguageTagSize {
		return fmt.Errorf("must be a BCP 47 language tag such as \"en\" or \"zh-Hant\" of 2..%d characters", maxLanguageTagSize)
	}
	i := -1
	for sub := range strings.SplitSeq(tag, "-") {
		i++
		if len(sub) == 0 || len(sub) > 8 {
			return fmt.Errorf("%q is not a BCP 47 language tag (subtags of 1..8 letters or digits)", clip(tag))
		}
		for j := 0; j < len(sub); j++ {
			c := sub[j]
			alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
			if !(alpha || i > 0 && c >= '0' && c <= '9') {
				return fmt.Errorf("%q is not a BCP 47 language tag (letters, digits and '-')", clip(tag))
			}
		}
		if i == 0 && (len(sub) < 2 || len(sub) > 3) {
			return fmt.Errorf("%q: primary language subtag must be 2 or 3 letters", clip(tag))
		}
	}
	return nil
}

func oneOf(field, got string, allowed []string) error {
	for _, a := range allowed {
		if got == a {
			return nil
		}
	}
	return fieldErr(field, "%q is not one of %s", clip(got), strings.Join(allowed, ", "))
}

// Validate checks every rule that Parse checks on an already decoded record.
// Stores call it before applying a record they did not parse themselves.
func (r *Record) Validate() error {
	if r == nil {
		return fieldErr("", "nil record")
	}
	if r.Schema < MinSchemaVersion || r.Schema > SchemaVersion {
		return fieldErr("schema", "must be %d..%d, got %d", MinSchemaVersion, SchemaVersion, r.Schema)
	}
	if err := ValidUserID(r.UserID); err != nil {
		return fieldErr("user_id", "%v", err)
	}
	if !contains(statuses, string(r.Status)) {
		return oneOf("status", string(r.Status), statuses)
	}
	if !contains(eligibility, string(r.Eligibility)) {
		return oneOf("eligibility", string(r.Eligibility), eligibility)
	}
	if r.PassportExpiry.IsZero() {
		return fieldErr("passport_expiry", "required, a YYYY-MM-DD date")
	}
	if err := validLanguage(r.PreferredLanguage); err != nil {
		return fieldErr("preferred_language", "%v", err)
	}
	if len(r.Cards) == 0 {
		return fieldErr("cards", "required, at least one card")
	}
	if len(r.Cards) > MaxCards {
		return fieldErr("cards", "at most %d cards, got %d", MaxCards, len(r.Cards))
	}
	for i, c := range r.Cards {
		f := indexed("cards", i)
		if err := validCardNumber(c.Number); err != nil {
			return fieldErr(f()+".number", "%v", err)
		}
		for j := 0; j < i; j++ {
			if r.Cards[j].Number == c.Number {
				return fieldErr(f()+".number", "same card number as cards[%d]: a card number may appear once", j)
			}
		}
		if !contains(cardStatuses, string(c.Status)) {
			return oneOf(f()+".status", string(c.Status), cardStatuses)
		}
		if c.Issued.IsZero() {
			return fieldErr(f()+".issued", "required, a YYYY-MM-DD date")
		}
		if c.Expires.IsZero() {
			return fieldErr(f()+".expires", "required, a YYYY-MM-DD date")
		}
		if c.Expires.Before(c.Issued) {
			return fieldErr(f()+".expires", "%s is before issued %s", c.Expires, c.Issued)
		}
	}
	if r.ED != nil {
		if r.ED.From.IsZero() || r.ED.To.IsZero() {
			return fieldErr("ed", "needs both from and to, YYYY-MM-DD dates")
		}
		if r.ED.To.Before(r.ED.From) {
			return fieldErr("ed.to", "%s is before ed.from %s", r.ED.To, r.ED.From)
		}
	}
	if len(r.Templates) > MaxTemplates {
		return fieldErr("templates", "at most %d templates, got %d", MaxTemplates, len(r.Templates))
	}
	for i, t := range r.Templates {
		f := indexed("templates", i)
		if t.Finger < 0 || t.Finger > MaxFinger {
			return fieldErr(f()+".finger", "must be an ISO/IEC 19794-2 finger position 0..%d, got %d", MaxFinger, t.Finger)
		}
		if !contains(formats, t.Format) {
			return oneOf(f()+".format", t.Format, formats)
		}
		for j := 0; j < i; j++ {
			if r.Templates[j].Finger == t.Finger && r.Templates[j].Format == t.Format {
				return fieldErr(f(), "same finger and format as templates[%d]", j)
			}
		}
		if len(t.Data) == 0 || len(t.Data) > MaxTemplateSize {
			return fieldErr(f()+".data", "must be 1..%d bytes once base64-decoded, got %d", MaxTemplateSize, len(t.Data))
		}
	}
	if r.Updated.IsZero() {
		return fieldErr("updated", "required, an RFC 3339 time")
	}
	return nil
}

// indexed returns a function that formats "name[i]" (only called on error:
// the success path does not allocate).
func indexed(name string, i int) func() string {
	return func() string { return fmt.Sprintf("%s[%d]", name, i) }
}

// ActiveCard returns the record's active card, if any.
func (r *Record) ActiveCard() (Card, bool) {
	for _, c := range r.Cards {
		if c.Status == CardActive {
			return c, true
		}
	}
	return Card{}, false
}

// ---- JSON ----

type jsonRecord struct {
	Schema            int            `json:"schema"`
	UserID            string         `json:"user_id"`
	Status            string         `json:"status"`
	Eligibility       string         `json:"eligibility"`
	PassportExpiry    Date           `json:"passport_expiry"`
	PreferredLanguage string         `json:"preferred_language"`
	Cards             []jsonCard     `json:"cards"`
	ED                *jsonDateRange `json:"ed,omitempty"`
	Templates         []jsonTemplate `json:"templates"`
	Updated           string         `json:"updated"`
}

type jsonCard struct {
	Number  string `json:"number"`
	Status  string `json:"status"`
	Issued  Date   `json:"issued"`
	Expires Date   `json:"expires"`
}

type jsonDateRange struct {
	From Date `json:"from"`
	To   Date `json:"to"`
}

type jsonTemplate struct {
	Finger int    `json:"finger"`
	Format string `json:"format"`
	Data   string `json:"data"`
}

// Marshal encodes r as a JSON record body (schema r.Schema, unsigned; see
// Signer.SignRecord for the KV value). It validates r first.
func (r *Record) Marshal() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	j := jsonRecord{
		Schema:            r.Schema,
		UserID:            r.UserID,
		Status:            string(r.Status),
		Eligibility:       string(r.Eligibility),
		PassportExpiry:    r.PassportExpiry,
		PreferredLanguage: r.PreferredLanguage,
		Cards:             make([]jsonCard, len(r.Cards)),
		Templates:         make([]jsonTemplate, len(r.Templates)),
		Updated:           r.Updated.Format(time.RFC3339Nano),
	}
	for i, c := range r.Cards {
		j.Cards[i] = jsonCard{Number: c.Number, Status: string(c.Status), Issued: c.Issued, Expires: c.Expires}
	}
	if r.ED != nil {
		j.ED = &jsonDateRange{From: r.ED.From, To: r.ED.To}
	}
	for i, t := range r.Templates {
		j.Templates[i] = jsonTemplate{Finger: t.Finger, Format: t.Format, Data: base64.StdEncoding.EncodeToString(t.Data)}
	}
	return json.Marshal(j)
}

// Parse decodes and validates one record body (schema 1 or 2, unsigned;
// OpenRecord decodes a signed KV value). It is strict: unknown or
// wrongly cased fields, missing required fields, bad dates, unknown status
// values, duplicate card numbers and template data that is not standard
// base64 are errors; every error wraps ErrInvalid and names the field and
// what is allowed.
func Parse(data []byte) (*Record, error) {
	if r, ok := parseFast(data); ok {
		return r, nil
	}
	return parseStrict(data)
}

// parseStrict is Parse's general decoder (any member order and white space).
func parseStrict(data []byte) (*Record, error) {
	top, err := object(data, "", []string{"schema", "user_id", "status", "eligibility", "passport_expiry",
		"preferred_language", "cards", "ed", "templates", "updated"},
		[]string{"schema", "user_id", "status", "eligibility", "passport_expiry", "preferred_language", "cards", "updated"})
	if err != nil {
		return nil, err
	}
	r := &Record{}
	if err := field(top, "schema", &r.Schema, "an integer"); err != nil {
		return nil, err
	}
	if r.Schema < MinSchemaVersion || r.Schema > SchemaVersion {
		return nil, fieldErr("schema", "this gate reads schema %d..%d, got %d", MinSchemaVersion, SchemaVersion, r.Schema)
	}
	var s string
	if err := field(top, "user_id", &r.UserID, "a string"); err != nil {
		return nil, err
	}
	if err := field(top, "status", &s, "a string"); err != nil {
		return nil, err
	}
	r.Status = Status(s)
	if err := field(top, "eligibility", &s, "a string"); err != nil {
		return nil, err
	}
	r.Eligibility = Eligibility(s)
	if err := field(top, "passport_expiry", &r.PassportExpiry, "a \"YYYY-MM-DD\" date"); err != nil {
		return nil, err
	}
	if err := field(top, "preferred_language", &r.PreferredLanguage, "a string"); err != nil {
		return nil, err
	}
	if err := field(top, "updated", &s, "an RFC 3339 time string"); err != nil {
		return nil, err
	}
	if r.Updated, err = time.Parse(time.RFC3339Nano, s); err != nil {
		return nil, fieldErr("updated", "want an RFC 3339 time such as \"2026-01-02T15:04:05Z\", got %q", clip(s))
	}

	cards, err := array(top["cards"], "cards")
	if err != nil {
		return nil, err
	}
	for i, raw := range cards {
		f := fmt.Sprintf("cards[%d]", i)
		obj, err := object(raw, f, []string{"number", "status", "issued", "expires"}, []string{"number", "status", "issued", "expires"})
		if err != nil {
			return nil, err
		}
		var c Card
		if err := field(obj, f+".number", &c.Number, "a string of digits"); err != nil {
			return nil, err
		}
		if err := field(obj, f+".status", &s, "a string"); err != nil {
			return nil, err
		}
		c.Status = CardStatus(s)
		if err := field(obj, f+".issued", &c.Issued, "a \"YYYY-MM-DD\" date"); err != nil {
			return nil, err
		}
		if err := field(obj, f+".expires", &c.Expires, "a \"YYYY-MM-DD\" date"); err != nil {
			return nil, err
		}
		r.Cards = append(r.Cards, c)
	}

	if raw, ok := top["ed"]; ok && !isNull(raw) {
		obj, err := object(raw, "ed", []string{"from", "to"}, []string{"from", "to"})
		if err != nil {
			return nil, err
		}
		var ed DateRange
		if err := field(obj, "ed.from", &ed.From, "a \"YYYY-MM-DD\" date"); err != nil {
			return nil, err
		}
		if err := field(obj, "ed.to", &ed.To, "a \"YYYY-MM-DD\" date"); err != nil {
			return nil, err
		}
		r.ED = &ed
	}

	if raw, ok := top["templates"]; ok {
		tmpls, err := array(raw, "templates")
		if err != nil {
			return nil, err
		}
		for i, raw := range tmpls {
			f := fmt.Sprintf("templates[%d]", i)
			obj, err := object(raw, f, []string{"finger", "format", "data"}, []string{"finger", "format", "data"})
			if err != nil {
				return nil, err
			}
			var t Template
			if err := field(obj, f+".finger", &t.Finger, "an integer 0..10"); err != nil {
				return nil, err
			}
			if err := field(obj, f+".format", &t.Format, "a string"); err != nil {
				return nil, err
			}
			if err := field(obj, f+".data", &s, "a base64 string"); err != nil {
				return nil, err
			}
			if t.Data, err = base64.StdEncoding.Strict().DecodeString(s); err != nil {
				return nil, fieldErr(f+".data", "must be standard base64 (RFC 4648 section 4, with padding)")
			}
			r.Templates = append(r.Templates, t)
		}
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// duplicateMember returns the first member name that raw, a JSON object,
// gives twice, and "" if none does (or raw is not an object: the caller's
// decoder reports that). Go's decoder keeps the last of duplicates, another
// reader may keep the first: a strict format refuses them.
func duplicateMember(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		name, ok := t.(string)
		if err != nil || !ok {
			return ""
		}
		if seen[name] {
			return name
		}
		seen[name] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ""
		}
	}
	return ""
}

// object decodes raw as a JSON object whose member names must be exactly
// (case-sensitively) among allowed and include every name in required.
func object(raw []byte, path string, allowed, required []string) (map[string]json.RawMessage, error) {
	what := "the record"
	if path != "" {
		what = path
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&m); err != nil || m == nil {
		if path == "" {
			return nil, fieldErr(path, "not a JSON object: %v", jsonProblem(err))
		}
		return nil, fieldErr(path, "must be a JSON object")
	}
	if len(bytes.TrimSpace(raw[dec.InputOffset():])) != 0 {
		return nil, fieldErr(path, "trailing data after the JSON object")
	}
	if d := duplicateMember(raw); d != "" {
		return nil, fieldErr(path, "member %q given twice in %s: each member once", clip(d), what)
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !contains(allowed, k) {
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			return nil, fieldErr(sub, "unknown field in %s (allowed: %s)", what, strings.Join(allowed, ", "))
		}
	}
	for _, k := range required {
		if raw, ok := m[k]; !ok || isNull(raw) {
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			return nil, fieldErr(sub, "required")
		}
	}
	return m, nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	if err == nil {
		return "null"
	}
	return "malformed JSON"
}

func array(raw json.RawMessage, path string) ([]json.RawMessage, error) {
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil || isNull(raw) {
		return nil, fieldErr(path, "must be a JSON array")
	}
	return a, nil
}

// field decodes member name of obj into v; the member is already known to be
// present when required. Messages never echo the value (it may be a card
// number or template data).
func field(obj map[string]json.RawMessage, path string, v any, want string) error {
	name := path
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		name = path[i+1:]
	}
	raw, ok := obj[name]
	if !ok {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return fieldErr(path, "%s", fe.Problem)
		}
		// Date.UnmarshalJSON errors carry only the date text.
		if _, isDate := v.(*Date); isDate {
			return fieldErr(path, "%v", err)
		}
		return fieldErr(path, "must be %s", want)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ParseClock decodes an hq.clock value {"time":"<RFC 3339>"} strictly.
func ParseClock(data []byte) (time.Time, error) {
	obj, err := object(data, "", []string{"time"}, []string{"time"})
	if err != nil {
		return time.Time{}, fmt.Errorf("hq.clock: %w", err)
	}
	var s string
	if err := field(obj, "time", &s, "an RFC 3339 time string"); err != nil {
		return time.Time{}, fmt.Errorf("hq.clock: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("hq.clock: %w", fieldErr("time", "want an RFC 3339 time, got %q", clip(s)))
	}
	return t, nil
}

// MarshalClock encodes an hq.clock value.
func MarshalClock(t time.Time) []byte {
	b, _ := json.Marshal(struct {
		Time string `json:"time"`
	}{t.UTC().Format(time.RFC3339Nano)})
	return b
}

// SignClock returns the KV value of hq.clock at t, signed.
func (s *Signer) SignClock(t time.Time) []byte {
	return s.seal(kindClock, ClockKey, MarshalClock(t))
}

// OpenClock decodes a signed hq.clock value; with v not nil its signature
// must check with a trusted key. Errors wrap ErrInvalid, and ErrSignature
// for signature problems.
func OpenClock(value []byte, v *Verifier) (time.Time, error) {
	body, _, err := open(kindClock, ClockKey, value, v)
	if err != nil {
		return time.Time{}, err
	}
	return ParseClock(body)
}

// ErrReplay is wrapped by errors that refuse replayed or older data: a record
// whose updated time is older than the one the gate holds for the user (or
// not newer than the user's deletion), an hq.clock older than the stored
// one, a snapshot older than the stored revision. Such errors also wrap
// ErrInvalid.
var ErrReplay = errors.New("replayed or older registry data")

// ReplayError reports refused replayed or older data.
type ReplayError struct{ Problem string }

// Error implements error.
func (e *ReplayError) Error() string { return "registry: replayed or older data: " + e.Problem }

// Unwrap makes errors.Is true for both ErrReplay and ErrInvalid.
func (e *ReplayError) Unwrap() []error { return []error{ErrReplay, ErrInvalid} }
