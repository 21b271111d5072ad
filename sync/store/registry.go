package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"ttpgate/sync/registry"
)

// Template is one decrypted enrolled fingerprint template.
type Template = registry.Template

// User is the registry data of a card's holder that the lane's policy needs.
type User struct {
	ID                string               // HQ's user id
	Status            registry.Status      // active or revoked
	Eligibility       registry.Eligibility // short_term_visitor, resident or other
	PassportExpiry    registry.Date        // registered passport's expiry
	ED                *registry.DateRange  // nil if no pre-registration on file
	PreferredLanguage string               // BCP 47 tag for guidance
	Updated           time.Time            // HQ's last change of the record
}

// CardRecord is the result of a card lookup: the card, its holder and the
// holder's decrypted templates. A superseded or lost card still resolves to
// its holder, with the card's status.
type CardRecord struct {
	Card      registry.Card // the presented card, with its own status and dates
	User      User          // the card's holder
	Templates []Template    // the holder's enrolled templates, decrypted, by finger
}

// ApplyRegistry upserts recs and sets the registry cursor to revision (and
// the HQ clock, when not nil), all in one transaction. See ApplyBatch.
func (s *Store) ApplyRegistry(ctx context.Context, recs []*registry.Record, revision uint64, hqClock *time.Time) error {
	return s.ApplyBatch(ctx, &registry.Batch{Records: recs, Revision: revision, HQClock: hqClock})
}

// ApplyBatch applies b in one transaction: deletes the users in b.Deleted,
// upserts each record of b.Records (the user row, and the user's cards and
// templates replaced by the record's), and sets the cursor to b.Revision and
// the HQ clock to b.HQClock when not nil. A card number listed by another
// user moves to the record being applied (the newest put wins).
//
// Either everything is applied or nothing: an invalid record fails the whole
// batch with an error wrapping registry.ErrInvalid, and the stored cursor
// stays where it was. A revision older than the stored cursor is refused.
func (s *Store) ApplyBatch(ctx context.Context, b *registry.Batch) error {
	for _, r := range b.Records {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("store: apply registry revision %d: user %q: %w", b.Revision, userID(r), err)
		}
	}
	for _, id := range b.Deleted {
		if err := registry.ValidUserID(id); err != nil {
			return fmt.Errorf("store: apply registry revision %d: delete user %q: %w: %v", b.Revision, id, registry.ErrInvalid, err)
		}
	}
	// Chunks of records through multi-row statements (registry_rows.go)
	// when that is equivalent to one record at a time: no user twice.
	if distinctUsers(b.Records) {
		err := s.applyBatch(ctx, b, nil)
		if !errors.Is(err, errPerRecord) {
			return err
		}
		// The multi-row statements refused a chunk (a replay, a
		// constraint): apply record by record, which names the culprit.
	}
	// Seal outside the transaction: the writer lock is held for less time.
	return s.applyBatch(ctx, b, s.sealTemplates(b.Records))
}

// sealTemplates seals the templates of recs (sealed[i][j] is recs[i]'s
// template j), on all cores for a large batch: sealing is ~2 µs a template,
// and the applier is the watcher's slowest stage.
func (s *Store) sealTemplates(recs []*registry.Record) [][][]byte {
	sealed := make([][][]byte, len(recs))
	one := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r := recs[i]
			sealed[i] = make([][]byte, len(r.Templates))
			for j, t := range r.Templates {
				sealed[i][j] = s.seal(t.Data, templateAAD(r.UserID, t.Finger, t.Format))
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(recs)/128)
	if workers <= 1 {
		one(0, len(recs))
		return sealed
	}
	var wg sync.WaitGroup
	per := (len(recs) + workers - 1) / workers
	for lo := 0; lo < len(recs); lo += per {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			one(lo, hi)
		}(lo, min(lo+per, len(recs)))
	}
	wg.Wait()
	return sealed
}

// errPerRecord makes ApplyBatch redo a batch record by record.
var errPerRecord = errors.New("store: batch refused by the multi-row statements")

