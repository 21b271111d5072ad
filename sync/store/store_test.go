package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"ttpgate/sync/registry"
)

var testKey = bytes.Repeat([]byte{0x42}, TemplateKeySize)

func openTest(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gate.db")
	s, err := Open(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// templateBytes is recognisable, so the test can search the raw file for it.
func templateBytes(userID string, finger int) []byte {
	return []byte(fmt.Sprintf("FMR\x00 20\x00-TEMPLATE-%s-%d-SECRETMINUTIAE", userID, finger))
}

func rec(userID string, cards ...registry.Card) *registry.Record {
	if len(cards) == 0 {
		cards = []registry.Card{{Number: "10" + strings.Repeat("0", 6) + userID[len(userID)-2:], Status: registry.CardActive,
			Issued: registry.MustParseDate("2025-01-10"), Expires: registry.MustParseDate("2028-01-09")}}
	}
	return &registry.Record{
		Schema: 1, UserID: userID, Status: registry.StatusActive, Eligibility: registry.EligibilityShortTermVisitor,
		PassportExpiry: registry.MustParseDate("2030-01-31"), PreferredLanguage: "en",
		Cards: cards,
		ED:    &registry.DateRange{From: registry.MustParseDate("2026-11-20"), To: registry.MustParseDate("2026-12-10")},
		Templates: []registry.Template{
			{Finger: 2, Format: registry.FormatISO19794_2_2005, Data: templateBytes(userID, 2)},
			{Finger: 7, Format: registry.FormatISO19794_2_2005, Data: templateBytes(userID, 7)},
		},
		Updated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func card(number string, status registry.CardStatus, issued string) registry.Card {
	d := registry.MustParseDate(issued)
	return registry.Card{Number: number, Status: status, Issued: d, Expires: d.AddDays(3*365 - 1)}
}

func TestOpenCreatesWALAndMigrates(t *testing.T) {
	s, path := openTest(t)
	var mode string
	if err := s.w.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	var fk int
	if err := s.r.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v", fk, err)
	}
	var v int
	if err := s.r.QueryRow(`SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil || v != SchemaVersion {
		t.Fatalf("schema version = %d, %v", v, err)
	}
	if SchemaVersion != migrations[len(migrations)-1].version {
		t.Fatalf("SchemaVersion %d != last migration %d", SchemaVersion, migrations[len(migrations)-1].version)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("db file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	// The read pool cannot write.
	if _, err := s.r.Exec(`UPDATE gate_state SET last_event_seq = 9`); err == nil {
		t.Fatal("read pool accepted a write")
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	s, path := openTest(t)
	if _, err := s.w.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 'x')`, SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(path, testKey)
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), fmt.Sprintf("version %d is newer than this program knows (up to %d)", SchemaVersion+1, SchemaVersion)) {
		t.Fatalf("Open of newer DB: %v", err)
	}
}

func TestOpenBadArgs(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "x.db"), []byte("short")); err == nil || !strings.Contains(err.Error(), "must be 32 bytes") {
		t.Fatalf("short key: %v", err)
	}
	if _, err := Open(":memory:", testKey); err == nil {
		t.Fatal("accepted :memory:")
	}
}

func TestApplyAndLookup(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	r1, r2 := rec("U0000001"), rec("U0000002")
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.ApplyRegistry(ctx, []*registry.Record{r1, r2}, 7, &clock); err != nil {
		t.Fatal(err)
	}
	rev, hq, err := s.RegistryCursor(ctx)
	if err != nil || rev != 7 || !hq.Equal(clock) {
		t.Fatalf("cursor = %d %v %v", rev, hq, err)
	}
	got, err := s.LookupCard(ctx, r1.Cards[0].Number)
	if err != nil {
		t.Fatal(err)
	}
	want := &CardRecord{
		Card: r1.Cards[0],
		User: User{ID: "U0000001", Status: registry.StatusActive, Eligibility: registry.EligibilityShortTermVisitor,
			PassportExpiry: r1.PassportExpiry, ED: r1.ED, PreferredLanguage: "en", Updated: r1.Updated},
		Templates: r1.Templates,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LookupCard:\n got %+v\nwant %+v", got, want)
	}
	if _, err := s.LookupCard(ctx, "999999999"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown card: %v", err)
	}
	// A cursor-only batch (e.g. only hq.clock) keeps the clock when nil.
	if err := s.ApplyRegistry(ctx, nil, 9, nil); err != nil {
		t.Fatal(err)
	}
	if rev, hq, _ := s.RegistryCursor(ctx); rev != 9 || !hq.Equal(clock) {
		t.Fatalf("cursor after empty batch = %d %v", rev, hq)
	}
	if err := s.ApplyRegistry(ctx, nil, 8, nil); err == nil || !strings.Contains(err.Error(), "older than the stored cursor 9") {
		t.Fatalf("cursor regression accepted: %v", err)
	}
}

