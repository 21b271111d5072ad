// Package consumer is HQ's idempotent, at-least-once event consumer: it reads the TTP_EVENTS
// stream through a durable JetStream consumer and writes each event into a SQLite table keyed by
// the event id, acknowledging a message only after the transaction holding it committed.
//
//   - A duplicate (an event id already stored, from another stream message: a gate's resend after
//     the stream's duplicate window) keeps the first and counts the second (table duplicates).
//   - A redelivery of the same stream message (the consumer stopped between commit and ack) is
//     counted and otherwise ignored.
//   - An event failing schema v1 (events.Parse), whose payload disagrees with its subject or
//     Nats-Msg-Id, or whose gate sequence number is already held by another id, is counted and
//     kept aside in table rejected, with the reason; it is acknowledged, never lost.
//   - Gaps in a gate's sequence are tracked per gate (table gates: every seq up to contiguous is
//     stored) and reported when they open and when they close. The stream may deliver a gate's
//     events out of seq order after a reconnect (docs/events.md); the table is ordered by seq.
package consumer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // SQLite driver

	"ttpgate/sync/events"
)

const schemaSQL = `
CREATE TABLE IF NOT EXISTS events (
	id          TEXT PRIMARY KEY,           -- the event id (UUIDv7)
	airport     TEXT NOT NULL,
	gate        TEXT NOT NULL,
	seq         INTEGER NOT NULL,           -- the gate's sequence number
	type        TEXT NOT NULL,
	time        TEXT NOT NULL,              -- RFC 3339 UTC, when the lane decided
	reason      TEXT NOT NULL DEFAULT '',
	card        TEXT NOT NULL DEFAULT '',
	user_id     TEXT NOT NULL DEFAULT '',
	payload     BLOB NOT NULL,              -- the event as received
	stream_seq  INTEGER NOT NULL,           -- the first stream message that carried it
	received_ns INTEGER NOT NULL,           -- when this consumer stored it
	UNIQUE (airport, gate, seq)
);
CREATE INDEX IF NOT EXISTS events_type ON events (type, airport, gate, seq);
CREATE TABLE IF NOT EXISTS duplicates (
	stream_seq  INTEGER PRIMARY KEY,        -- the later stream message carrying a stored id
	id          TEXT NOT NULL,
	received_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
	stream_seq  INTEGER PRIMARY KEY,
	subject     TEXT NOT NULL,
	msg_id      TEXT NOT NULL,
	payload     BLOB NOT NULL,
	error       TEXT NOT NULL,
	received_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS gates (
	airport     TEXT NOT NULL,
	gate        TEXT NOT NULL,
	contiguous  INTEGER NOT NULL,           -- every seq from 1 to this is stored
	max_seq     INTEGER NOT NULL,
	events      INTEGER NOT NULL,
	last_time   TEXT NOT NULL,              -- time of the event with max_seq
	last_received_ns INTEGER NOT NULL,
	PRIMARY KEY (airport, gate)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
	name  TEXT PRIMARY KEY,                 -- redelivered
	value INTEGER NOT NULL
) WITHOUT ROWID;
`

// DB is the consumer's SQLite database.
type DB struct {
	db   *sql.DB
	path string
}

// OpenDB opens (creating if needed) the consumer database at path.
func OpenDB(path string) (*DB, error) {
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("consumer: database path %q: want a plain file path", path)
	}
	params := url.Values{}
	params.Set("_journal_mode", "WAL")
	params.Set("_synchronous", "FULL")
	params.Set("_busy_timeout", "5000")
	params.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite3", path+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("consumer: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schemaSQL); err != nil {
		db.Close()
		return nil, fmt.Errorf("consumer: create tables in %s: %w", path, err)
	}
	return &DB{db: db, path: path}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// SQL returns the database handle for reports (fleet, tests).
func (d *DB) SQL() *sql.DB { return d.db }

// Message is one stream message handed to Apply.
type Message struct {
	Subject   string
	MsgID     string // the Nats-Msg-Id header ("" if absent)
	SeqHeader string // the Ttp-Gate-Seq header ("" if absent)
	StreamSeq uint64 // the message's sequence in the stream (unique)
	Data      []byte
	Received  time.Time
}

// Gap is a range of a gate's sequence numbers HQ has not stored.
type Gap struct {
	Airport, Gate string
	From, To      uint64 // inclusive
}

func (g Gap) String() string {
	if g.From == g.To {
		return fmt.Sprintf("%s/%s seq %d", g.Airport, g.Gate, g.From)
	}
	return fmt.Sprintf("%s/%s seq %d-%d (%d events)", g.Airport, g.Gate, g.From, g.To, g.To-g.From+1)
}

// Result counts what Apply did with a batch.
type Result struct {
	Stored      int   // new events
	Duplicates  int   // events already stored, from another stream message
	Redelivered int   // stream messages already applied (the ack was lost)
	Rejected    int   // kept aside in rejected
	Late        int   // events that arrived after a later seq of their gate (filled a gap)
	Opened      []Gap // gaps that appeared with this batch
	Closed      []Gap // gates whose sequence became contiguous again (From..To was the gap's extent)
	Latencies   []time.Duration
	Events      []*events.Event // the new events, in arrival order
}

