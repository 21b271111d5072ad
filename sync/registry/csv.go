package registry

import (
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// CSV import format (HQ side, `hqctl registry import FILE.csv`): a header row
// naming the columns (any order), then one row per user:
//
//	user_id,status,eligibility,passport_expiry,preferred_language,cards,ed_from,ed_to,templates,updated
//
// cards is a ';'-separated list of number|status|issued|expires; templates a
// ';'-separated list of finger|format|base64 (may be empty); ed_from and
// ed_to are both empty (no ED on file) or both dates; updated is an RFC 3339
// time, or empty for the import time. Every other column is as in the JSON
// record (docs/registry.md).

// CSVColumns are the columns of the CSV import format; all but ed_from,
// ed_to, templates and updated are required.
var CSVColumns = []string{"user_id", "status", "eligibility", "passport_expiry", "preferred_language", "cards", "ed_from", "ed_to", "templates", "updated"}

var csvRequired = []string{"user_id", "status", "eligibility", "passport_expiry", "preferred_language", "cards"}

// CSVReader decodes registry records from CSV.
type CSVReader struct {
	r    *csv.Reader
	col  map[string]int
	line int
	// Now is the updated time of rows with an empty updated column
	// (default time.Now at each row).
	Now func() time.Time
}

// NewCSVReader reads the header row of r and returns a reader of its rows.
func NewCSVReader(r io.Reader) (*CSVReader, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = 0
	head, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("registry CSV: %w: empty file, want a header row (%s)", ErrInvalid, strings.Join(CSVColumns, ","))
		}
		return nil, fmt.Errorf("registry CSV: line 1: %w: %v", ErrInvalid, err)
	}
	c := &CSVReader{r: cr, col: map[string]int{}, line: 1}
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if !contains(CSVColumns, h) {
			return nil, fmt.Errorf("registry CSV: line 1: %w: unknown column %q (allowed: %s)", ErrInvalid, clip(h), strings.Join(CSVColumns, ", "))
		}
		if _, dup := c.col[h]; dup {
			return nil, fmt.Errorf("registry CSV: line 1: %w: column %q appears twice", ErrInvalid, h)
		}
		c.col[h] = i
	}
	for _, h := range csvRequired {
		if _, ok := c.col[h]; !ok {
			return nil, fmt.Errorf("registry CSV: line 1: %w: missing column %q", ErrInvalid, h)
		}
	}
	return c, nil
}

// Line returns the line number of the last row read (1 is the header).
func (c *CSVReader) Line() int { return c.line }

// Next returns the next record, io.EOF at the end. A row that does not
// decode returns an error wrapping ErrInvalid that names its line; reading
// may go on with the next row.
func (c *CSVReader) Next() (*Record, error) {
	row, err := c.r.Read()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			c.line = pe.Line
			if pe.Err == csv.ErrFieldCount {
				return nil, fmt.Errorf("line %d: %w", pe.Line, fieldErr("", "wrong number of fields (the header has %d)", len(c.col)))
			}
			return nil, fmt.Errorf("line %d: %w", pe.Line, fieldErr("", "CSV syntax: %v", pe.Err))
		}
		return nil, err
	}
	c.line, _ = c.r.FieldPos(0) // FieldPos panics after an error: only here
	r, err := c.decode(row)
	if err != nil {
		return nil, fmt.Errorf("line %d: %w", c.line, err)
	}
	return r, nil
}

func (c *CSVReader) get(row []string, name string) string {
	i, ok := c.col[name]
	if !ok || i >= len(row) {
		return ""
	}
	return strings.TrimSpace(row[i])
}

func (c *CSVReader) decode(row []string) (*Record, error) {
	r := &Record{Schema: SchemaVersion, UserID: c.get(row, "user_id"), Status: Status(c.get(row, "status")),
		Eligibility: Eligibility(c.get(row, "eligibility")), PreferredLanguage: c.get(row, "preferred_language")}
	var err error
	if r.PassportExpiry, err = csvDate("passport_expiry", c.get(row, "passport_expiry")); err != nil {
		return nil, err
	}
	for i, item := range strings.Split(c.get(row, "cards"), ";") {
		f := fmt.Sprintf("cards[%d]", i)
		parts := strings.Split(item, "|")
		if len(parts) != 4 {
			return nil, fieldErr(f, "want number|status|issued|expires")
		}
		card := Card{Number: strings.TrimSpace(parts[0]), Status: CardStatus(strings.TrimSpace(parts[1]))}
		if card.Issued, err = csvDate(f+".issued", parts[2]); err != nil {
			return nil, err
		}
		if card.Expires, err = csvDate(f+".expires", parts[3]); err != nil {
			return nil, err
		}
		r.Cards = append(r.Cards, card)
	}
	from, to := c.get(row, "ed_from"), c.get(row, "ed_to")
	if from != "" || to != "" {
		var ed DateRange
		if ed.From, err = csvDate("ed.from", from); err != nil {
			return nil, err
		}
		if ed.To, err = csvDate("ed.to", to); err != nil {
			return nil, err
		}
		r.ED = &ed
	}
	if ts := c.get(row, "templates"); ts != "" {
		for i, item := range strings.Split(ts, ";") {
			f := fmt.Sprintf("templates[%d]", i)
			parts := strings.Split(item, "|")
			if len(parts) != 3 {
				return nil, fieldErr(f, "want finger|format|base64")
			}
			var t Template
			if t.Finger, err = strconv.Atoi(strings.TrimSpace(parts[0])); err != nil {
				return nil, fieldErr(f+".finger", "must be an integer 0..%d", MaxFinger)
			}
			t.Format = strings.TrimSpace(parts[1])
			if t.Data, err = base64.StdEncoding.Strict().DecodeString(strings.TrimSpace(parts[2])); err != nil {
				return nil, fieldErr(f+".data", "must be standard base64 (RFC 4648 section 4, with padding)")
			}
			r.Templates = append(r.Templates, t)
		}
	}
	if u := c.get(row, "updated"); u != "" {
		if r.Updated, err = time.Parse(time.RFC3339Nano, u); err != nil {
			return nil, fieldErr("updated", "want an RFC 3339 time such as \"2026-01-02T15:04:05Z\", got %q", clip(u))
		}
	} else if c.Now != nil {
		r.Updated = c.Now().UTC()
	} else {
		r.Updated = time.Now().UTC()
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

func csvDate(field, s string) (Date, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Date{}, fieldErr(field, "required, a YYYY-MM-DD date")
	}
	d, err := ParseDate(s)
	if err != nil {
		return Date{}, fieldErr(field, "%v", err)
	}
	return d, nil
}
