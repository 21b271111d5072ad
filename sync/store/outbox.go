package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// OutboxEvent is one event waiting to be published to HQ.
type OutboxEvent struct {
	Seq     uint64 // gate sequence number, assigned by the caller, strictly increasing, > 0
	ID      string // UUIDv7; the JetStream Nats-Msg-Id, so HQ de-duplicates resends
	Subject string // ttp.evt.<airport>.<gate>.<type>
	Payload []byte // JSON event; never biometric data
}

// AuditEntry is one line of the lane's local audit log (mode changes,
// manual door pulses, ...). It must not contain card numbers or templates.
type AuditEntry struct {
	Time   time.Time // when; zero means the commit time
	Actor  string    // who: "lane", "gatectl:<unix user>", ...
	Action string    // what, a short stable verb such as "mode.set" or "door.pulse"
	Detail string    // free text
}

// Commit records a lane decision in one transaction: the lane's new state
// (nil leaves it unchanged), the decision's events and audit entries. Event
// sequence numbers must be strictly increasing and greater than
// LastEventSeq; event ids must be unique.
func (s *Store) Commit(ctx context.Context, laneState []byte, events []OutboxEvent, audit []AuditEntry) error {
	for i, e := range events {
		switch {
		case e.Seq == 0:
			return fmt.Errorf("store: commit: events[%d]: seq must be > 0", i)
		case i > 0 && e.Seq <= events[i-1].Seq:
			return fmt.Errorf("store: commit: events[%d]: seq %d must be greater than the previous event's %d", i, e.Seq, events[i-1].Seq)
		case e.ID == "":
			return fmt.Errorf("store: commit: events[%d] (seq %d): id must be set (a UUIDv7)", i, e.Seq)
		case e.Subject == "" || strings.ContainsAny(e.Subject, " \t\r\n"):
			return fmt.Errorf("store: commit: events[%d] (seq %d): subject %q must be a non-empty NATS subject without spaces", i, e.Seq, e.Subject)
		}
	}
	for i, a := range audit {
		if a.Action == "" {
			return fmt.Errorf("store: commit: audit[%d]: action must be set", i)
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin commit: %w", err)
	}
	defer rollback(tx)
	now := time.Now().UnixNano()
	if len(events) > 0 {
		var last uint64
		if err := tx.QueryRowContext(ctx, `SELECT last_event_seq FROM gate_state WHERE id = 1`).Scan(&last); err != nil {
			return fmt.Errorf("store: commit: read last event seq: %w", err)
		}
		if events[0].Seq <= last {
			return fmt.Errorf("store: commit: event seq %d must be greater than the last committed seq %d", events[0].Seq, last)
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO outbox (seq, id, subject, payload, created_ns) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("store: commit: %w", err)
		}
		defer ins.Close()
		for _, e := range events {
			payload := e.Payload
			if payload == nil {
				payload = []byte{}
			}
			if _, err := ins.ExecContext(ctx, e.Seq, e.ID, e.Subject, payload, now); err != nil {
				if isConstraint(err) {
					return fmt.Errorf("store: commit: event seq %d id %s: duplicate id or seq: %w", e.Seq, e.ID, err)
				}
				return fmt.Errorf("store: commit: event seq %d: %w", e.Seq, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE gate_state SET last_event_seq = ? WHERE id = 1`, events[len(events)-1].Seq); err != nil {
			return fmt.Errorf("store: commit: update last event seq: %w", err)
		}
	}
	if laneState != nil {
		if _, err := tx.ExecContext(ctx, `UPDATE gate_state SET lane_state = ? WHERE id = 1`, laneState); err != nil {
			return fmt.Errorf("store: commit: update lane state: %w", err)
		}
	}
	for _, a := range audit {
		t := a.Time
		if t.IsZero() {
			t = time.Unix(0, now)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit (time_ns, actor, action, detail) VALUES (?, ?, ?, ?)`,
			t.UnixNano(), a.Actor, a.Action, a.Detail); err != nil {
			return fmt.Errorf("store: commit: audit %q: %w", a.Action, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// LastEventSeq returns the highest event sequence number ever committed,
// even if its outbox row has since been acknowledged and deleted (0 if none).
func (s *Store) LastEventSeq(ctx context.Context) (uint64, error) {
	var seq uint64
	if err := s.r.QueryRowContext(ctx, `SELECT last_event_seq FROM gate_state WHERE id = 1`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("store: read last event seq: %w", err)
	}
	return seq, nil
}

// LaneState returns the lane state last written by Commit (nil if none).
func (s *Store) LaneState(ctx context.Context) ([]byte, error) {
	var st []byte
	if err := s.r.QueryRowContext(ctx, `SELECT lane_state FROM gate_state WHERE id = 1`).Scan(&st); err != nil {
		return nil, fmt.Errorf("store: read lane state: %w", err)
	}
	return st, nil
}

// PendingEvents returns up to limit unacknowledged events with a sequence
// number greater than afterSeq, in sequence order.
func (s *Store) PendingEvents(ctx context.Context, afterSeq uint64, limit int) ([]OutboxEvent, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("store: pending events: limit must be > 0, got %d", limit)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT seq, id, subject, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending events: %w", err)
	}
	defer rows.Close()
	var out []OutboxEvent
	for rows.Next() {
		var e OutboxEvent
		if err := rows.Scan(&e.Seq, &e.ID, &e.Subject, &e.Payload); err != nil {
			return nil, fmt.Errorf("store: pending events: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: pending events: %w", err)
	}
	return out, nil
}

// AckEvents deletes the outbox rows of acknowledged events, in one
// transaction. Unknown sequence numbers are ignored (already acked).
func (s *Store) AckEvents(ctx context.Context, seqs []uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: ack events: %w", err)
	}
	defer rollback(tx)
	del, err := tx.PrepareContext(ctx, `DELETE FROM outbox WHERE seq = ?`)
	if err != nil {
		return fmt.Errorf("store: ack events: %w", err)
	}
	defer del.Close()
	for _, seq := range seqs {
		if _, err := del.ExecContext(ctx, seq); err != nil {
			return fmt.Errorf("store: ack event seq %d: %w", seq, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: ack events: %w", err)
	}
	return nil
}

// OutboxDepth returns the number of events not yet acknowledged by HQ.
func (s *Store) OutboxDepth(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: outbox depth: %w", err)
	}
	return n, nil
}

// RecentAudit returns up to limit audit entries, newest first.
func (s *Store) RecentAudit(ctx context.Context, limit int) ([]AuditEntry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT time_ns, actor, action, detail FROM audit ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: read audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var a AuditEntry
		var ns int64
		if err := rows.Scan(&ns, &a.Actor, &a.Action, &a.Detail); err != nil {
			return nil, fmt.Errorf("store: read audit: %w", err)
		}
		a.Time = time.Unix(0, ns).UTC()
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: read audit: %w", err)
	}
	return out, nil
}