type gateState struct {
	contiguous, maxSeq, events uint64
	lastTime                   string
	lastRecv                   int64
	known, dirty               bool
}

// Apply stores a batch of messages in one transaction. It is idempotent: applying the same
// messages again only counts them as redelivered. Acknowledge the messages only after Apply
// returned nil.
func (d *DB) Apply(ctx context.Context, msgs []Message) (Result, error) {
	var res Result
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("consumer: begin: %w", err)
	}
	defer tx.Rollback()
	gates := map[[2]string]*gateState{}
	getGate := func(a, g string) (*gateState, error) {
		k := [2]string{a, g}
		if s, ok := gates[k]; ok {
			return s, nil
		}
		s := &gateState{}
		err := tx.QueryRowContext(ctx, `SELECT contiguous, max_seq, events, last_time, last_received_ns FROM gates WHERE airport = ? AND gate = ?`, a, g).
			Scan(&s.contiguous, &s.maxSeq, &s.events, &s.lastTime, &s.lastRecv)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, fmt.Errorf("consumer: read gate %s/%s: %w", a, g, err)
		default:
			s.known = true
		}
		gates[k] = s
		return s, nil
	}
	reject := func(m Message, why string) error {
		r, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO rejected (stream_seq, subject, msg_id, payload, error, received_ns) VALUES (?, ?, ?, ?, ?, ?)`,
			m.StreamSeq, m.Subject, m.MsgID, m.Data, why, m.Received.UnixNano())
		if err != nil {
			return fmt.Errorf("consumer: keep rejected message %d: %w", m.StreamSeq, err)
		}
		if n, _ := r.RowsAffected(); n == 1 {
			res.Rejected++
		} else {
			res.Redelivered++
		}
		return nil
	}
	for _, m := range msgs {
		if m.Data == nil {
			m.Data = []byte{}
		}
		ev, err := events.Parse(m.Data)
		if err != nil {
			if err := reject(m, err.Error()); err != nil {
				return Result{}, err
			}
			continue
		}
		if why := mismatch(ev, m); why != "" {
			if err := reject(m, why); err != nil {
				return Result{}, err
			}
			continue
		}
		// Already stored? By this message (redelivery) or by another (duplicate).
		var firstSeq uint64
		err = tx.QueryRowContext(ctx, `SELECT stream_seq FROM events WHERE id = ?`, ev.ID).Scan(&firstSeq)
		switch {
		case err == nil && firstSeq == m.StreamSeq:
			res.Redelivered++
			continue
		case err == nil:
			r, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO duplicates (stream_seq, id, received_ns) VALUES (?, ?, ?)`, m.StreamSeq, ev.ID, m.Received.UnixNano())
			if err != nil {
				return Result{}, fmt.Errorf("consumer: count duplicate %s: %w", ev.ID, err)
			}
			if n, _ := r.RowsAffected(); n == 1 {
				res.Duplicates++
			} else {
				res.Redelivered++
			}
			continue
		case !errors.Is(err, sql.ErrNoRows):
			return Result{}, fmt.Errorf("consumer: look up %s: %w", ev.ID, err)
		}
		// The same gate seq under another id: something is wrong at the gate; keep the first.
		var other string
		err = tx.QueryRowContext(ctx, `SELECT id FROM events WHERE airport = ? AND gate = ? AND seq = ?`, ev.Airport, ev.Gate, ev.Seq).Scan(&other)
		if err == nil {
			if err := reject(m, fmt.Sprintf("seq %d of %s/%s is already held by event %s", ev.Seq, ev.Airport, ev.Gate, other)); err != nil {
				return Result{}, err
			}
			continue
		} else if !errors.Is(err, sql.ErrNoRows) {
			return Result{}, fmt.Errorf("consumer: look up %s/%s seq %d: %w", ev.Airport, ev.Gate, ev.Seq, err)
		}
		evTime := ev.Time.UTC().Format(time.RFC3339Nano)
		if _, err := tx.ExecContext(ctx, `INSERT INTO events (id, airport, gate, seq, type, time, reason, card, user_id, payload, stream_seq, received_ns)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, ev.ID, ev.Airport, ev.Gate, ev.Seq, ev.Type, evTime,
			ev.Reason, ev.Card, ev.UserID, m.Data, m.StreamSeq, m.Received.UnixNano()); err != nil {
			return Result{}, fmt.Errorf("consumer: store %s: %w", ev.ID, err)
		}
		res.Stored++
		res.Events = append(res.Events, ev)
		res.Latencies = append(res.Latencies, m.Received.Sub(ev.Time))
		g, err := getGate(ev.Airport, ev.Gate)
		if err != nil {
			return Result{}, err
		}
		g.dirty = true
		g.events++
		switch {
		case ev.Seq > g.maxSeq+1:
			res.Opened = append(res.Opened, Gap{ev.Airport, ev.Gate, g.maxSeq + 1, ev.Seq - 1})
		case ev.Seq < g.maxSeq:
			res.Late++
		}
		if ev.Seq > g.maxSeq {
			g.maxSeq, g.lastTime, g.lastRecv = ev.Seq, evTime, m.Received.UnixNano()
		}
		if ev.Seq == g.contiguous+1 {
			hadGap := g.maxSeq > ev.Seq
			from := g.contiguous + 1
			g.contiguous = ev.Seq
			for g.contiguous < g.maxSeq {
				var one int
				err := tx.QueryRowContext(ctx, `SELECT 1 FROM events WHERE airport = ? AND gate = ? AND seq = ?`, ev.Airport, ev.Gate, g.contiguous+1).Scan(&one)
				if errors.Is(err, sql.ErrNoRows) {
					break
				} else if err != nil {
					return Result{}, fmt.Errorf("consumer: gap check %s/%s: %w", ev.Airport, ev.Gate, err)
				}
				g.contiguous++
			}
			if hadGap && g.contiguous == g.maxSeq {
				res.Closed = append(res.Closed, Gap{ev.Airport, ev.Gate, from, g.maxSeq})
			}
		}
	}
	for k, g := range gates {
		if !g.dirty {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO gates (airport, gate, contiguous, max_seq, events, last_time, last_received_ns) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (airport, gate) DO UPDATE SET contiguous = excluded.contiguous, max_seq = excluded.max_seq, events = excluded.events,
			last_time = excluded.last_time, last_received_ns = excluded.last_received_ns`,
			k[0], k[1], g.contiguous, g.maxSeq, g.events, g.lastTime, g.lastRecv); err != nil {
			return Result{}, fmt.Errorf("consumer: update gate %s/%s: %w", k[0], k[1], err)
		}
	}
	if res.Redelivered > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO counters (name, value) VALUES ('redelivered', ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value`, res.Redelivered); err != nil {
			return Result{}, fmt.Errorf("consumer: count redeliveries: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return Result{}, fmt.Errorf("consumer: commit: %w", err)
	}
	return res, nil
}

// mismatch checks the envelope against the event: a gate may publish only under its own subject
// (NATS permissions), so the payload must name the same airport, gate and type, and the
// publisher's headers the same id and seq.
func mismatch(ev *events.Event, m Message) string {
	if m.Subject != ev.Subject() {
		return fmt.Sprintf("subject %s but the event says %s", m.Subject, ev.Subject())
	}
	if m.MsgID != "" && m.MsgID != ev.ID {
		return fmt.Sprintf("Nats-Msg-Id %s but the event id is %s", m.MsgID, ev.ID)
	}
	if m.SeqHeader != "" && m.SeqHeader != fmt.Sprint(ev.Seq) {
		return fmt.Sprintf("Ttp-Gate-Seq %s but the event seq is %d", m.SeqHeader, ev.Seq)
	}
	return ""
}

// Totals are the database's counts.
type Totals struct {
	Events, Duplicates, Rejected, Redelivered, Gates int64
}

// Totals counts the stored, duplicate, rejected and redelivered messages and the gates.
func (d *DB) Totals(ctx context.Context) (Totals, error) {
	var t Totals
	err := d.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM duplicates), (SELECT count(*) FROM rejected),
		(SELECT COALESCE((SELECT value FROM counters WHERE name = 'redelivered'), 0)), (SELECT count(*) FROM gates)`).
		Scan(&t.Events, &t.Duplicates, &t.Rejected, &t.Redelivered, &t.Gates)
	if err != nil {
		return t, fmt.Errorf("consumer: totals: %w", err)
	}
	return t, nil
}

