package store

import (
	"errors"
	"github.com/nats-io/nats.go/jetstream"

	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"time"

	"ttpgate/sync/registry"
)

// A registry snapshot is a ready SQLite file with the gate's registry tables
// (users, cards with the same columns and constraints; templates sealed with
// the snapshot's transport key instead of a gate's key) and a snapshot_meta
// row (format, revision, HQ clock). HQ builds it with CreateSnapshot, signs
// its SHA-256 and revision in a registry.Manifest and publishes both; a gate
// checks the hash and signature (registry.FetchSnapshot), then
// InstallSnapshot copies it into new tables beside the live ones, re-sealing
// every template with the gate's own key, and swaps them in in one short
// transaction. The lane keeps deciding on the old copy until the swap.

// SnapshotFormat is the layout version of a snapshot file.
const SnapshotFormat = 1

const snapshotSchema = `
CREATE TABLE tombstones (            -- users HQ deleted: a replay of an older record stays refused
	user_id TEXT PRIMARY KEY,
	updated TEXT NOT NULL            -- records updated at or before this are replays
) WITHOUT ROWID;
CREATE TABLE snapshot_meta (
	id       INTEGER PRIMARY KEY CHECK (id = 1),
	format   INTEGER NOT NULL,
	revision INTEGER NOT NULL,
	hq_clock INTEGER             -- unix nanoseconds, NULL if none
);
CREATE TABLE users (
	user_id            TEXT PRIMARY KEY,
	status             TEXT NOT NULL,
	eligibility        TEXT NOT NULL,
	passport_expiry    TEXT NOT NULL,
	preferred_language TEXT NOT NULL,
	ed_from            TEXT,
	ed_to              TEXT,
	updated            TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE cards (
	number  TEXT PRIMARY KEY,
	user_id TEXT NOT NULL,
	status  TEXT NOT NULL,
	issued  TEXT NOT NULL,
	expires TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE templates (
	user_id TEXT NOT NULL,
	finger  INTEGER NOT NULL,
	format  TEXT NOT NULL,
	sealed  BLOB NOT NULL,          -- nonce || AES-256-GCM under the transport key
	PRIMARY KEY (user_id, finger, format)
) WITHOUT ROWID;
`

// TransportKeySize is the size of a snapshot's transport key (AES-256).
const TransportKeySize = 32

