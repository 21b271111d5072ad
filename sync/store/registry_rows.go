package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"

	"ttpgate/sync/registry"
)

// Multi-row upserts. Applying a record one statement at a time costs ~7
// statements a record, and at the gate's delta rates the statement overhead
// (cgo calls, SQLite's API mutexes, binding, resets) is most of SQLite's
// cost. upsertChunk applies up to upsertChunk records with a handful of
// statements:
//
//  0. when the store has tombstones, the chunk's users' tombstones are read
//     (a record not newer than its user's deletion fails the chunk) and
//     deleted;
//  1. the users, one multi-row upsert (newer or equal updated times only);
//  2. the users' stored cards and templates are read;
//  3. the cards of the users whose cards changed are deleted, and the
//     templates of those whose templates changed;
//  4. the changed users' cards are inserted, in record order (a card number
//     listed twice ends with the later record, as one at a time);
//  5. the changed users' templates are sealed and inserted.
//
// This is what applying the records one at a time does when no user appears
// twice in the batch (ApplyBatch checks): deleting all the chunk's changed
// cards before inserting any leaves each card number with the last record
// of the chunk that lists it, or gone if the record that held it before no
// longer lists it, as one at a time. A user's cards are "unchanged" only if
// the stored rows are exactly the record's (number, status, dates) and no
// other record of the chunk lists any of those numbers: then deleting and
// re-inserting them, at any point of the chunk, writes what is there. A
// user's templates are unchanged if the stored ones decrypt to exactly the
// record's (same fingers and formats): re-sealing would only change the
// nonce. Most changes HQ sends (a status, a card, an ED window) leave the
// templates alone, and templates are most of a row's bytes.
//
// A replayed (older) record shows as a user row not written: the chunk
// fails and ApplyBatch redoes the batch one record at a time, which
// reports it.

// upsertChunk is how many records one set of multi-row statements covers.
// The statement with the most parameters is the cards insert: 5 a card, at
// most 32 cards a record, 10,240 in all, well under SQLite's 32,766.
const upsertChunk = 64

// rowStmtKey identifies a prepared multi-row statement: its kind and rows.
type rowStmtKey struct {
	kind byte
	rows int
}

// Statement kinds.
const (
	rowUsers          = 'u' // upsert users
	rowCards          = 'c' // insert cards
	rowTemplates      = 't' // insert templates
	rowDelCards       = 'C' // delete the cards of users
	rowDelTemplates   = 'T' // delete the templates of users
	rowReadCards      = 'r' // read the cards of users
	rowReadTemplates  = 's' // read the templates of users
	rowReadTombstones = 'b' // read the tombstones of users
	rowDelTombstones  = 'B' // delete the tombstones of users
)

