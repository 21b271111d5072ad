package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"ttpgate/sync/registry"
)

// BenchmarkApplyUpdates is the gate's delta apply at the store, as gatebench
// registry measures it end to end: a registry of 50,000 users (one card, an
// ED window and 2 templates of 300 bytes each), updated in batches of 2,000
// records (the watcher's default batch), each a newer version of an existing
// user. "same-templates" changes the record but not its cards or templates
// (a status, an ED window: most of HQ's changes, and gatebench's deltas);
// "new-templates" re-enrols every user (new template data).
func BenchmarkApplyUpdates(b *testing.B) {
	for _, newTemplates := range []bool{false, true} {
		name := "same-templates"
		if newTemplates {
			name = "new-templates"
		}
		b.Run(name, func(b *testing.B) { benchmarkApplyUpdates(b, newTemplates) })
	}
}

func benchmarkApplyUpdates(b *testing.B, newTemplates bool) {
	s, _ := openTest(b)
	ctx := context.Background()
	const users, batch = 50_000, 2_000
	tmpl := make([]byte, 300)
	for i := range tmpl {
		tmpl[i] = byte(i * 7)
	}
	mk := func(i int, at time.Time, round int) *registry.Record {
		r := rec(fmt.Sprintf("U%08d", i), card(fmt.Sprintf("9%011d", i), registry.CardActive, "2025-01-10"))
		r.Templates[0].Data, r.Templates[1].Data = tmpl, tmpl
		if newTemplates && round > 0 {
			d := append([]byte(nil), tmpl...)
			d[0], d[1] = byte(round), byte(round>>8)
			r.Templates[0].Data, r.Templates[1].Data = d, d
		}
		r.Updated = at
		return r
	}
	rev := uint64(0)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	apply := func(from int, at time.Time, round int) {
		recs := make([]*registry.Record, 0, batch)
		for i := from; i < from+batch; i++ {
			recs = append(recs, mk(i%users, at, round))
		}
		rev++
		if err := s.ApplyRegistry(ctx, recs, rev, nil); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < users; i += batch {
		apply(i, base, 0)
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	n := 0
	for i := 0; b.Loop(); i++ {
		apply((i*batch)%users, base.Add(time.Duration(i+1)*time.Second), i+1)
		n += batch
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/record")
	// CPU time is steadier than wall time on a shared machine.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(n), "cpu-ns/record")
}

// cpuTime is the process's user + system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// dumpRegistry is the registry tables' content, templates decrypted.
func dumpRegistry(t *testing.T, s *Store) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT user_id, status, eligibility, passport_expiry, preferred_language, COALESCE(ed_from, ''), COALESCE(ed_to, ''), updated FROM users ORDER BY user_id`,
		`SELECT number, user_id, status, issued, expires, '', '', '' FROM cards ORDER BY number`,
	} {
		rows, err := s.r.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c [8]string
			if err := rows.Scan(&c[0], &c[1], &c[2], &c[3], &c[4], &c[5], &c[6], &c[7]); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, c)
		}
		rows.Close()
	}
	rows, err := s.r.Query(`SELECT user_id, finger, format, sealed FROM templates ORDER BY user_id, finger, format`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var user, format string
		var finger int
		var sealed []byte
		if err := rows.Scan(&user, &finger, &format, &sealed); err != nil {
			t.Fatal(err)
		}
		data, err := s.open(sealed, templateAAD(user, finger, format))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, user, finger, format, string(data))
	}
	return b.String()
}

// The multi-row path (a batch in chunks) leaves exactly what applying the
// same records one at a time leaves, with card numbers moving between users
// within and across chunks, users gaining and losing cards and templates.
func TestApplyChunkedSameAsOneByOne(t *testing.T) {
	chunked, _ := openTest(t)
	single, _ := openTest(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rev := uint64(0)
	last := map[int]*registry.Record{}
	for round := 0; round < 40; round++ {
		n := 1 + rng.IntN(150)
		perm := rng.Perm(200)[:n] // distinct users, as the watcher's batches have
		var recs []*registry.Record
		for _, u := range perm {
			at = at.Add(time.Second)
			var cards []registry.Card
			for _, c := range rng.Perm(260)[:1+rng.IntN(3)] {
				st := []registry.CardStatus{registry.CardActive, registry.CardSuperseded, registry.CardLost}[rng.IntN(3)]
				cards = append(cards, card(fmt.Sprintf("7%07d", c), st, "2025-01-10"))
			}
			r := rec(fmt.Sprintf("U%05d", u), cards...)
			r.Templates = r.Templates[:rng.IntN(3)]
			if len(r.Templates) > 0 && rng.IntN(3) == 0 {
				r.Templates[0].Data = fmt.Appendf(nil, "re-enrolled %d", rng.IntN(3))
			}
			if prev := last[u]; prev != nil && rng.IntN(2) == 0 {
				// The same cards and templates, another status: most of HQ's changes.
				r.Cards, r.Templates = prev.Cards, prev.Templates
				r.Status = []registry.Status{registry.StatusActive, registry.StatusRevoked}[rng.IntN(2)]
				if rng.IntN(3) == 0 { // a card reported lost, or found again
					r.Cards = append([]registry.Card(nil), prev.Cards...)
					r.Cards[0].Status = []registry.CardStatus{registry.CardActive, registry.CardLost}[rng.IntN(2)]
				}
			}
			if rng.IntN(4) == 0 {
				r.ED = nil
			}
			r.Updated = at
			last[u] = r
			recs = append(recs, r)
		}
		rev++
		if err := chunked.ApplyRegistry(ctx, recs, rev, nil); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs { // the one-record-at-a-time statements
			one := []*registry.Record{r}
			if err := single.applyBatch(ctx, &registry.Batch{Records: one, Revision: rev}, single.sealTemplates(one)); err != nil {
				t.Fatal(err)
			}
		}
		if round%10 == 5 { // HQ deletes a few users: tombstones
			var del []string
			for _, u := range rng.Perm(200)[:5] {
				del = append(del, fmt.Sprintf("U%05d", u))
				delete(last, u)
			}
			rev++
			for _, s := range []*Store{chunked, single} {
				if err := s.ApplyBatch(ctx, &registry.Batch{Deleted: del, Revision: rev}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	a, b := dumpRegistry(t, chunked), dumpRegistry(t, single)
	if a != b {
		t.Fatalf("chunked and one-by-one differ:\n%s\n---\n%s", a[:min(len(a), 2000)], b[:min(len(b), 2000)])
	}
	if strings.Count(a, "\n") < 300 {
		t.Fatalf("too little data to compare: %d lines", strings.Count(a, "\n"))
	}
}

// A replayed record in a batch fails the whole batch with ErrReplay naming
// the user, and nothing of the batch is applied.
func TestApplyChunkedReplayRefused(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	var recs []*registry.Record
	for i := 0; i < 100; i++ {
		r := rec(fmt.Sprintf("U%05d", i), card(fmt.Sprintf("7%07d", i), registry.CardActive, "2025-01-10"))
		r.Updated = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		recs = append(recs, r)
	}
	if err := s.ApplyRegistry(ctx, recs, 1, nil); err != nil {
		t.Fatal(err)
	}
	before := dumpRegistry(t, s)
	var next []*registry.Record
	for i, r := range recs {
		c := *r
		c.Status = registry.StatusRevoked
		c.Updated = r.Updated.Add(time.Hour)
		if i == 70 {
			c.Updated = r.Updated.Add(-time.Hour)
		}
		next = append(next, &c)
	}
	err := s.ApplyRegistry(ctx, next, 2, nil)
	if !errors.Is(err, registry.ErrReplay) || !strings.Contains(err.Error(), `user "U00070"`) {
		t.Fatalf("got %v, want ErrReplay naming U00070", err)
	}
	if after := dumpRegistry(t, s); after != before {
		t.Fatal("part of the refused batch was applied")
	}
	if rev, _, _ := s.RegistryCursor(ctx); rev != 1 {
		t.Fatalf("cursor moved to %d", rev)
	}
}

// The additional data binding a sealed template must never change: stores
// written before hold templates sealed with it.
func TestTemplateAADUnchanged(t *testing.T) {
	for _, c := range []struct {
		user   string
		finger int
		format string
	}{{"U0000001", 2, registry.FormatISO19794_2_2005}, {"a", 0, registry.FormatANSI378_2004}, {"U-_9", 10, "x"}} {
		want := fmt.Sprintf("ttpgate/template/v1\x00%s\x00%d\x00%s", c.user, c.finger, c.format)
		if got := string(templateAAD(c.user, c.finger, c.format)); got != want {
			t.Errorf("templateAAD(%q, %d, %q) = %q, want %q", c.user, c.finger, c.format, got, want)
		}
	}
}

// A chunk of records at every limit (32 cards, 20 templates each) fits one
// set of multi-row statements (SQLite's parameter limit), rather than
// falling back to one record at a time.
func TestApplyChunkOfLargestRecords(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	var recs []*registry.Record
	for i := 0; i < upsertChunk; i++ {
		var cards []registry.Card
		for c := 0; c < registry.MaxCards; c++ {
			cards = append(cards, card(fmt.Sprintf("8%03d%03d", i, c), registry.CardSuperseded, "2025-01-10"))
		}
		r := rec(fmt.Sprintf("U%05d", i), cards...)
		r.Templates = nil
		for f := 0; f <= registry.MaxFinger; f++ {
			for _, format := range []string{registry.FormatISO19794_2_2005, registry.FormatANSI378_2004} {
				if len(r.Templates) < registry.MaxTemplates {
					r.Templates = append(r.Templates, registry.Template{Finger: f, Format: format, Data: []byte{byte(i), byte(f)}})
				}
			}
		}
		r.Updated = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		recs = append(recs, r)
	}
	if err := s.applyBatch(ctx, &registry.Batch{Records: recs, Revision: 1}, nil); err != nil {
		t.Fatalf("chunked apply of %d records at the limits: %v", len(recs), err)
	}
	if users, cards, err := s.Counts(ctx); err != nil || users != upsertChunk || cards != upsertChunk*registry.MaxCards {
		t.Fatalf("counts %d users %d cards, %v", users, cards, err)
	}
}
