package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"ttpgate/sync/registry"
)

// Multi-row upserts. Applying a record one statement at a time costs ~7
// statements a record, and at the gate's delta rates the statement overhead
// (cgo calls, SQLite's API mutexes, binding, resets) is most of SQLite's
// cost. upsertChunk applies up to upsertChunk records with 5 statements:
//
//  1. the users, one multi-row upsert (newer or equal updated times only);
//  2. the cards of those users deleted; 3. their templates deleted;
//  4. every card of the chunk inserted, in record order (a card number
//     listed twice ends with the later record, as one at a time);
//  5. every template of the chunk inserted.
//
// This is what applying the records one at a time does when no user appears
// twice in the batch and no tombstone is involved (ApplyBatch checks both):
// deleting all the chunk's cards before inserting any leaves each card
// number with the last record of the chunk that lists it, or gone if the
// record that held it before no longer lists it, as one at a time. A
// replayed (older) record shows as a user row not written: the chunk fails
// and ApplyBatch redoes the batch one record at a time, which reports it.

// upsertChunk is how many records one set of multi-row statements covers.
// The statement with the most parameters is the cards insert: 5 a card, at
// most 32 cards a record, 10,240 in all, well under SQLite's 32,766.
const upsertChunk = 64

// rowStmtKey identifies a prepared multi-row statement: its kind and rows.
type rowStmtKey struct {
	kind byte // 'u' users, 'c' cards, 't' templates, 'C' delete cards, 'T' delete templates
	rows int
}

// rowStmts prepares multi-row statements once per shape within a
// transaction.
type rowStmts struct {
	tx    *sql.Tx
	stmts map[rowStmtKey]*sql.Stmt
	args  []any
}

func (rs *rowStmts) close() {
	for _, s := range rs.stmts {
		s.Close()
	}
}

// values returns "(?,?,…),(…)…": rows groups of cols parameters.
func values(rows, cols int) string {
	one := "(" + strings.Repeat("?,", cols-1) + "?)"
	return strings.Repeat(one+",", rows-1) + one
}

func (rs *rowStmts) stmt(ctx context.Context, kind byte, rows int) (*sql.Stmt, error) {
	k := rowStmtKey{kind, rows}
	if s, ok := rs.stmts[k]; ok {
		return s, nil
	}
	var q string
	switch kind {
	case 'u':
		q = `INSERT INTO users (user_id, status, eligibility, passport_expiry, preferred_language, ed_from, ed_to, updated)
		VALUES ` + values(rows, 8) + `
		ON CONFLICT (user_id) DO UPDATE SET status = excluded.status, eligibility = excluded.eligibility,
			passport_expiry = excluded.passport_expiry, preferred_language = excluded.preferred_language,
			ed_from = excluded.ed_from, ed_to = excluded.ed_to, updated = excluded.updated
		WHERE excluded.updated >= users.updated`
	case 'C':
		q = `DELETE FROM cards WHERE user_id IN (` + strings.Repeat("?,", rows-1) + `?)`
	case 'T':
		q = `DELETE FROM templates WHERE user_id IN (` + strings.Repeat("?,", rows-1) + `?)`
	case 'c':
		q = `INSERT INTO cards (number, user_id, status, issued, expires) VALUES ` + values(rows, 5) + `
		ON CONFLICT (number) DO UPDATE SET user_id = excluded.user_id, status = excluded.status,
			issued = excluded.issued, expires = excluded.expires`
	case 't':
		q = `INSERT INTO templates (user_id, finger, format, sealed) VALUES ` + values(rows, 4)
	}
	s, err := rs.tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	rs.stmts[k] = s
	return s, nil
}

// exec runs the statement of kind for rows rows with rs.args.
func (rs *rowStmts) exec(ctx context.Context, kind byte, rows int) (sql.Result, error) {
	s, err := rs.stmt(ctx, kind, rows)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, rs.args...)
}

// upsertChunk applies recs (distinct users, no tombstones) as described
// above. Any error means the chunk cannot be applied this way; the caller
// rolls back. Errors may contain card numbers: they are never returned
// from ApplyBatch.
func (rs *rowStmts) upsertChunk(ctx context.Context, recs []*registry.Record, sealed [][][]byte) error {
	rs.args = rs.args[:0]
	for _, r := range recs {
		var edFrom, edTo any
		if r.ED != nil {
			edFrom, edTo = nullDate(r.ED.From), nullDate(r.ED.To)
		}
		rs.args = append(rs.args, r.UserID, string(r.Status), string(r.Eligibility), r.PassportExpiry.String(),
			r.PreferredLanguage, edFrom, edTo, formatUpdated(r.Updated))
	}
	res, err := rs.exec(ctx, 'u', len(recs))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != int64(len(recs)) {
		return fmt.Errorf("%d of %d user rows written: a replay", n, len(recs))
	}

	rs.args = rs.args[:0]
	for _, r := range recs {
		rs.args = append(rs.args, r.UserID)
	}
	if _, err := rs.exec(ctx, 'C', len(recs)); err != nil {
		return err
	}
	if _, err := rs.exec(ctx, 'T', len(recs)); err != nil {
		return err
	}

	rs.args = rs.args[:0]
	cards := 0
	for _, r := range recs {
		for _, c := range r.Cards {
			rs.args = append(rs.args, c.Number, r.UserID, string(c.Status), c.Issued.String(), c.Expires.String())
			cards++
		}
	}
	if _, err := rs.exec(ctx, 'c', cards); err != nil {
		return err
	}

	rs.args = rs.args[:0]
	templates := 0
	for i, r := range recs {
		for j, t := range r.Templates {
			rs.args = append(rs.args, r.UserID, t.Finger, t.Format, sealed[i][j])
			templates++
		}
	}
	if templates > 0 {
		if _, err := rs.exec(ctx, 't', templates); err != nil {
			return err
		}
	}
	return nil
}

// distinctUsers reports whether no user id appears twice in recs.
func distinctUsers(recs []*registry.Record) bool {
	seen := make(map[string]struct{}, len(recs))
	for _, r := range recs {
		if _, ok := seen[r.UserID]; ok {
			return false
		}
		seen[r.UserID] = struct{}{}
	}
	return true
}
