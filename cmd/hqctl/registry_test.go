package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
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
