package registry

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"sync"
	"time"
)

// Fast paths for decoding what HQ writes.
//
// Record.Marshal and Signer.seal always write the same layout: members in a
// fixed order, no white space, no escapes (every string field is limited to
// ASCII letters, digits and a few punctuation characters). The fast paths
// below read exactly that layout in one pass, with few allocations, and give
// up (ok false) at the first byte that differs; the caller then runs the
// strict general decoder, which accepts the same records and reports the
// errors. A value the fast path accepts is one the general decoder would
// accept with the same result: the layout is a valid JSON object whose
// members are exactly the allowed ones, once each, and the decoded record
// passes the same Validate.

// scanner reads the fixed layout; any mismatch sets bad.
type scanner struct {
	b   []byte
	i   int
	bad bool
}

// lit consumes the literal s.
func (s *scanner) lit(l string) {
	if s.bad || len(s.b)-s.i < len(l) || string(s.b[s.i:s.i+len(l)]) != l {
		s.bad = true
		return
	}
	s.i += len(l)
}

// peek reports whether the literal l comes next (consuming nothing).
func (s *scanner) peek(l string) bool {
	return !s.bad && len(s.b)-s.i >= len(l) && string(s.b[s.i:s.i+len(l)]) == l
}

// raw consumes a JSON string without escapes or control characters and
// returns its contents (a slice of the input).
func (s *scanner) raw() []byte {
	if s.bad || s.i >= len(s.b) || s.b[s.i] != '"' {
		s.bad = true
		return nil
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		switch {
		case c == '"':
			s.i = j + 1
			return s.b[start:j]
		case c == '\\' || c < 0x20 || c >= 0x80:
			s.bad = true
			return nil
		}
	}
	s.bad = true
	return nil
}

// str is raw as a string; a value from known returns the constant, without
// allocating.
func (s *scanner) str(known ...string) string {
	b := s.raw()
	if s.bad {
		return ""
	}
	for _, k := range known {
		if string(b) == k {
			return k
		}
	}
	return string(b)
}

// num consumes a small non-negative integer written canonically.
func (s *scanner) num() int {
	if s.bad {
		return 0
	}
	n, j := 0, s.i
	for ; j < len(s.b) && j-s.i < 6 && s.b[j] >= '0' && s.b[j] <= '9'; j++ {
		n = n*10 + int(s.b[j]-'0')
	}
	if j == s.i || j-s.i >= 6 || s.b[s.i] == '0' && j-s.i > 1 {
		s.bad = true
		return 0
	}
	s.i = j
	return n
}

// date consumes a "YYYY-MM-DD" string.
func (s *scanner) date() Date {
	b := s.raw()
	if s.bad {
		return Date{}
	}
	if len(b) != 10 {
		s.bad = true
		return Date{}
	}
	d, err := ParseDate(string(b))
	if err != nil {
		s.bad = true
	}
	return d
}

var strictB64 = base64.StdEncoding.Strict()

// parseFast decodes a record body in Record.Marshal's layout, or returns
// ok false.
func parseFast(data []byte) (r *Record, ok bool) {
	s := scanner{b: data}
	r = &Record{}
	s.lit(`{"schema":`)
	r.Schema = s.num()
	s.lit(`,"user_id":`)
	r.UserID = s.str()
	s.lit(`,"status":`)
	r.Status = Status(s.str(string(StatusActive), string(StatusRevoked)))
	s.lit(`,"eligibility":`)
	r.Eligibility = Eligibility(s.str(string(EligibilityShortTermVisitor), string(EligibilityResident), string(EligibilityOther)))
	s.lit(`,"passport_expiry":`)
	r.PassportExpiry = s.date()
	s.lit(`,"preferred_language":`)
	r.PreferredLanguage = s.str("en", "ja", "zh-Hans", "zh-Hant", "ko", "fr", "de", "es")
	s.lit(`,"cards":[`)
	for n := 0; !s.bad; n++ {
		if n > MaxCards {
			return nil, false
		}
		if n > 0 {
			s.lit(",")
		}
		var c Card
		s.lit(`{"number":`)
		c.Number = s.str()
		s.lit(`,"status":`)
		c.Status = CardStatus(s.str(string(CardActive), string(CardSuperseded), string(CardLost)))
		s.lit(`,"issued":`)
		c.Issued = s.date()
		s.lit(`,"expires":`)
		c.Expires = s.date()
		s.lit("}")
		if r.Cards == nil {
			r.Cards = make([]Card, 0, 1)
		}
		r.Cards = append(r.Cards, c)
		if s.peek("]") {
			break
		}
	}
	s.lit("]")
	if s.peek(`,"ed":`) {
		s.lit(`,"ed":{"from":`)
		var ed DateRange
		ed.From = s.date()
		s.lit(`,"to":`)
		ed.To = s.date()
		s.lit("}")
		r.ED = &ed
	}
	s.lit(`,"templates":[`)
	if !s.peek("]") {
		for n := 0; !s.bad; n++ {
			if n > MaxTemplates {
				return nil, false
			}
			if n > 0 {
				s.lit(",")
			}
			var t Template
			s.lit(`{"finger":`)
			t.Finger = s.num()
			s.lit(`,"format":`)
			t.Format = s.str(FormatISO19794_2_2005, FormatANSI378_2004)
			s.lit(`,"data":`)
			b64 := s.raw()
			if s.bad || len(b64) > base64.StdEncoding.EncodedLen(MaxTemplateSize) {
				return nil, false
			}
			t.Data = make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
			n, err := strictB64.Decode(t.Data, b64)
			if err != nil {
				return nil, false
			}
			t.Data = t.Data[:n:n]
			s.lit("}")
			if r.Templates == nil {
				r.Templates = make([]Template, 0, 2)
			}
			r.Templates = append(r.Templates, t)
			if s.peek("]") {
				break
			}
		}
	}
	s.lit(`],"updated":`)
	updated := s.raw()
	s.lit("}")
	if s.bad || s.i != len(data) {
		return nil, false
	}
	var err error
	if r.Updated, err = time.Parse(time.RFC3339Nano, string(updated)); err != nil {
		return nil, false
	}
	if r.Validate() != nil {
		return nil, false
	}
	return r, true
}

