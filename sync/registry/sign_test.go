package registry

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testSigner(t testing.TB, id string) *Signer {
	t.Helper()
	s, err := GenerateSigner(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func verifierOf(t testing.TB, ss ...*Signer) *Verifier {
	t.Helper()
	m := map[string]ed25519.PublicKey{}
	for _, s := range ss {
		m[s.KeyID()] = s.PublicKey()
	}
	v, err := NewVerifier(m)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSignedRecordRoundTripAndRotation(t *testing.T) {
	old, cur := testSigner(t, "hq-2025"), testSigner(t, "hq-2026")
	r, err := Parse([]byte(validJSON))
	if err != nil {
		t.Fatal(err)
	}
	v := verifierOf(t, old, cur) // during a rotation gates trust both keys
	for _, s := range []*Signer{old, cur} {
		val, err := s.SignRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := OpenRecord(Key(r.UserID), val, v)
		if err != nil {
			t.Fatalf("%s: %v", s.KeyID(), err)
		}
		if got.Schema != SchemaVersion || got.UserID != r.UserID || len(got.Cards) != 2 {
			t.Fatalf("%s: got %+v", s.KeyID(), got)
		}
	}
	// After the rotation the old key is no longer trusted.
	val, _ := old.SignRecord(r)
	if _, err := OpenRecord(Key(r.UserID), val, verifierOf(t, cur)); !errors.Is(err, ErrSignature) || !errors.Is(err, ErrInvalid) ||
		!strings.Contains(err.Error(), `key id "hq-2025" is not among the HQ public keys this gate trusts (hq-2026)`) {
		t.Fatalf("old key after rotation: %v", err)
	}
}

func TestOpenRecordRejects(t *testing.T) {
	hq, forger := testSigner(t, "hq"), testSigner(t, "hq")
	v := verifierOf(t, hq)
	r, _ := Parse([]byte(validJSON))
	good, _ := hq.SignRecord(r)
	forged, _ := forger.SignRecord(r)
	other := *r
	other.UserID = "U0000002"
	otherVal, _ := hq.SignRecord(&other)
	cases := []struct {
		name, key string
		val       []byte
		want      string
	}{
		{"bare v1 record", Key(r.UserID), []byte(validJSON), "unsigned record"},
		{"forged", Key(r.UserID), forged, `does not verify with HQ key "hq"`},
		{"tampered body", Key(r.UserID), bytes.Replace(good, []byte(`"active"`), []byte(`"revoked"`), 1), "does not verify"},
		{"moved to another key", Key("U0000002"), good, "does not verify"},
		{"other user's record", Key(r.UserID), otherVal, "does not verify"},
		{"no sig", Key(r.UserID), []byte(`{"key_id":"hq","record":{}}`), "sig missing"},
		{"short sig", Key(r.UserID), []byte(`{"key_id":"hq","sig":"AAAA","record":{}}`), "sig must be 64 bytes"},
		{"bad key id", Key(r.UserID), []byte(`{"key_id":"h q","sig":"AAAA","record":{}}`), "key_id missing or not"},
		{"extra member", Key(r.UserID), []byte(`{"key_id":"hq","sig":"AAAA","record":{},"x":1}`), `unknown field "x"`},
		{"not json", Key(r.UserID), []byte(`{"key_id":`), "not a signed record envelope"},
		{"trailing", Key(r.UserID), append(append([]byte{}, good...), '{', '}'), "trailing data"},
		{"bad key", "junk", good, "is not user.<user_id>"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := OpenRecord(c.key, c.val, v)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an ErrInvalid containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "1000000001") {
				t.Fatalf("error leaks a card number: %v", err)
			}
		})
	}
	// A signed but invalid body is refused by the record parser.
	bad := hq.SignRecordBody(Key(r.UserID), []byte(`{"schema":2,"user_id":"U0000001"}`))
	if _, err := OpenRecord(Key(r.UserID), bad, v); err == nil || errors.Is(err, ErrSignature) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("signed invalid body: %v", err)
	}
}

