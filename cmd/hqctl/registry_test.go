package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ttpgate/internal/devhq"
	"ttpgate/sync/registry"
	"ttpgate/sync/store"
)

func TestRegistryChangesAndSnapshot(t *testing.T) {
	ctx := context.Background()
	hq, err := devhq.Start(ctx, devhq.Options{Dir: t.TempDir(), Port: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer hq.Close()
	d := registry.MustParseDate
	r := &registry.Record{Schema: 2, UserID: "U1", Status: registry.StatusActive, Eligibility: registry.EligibilityShortTermVisitor,
		PassportExpiry: d("2028-06-30"), PreferredLanguage: "en",
		Cards:   []registry.Card{{Number: "1000000001", Status: registry.CardActive, Issued: d("2025-01-10"), Expires: d("2028-01-09")}},
		Updated: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := registry.Put(ctx, hq.KV, r); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if _, _, err := Reissue(ctx, hq.KV, "1000000001", "1000000002", registry.Date{}, registry.Date{}, now); err != nil {
		t.Fatal(err)
	}
	got, _, err := registry.Get(ctx, hq.KV, "U1", hq.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Cards) != 2 || got.Cards[0].Status != registry.CardSuperseded || got.Cards[1].Status != registry.CardActive ||
		got.Cards[1].Issued != d("2026-03-01") || got.Cards[1].Expires != d("2028-06-30") {
		t.Fatalf("after reissue: %+v", got.Cards)
	}
	if _, _, err := ReportLost(ctx, hq.KV, "1000000002", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Revoke(ctx, hq.KV, "1000000001", now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, _, _ = registry.Get(ctx, hq.KV, "U1", hq.Verifier())
	if got.Status != registry.StatusRevoked || got.Cards[1].Status != registry.CardLost || !got.Updated.Equal(now.Add(2*time.Minute)) {
		t.Fatalf("after lost and revoke: %+v", got)
	}
	if _, _, err := Revoke(ctx, hq.KV, "999999", now); !errors.Is(err, errCardNotFound) {
		t.Fatalf("unknown card: %v", err)
	}

	m, err := BuildAndPublishSnapshot(ctx, hq.JS, hq.KV, hq.Signer, t.TempDir(), 1, "", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if m.Users != 1 || m.Cards != 2 {
		t.Fatalf("manifest %+v", m)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "gate.db"), make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := registry.Bootstrap(ctx, hq.JS, st, hq.Verifier()); err != nil {
		t.Fatal(err)
	}
	cr, err := st.LookupCard(ctx, "1000000002")
	if err != nil || cr.Card.Status != registry.CardLost || cr.User.Status != registry.StatusRevoked {
		t.Fatalf("gate after bootstrap: %+v %v", cr, err)
	}
}

// import signs in batches: every record arrives batch-signed, verifies at a
// gate, and a file larger than one signing batch spans several.
func TestRegistryImportBatchSigned(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "hq.key")
	hq, err := devhq.Start(ctx, devhq.Options{Dir: dir, KeyFile: keyFile, Port: -1, ClockEvery: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer hq.Close()
	n := registry.DefaultSignBatch + 10
	var lines []string
	for i := 0; i < n; i++ {
		lines = append(lines, fmt.Sprintf(`{"schema":1,"user_id":"U%05d","status":"active","eligibility":"short_term_visitor",`+
			`"passport_expiry":"2030-01-31","preferred_language":"en","cards":[{"number":"5%09d","status":"active","issued":"2025-01-10","expires":"2028-01-09"}],`+
			`"updated":"2026-01-02T03:04:05Z"}`, i, i))
	}
	file := filepath.Join(dir, "users.ndjson")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := capture(t, ctx, "registry", "import", "-nats", hq.URL, "-key", keyFile, file); err != nil {
		t.Fatal(err)
	}
	v := hq.Verifier()
	sigs := map[string]bool{}
	for _, i := range []int{0, registry.DefaultSignBatch - 1, registry.DefaultSignBatch, n - 1} {
		uid := fmt.Sprintf("U%05d", i)
		e, err := hq.KV.Get(ctx, registry.Key(uid))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(e.Value(), []byte(`"batch":{"sig":"`)) {
			t.Fatalf("%s not batch-signed: %.120s", uid, e.Value())
		}
		sigs[string(batchMember(e.Value()))[:100]] = true
		if r, err := registry.OpenRecord(e.Key(), e.Value(), v); err != nil || r.UserID != uid {
			t.Fatalf("%s: %v", uid, err)
		}
	}
	if len(sigs) != 2 {
		t.Fatalf("%d distinct batch signatures among the first and last two batches' records, want 2", len(sigs))
	}
	if rev, _ := v.BatchStats(); rev != 2 {
		t.Fatalf("%d root verifications for 2 batches", rev)
	}
}

// batchMember is the "batch":{…} member of a batch envelope.
func batchMember(val []byte) []byte {
	i, j := bytes.Index(val, []byte(`"batch":`)), bytes.Index(val, []byte(`},"record":`))
	return val[i : j+1]
}