func transportAAD(userID string, finger int, format string) []byte {
	return fmt.Appendf(nil, "ttpgate/snapshot-template/v1\x00%s\x00%d\x00%s", userID, finger, format)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// SnapshotBuilder writes a snapshot file. Add records in bucket revision
// order, then Finish. Not safe for concurrent use.
type SnapshotBuilder struct {
	path  string
	db    *sql.DB
	tx    *sql.Tx
	aead  cipher.AEAD
	n     int
	stmts struct{ user, delCards, delTemplates, card, template *sql.Stmt }
	// Counts so far.
	Users, Cards, Templates int64
	Tombstones              int64 // users deleted at HQ (AddTombstone)
}

// CreateSnapshot creates a new snapshot file at path (which must not exist)
// whose templates are sealed with transportKey.
func CreateSnapshot(path string, transportKey []byte) (*SnapshotBuilder, error) {
	if len(transportKey) != TransportKeySize {
		return nil, fmt.Errorf("store: snapshot transport key must be %d bytes, got %d", TransportKeySize, len(transportKey))
	}
	aead, err := newAEAD(transportKey)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: create snapshot: %w", err)
	}
	f.Close()
	params := url.Values{}
	params.Set("_journal_mode", "OFF")
	params.Set("_synchronous", "OFF")
	db, err := sql.Open("sqlite3", path+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: create snapshot %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	b := &SnapshotBuilder{path: path, db: db, aead: aead}
	if _, err := db.Exec(`PRAGMA page_size = 4096; PRAGMA cache_size = -65536;` + snapshotSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: create snapshot %s: %w", path, err)
	}
	if err := b.begin(); err != nil {
		db.Close()
		return nil, err
	}
	return b, nil
}

func (b *SnapshotBuilder) begin() error {
	tx, err := b.db.Begin()
	if err != nil {
		return fmt.Errorf("store: snapshot: %w", err)
	}
	b.tx = tx
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = tx.Prepare(q)
		return s
	}
	b.stmts.user = prep(`INSERT OR REPLACE INTO users (user_id, status, eligibility, passport_expiry, preferred_language, ed_from, ed_to, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	b.stmts.delCards = prep(`DELETE FROM cards WHERE user_id = ?`)
	b.stmts.delTemplates = prep(`DELETE FROM templates WHERE user_id = ?`)
	b.stmts.card = prep(`INSERT OR REPLACE INTO cards (number, user_id, status, issued, expires) VALUES (?, ?, ?, ?, ?)`)
	b.stmts.template = prep(`INSERT INTO templates (user_id, finger, format, sealed) VALUES (?, ?, ?, ?)`)
	if err != nil {
		tx.Rollback()
		return fmt.Errorf("store: snapshot: prepare: %w", err)
	}
	return nil
}

func (b *SnapshotBuilder) commit() error {
	for _, s := range []*sql.Stmt{b.stmts.user, b.stmts.delCards, b.stmts.delTemplates, b.stmts.card, b.stmts.template} {
		s.Close()
	}
	err := b.tx.Commit()
	b.tx = nil
	if err != nil {
		return fmt.Errorf("store: snapshot: commit: %w", err)
	}
	return nil
}

// Add writes r (validated) into the snapshot; call it once per user (a
// bucket read yields each key once). A later record wins a card number an
// earlier one also lists, as at a gate.
func (b *SnapshotBuilder) Add(r *registry.Record) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("store: snapshot: user %q: %w", userID(r), err)
	}
	var edFrom, edTo any
	if r.ED != nil {
		edFrom, edTo = nullDate(r.ED.From), nullDate(r.ED.To)
	}
	st := &b.stmts
	if _, err := st.user.Exec(r.UserID, string(r.Status), string(r.Eligibility), r.PassportExpiry.String(),
		r.PreferredLanguage, edFrom, edTo, formatUpdated(r.Updated)); err != nil {
		return fmt.Errorf("store: snapshot: user %q: %w", r.UserID, err)
	}
	for _, c := range r.Cards {
		if _, err := st.card.Exec(c.Number, r.UserID, string(c.Status), c.Issued.String(), c.Expires.String()); err != nil {
			return fmt.Errorf("store: snapshot: user %q: %s", r.UserID, redactCard(err.Error(), c.Number))
		}
		b.Cards++
	}
	for _, t := range r.Templates {
		nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(t.Data)+b.aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return err
		}
		sealed := b.aead.Seal(nonce, nonce, t.Data, transportAAD(r.UserID, t.Finger, t.Format))
		if _, err := st.template.Exec(r.UserID, t.Finger, t.Format, sealed); err != nil {
			return fmt.Errorf("store: snapshot: user %q template: %w", r.UserID, err)
		}
		b.Templates++
	}
	b.Users++
	if b.n++; b.n >= 50000 {
		b.n = 0
		if err := b.commit(); err != nil {
			return err
		}
		return b.begin()
	}
	return nil
}

// AddTombstone records that HQ deleted user userID at deletedAt (the delete
// marker's time in the bucket): a gate installing the snapshot keeps refusing
// a replay of any record of that user updated at or before it, as a gate that
// saw the delete itself does.
func (b *SnapshotBuilder) AddTombstone(userID string, deletedAt time.Time) error {
	if err := registry.ValidUserID(userID); err != nil {
		return fmt.Errorf("store: snapshot: tombstone: user id %q: %v", userID, err)
	}
	if _, err := b.tx.Exec(`INSERT INTO tombstones (user_id, updated) VALUES (?, ?)
		ON CONFLICT (user_id) DO UPDATE SET updated = max(updated, excluded.updated)`, userID, formatUpdated(deletedAt)); err != nil {
		return fmt.Errorf("store: snapshot: tombstone %q: %w", userID, err)
	}
	b.Tombstones++
	return nil
}

// BuildSnapshot builds HQ's snapshot file of the registry bucket at path
// (which must not exist): every user record (verified with v, when not nil),
// a tombstone for every user deleted in the bucket, the revision and HQ clock
// the read covers. Templates are sealed with transportKey. The file is
// removed if the build fails.
func BuildSnapshot(ctx context.Context, js jetstream.JetStream, v *registry.Verifier, path string, transportKey []byte) (*SnapshotBuilder, registry.BucketState, error) {
	b, err := CreateSnapshot(path, transportKey)
	if err != nil {
		return nil, registry.BucketState{}, err
	}
	bs, err := registry.ReadBucket(ctx, js, v, b.Add)
	if err != nil {
		b.Abort()
		return nil, bs, err
	}
	for _, d := range bs.Deleted {
		if err := b.AddTombstone(d.UserID, d.At); err != nil {
			b.Abort()
			return nil, bs, err
		}
	}
	if err := b.Finish(bs.Revision, bs.HQClock); err != nil {
		os.Remove(path)
		return nil, bs, err
	}
	return b, bs, nil
}

// Finish records the bucket revision and HQ clock the snapshot covers,
// counts the rows again (a card moved between users is counted once) and
// closes the file.
func (b *SnapshotBuilder) Finish(revision uint64, hqClock time.Time) error {
	if err := b.commit(); err != nil {
		b.db.Close()
		return err
	}
	var clock any
	if !hqClock.IsZero() {
		clock = hqClock.UnixNano()
	}
	_, err := b.db.Exec(`INSERT INTO snapshot_meta (id, format, revision, hq_clock) VALUES (1, ?, ?, ?)`, SnapshotFormat, revision, clock)
	if err == nil {
		err = b.db.QueryRow(`SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM cards), (SELECT count(*) FROM templates)`).
			Scan(&b.Users, &b.Cards, &b.Templates)
	}
	if cerr := b.db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: snapshot %s: %w", b.path, err)
	}
	return nil
}

// Abort closes and removes an unfinished snapshot.
func (b *SnapshotBuilder) Abort() {
	if b.tx != nil {
		b.tx.Rollback()
	}
	b.db.Close()
	os.Remove(b.path)
}

// registryTables returns the DDL of the registry tables with a name suffix,
// identical in columns and constraints to migration 1's.
func registryTables(suffix string) string {
	return fmt.Sprintf(`
CREATE TABLE users%[1]s (
	user_id            TEXT PRIMARY KEY,
	status             TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
	eligibility        TEXT NOT NULL CHECK (eligibility IN ('short_term_visitor', 'resident', 'other')),
	passport_expiry    TEXT NOT NULL CHECK (length(passport_expiry) = 10),
	preferred_language TEXT NOT NULL,
	ed_from            TEXT CHECK (ed_from IS NULL OR length(ed_from) = 10),
	ed_to              TEXT CHECK (ed_to IS NULL OR length(ed_to) = 10),
	updated            TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE cards%[1]s (
	number  TEXT PRIMARY KEY CHECK (length(number) BETWEEN 6 AND 20),
	user_id TEXT NOT NULL REFERENCES users%[1]s (user_id) ON DELETE CASCADE,
	status  TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'lost')),
	issued  TEXT NOT NULL CHECK (length(issued) = 10),
	expires TEXT NOT NULL CHECK (length(expires) = 10)
) WITHOUT ROWID;
CREATE TABLE templates%[1]s (
	user_id TEXT NOT NULL REFERENCES users%[1]s (user_id) ON DELETE CASCADE,
	finger  INTEGER NOT NULL CHECK (finger BETWEEN 0 AND 10),
	format  TEXT NOT NULL,
	sealed  BLOB NOT NULL,
	PRIMARY KEY (user_id, finger, format)
) WITHOUT ROWID;
`, suffix)
}

// InstallProgress, when set on InstallOptions, is told how far an install is.
type InstallProgress func(stage string, rows int64)

// installChunk is how many rows one copy transaction moves: the writer lock
// is held for a few tens of milliseconds at a time, so the lane's decisions
// and events commit in between.
var installChunk = 20000

// InstallSnapshot installs the verified snapshot file at path (its hash and
// the manifest's signature already checked by registry.FetchSnapshot) as the
// gate's registry: it copies the snapshot into new tables beside the live
// ones in short transactions, re-sealing each template from the manifest's
// transport key to the gate's key, then swaps them in and sets the cursor to
// m.Revision in one transaction. Card lookups see the old copy until that
// commit and the new one after. A snapshot older than the stored cursor is
// refused (registry.ErrReplay), as is one whose file does not match m.
func (s *Store) InstallSnapshot(ctx context.Context, path string, m *registry.Manifest) error {
	cur, _, err := s.RegistryCursor(ctx)
	if err != nil {
		return err
	}
	if m.Revision < cur {
		return &registry.ReplayError{Problem: fmt.Sprintf("snapshot at revision %d is older than this gate's registry (revision %d)", m.Revision, cur)}
	}
	topen, err := newAEAD(m.TransportKey)
	if err != nil {
		return fmt.Errorf("store: snapshot transport key: %w", err)
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("store: install snapshot: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `ATTACH DATABASE ? AS snap`, path); err != nil {
		return fmt.Errorf("store: install snapshot: attach %s: %w", path, err)
	}
	defer s.w.ExecContext(context.Background(), `DETACH DATABASE snap`)

	var format int
	var rev uint64
	var clock sql.NullInt64
	if err := s.w.QueryRowContext(ctx, `SELECT format, revision, hq_clock FROM snap.snapshot_meta WHERE id = 1`).Scan(&format, &rev, &clock); err != nil {
		return fmt.Errorf("store: install snapshot: %w: not a snapshot file (snapshot_meta: %v)", registry.ErrInvalid, err)
	}
	if format != SnapshotFormat || rev != m.Revision {
		return fmt.Errorf("store: install snapshot: %w: file has format %d revision %d, manifest says format %d revision %d",
			registry.ErrInvalid, format, rev, SnapshotFormat, m.Revision)
	}
	if err := s.dropRegistryTables(ctx, "_next"); err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, registryTables("_next")); err != nil {
		return fmt.Errorf("store: install snapshot: create tables: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			s.dropRegistryTables(context.Background(), "_next")
		}
	}()

	// Users and cards: straight SQL copies in primary-key order, chunked.
	if err := s.copyChunked(ctx, `INSERT INTO users_next (user_id, status, eligibility, passport_expiry, preferred_language, ed_from, ed_to, updated)
		SELECT user_id, status, eligibility, passport_expiry, preferred_language, ed_from, ed_to, updated
		FROM snap.users WHERE user_id > ? ORDER BY user_id LIMIT ?`, `SELECT max(user_id) FROM users_next`); err != nil {
		return fmt.Errorf("store: install snapshot: users: %w", err)
	}
	if err := s.copyChunked(ctx, `INSERT INTO cards_next (number, user_id, status, issued, expires)
		SELECT number, user_id, status, issued, expires
		FROM snap.cards WHERE number > ? ORDER BY number LIMIT ?`, `SELECT max(number) FROM cards_next`); err != nil {
		return fmt.Errorf("store: install snapshot: cards: %s", err)
	}
	if err := s.copyTemplates(ctx, topen); err != nil {
		return fmt.Errorf("store: install snapshot: templates: %w", err)
	}
	if err := s.tombstoneDropped(ctx); err != nil {
		return fmt.Errorf("store: install snapshot: tombstones: %w", err)
	}
	idx := fmt.Sprintf("cards_user_%d", time.Now().UnixNano())
	if _, err := s.w.ExecContext(ctx, `CREATE INDEX `+idx+` ON cards_next (user_id)`); err != nil {
		return fmt.Errorf("store: install snapshot: index: %w", err)
	}

	// The swap: one short transaction.
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: install snapshot: %w", err)
	}
	defer rollback(tx)
	if err := tx.QueryRowContext(ctx, `SELECT registry_revision FROM gate_state WHERE id = 1`).Scan(&cur); err != nil {
		return err
	}
	if m.Revision < cur {
		return &registry.ReplayError{Problem: fmt.Sprintf("snapshot at revision %d is older than this gate's registry (revision %d)", m.Revision, cur)}
	}
	for _, q := range []string{
		`DROP TABLE IF EXISTS templates_old`, `DROP TABLE IF EXISTS cards_old`, `DROP TABLE IF EXISTS users_old`,
		`ALTER TABLE users RENAME TO users_old`, `ALTER TABLE cards RENAME TO cards_old`, `ALTER TABLE templates RENAME TO templates_old`,
		`ALTER TABLE users_next RENAME TO users`, `ALTER TABLE cards_next RENAME TO cards`, `ALTER TABLE templates_next RENAME TO templates`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: install snapshot: %s: %w", q, err)
		}
	}
	// HQ's deletions the snapshot carries (files from before tombstones have none).
	var hasTombstones bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM snap.sqlite_master WHERE type = 'table' AND name = 'tombstones')`).Scan(&hasTombstones); err != nil {
		return fmt.Errorf("store: install snapshot: %w", err)
	}
	if hasTombstones {
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_tombstones (user_id, updated)
			SELECT user_id, updated FROM snap.tombstones WHERE user_id NOT IN (SELECT user_id FROM users)
			ON CONFLICT (user_id) DO UPDATE SET updated = max(updated, excluded.updated)`); err != nil {
			return fmt.Errorf("store: install snapshot: tombstones: %w", err)
		}
	}
	var c any
	if clock.Valid {
		c = clock.Int64
	}
	if _, err := tx.ExecContext(ctx, `UPDATE gate_state SET registry_revision = ?1,
		hq_clock = CASE WHEN ?2 IS NULL THEN hq_clock ELSE max(COALESCE(hq_clock, ?2), ?2) END WHERE id = 1`, m.Revision, c); err != nil {
		return fmt.Errorf("store: install snapshot: cursor: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: install snapshot: commit: %w", err)
	}
	ok = true
	// The old copy goes in small deletes (cascading to its cards and
	// templates), so the writer is never held for long.
	return s.dropRegistryTables(ctx, "_old")
}

// copyChunked runs insert (params: last key, limit) until it copies fewer
// than a chunk; lastKey reads the greatest key copied so far.
func (s *Store) copyChunked(ctx context.Context, insert, lastKey string) error {
	last := ""
	for {
		res, err := s.w.ExecContext(ctx, insert, last, installChunk)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		if n < int64(installChunk) {
			return nil
		}
		var k sql.NullString
		if err := s.w.QueryRowContext(ctx, lastKey).Scan(&k); err != nil {
			return err
		}
		last = k.String
	}
}

// tombstoneDropped gives a tombstone (the stored record's updated time) to
// every user of the live copy that the snapshot being installed (users_next)
// no longer has: HQ erased them while this gate did not see the delete
// (offline past the bucket's history, or the marker purged), so a replay of
// their older records must stay refused after the swap. In chunks of
// installChunk users, so that the writer is never held long; the live
// registry does not change meanwhile (its only writer is installing).
func (s *Store) tombstoneDropped(ctx context.Context) error {
	last := ""
	for {
		var upper sql.NullString
		err := s.w.QueryRowContext(ctx, `SELECT user_id FROM users WHERE user_id > ? ORDER BY user_id LIMIT 1 OFFSET ?`, last, installChunk-1).Scan(&upper)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var hi any
		if upper.Valid {
			hi = upper.String
		}
		if _, err := s.w.ExecContext(ctx, `INSERT INTO user_tombstones (user_id, updated)
			SELECT user_id, updated FROM users
			WHERE user_id > ?1 AND (?2 IS NULL OR user_id <= ?2) AND user_id NOT IN (SELECT user_id FROM users_next)
			ON CONFLICT (user_id) DO UPDATE SET updated = max(updated, excluded.updated)`, last, hi); err != nil {
			return err
		}
		if !upper.Valid {
			return nil
		}
		last = upper.String
	}
}

type snapTemplate struct {
	user   string
	finger int
	format string
	sealed []byte
}

func (s *Store) copyTemplates(ctx context.Context, topen cipher.AEAD) error {
	chunk := max(installChunk/4, 1)
	var (
		lastUser, lastFormat string
		lastFinger           = -1
		rows                 = make([]snapTemplate, 0, chunk)
	)
	for {
		rows = rows[:0]
		tx, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		q, err := tx.QueryContext(ctx, `SELECT user_id, finger, format, sealed FROM snap.templates
			WHERE (user_id, finger, format) > (?, ?, ?) ORDER BY user_id, finger, format LIMIT ?`, lastUser, lastFinger, lastFormat, chunk)
		if err != nil {
			tx.Rollback()
			return err
		}
		for q.Next() {
			var t snapTemplate
			if err := q.Scan(&t.user, &t.finger, &t.format, &t.sealed); err != nil {
				q.Close()
				tx.Rollback()
				return err
			}
			rows = append(rows, t)
		}
		q.Close()
		if err := q.Err(); err != nil {
			tx.Rollback()
			return err
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO templates_next (user_id, finger, format, sealed) VALUES (?, ?, ?, ?)`)
		if err != nil {
			tx.Rollback()
			return err
		}
		for _, t := range rows {
			n := topen.NonceSize()
			if len(t.sealed) < n+topen.Overhead() {
				ins.Close()
				tx.Rollback()
				return fmt.Errorf("%w: template of user %q finger %d is truncated", registry.ErrInvalid, t.user, t.finger)
			}
			plain, err := topen.Open(nil, t.sealed[:n], t.sealed[n:], transportAAD(t.user, t.finger, t.format))
			if err != nil {
				ins.Close()
				tx.Rollback()
				return fmt.Errorf("%w: template of user %q finger %d does not open with the manifest's transport key", registry.ErrInvalid, t.user, t.finger)
			}
			if _, err := ins.ExecContext(ctx, t.user, t.finger, t.format, s.seal(plain, templateAAD(t.user, t.finger, t.format))); err != nil {
				ins.Close()
				tx.Rollback()
				return err
			}
			clear(plain)
		}
		ins.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
		if len(rows) < chunk {
			return nil
		}
		l := rows[len(rows)-1]
		lastUser, lastFinger, lastFormat = l.user, l.finger, l.format
	}
}

// dropRegistryTables removes users<suffix>, cards<suffix> and
// templates<suffix> if they exist, deleting rows in small transactions first.
func (s *Store) dropRegistryTables(ctx context.Context, suffix string) error {
	var n int
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, "users"+suffix).Scan(&n); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if n > 0 {
		for {
			res, err := s.w.ExecContext(ctx, `DELETE FROM users`+suffix+` WHERE user_id IN (SELECT user_id FROM users`+suffix+` LIMIT 2000)`)
			if err != nil {
				return fmt.Errorf("store: clear users%s: %w", suffix, err)
			}
			if k, _ := res.RowsAffected(); k == 0 {
				break
			}
		}
	}
	for _, t := range []string{"templates", "cards", "users"} {
		if _, err := s.w.ExecContext(ctx, `DROP TABLE IF EXISTS `+t+suffix); err != nil {
			return fmt.Errorf("store: drop %s%s: %w", t, suffix, err)
		}
	}
	return nil
}
