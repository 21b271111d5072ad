// Package store is the gate's local SQLite store: the registry copy (users,
// cards, encrypted fingerprint templates) with its sync cursor, the lane's
// state, the event outbox and the audit log.
//
// The database runs in WAL mode with foreign keys on, synchronous=FULL (a
// committed decision survives a power cut), one writer connection and a
// small read pool. Schema migrations are versioned and run at Open.
// Templates are sealed with AES-256-GCM; the additional data binds each
// template to its user, finger and format. Nothing in this package logs, and
// no error message contains a card number or template bytes.
package store

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"ttpgate/sync/registry"
)

// TemplateKeySize is the size of the template encryption key (AES-256).
const TemplateKeySize = 32

// Errors returned by the store.
var (
	// ErrNotFound is returned by LookupCard for an unknown card number.
	ErrNotFound = errors.New("store: not found")
	// ErrTemplateKey reports that templates cannot be decrypted: the key
	// the gate was provisioned with is not the key the store was written
	// with, or the row is corrupted.
	ErrTemplateKey = errors.New("store: template key does not decrypt the stored templates (wrong key or corrupted data)")
	// ErrSchemaTooNew reports a database written by a newer program.
	ErrSchemaTooNew = errors.New("store: database schema is newer than this program")
)

// Store is the gate's local database. It is safe for concurrent use.
type Store struct {
	path string
	w    *sql.DB // the one writer connection
	r    *sql.DB // read-only pool
	aead cipher.AEAD

	lookup *sql.Stmt // lookupSQL on the read pool
}

const busyTimeoutMS = 5000

// Open opens (creating if needed) the database at path, runs the schema
// migrations and checks templateKey, the 32-byte AES-256-GCM key that seals
// templates at rest. A database created with another key fails with
// ErrTemplateKey; a database newer than this code fails with ErrSchemaTooNew.
func Open(path string, templateKey []byte) (*Store, error) {
	if len(templateKey) != TemplateKeySize {
		return nil, fmt.Errorf("store: template key must be %d bytes (AES-256), got %d", TemplateKeySize, len(templateKey))
	}
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: path %q: want a plain file path (no ':memory:', 'file:' URI, '?' or '#')", path)
	}
	block, err := aes.NewCipher(templateKey)
	if err != nil {
		return nil, fmt.Errorf("store: template key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("store: template key: %w", err)
	}
	// Create the file owner-only before SQLite does (its -wal and -shm
	// files inherit these permissions).
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	} else {
		f.Close()
	}

	params := url.Values{}
	params.Set("_journal_mode", "WAL")
	params.Set("_foreign_keys", "on")
	params.Set("_busy_timeout", strconv.Itoa(busyTimeoutMS))
	params.Set("_synchronous", "FULL")
	wparams := url.Values{}
	for k, v := range params {
		wparams[k] = v
	}
	wparams.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite3", path+"?"+wparams.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	s := &Store{path: path, w: w, aead: aead}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.init(ctx); err != nil {
		w.Close()
		return nil, err
	}

	rparams := url.Values{}
	for k, v := range params {
		rparams[k] = v
	}
	rparams.Set("_query_only", "1")
	r, err := sql.Open("sqlite3", path+"?"+rparams.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	s.r = r
	if err := r.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open %s for reading: %w", path, err)
	}
	if s.lookup, err = r.PrepareContext(ctx, lookupSQL); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: prepare card lookup: %w", err)
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	var mode string
	if err := s.w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return fmt.Errorf("store: open %s: %w", s.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("store: open %s: journal mode is %q, want wal (is the file on a filesystem without shared memory?)", s.path, mode)
	}
	if err := migrate(ctx, s.w, s.path); err != nil {
		return err
	}
	return s.checkKey(ctx)
}

var keyCheckPlain = []byte("ttpgate template key check v1")

const keyCheckAAD = "ttpgate/key-check/v1"

// checkKey verifies the template key against the seal stored at creation,
// or stores one on first use.
func (s *Store) checkKey(ctx context.Context) error {
	var sealed []byte
	if err := s.w.QueryRowContext(ctx, `SELECT template_key_check FROM gate_state WHERE id = 1`).Scan(&sealed); err != nil {
		return fmt.Errorf("store %s: read key check: %w", s.path, err)
	}
	if sealed == nil {
		sealed = s.seal(keyCheckPlain, []byte(keyCheckAAD))
		if _, err := s.w.ExecContext(ctx, `UPDATE gate_state SET template_key_check = ? WHERE id = 1`, sealed); err != nil {
			return fmt.Errorf("store %s: write key check: %w", s.path, err)
		}
		return nil
	}
	if _, err := s.open(sealed, []byte(keyCheckAAD)); err != nil {
		return fmt.Errorf("store %s: the template key is not the key this database was created with: %w", s.path, ErrTemplateKey)
	}
	return nil
}

// Close closes the database. Pending writes are already committed.
func (s *Store) Close() error {
	var errs []error
	if s.lookup != nil {
		errs = append(errs, s.lookup.Close())
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	return errors.Join(errs...)
}

// Path returns the database file path.
func (s *Store) Path() string { return s.path }

// ---- template sealing ----

func templateAAD(userID string, finger int, format string) []byte {
	const prefix = "ttpgate/template/v1\x00"
	b := make([]byte, 0, len(prefix)+len(userID)+len(format)+24)
	b = append(b, prefix...)
	b = append(b, userID...)
	b = append(b, 0)
	b = strconv.AppendInt(b, int64(finger), 10)
	b = append(b, 0)
	return append(b, format...)
}

func (s *Store) seal(plain, aad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("store: crypto/rand failed: " + err.Error())
	}
	return s.aead.Seal(nonce, nonce, plain, aad)
}

func (s *Store) open(sealed, aad []byte) ([]byte, error) { return s.openTo(nil, sealed, aad) }

// openTo is open appending the plaintext to dst.
func (s *Store) openTo(dst, sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrTemplateKey
	}
	plain, err := s.aead.Open(dst, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrTemplateKey
	}
	return plain, nil
}

// ---- helpers ----

// isConstraint reports whether err is an SQLite constraint violation.
func isConstraint(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrConstraint
	}
	var re *redactedError
	return errors.As(err, &re) && re.constraint
}

func rollback(tx *sql.Tx) { _ = tx.Rollback() }

func nullDate(d registry.Date) any {
	if d.IsZero() {
		return nil
	}
	return d.String()
}

func parseStoredDate(field, s string) (registry.Date, error) {
	d, err := registry.ParseDate(s)
	if err != nil {
		return d, fmt.Errorf("store: corrupt %s: %w", field, err)
	}
	return d, nil
}
