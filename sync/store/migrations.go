package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migration is one schema version. Migrations are append-only: never edit a
// released one, add the next version instead.
type migration struct {
	version int
	name    string
	sql     string
}

var migrations = []migration{
	{1, "initial schema", `
CREATE TABLE gate_state (
	id                INTEGER PRIMARY KEY CHECK (id = 1),
	registry_revision INTEGER NOT NULL DEFAULT 0 CHECK (registry_revision >= 0),
	hq_clock          INTEGER,          -- unix nanoseconds of the last applied hq.clock, NULL if none
	last_event_seq    INTEGER NOT NULL DEFAULT 0 CHECK (last_event_seq >= 0),
	lane_state        BLOB,
	template_key_check BLOB             -- AES-GCM seal of a constant, detects a wrong template key
);
INSERT INTO gate_state (id) VALUES (1);

CREATE TABLE users (
	user_id            TEXT PRIMARY KEY,
	status             TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
	eligibility        TEXT NOT NULL CHECK (eligibility IN ('short_term_visitor', 'resident', 'other')),
	passport_expiry    TEXT NOT NULL CHECK (length(passport_expiry) = 10),
	preferred_language TEXT NOT NULL,
	ed_from            TEXT CHECK (ed_from IS NULL OR length(ed_from) = 10),
	ed_to              TEXT CHECK (ed_to IS NULL OR length(ed_to) = 10),
	updated            TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE cards (
	number  TEXT PRIMARY KEY CHECK (length(number) BETWEEN 6 AND 20),
	user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
	status  TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'lost')),
	issued  TEXT NOT NULL CHECK (length(issued) = 10),
	expires TEXT NOT NULL CHECK (length(expires) = 10)
) WITHOUT ROWID;
CREATE INDEX cards_user ON cards (user_id);

CREATE TABLE templates (
	user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
	finger  INTEGER NOT NULL CHECK (finger BETWEEN 0 AND 10),
	format  TEXT NOT NULL,
	sealed  BLOB NOT NULL,             -- nonce || AES-256-GCM ciphertext+tag
	PRIMARY KEY (user_id, finger, format)
) WITHOUT ROWID;

CREATE TABLE outbox (
	seq        INTEGER PRIMARY KEY CHECK (seq > 0),
	id         TEXT NOT NULL UNIQUE,
	subject    TEXT NOT NULL,
	payload    BLOB NOT NULL,
	created_ns INTEGER NOT NULL
);

CREATE TABLE audit (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	time_ns INTEGER NOT NULL,
	actor   TEXT NOT NULL,
	action  TEXT NOT NULL,
	detail  TEXT NOT NULL
);
`},
	{2, "replay protection: fixed-width updated times, user tombstones", `
-- users.updated is compared as text from now on: make every stored value
-- fixed width (9 fraction digits, UTC 'Z'), as the store writes it.
UPDATE users SET updated = substr(updated, 1, 19) || '.000000000Z'
	WHERE length(updated) = 20 AND substr(updated, 20, 1) = 'Z';
UPDATE users SET updated = substr(updated, 1, length(updated) - 1) || substr('000000000', 1, 30 - length(updated)) || 'Z'
	WHERE length(updated) BETWEEN 22 AND 29 AND substr(updated, 20, 1) = '.' AND substr(updated, -1) = 'Z';

-- A user deleted at HQ leaves its last updated time: a replay of an
-- older signed record of that user is refused.
CREATE TABLE user_tombstones (
	user_id TEXT PRIMARY KEY,
	updated TEXT NOT NULL
) WITHOUT ROWID;
`},
}

// SchemaVersion is the newest schema version this code knows (the version
// of the last migration).
const SchemaVersion = 2

// migrate brings the database to SchemaVersion, one transaction per version.
func migrate(ctx context.Context, db *sql.DB, path string) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("store %s: create schema_migrations: %w", path, err)
	}
	var current int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("store %s: read schema version: %w", path, err)
	}
	if current > SchemaVersion {
		return fmt.Errorf("store %s: database schema version %d is newer than this program knows (up to %d): "+
			"it was written by a newer ttpgate; upgrade the program, do not downgrade the database: %w",
			path, current, SchemaVersion, ErrSchemaTooNew)
	}
	for _, m := range migrations {
		if m.version <= current {
			continue
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store %s: migration %d: %w", path, m.version, err)
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			tx.Rollback()
			return fmt.Errorf("store %s: migration %d (%s): %w", path, m.version, m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, time.Now().UTC().Format(time.RFC3339)); err != nil {
			tx.Rollback()
			return fmt.Errorf("store %s: record migration %d: %w", path, m.version, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store %s: commit migration %d: %w", path, m.version, err)
		}
	}
	return nil
}
