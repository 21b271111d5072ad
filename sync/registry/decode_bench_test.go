package registry_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"ttpgate/sync/registry"
)

// benchValue is a signed KV value like the ones gatebench registry puts:
// one card, an ED window and 2 templates of 300 bytes.
func benchValue(b testing.TB, i int) (string, []byte) {
	tmpl := make([]byte, 300)
	rand.Read(tmpl)
	issued := registry.MustParseDate("2025-01-10")
	r := &registry.Record{Schema: registry.SchemaVersion, UserID: fmt.Sprintf("U%08d", i), Status: registry.StatusActive,
		Eligibility: registry.EligibilityShortTermVisitor, PassportExpiry: registry.MustParseDate("2031-06-30"), PreferredLanguage: "ja",
		Cards: []registry.Card{{Number: fmt.Sprintf("9%011d", i), Status: registry.CardActive, Issued: issued, Expires: issued.AddDays(1094)}},
		ED:    &registry.DateRange{From: registry.MustParseDate("2026-01-01"), To: registry.MustParseDate("2026-12-31")},
		Templates: []registry.Template{{Finger: 2, Format: registry.FormatISO19794_2_2005, Data: tmpl},
			{Finger: 7, Format: registry.FormatISO19794_2_2005, Data: tmpl}},
		Updated: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Microsecond)}
	v, err := hqKey.SignRecord(r)
	if err != nil {
		b.Fatal(err)
	}
	return registry.Key(r.UserID), v
}

func BenchmarkOpenRecord(b *testing.B) {
	key, val := benchValue(b, 42)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := registry.OpenRecord(key, val, verifier); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpenRecordNoVerify(b *testing.B) {
	key, val := benchValue(b, 42)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := registry.OpenRecord(key, val, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 1200)
	sig := ed25519.Sign(priv, msg)
	for b.Loop() {
		ed25519.Verify(pub, msg, sig)
	}
}

// BenchmarkOpenRecordBatch opens batch-signed values (256 records under one
// signature, as PutBatch signs) with the Verifier's root cache: one Ed25519
// verification per 256 records, the audit path hashed for each.
func BenchmarkOpenRecordBatch(b *testing.B) {
	const n = registry.DefaultSignBatch
	recs := make([]*registry.Record, n)
	keys := make([]string, n)
	for i := range recs {
		key, val := benchValue(b, i)
		r, err := registry.OpenRecord(key, val, verifier)
		if err != nil {
			b.Fatal(err)
		}
		recs[i], keys[i] = r, key
	}
	vals, err := hqKey.SignBatch(recs)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := registry.OpenRecord(keys[i%n], vals[i%n], verifier); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