func TestApplyIdempotent(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	recs := []*registry.Record{rec("U0000001"), rec("U0000002"), rec("U0000003")}
	for i := 0; i < 3; i++ {
		if err := s.ApplyRegistry(ctx, recs, 3, nil); err != nil {
			t.Fatalf("apply #%d: %v", i, err)
		}
	}
	users, cards, err := s.Counts(ctx)
	if err != nil || users != 3 || cards != 3 {
		t.Fatalf("Counts = %d %d %v", users, cards, err)
	}
	var n int
	s.r.QueryRow(`SELECT count(*) FROM templates`).Scan(&n)
	if n != 6 {
		t.Fatalf("templates = %d, want 6", n)
	}
}

func TestReissueAndRevocation(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	old := card("1000000001", registry.CardActive, "2022-01-10")
	r := rec("U0000001", old)
	if err := s.ApplyRegistry(ctx, []*registry.Record{r}, 1, nil); err != nil {
		t.Fatal(err)
	}
	// Re-issue: the old card is superseded, a new one active; one template dropped.
	r2 := rec("U0000001", card("1000000001", registry.CardSuperseded, "2022-01-10"), card("1000000002", registry.CardActive, "2025-01-10"))
	r2.Templates = r2.Templates[:1]
	if err := s.ApplyRegistry(ctx, []*registry.Record{r2}, 2, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.LookupCard(ctx, "1000000001")
	if err != nil || got.Card.Status != registry.CardSuperseded || got.User.ID != "U0000001" {
		t.Fatalf("old card: %+v %v", got, err)
	}
	if len(got.Templates) != 1 {
		t.Fatalf("templates after re-issue = %d, want 1", len(got.Templates))
	}
	got, err = s.LookupCard(ctx, "1000000002")
	if err != nil || got.Card.Status != registry.CardActive {
		t.Fatalf("new card: %+v %v", got, err)
	}
	// Revocation is a put with status revoked.
	r3 := rec("U0000001", r2.Cards...)
	r3.Status = registry.StatusRevoked
	if err := s.ApplyRegistry(ctx, []*registry.Record{r3}, 3, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.LookupCard(ctx, "1000000002"); got.User.Status != registry.StatusRevoked || got.User.ED == nil {
		t.Fatalf("after revocation: %+v", got)
	}
	// ED removed.
	r3.ED = nil
	if err := s.ApplyRegistry(ctx, []*registry.Record{r3}, 4, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.LookupCard(ctx, "1000000002"); got.User.ED != nil {
		t.Fatalf("ED not cleared: %+v", got.User.ED)
	}
	// A card number listed by another user moves to the newest record.
	thief := rec("U0000002", card("1000000001", registry.CardLost, "2022-01-10"))
	if err := s.ApplyRegistry(ctx, []*registry.Record{thief}, 5, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.LookupCard(ctx, "1000000001"); got.User.ID != "U0000002" || got.Card.Status != registry.CardLost {
		t.Fatalf("moved card: %+v", got)
	}
	// Delete (HQ erased a user): user, cards and templates go.
	if err := s.ApplyBatch(ctx, &registry.Batch{Deleted: []string{"U0000001"}, Revision: 6}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LookupCard(ctx, "1000000002"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("card of deleted user: %v", err)
	}
	var n int
	s.r.QueryRow(`SELECT count(*) FROM templates WHERE user_id = 'U0000001'`).Scan(&n)
	if n != 0 {
		t.Fatalf("templates of deleted user remain: %d", n)
	}
}

func TestApplyAtomic(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if err := s.ApplyRegistry(ctx, []*registry.Record{rec("U0000001")}, 10, nil); err != nil {
		t.Fatal(err)
	}
	// Invalid before the DB: nothing applied.
	bad := rec("U0000003")
	bad.Status = "suspended"
	err := s.ApplyRegistry(ctx, []*registry.Record{rec("U0000002"), bad}, 11, nil)
	if !errors.Is(err, registry.ErrInvalid) || !strings.Contains(err.Error(), `user "U0000003"`) {
		t.Fatalf("invalid record: %v", err)
	}
	// Invalid at DB level, after earlier rows of the batch were written: a
	// trigger refuses one card.
	if _, err := s.w.Exec(`CREATE TRIGGER refuse BEFORE INSERT ON cards WHEN NEW.number = '5555555555'
		BEGIN SELECT RAISE(ABORT, 'refused by test'); END`); err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	err = s.ApplyRegistry(ctx, []*registry.Record{rec("U0000002"), rec("U0000003", card("5555555555", registry.CardActive, "2025-01-01"))}, 12, &clock)
	if err == nil || !strings.Contains(err.Error(), "refused by test") {
		t.Fatalf("DB-level failure: %v", err)
	}
	if strings.Contains(err.Error(), "5555555555") {
		t.Fatalf("error leaks the card number: %v", err)
	}
	rev, hq, _ := s.RegistryCursor(ctx)
	users, cards, _ := s.Counts(ctx)
	if rev != 10 || !hq.IsZero() || users != 1 || cards != 1 {
		t.Fatalf("after failed batch: rev %d clock %v users %d cards %d; want 10, zero, 1, 1", rev, hq, users, cards)
	}
	// A check constraint failure is reported as invalid.
	if _, err := s.w.Exec(`DROP TRIGGER refuse; CREATE TRIGGER refuse2 BEFORE INSERT ON cards WHEN NEW.number = '5555555555'
		BEGIN SELECT RAISE(ABORT, 'x'); END`); err != nil {
		t.Fatal(err)
	}
	err = s.ApplyRegistry(ctx, []*registry.Record{rec("U0000003", card("5555555555", registry.CardActive, "2025-01-01"))}, 12, nil)
	if !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("constraint failure not ErrInvalid: %v", err)
	}
}

func TestTemplatesEncryptedAtRest(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	r := rec("U0000001")
	if err := s.ApplyRegistry(ctx, []*registry.Record{r}, 1, nil); err != nil {
		t.Fatal(err)
	}
	// Force everything into the main file too.
	if _, err := s.w.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal"} {
		raw, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, tm := range r.Templates {
			if bytes.Contains(raw, tm.Data) || bytes.Contains(raw, []byte("SECRETMINUTIAE")) {
				t.Fatalf("%s contains template bytes in clear", f)
			}
		}
	}
	// A template sealed for one user/finger does not open as another's.
	var sealed []byte
	if err := s.r.QueryRow(`SELECT sealed FROM templates WHERE user_id = 'U0000001' AND finger = 2`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if _, err := s.open(sealed, templateAAD("U0000001", 7, registry.FormatISO19794_2_2005)); !errors.Is(err, ErrTemplateKey) {
		t.Fatalf("template opened with another finger's AAD: %v", err)
	}
	// Swap the rows of two fingers at DB level: lookup must fail, not mix them up.
	if _, err := s.w.Exec(`UPDATE templates SET sealed = ? WHERE user_id = 'U0000001' AND finger = 7`, sealed); err != nil {
		t.Fatal(err)
	}
	_, err := s.LookupCard(ctx, r.Cards[0].Number)
	if !errors.Is(err, ErrTemplateKey) || !strings.Contains(err.Error(), `user "U0000001" finger 7`) {
		t.Fatalf("swapped template: %v", err)
	}
	s.Close()

	// Wrong key: refused at Open with a clear error.
	other := bytes.Repeat([]byte{0x43}, TemplateKeySize)
	_, err = Open(path, other)
	if !errors.Is(err, ErrTemplateKey) || !strings.Contains(err.Error(), "not the key this database was created with") {
		t.Fatalf("Open with wrong key: %v", err)
	}
	// And a store with another key cannot open a row sealed with this one.
	s2, _ := openTest(t)
	s2k, _ := Open(filepath.Join(t.TempDir(), "k.db"), other)
	defer s2k.Close()
	_ = s2
	if _, err := s2k.open(sealed, templateAAD("U0000001", 2, registry.FormatISO19794_2_2005)); !errors.Is(err, ErrTemplateKey) {
		t.Fatalf("decrypt with wrong key: %v", err)
	}
}

func TestCommitOutbox(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	ev := func(seq uint64) OutboxEvent {
		return OutboxEvent{Seq: seq, ID: fmt.Sprintf("0190aaaa-0000-7000-8000-%012d", seq), Subject: "ttp.evt.NRT.G01.passage", Payload: []byte(fmt.Sprintf(`{"seq":%d}`, seq))}
	}
	if seq, _ := s.LastEventSeq(ctx); seq != 0 {
		t.Fatalf("LastEventSeq of new store = %d", seq)
	}
	if st, _ := s.LaneState(ctx); st != nil {
		t.Fatalf("LaneState of new store = %q", st)
	}
	if err := s.Commit(ctx, []byte("state-1"), []OutboxEvent{ev(1), ev(2)}, []AuditEntry{{Actor: "lane", Action: "mode.set", Detail: "in service"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, nil, []OutboxEvent{ev(3)}, nil); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.LaneState(ctx); string(st) != "state-1" {
		t.Fatalf("LaneState = %q (nil must leave it unchanged)", st)
	}
	// Rejections.
	for name, c := range map[string][]OutboxEvent{
		"not increasing":  {ev(5), ev(4)},
		"not after last":  {ev(3)},
		"missing id":      {{Seq: 9, Subject: "ttp.evt.x"}},
		"zero seq":        {{Seq: 0, ID: "x", Subject: "ttp.evt.x"}},
		"duplicate id":    {{Seq: 9, ID: ev(1).ID, Subject: "ttp.evt.x"}},
		"subject w/space": {{Seq: 9, ID: "y", Subject: "ttp evt"}},
	} {
		if err := s.Commit(ctx, []byte("bad"), c, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if st, _ := s.LaneState(ctx); string(st) != "state-1" {
		t.Fatalf("a failed commit changed the lane state to %q", st)
	}
	if seq, _ := s.LastEventSeq(ctx); seq != 3 {
		t.Fatalf("LastEventSeq = %d, want 3", seq)
	}
	p, err := s.PendingEvents(ctx, 0, 10)
	if err != nil || len(p) != 3 || !reflect.DeepEqual(p[0], ev(1)) || p[2].Seq != 3 {
		t.Fatalf("PendingEvents = %+v, %v", p, err)
	}
	if p, _ := s.PendingEvents(ctx, 1, 1); len(p) != 1 || p[0].Seq != 2 {
		t.Fatalf("PendingEvents(after 1, limit 1) = %+v", p)
	}
	if err := s.AckEvents(ctx, []uint64{1, 3, 42}); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.OutboxDepth(ctx); d != 1 {
		t.Fatalf("OutboxDepth = %d, want 1", d)
	}
	if err := s.AckEvents(ctx, []uint64{2}); err != nil {
		t.Fatal(err)
	}
	// The sequence survives the rows being acked.
	if seq, _ := s.LastEventSeq(ctx); seq != 3 {
		t.Fatalf("LastEventSeq after ack = %d, want 3", seq)
	}
	if err := s.Commit(ctx, nil, []OutboxEvent{ev(3)}, nil); err == nil {
		t.Fatal("reused seq 3 after its row was acked")
	}
	a, err := s.RecentAudit(ctx, 10)
	if err != nil || len(a) != 1 || a[0].Action != "mode.set" || a[0].Time.IsZero() {
		t.Fatalf("RecentAudit = %+v, %v", a, err)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	clock := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	r := rec("U0000001")
	if err := s.ApplyRegistry(ctx, []*registry.Record{r}, 42, &clock); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, []byte("lane"), []OutboxEvent{{Seq: 5, ID: "id-5", Subject: "ttp.evt.a.b.c", Payload: []byte("{}")}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, testKey)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	rev, hq, _ := s2.RegistryCursor(ctx)
	seq, _ := s2.LastEventSeq(ctx)
	st, _ := s2.LaneState(ctx)
	d, _ := s2.OutboxDepth(ctx)
	got, err := s2.LookupCard(ctx, r.Cards[0].Number)
	if rev != 42 || !hq.Equal(clock) || seq != 5 || string(st) != "lane" || d != 1 || err != nil || !reflect.DeepEqual(got.Templates, r.Templates) {
		t.Fatalf("after reopen: rev %d clock %v seq %d state %q depth %d lookup %v", rev, hq, seq, st, d, err)
	}
}

func TestConcurrentReadersAndWriter(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	if err := s.ApplyRegistry(ctx, []*registry.Record{rec("U0000001")}, 1, nil); err != nil {
		t.Fatal(err)
	}
	num := rec("U0000001").Cards[0].Number
	done := make(chan error, 4)
	for g := 0; g < 3; g++ {
		go func() {
			for i := 0; i < 50; i++ {
				if _, err := s.LookupCard(ctx, num); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	go func() {
		for i := uint64(1); i <= 50; i++ {
			if err := s.Commit(ctx, []byte("x"), []OutboxEvent{{Seq: i, ID: fmt.Sprint("id", i), Subject: "ttp.evt.a", Payload: nil}}, nil); err != nil {
				done <- err
				return
			}
			if err := s.ApplyRegistry(ctx, []*registry.Record{rec("U0000001")}, i+1, nil); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < 4; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkLookupCard(b *testing.B) {
	s, _ := openTest(b)
	ctx := context.Background()
	const n = 10000
	recs := make([]*registry.Record, 0, 1000)
	for i := 0; i < n; i++ {
		r := rec(fmt.Sprintf("U%07d", i), card(fmt.Sprintf("1%09d", i), registry.CardActive, "2025-01-10"))
		r.Templates[0].Data = bytes.Repeat([]byte{byte(i)}, 600)
		r.Templates[1].Data = bytes.Repeat([]byte{byte(i + 1)}, 600)
		recs = append(recs, r)
		if len(recs) == cap(recs) {
			if err := s.ApplyRegistry(ctx, recs, uint64(i+1), nil); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	b.ResetTimer()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		cr, err := s.LookupCard(ctx, fmt.Sprintf("1%09d", (i*7919)%n))
		if err != nil || len(cr.Templates) != 2 {
			b.Fatal(err)
		}
	}
}

func BenchmarkApplyRegistry1000(b *testing.B) {
	s, _ := openTest(b)
	ctx := context.Background()
	recs := make([]*registry.Record, 1000)
	for i := range recs {
		recs[i] = rec(fmt.Sprintf("U%07d", i), card(fmt.Sprintf("1%09d", i), registry.CardActive, "2025-01-10"))
	}
	rev := uint64(0)
	for b.Loop() {
		rev++
		if err := s.ApplyRegistry(ctx, recs, rev, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}

func BenchmarkCommit(b *testing.B) {
	s, _ := openTest(b)
	ctx := context.Background()
	seq := uint64(0)
	for b.Loop() {
		seq++
		if err := s.Commit(ctx, []byte("lane-state"), []OutboxEvent{{Seq: seq, ID: fmt.Sprint("id-", seq), Subject: "ttp.evt.NRT.G01.passage", Payload: make([]byte, 400)}}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLookupUserWithoutTemplates(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	r := rec("U0000001")
	r.Templates = nil
	r.ED = nil
	if err := s.ApplyRegistry(ctx, []*registry.Record{r}, 1, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.LookupCard(ctx, r.Cards[0].Number)
	if err != nil || got.User.ID != "U0000001" || len(got.Templates) != 0 || got.User.ED != nil {
		t.Fatalf("LookupCard = %+v, %v", got, err)
	}
}