// envelopeFast splits a signed value in Signer.seal's layout
// {"key_id":"…","sig":"…","<kind>":<body>} into its parts, or returns ok
// false. The body is not checked: the caller verifies the signature over it
// and decodes it strictly.
func envelopeFast(kind string, data []byte, sig *[ed25519.SignatureSize]byte) (body []byte, keyID string, ok bool) {
	s := scanner{b: data}
	s.lit(`{"key_id":`)
	kid := s.raw()
	s.lit(`,"sig":`)
	sigB64 := s.raw()
	s.lit(`,"`)
	s.lit(kind)
	s.lit(`":`)
	if s.bad || len(kid) == 0 || len(kid) > MaxKeyIDLen || len(sigB64) != base64.StdEncoding.EncodedLen(ed25519.SignatureSize) {
		return nil, "", false
	}
	for _, c := range kid {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return nil, "", false
		}
	}
	var buf [ed25519.SignatureSize + 2]byte
	if n, err := strictB64.Decode(buf[:], sigB64); err != nil || n != ed25519.SignatureSize {
		return nil, "", false
	}
	copy(sig[:], buf[:ed25519.SignatureSize])
	if body, ok = envelopeBody(&s, data); !ok {
		return nil, "", false
	}
	return body, string(kid), true
}

// envelopeBody returns the body member's value of an envelope in HQ's
// layout, the scanner standing just after its member name: the rest of data
// but its closing brace, itself an object.
func envelopeBody(s *scanner, data []byte) ([]byte, bool) {
	if s.i >= len(data) { // nothing after the body's member name
		return nil, false
	}
	body := data[s.i : len(data)-1]
	if len(body) < 2 || body[0] != '{' || body[len(body)-1] != '}' || data[len(data)-1] != '}' {
		return nil, false
	}
	return body, true
}

// msgPool recycles signature message buffers (a record is ~1.3 KB).
var msgPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// verifyBody reports whether sig is keyID's signature of body for kind and
// subject; v nil accepts any (signatures not checked).
func (v *Verifier) verifyBody(kind, subject, keyID string, body []byte, sig []byte) bool {
	if v == nil {
		return true
	}
	pub, ok := v.keys[keyID]
	if !ok {
		return false
	}
	bp := msgPool.Get().(*[]byte)
	m := appendSigMessage((*bp)[:0], kind, subject, body)
	good := ed25519.Verify(pub, m, sig)
	*bp = m[:0]
	msgPool.Put(bp)
	return good
}

// openRecordFast is OpenRecord's fast path: a value in HQ's layout whose
// signature checks and whose body decodes in the fast layout. On ok false
// the caller runs the general path (which reports the error, if any).
func openRecordFast(key, uid string, value []byte, v *Verifier) (*Record, bool) {
	if batchedPrefix(value) {
		return openBatchRecordFast(key, uid, value, v)
	}
	var sig [ed25519.SignatureSize]byte
	body, keyID, ok := envelopeFast(kindRecord, value, &sig)
	if !ok {
		return nil, false
	}
	// Decode first: it is cheaper than the signature and a body the fast
	// path cannot read sends the value to the general path anyway.
	r, ok := parseFast(body)
	if !ok || r.UserID != uid {
		return nil, false
	}
	if !v.verifyBody(kindRecord, key, keyID, body, sig[:]) {
		return nil, false
	}
	return r, true
}

// batchedPrefix reports whether value looks like a batch envelope in
// SignBatch's layout: {"key_id":"…","batch":…
func batchedPrefix(value []byte) bool {
	const head = `{"key_id":"`
	if len(value) < len(head) || string(value[:len(head)]) != head {
		return false
	}
	end := bytes.IndexByte(value[len(head):], '"')
	return end >= 0 && bytes.HasPrefix(value[len(head)+end:], []byte(`","batch":`))
}

// openBatchRecordFast is openRecordFast for a batch envelope.
func openBatchRecordFast(key, uid string, value []byte, v *Verifier) (*Record, bool) {
	var p batchProof
	var pathBuf [16*hashSize + 3]byte
	body, keyID, ok := batchEnvelopeFast(kindRecord, value, &p, pathBuf[:])
	if !ok {
		return nil, false
	}
	r, ok := parseFast(body)
	if !ok || r.UserID != uid {
		return nil, false
	}
	if v.verifyBatch(kindRecord, key, keyID, body, &p) != nil {
		return nil, false
	}
	return r, true
}