// applyBatch is ApplyBatch's transaction. With sealed nil, records go in
// chunks of upsertChunk through multi-row statements (upsertChunk), which
// seal the templates they write; any error there returns errPerRecord,
// having applied nothing. Otherwise they go one at a time with the
// templates sealed[i].
func (s *Store) applyBatch(ctx context.Context, b *registry.Batch, sealed [][][]byte) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin registry transaction: %w", err)
	}
	defer rollback(tx)
	// The statements run without ctx's cancellation: given a context that
	// can end, the driver runs every statement in a goroutine of its own
	// and waits for it, which costs more than a short statement. ctx is
	// checked between chunks and records instead, and database/sql rolls
	// the transaction back when ctx ends.
	done := ctx
	ctx = context.WithoutCancel(ctx)

	var cur uint64
	if err := tx.QueryRowContext(ctx, `SELECT registry_revision FROM gate_state WHERE id = 1`).Scan(&cur); err != nil {
		return fmt.Errorf("store: read registry cursor: %w", err)
	}
	if b.Revision < cur {
		return fmt.Errorf("store: registry revision %d is older than the stored cursor %d: refusing to go back", b.Revision, cur)
	}

	if len(b.Deleted) > 0 {
		// The tombstone keeps the newest of the stored record's time and the
		// batch's records superseded by the delete (b.DeletedAfter).
		tomb, err := tx.PrepareContext(ctx, `INSERT INTO user_tombstones (user_id, updated)
			SELECT ?1, max(coalesce((SELECT updated FROM users WHERE user_id = ?1), ''), ?2)
			WHERE ?2 <> '' OR EXISTS (SELECT 1 FROM users WHERE user_id = ?1)
			ON CONFLICT (user_id) DO UPDATE SET updated = max(updated, excluded.updated)`)
		if err != nil {
			return fmt.Errorf("store: prepare: %w", err)
		}
		defer tomb.Close()
		del, err := tx.PrepareContext(ctx, `DELETE FROM users WHERE user_id = ?`)
		if err != nil {
			return fmt.Errorf("store: prepare: %w", err)
		}
		defer del.Close()
		for _, id := range b.Deleted {
			if err := done.Err(); err != nil {
				return err
			}
			after := ""
			if t, ok := b.DeletedAfter[id]; ok {
				after = formatUpdated(t)
			}
			if _, err := tomb.ExecContext(ctx, id, after); err != nil {
				return fmt.Errorf("store: tombstone user %q: %w", id, err)
			}
			if _, err := del.ExecContext(ctx, id); err != nil {
				return fmt.Errorf("store: delete user %q: %w", id, err)
			}
		}
	}

	if len(b.Records) > 0 {
		stmts, err := prepareUpsert(ctx, tx)
		if err != nil {
			return err
		}
		defer stmts.close()
		// Tombstones are rare (HQ deletes a key only to purge a user): when
		// there are none, skip the per-record tombstone lookup.
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM user_tombstones)`).Scan(&stmts.haveTombstones); err != nil {
			return fmt.Errorf("store: read tombstones: %w", err)
		}
		if sealed == nil {
			rows := &rowStmts{st: s, tx: tx, stmts: map[rowStmtKey]*sql.Stmt{}, haveTombstones: stmts.haveTombstones}
			defer rows.close()
			for i := 0; i < len(b.Records); i += upsertChunk {
				if err := done.Err(); err != nil {
					return err
				}
				j := min(i+upsertChunk, len(b.Records))
				if err := rows.upsertChunk(ctx, b.Records[i:j]); err != nil {
					if err := done.Err(); err != nil {
						return err
					}
					return errPerRecord
				}
			}
		} else {
			if err := stmts.upsertEach(ctx, done, b, sealed); err != nil {
				return err
			}
		}
	}

	var clock any
	if b.HQClock != nil {
		clock = b.HQClock.UnixNano()
	}
	// The HQ clock never goes back (a replayed clock is refused by the
	// watcher; this is the store's own guard).
	if _, err := tx.ExecContext(ctx, `UPDATE gate_state SET registry_revision = ?,
		hq_clock = CASE WHEN ?2 IS NULL THEN hq_clock ELSE max(COALESCE(hq_clock, ?2), ?2) END WHERE id = 1`,
		b.Revision, clock); err != nil {
		return fmt.Errorf("store: set registry cursor %d: %w", b.Revision, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit registry revision %d: %w", b.Revision, err)
	}
	return nil
}

// upsertEach upserts b's records one at a time, until done ends.
func (st *upsertStmts) upsertEach(ctx, done context.Context, b *registry.Batch, sealed [][][]byte) error {
	for i, r := range b.Records {
		if err := done.Err(); err != nil {
			return err
		}
		if err := st.upsert(ctx, r, sealed[i]); err != nil {
			if errors.Is(err, registry.ErrReplay) {
				return fmt.Errorf("store: apply registry revision %d: user %q: %w", b.Revision, r.UserID, err)
			}
			if isConstraint(err) {
				return fmt.Errorf("store: apply registry revision %d: user %q: %w: %v", b.Revision, r.UserID, registry.ErrInvalid, err)
			}
			return fmt.Errorf("store: apply registry revision %d: user %q: %w", b.Revision, r.UserID, err)
		}
	}
	return nil
}

func userID(r *registry.Record) string {
	if r == nil {
		return ""
	}
	return r.UserID
}

type upsertStmts struct {
	user, tombstone, delTombstone, delCards, delTemplates, card, template *sql.Stmt
	haveTombstones                                                        bool // user_tombstones has rows (read at the start of the transaction)
}

// updatedLayout is how users.updated is stored: fixed width, so that text
// order is time order (replay checks compare it in SQL).
const updatedLayout = "2006-01-02T15:04:05.000000000Z"

func formatUpdated(t time.Time) string { return t.UTC().Format(updatedLayout) }

func prepareUpsert(ctx context.Context, tx *sql.Tx) (*upsertStmts, error) {
	var st upsertStmts
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = tx.PrepareContext(ctx, q)
		return s
	}
	st.user = prep(`INSERT INTO users (user_id, status, eligibility, passport_expiry, preferred_language, ed_from, ed_to, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET status = excluded.status, eligibility = excluded.eligibility,
			passport_expiry = excluded.passport_expiry, preferred_language = excluded.preferred_language,
			ed_from = excluded.ed_from, ed_to = excluded.ed_to, updated = excluded.updated
		WHERE excluded.updated >= users.updated`)
	st.tombstone = prep(`SELECT updated FROM user_tombstones WHERE user_id = ?`)
	st.delTombstone = prep(`DELETE FROM user_tombstones WHERE user_id = ?`)
	st.delCards = prep(`DELETE FROM cards WHERE user_id = ?`)
	st.delTemplates = prep(`DELETE FROM templates WHERE user_id = ?`)
	st.card = prep(`INSERT INTO cards (number, user_id, status, issued, expires) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (number) DO UPDATE SET user_id = excluded.user_id, status = excluded.status,
			issued = excluded.issued, expires = excluded.expires`)
	st.template = prep(`INSERT INTO templates (user_id, finger, format, sealed) VALUES (?, ?, ?, ?)`)
	if err != nil {
		st.close()
		return nil, fmt.Errorf("store: prepare registry statements: %w", err)
	}
	return &st, nil
}

func (st *upsertStmts) close() {
	for _, s := range []*sql.Stmt{st.user, st.tombstone, st.delTombstone, st.delCards, st.delTemplates, st.card, st.template} {
		if s != nil {
			s.Close()
		}
	}
}

func (st *upsertStmts) upsert(ctx context.Context, r *registry.Record, sealed [][]byte) error {
	var edFrom, edTo any
	if r.ED != nil {
		edFrom, edTo = nullDate(r.ED.From), nullDate(r.ED.To)
	}
	updated := formatUpdated(r.Updated)
	var deletedAt string
	switch err := st.lookupTombstone(ctx, r.UserID, &deletedAt); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	case updated <= deletedAt:
		return &registry.ReplayError{Problem: fmt.Sprintf("user %s was deleted after this record's updated time %s", r.UserID, r.Updated.UTC().Format(time.RFC3339Nano))}
	default:
		if _, err := st.delTombstone.ExecContext(ctx, r.UserID); err != nil {
			return err
		}
	}
	res, err := st.user.ExecContext(ctx, r.UserID, string(r.Status), string(r.Eligibility), r.PassportExpiry.String(),
		r.PreferredLanguage, edFrom, edTo, updated)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return &registry.ReplayError{Problem: fmt.Sprintf("user %s: record updated %s is older than the one this gate holds", r.UserID, r.Updated.UTC().Format(time.RFC3339Nano))}
	}
	if _, err := st.delCards.ExecContext(ctx, r.UserID); err != nil {
		return err
	}
	if _, err := st.delTemplates.ExecContext(ctx, r.UserID); err != nil {
		return err
	}
	for _, c := range r.Cards {
		if _, err := st.card.ExecContext(ctx, c.Number, r.UserID, string(c.Status), c.Issued.String(), c.Expires.String()); err != nil {
			return &redactedError{msg: redactCard(err.Error(), c.Number), constraint: isConstraint(err)}
		}
	}
	for i, t := range r.Templates {
		if _, err := st.template.ExecContext(ctx, r.UserID, t.Finger, t.Format, sealed[i]); err != nil {
			return err
		}
	}
	return nil
}

func (st *upsertStmts) lookupTombstone(ctx context.Context, userID string, deletedAt *string) error {
	if !st.haveTombstones {
		return sql.ErrNoRows
	}
	return st.tombstone.QueryRowContext(ctx, userID).Scan(deletedAt)
}

// redactedError is a database error whose message had a card number
// removed; it remembers whether it was a constraint violation.
type redactedError struct {
	msg        string
	constraint bool
}

func (e *redactedError) Error() string { return e.msg }

// redactCard keeps a card number out of an error message.
func redactCard(msg, number string) string {
	if number == "" {
		return msg
	}
	return strings.ReplaceAll(msg, number, "<card>")
}

// RegistryCursor returns the last applied registry revision and the HQ time
// of the last applied hq.clock (the zero time if none yet).
func (s *Store) RegistryCursor(ctx context.Context) (revision uint64, hqClock time.Time, err error) {
	var clock sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT registry_revision, hq_clock FROM gate_state WHERE id = 1`).Scan(&revision, &clock); err != nil {
		return 0, time.Time{}, fmt.Errorf("store: read registry cursor: %w", err)
	}
	if clock.Valid {
		hqClock = time.Unix(0, clock.Int64).UTC()
	}
	return revision, hqClock, nil
}