// rowStmts prepares multi-row statements once per shape within a
// transaction.
type rowStmts struct {
	st             *Store
	tx             *sql.Tx
	stmts          map[rowStmtKey]*sql.Stmt
	args           []any
	haveTombstones bool
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
	in := "(" + strings.Repeat("?,", rows-1) + "?)"
	var q string
	switch kind {
	case rowUsers:
		q = `INSERT INTO users (user_id, status, eligibility, passport_expiry, preferred_language, ed_from, ed_to, updated)
		VALUES ` + values(rows, 8) + `
		ON CONFLICT (user_id) DO UPDATE SET status = excluded.status, eligibility = excluded.eligibility,
			passport_expiry = excluded.passport_expiry, preferred_language = excluded.preferred_language,
			ed_from = excluded.ed_from, ed_to = excluded.ed_to, updated = excluded.updated
		WHERE excluded.updated >= users.updated`
	case rowDelCards:
		q = `DELETE FROM cards WHERE user_id IN ` + in
	case rowDelTemplates:
		q = `DELETE FROM templates WHERE user_id IN ` + in
	case rowCards:
		q = `INSERT INTO cards (number, user_id, status, issued, expires) VALUES ` + values(rows, 5) + `
		ON CONFLICT (number) DO UPDATE SET user_id = excluded.user_id, status = excluded.status,
			issued = excluded.issued, expires = excluded.expires`
	case rowTemplates:
		q = `INSERT INTO templates (user_id, finger, format, sealed) VALUES ` + values(rows, 4)
	case rowReadCards:
		q = `SELECT user_id, number, status, issued, expires FROM cards WHERE user_id IN ` + in
	case rowReadTemplates:
		q = `SELECT user_id, finger, format, sealed FROM templates WHERE user_id IN ` + in
	case rowReadTombstones:
		q = `SELECT user_id, updated FROM user_tombstones WHERE user_id IN ` + in
	case rowDelTombstones:
		q = `DELETE FROM user_tombstones WHERE user_id IN ` + in
	default:
		return nil, fmt.Errorf("store: unknown row statement %q", kind)
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

// query runs the query of kind for rows rows with rs.args.
func (rs *rowStmts) query(ctx context.Context, kind byte, rows int) (*sql.Rows, error) {
	s, err := rs.stmt(ctx, kind, rows)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, rs.args...)
}

// userArgs sets rs.args to the user ids of recs for which pick is true,
// padded to len(recs) with repeats (so that an IN list has one shape per
// chunk size), and returns how many were picked.
func (rs *rowStmts) userArgs(recs []*registry.Record, pick func(i int) bool) int {
	rs.args = rs.args[:0]
	for i, r := range recs {
		if pick(i) {
			rs.args = append(rs.args, r.UserID)
		}
	}
	n := len(rs.args)
	for len(rs.args) > 0 && len(rs.args) < len(recs) {
		rs.args = append(rs.args, rs.args[0])
	}
	return n
}

func all(int) bool { return true }

// upsertChunk applies recs (distinct users) as described above. Any error
// means the chunk cannot be applied this way; the caller rolls back. Errors
// may contain card numbers: they are never returned from ApplyBatch.
func (rs *rowStmts) upsertChunk(ctx context.Context, recs []*registry.Record) error {
	n := len(recs)
	index := make(map[string]int, n)
	for i, r := range recs {
		index[r.UserID] = i
	}

	if rs.haveTombstones {
		rs.userArgs(recs, all)
		rows, err := rs.query(ctx, rowReadTombstones, n)
		if err != nil {
			return err
		}
		found := 0
		for rows.Next() {
			var uid, deleted string
			if err := rows.Scan(&uid, &deleted); err != nil {
				rows.Close()
				return err
			}
			if formatUpdated(recs[index[uid]].Updated) <= deleted {
				rows.Close()
				return fmt.Errorf("user %s: not newer than its deletion", uid)
			}
			found++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if found > 0 {
			if _, err := rs.exec(ctx, rowDelTombstones, n); err != nil {
				return err
			}
		}
	}

	rs.args = rs.args[:0]
	for _, r := range recs {
		var edFrom, edTo any
		if r.ED != nil {
			edFrom, edTo = nullDate(r.ED.From), nullDate(r.ED.To)
		}
		rs.args = append(rs.args, r.UserID, string(r.Status), string(r.Eligibility), r.PassportExpiry.String(),
			r.PreferredLanguage, edFrom, edTo, formatUpdated(r.Updated))
	}
	res, err := rs.exec(ctx, rowUsers, n)
	if err != nil {
		return err
	}
	if written, err := res.RowsAffected(); err != nil {
		return err
	} else if written != int64(n) {
		return fmt.Errorf("%d of %d user rows written: a replay", written, n)
	}

	// What is stored for these users, compared with the records as it is
	// read (sql.RawBytes: no copies).
	listed := make(map[string]int, n)
	for _, r := range recs {
		for _, c := range r.Cards {
			listed[c.Number]++
		}
	}
	cardsSame := make([]int, n)     // stored cards equal to one of the record's
	cardsStored := make([]int, n)   // stored cards
	templatesSame := make([]int, n) // stored templates that decrypt to one of the record's
	templatesStored := make([]int, n)
	rs.userArgs(recs, all)
	rows, err := rs.query(ctx, rowReadCards, n)
	if err != nil {
		return err
	}
	var uid, number, status, issued, expires, format, sealed sql.RawBytes
	var finger int
	for rows.Next() {
		if err := rows.Scan(&uid, &number, &status, &issued, &expires); err != nil {
			rows.Close()
			return err
		}
		i := index[string(uid)]
		cardsStored[i]++
		for _, c := range recs[i].Cards {
			if string(number) == c.Number {
				if string(status) == string(c.Status) && string(issued) == c.Issued.String() && string(expires) == c.Expires.String() {
					cardsSame[i]++
				}
				break
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if rows, err = rs.query(ctx, rowReadTemplates, n); err != nil {
		return err
	}
	var plain []byte
	for rows.Next() {
		if err := rows.Scan(&uid, &finger, &format, &sealed); err != nil {
			rows.Close()
			return err
		}
		i := index[string(uid)]
		templatesStored[i]++
		for _, t := range recs[i].Templates {
			if t.Finger == finger && string(format) == t.Format {
				var err error
				plain, err = rs.st.openTo(plain[:0], sealed, templateAAD(recs[i].UserID, t.Finger, t.Format))
				if err == nil && bytes.Equal(plain, t.Data) {
					templatesSame[i]++
				}
				break
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	// A user's cards are unchanged if the stored rows are exactly the
	// record's and no other record of the chunk lists one of them; its
	// templates if the stored ones decrypt to exactly the record's.
	cardsChange := make([]bool, n)
	templatesChange := make([]bool, n)
	for i, r := range recs {
		cardsChange[i] = cardsStored[i] != len(r.Cards) || cardsSame[i] != len(r.Cards)
		for _, c := range r.Cards {
			if listed[c.Number] != 1 {
				cardsChange[i] = true
			}
		}
		templatesChange[i] = templatesStored[i] != len(r.Templates) || templatesSame[i] != len(r.Templates)
	}

	if k := rs.userArgs(recs, func(i int) bool { return cardsChange[i] }); k > 0 {
		if _, err := rs.exec(ctx, rowDelCards, n); err != nil {
			return err
		}
	}
	if k := rs.userArgs(recs, func(i int) bool { return templatesChange[i] }); k > 0 {
		if _, err := rs.exec(ctx, rowDelTemplates, n); err != nil {
			return err
		}
	}

	rs.args = rs.args[:0]
	rowsOut := 0
	for i, r := range recs {
		if !cardsChange[i] {
			continue
		}
		for _, c := range r.Cards {
			rs.args = append(rs.args, c.Number, r.UserID, string(c.Status), c.Issued.String(), c.Expires.String())
			rowsOut++
		}
	}
	if rowsOut > 0 {
		if _, err := rs.exec(ctx, rowCards, rowsOut); err != nil {
			return err
		}
	}

	rs.args = rs.args[:0]
	rowsOut = 0
	for i, r := range recs {
		if !templatesChange[i] {
			continue
		}
		for _, t := range r.Templates {
			rs.args = append(rs.args, r.UserID, t.Finger, t.Format, rs.st.seal(t.Data, templateAAD(r.UserID, t.Finger, t.Format)))
			rowsOut++
		}
	}
	if rowsOut > 0 {
		if _, err := rs.exec(ctx, rowTemplates, rowsOut); err != nil {
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