func TestSignedClock(t *testing.T) {
	hq := testSigner(t, "hq")
	v := verifierOf(t, hq)
	now := time.Date(2026, 5, 6, 7, 8, 9, 1, time.UTC)
	got, err := OpenClock(hq.SignClock(now), v)
	if err != nil || !got.Equal(now) {
		t.Fatalf("OpenClock = %v, %v", got, err)
	}
	if _, err := OpenClock(MarshalClock(now), v); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "unsigned hq.clock") {
		t.Fatalf("unsigned clock: %v", err)
	}
	if _, err := OpenClock(testSigner(t, "hq").SignClock(now), v); !errors.Is(err, ErrSignature) {
		t.Fatalf("forged clock: %v", err)
	}
	// A record signature does not pass as a clock.
	r, _ := Parse([]byte(validJSON))
	rv, _ := hq.SignRecord(r)
	if _, err := OpenClock(rv, v); err == nil {
		t.Fatal("record accepted as clock")
	}
}

func TestKeyFile(t *testing.T) {
	s := testSigner(t, "hq-1")
	got, err := ParseSigner(s.MarshalPrivate())
	if err != nil || !got.PublicKey().Equal(s.PublicKey()) || got.KeyID() != "hq-1" {
		t.Fatalf("ParseSigner = %v, %v", got, err)
	}
	path := filepath.Join(t.TempDir(), "hq.key")
	if err := os.WriteFile(path, s.MarshalPrivate(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key: %v", err)
	}
	os.Chmod(path, 0o600)
	if _, err := LoadSigner(path); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`{}`, `{"type":"ttpgate-hq-signing-key-v1","key_id":"x","seed":"AAAA"}`, `nope`} {
		if _, err := ParseSigner([]byte(bad)); err == nil {
			t.Errorf("ParseSigner(%s) accepted", bad)
		}
	}
	id, k, err := ParsePublicKey(s.PublicKeyString())
	if err != nil || id != "hq-1" || !k.Equal(s.PublicKey()) {
		t.Fatalf("ParsePublicKey = %v %v %v", id, k, err)
	}
	if _, err := ParsePublicKeys(map[string]string{"hq": "AAAA"}); err == nil {
		t.Fatal("short public key accepted")
	}
	if _, err := NewVerifier(nil); err == nil {
		t.Fatal("empty verifier accepted")
	}
}

func testManifest() *Manifest {
	return &Manifest{Format: ManifestFormat, Bucket: Bucket, Revision: 42, Object: "registry-42.db", Size: 4096,
		SHA256: [32]byte{1, 2, 3}, Users: 1, Cards: 2, Templates: 3, Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		TransportKey: bytes.Repeat([]byte{9}, TransportKeySize)}
}

func TestManifest(t *testing.T) {
	hq := testSigner(t, "hq")
	v := verifierOf(t, hq)
	m := testManifest()
	signed := hq.SignManifest(m)
	got, err := OpenManifest(signed, v)
	if err != nil || got.Revision != 42 || got.SHA256 != m.SHA256 || !bytes.Equal(got.TransportKey, m.TransportKey) {
		t.Fatalf("OpenManifest = %+v, %v", got, err)
	}
	// Changing the revision or hash breaks the signature.
	for _, tamper := range [][2]string{{`"revision":42`, `"revision":43`}, {`"sha256":"01`, `"sha256":"02`}} {
		bad := bytes.Replace(signed, []byte(tamper[0]), []byte(tamper[1]), 1)
		if _, err := OpenManifest(bad, v); !errors.Is(err, ErrSignature) {
			t.Errorf("tampered %s: %v", tamper[0], err)
		}
	}
	for _, c := range []struct{ from, to, want string }{
		{`"format":1`, `"format":2`, "format must be 1"},
		{`"object":"registry-42.db"`, `"object":"../etc/passwd"`, "object must be"},
		{`"revision":42`, `"revision":0`, "revision must be at least 1"},
		{`"size":4096`, `"size":-1`, "size must be positive"},
		{`"bucket":"ttp-registry"`, `"bucket":"x"`, "bucket must be"},
	} {
		body := bytes.Replace(m.Marshal(), []byte(c.from), []byte(c.to), 1)
		if _, err := ParseManifest(body); err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.to, err)
		}
	}
}

const csvHeader = "user_id,status,eligibility,passport_expiry,preferred_language,cards,ed_from,ed_to,templates,updated\n"