// lookupSQL reads a card, its holder and the holder's templates in one
// statement, hence one consistent snapshot.
const lookupSQL = `SELECT c.number, c.status, c.issued, c.expires,
		u.user_id, u.status, u.eligibility, u.passport_expiry, u.preferred_language, u.ed_from, u.ed_to, u.updated,
		t.finger, t.format, t.sealed
	FROM cards c JOIN users u ON u.user_id = c.user_id
	LEFT JOIN templates t ON t.user_id = u.user_id
	WHERE c.number = ?
	ORDER BY t.finger, t.format`

// LookupCard returns the card with the given number, its holder and the
// holder's decrypted templates, read in one consistent snapshot. It returns
// ErrNotFound for an unknown number and an error wrapping ErrTemplateKey if
// a template does not decrypt.
func (s *Store) LookupCard(ctx context.Context, number string) (*CardRecord, error) {
	rows, err := s.lookup.QueryContext(ctx, number)
	if err != nil {
		return nil, fmt.Errorf("store: lookup card: %s", redactCard(err.Error(), number))
	}
	defer rows.Close()
	var (
		cr                                     *CardRecord
		cStatus, issued, expires               string
		uStatus, elig, passport, lang, updated string
		edFrom, edTo, format                   sql.NullString
		finger                                 sql.NullInt64
		sealed                                 []byte
	)
	for rows.Next() {
		first := cr == nil
		if first {
			cr = &CardRecord{}
		}
		if err := rows.Scan(&cr.Card.Number, &cStatus, &issued, &expires,
			&cr.User.ID, &uStatus, &elig, &passport, &lang, &edFrom, &edTo, &updated,
			&finger, &format, &sealed); err != nil {
			return nil, fmt.Errorf("store: lookup card: %s", redactCard(err.Error(), number))
		}
		if first {
			if err := cr.fill(cStatus, issued, expires, uStatus, elig, passport, lang, edFrom, edTo, updated); err != nil {
				return nil, err
			}
		}
		if !finger.Valid { // LEFT JOIN: user without templates
			continue
		}
		t := Template{Finger: int(finger.Int64), Format: format.String}
		if t.Data, err = s.open(sealed, templateAAD(cr.User.ID, t.Finger, t.Format)); err != nil {
			return nil, fmt.Errorf("store: decrypt template of user %q finger %d: %w", cr.User.ID, t.Finger, err)
		}
		cr.Templates = append(cr.Templates, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: lookup card: %s", redactCard(err.Error(), number))
	}
	if cr == nil {
		return nil, ErrNotFound
	}
	return cr, nil
}

func (cr *CardRecord) fill(cStatus, issued, expires, uStatus, elig, passport, lang string, edFrom, edTo sql.NullString, updated string) error {
	var err error
	cr.Card.Status = registry.CardStatus(cStatus)
	cr.User.Status = registry.Status(uStatus)
	cr.User.Eligibility = registry.Eligibility(elig)
	cr.User.PreferredLanguage = lang
	if cr.Card.Issued, err = parseStoredDate("cards.issued", issued); err != nil {
		return err
	}
	if cr.Card.Expires, err = parseStoredDate("cards.expires", expires); err != nil {
		return err
	}
	if cr.User.PassportExpiry, err = parseStoredDate("users.passport_expiry", passport); err != nil {
		return err
	}
	if edFrom.Valid && edTo.Valid {
		var ed registry.DateRange
		if ed.From, err = parseStoredDate("users.ed_from", edFrom.String); err != nil {
			return err
		}
		if ed.To, err = parseStoredDate("users.ed_to", edTo.String); err != nil {
			return err
		}
		cr.User.ED = &ed
	}
	if cr.User.Updated, err = time.Parse(time.RFC3339Nano, updated); err != nil {
		return fmt.Errorf("store: corrupt users.updated of user %q: %w", cr.User.ID, err)
	}
	return nil
}

// Counts returns the number of users and of cards in the registry copy.
func (s *Store) Counts(ctx context.Context) (users, cards int, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM cards)`).Scan(&users, &cards)
	if err != nil {
		return 0, 0, fmt.Errorf("store: count registry rows: %w", err)
	}
	return users, cards, nil
}