// Gaps lists every range of sequence numbers missing below each gate's highest stored seq.
func (d *DB) Gaps(ctx context.Context) ([]Gap, error) {
	rows, err := d.db.QueryContext(ctx, `
		SELECT g.airport, g.gate, g.contiguous, e.seq, LEAD(e.seq) OVER (PARTITION BY e.airport, e.gate ORDER BY e.seq)
		FROM gates g JOIN events e ON e.airport = g.airport AND e.gate = g.gate AND e.seq > g.contiguous
		ORDER BY g.airport, g.gate, e.seq`)
	if err != nil {
		return nil, fmt.Errorf("consumer: gaps: %w", err)
	}
	defer rows.Close()
	var gaps []Gap
	first := map[[2]string]bool{}
	for rows.Next() {
		var a, g string
		var contiguous, seq uint64
		var next sql.NullInt64
		if err := rows.Scan(&a, &g, &contiguous, &seq, &next); err != nil {
			return nil, fmt.Errorf("consumer: gaps: %w", err)
		}
		k := [2]string{a, g}
		if !first[k] {
			first[k] = true
			gaps = append(gaps, Gap{a, g, contiguous + 1, seq - 1})
		}
		if next.Valid && uint64(next.Int64) > seq+1 {
			gaps = append(gaps, Gap{a, g, seq + 1, uint64(next.Int64) - 1})
		}
	}
	return gaps, rows.Err()
}