func TestCSV(t *testing.T) {
	in := csvHeader +
		"U1,active,short_term_visitor,2030-01-31,en,1000000001|superseded|2022-01-10|2025-01-09;1000000002|active|2025-01-10|2028-01-09,2026-11-20,2026-12-10,2|iso19794-2:2005|Rk1SACAyMAA=,2026-01-02T03:04:05Z\n" +
		"U2,active,short_term_visitor,2030-01-31,en,1000000003|active|2025-01-10|2028-01-09,,,,\n" +
		"U3,active,short_term_visitor,2030-02-30,en,1000000004|active|2025-01-10|2028-01-09,,,,\n" +
		"U4,active\n" +
		"U5,active,short_term_visitor,2030-01-31,en,1000000005|active|2025-01-10,,,,\n"
	now := time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)
	c, err := NewCSVReader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	c.Now = func() time.Time { return now }
	var got []*Record
	var errs []string
	for {
		r, err := c.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not ErrInvalid: %v", err)
			}
			errs = append(errs, err.Error())
			continue
		}
		got = append(got, r)
	}
	if len(got) != 2 || len(got[0].Cards) != 2 || got[0].ED == nil || len(got[0].Templates) != 1 || !got[1].Updated.Equal(now) {
		t.Fatalf("records: %+v", got)
	}
	want := []string{"line 4: registry record: field passport_expiry", "line 5: registry record: wrong number of fields", "line 6: registry record: field cards[0]: want number|status|issued|expires"}
	if len(errs) != len(want) {
		t.Fatalf("errors: %q", errs)
	}
	for i := range want {
		if !strings.HasPrefix(errs[i], want[i]) {
			t.Errorf("error %d = %q, want prefix %q", i, errs[i], want[i])
		}
		if strings.Contains(errs[i], "100000000") {
			t.Errorf("error leaks a card number: %q", errs[i])
		}
	}
	for _, head := range []string{"", "user_id,nickname\n", "user_id,status\n", "user_id,user_id\n"} {
		if _, err := NewCSVReader(strings.NewReader(head)); !errors.Is(err, ErrInvalid) {
			t.Errorf("header %q: %v", head, err)
		}
	}
}

func FuzzOpenRecord(f *testing.F) {
	hq, _ := GenerateSigner("hq")
	v, _ := NewVerifier(map[string]ed25519.PublicKey{"hq": hq.PublicKey()})
	r, _ := Parse([]byte(validJSON))
	good, _ := hq.SignRecord(r)
	f.Add(good)
	f.Add([]byte(validJSON))
	f.Add([]byte(`{"key_id":"hq","sig":"","record":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := OpenRecord(Key("U0000001"), data, v)
		if err != nil {
			if rec != nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("bad error contract: %v %v", rec, err)
			}
			return
		}
		if !bytes.Equal(data, good) && rec.UserID != "U0000001" {
			t.Fatalf("accepted a record for another user")
		}
		if err := rec.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzOpenManifest(f *testing.F) {
	hq, _ := GenerateSigner("hq")
	m := testManifest()
	f.Add(hq.SignManifest(m), true)
	f.Add(m.Marshal(), false)
	f.Fuzz(func(t *testing.T, data []byte, signed bool) {
		var err error
		var got *Manifest
		if signed {
			got, err = OpenManifest(data, nil)
		} else {
			got, err = ParseManifest(data)
		}
		if err != nil {
			if got != nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("bad error contract: %v", err)
			}
			return
		}
		again, err := ParseManifest(got.Marshal())
		if err != nil || again.Revision != got.Revision || again.SHA256 != got.SHA256 {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzCSV(f *testing.F) {
	f.Add(csvHeader + "U1,active,short_term_visitor,2030-01-31,en,1000000001|active|2025-01-10|2028-01-09,2026-11-20,2026-12-10,2|iso19794-2:2005|Rk1SACAyMAA=,2026-01-02T03:04:05Z\n")
	f.Add("user_id,cards\n\"x\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := NewCSVReader(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("header error not ErrInvalid: %v", err)
			}
			return
		}
		for i := 0; i < 1000; i++ {
			r, err := c.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("row error not ErrInvalid: %v", err)
				}
				continue
			}
			if err := r.Validate(); err != nil {
				t.Fatal(err)
			}
		}
	})
}
