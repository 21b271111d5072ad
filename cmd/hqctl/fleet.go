package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/events"
	"ttpgate/sync/events/consumer"
	"ttpgate/sync/outbox"
)

func init() {
	register("fleet", "[-nats URL | -db FILE] [-stale 30s] [-json]   every gate's last heartbeat, lag and alarms (from the stream, or a consumer database)", fleet)
}

// FleetRow is one gate in `hqctl fleet`.
type FleetRow struct {
	Airport   string            `json:"airport"`
	Gate      string            `json:"gate"`
	Heartbeat *events.Heartbeat `json:"heartbeat,omitempty"`
	// LastHeartbeat is the time the gate recorded its newest heartbeat HQ holds.
	LastHeartbeat time.Time `json:"last_heartbeat"`
	// LagS is now minus LastHeartbeat: how far behind HQ's view of the gate is.
	LagS float64 `json:"lag_s"`
	// LastAlarm is the newest alarm event HQ holds for the gate (reason and time), if any.
	LastAlarm     string    `json:"last_alarm,omitempty"`
	LastAlarmTime time.Time `json:"last_alarm_time,omitzero"`
	// Gaps are the missing seq ranges (consumer database only).
	Gaps []string `json:"gaps,omitempty"`
	// Status: ok, degraded (devices offline, alarms, outbox filling, lane closed), stale (no
	// heartbeat within -stale), gaps (events missing at HQ).
	Status string `json:"status"`
}

func fleet(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hqctl fleet", flag.ContinueOnError)
	url := natsFlag(fs)
	dbPath := fs.String("db", "", "read a consumer database (hqctl events consume) instead of the stream")
	stale := fs.Duration("stale", 30*time.Second, "a gate without a heartbeat for this long is stale")
	asJSON := fs.Bool("json", false, "print a JSON array")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return errUsage
	}
	var rows []FleetRow
	var err error
	if *dbPath != "" {
		if _, err := os.Stat(*dbPath); err != nil {
			return fmt.Errorf("consumer database: %w", err)
		}
		db, err2 := consumer.OpenDB(*dbPath)
		if err2 != nil {
			return err2
		}
		defer db.Close()
		rows, err = fleetFromDB(ctx, db)
	} else {
		nc, js, err2 := connectHQ(*url, "hqctl fleet")
		if err2 != nil {
			return err2
		}
		defer nc.Close()
		rows, err = fleetFromStream(ctx, js)
	}
	if err != nil {
		return err
	}
	finishFleet(rows, time.Now(), *stale)
	if *asJSON {
		if rows == nil {
			rows = []FleetRow{}
		}
		b, _ := json.MarshalIndent(rows, "", "  ")
		fmt.Println(string(b))
		return nil
	}
	printFleet(os.Stdout, rows)
	return nil
}

// lastPerSubject reads the newest message of every subject matching filter.
func lastPerSubject(ctx context.Context, js jetstream.JetStream, filter string, fn func(jetstream.Msg)) error {
	s, err := js.Stream(ctx, outbox.StreamName)
	if err != nil {
		return fmt.Errorf("events stream %s: %w", outbox.StreamName, err)
	}
	if info, err := s.Info(ctx); err != nil || info.State.Msgs == 0 {
		return err
	}
	cons, err := js.OrderedConsumer(ctx, outbox.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy})
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return err
		}
		got := 0
		for m := range batch.Messages() {
			got++
			fn(m)
			if md, err := m.Metadata(); err == nil && md.NumPending == 0 {
				return nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return err
		}
		if got == 0 {
			return nil
		}
	}
	return ctx.Err()
}

func fleetFromStream(ctx context.Context, js jetstream.JetStream) ([]FleetRow, error) {
	byGate := map[string]*FleetRow{}
	row := func(a, g string) *FleetRow {
		k := a + "/" + g
		if byGate[k] == nil {
			byGate[k] = &FleetRow{Airport: a, Gate: g}
		}
		return byGate[k]
	}
	err := lastPerSubject(ctx, js, events.Subject("*", "*", events.TypeHeartbeat), func(m jetstream.Msg) {
		if ev, err := events.Parse(m.Data()); err == nil && ev.Heartbeat != nil {
			r := row(ev.Airport, ev.Gate)
			r.Heartbeat, r.LastHeartbeat = ev.Heartbeat, ev.Time
		}
	})
	if err != nil {
		return nil, err
	}
	err = lastPerSubject(ctx, js, events.Subject("*", "*", "alarm"), func(m jetstream.Msg) {
		if ev, err := events.Parse(m.Data()); err == nil {
			r := row(ev.Airport, ev.Gate)
			r.LastAlarm, r.LastAlarmTime = ev.Reason, ev.Time
		}
	})
	if err != nil {
		return nil, err
	}
	var rows []FleetRow
	for _, r := range byGate {
		rows = append(rows, *r)
	}
	return rows, nil
}

func fleetFromDB(ctx context.Context, db *consumer.DB) ([]FleetRow, error) {
	byGate := map[string]*FleetRow{}
	q := db.SQL()
	rs, err := q.QueryContext(ctx, `SELECT airport, gate FROM gates`)
	if err != nil {
		return nil, err
	}
	for rs.Next() {
		var a, g string
		if err := rs.Scan(&a, &g); err != nil {
			rs.Close()
			return nil, err
		}
		byGate[a+"/"+g] = &FleetRow{Airport: a, Gate: g}
	}
	rs.Close()
	last := func(typ string, fn func(r *FleetRow, ev *events.Event)) error {
		rs, err := q.QueryContext(ctx, `SELECT e.payload FROM events e JOIN
			(SELECT airport, gate, max(seq) AS seq FROM events WHERE type = ? GROUP BY airport, gate) l
			ON e.airport = l.airport AND e.gate = l.gate AND e.seq = l.seq`, typ)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var payload []byte
			if err := rs.Scan(&payload); err != nil {
				return err
			}
			if ev, err := events.Parse(payload); err == nil && byGate[ev.Airport+"/"+ev.Gate] != nil {
				fn(byGate[ev.Airport+"/"+ev.Gate], ev)
			}
		}
		return rs.Err()
	}
	if err := last(events.TypeHeartbeat, func(r *FleetRow, ev *events.Event) { r.Heartbeat, r.LastHeartbeat = ev.Heartbeat, ev.Time }); err != nil {
		return nil, err
	}
	if err := last("alarm", func(r *FleetRow, ev *events.Event) { r.LastAlarm, r.LastAlarmTime = ev.Reason, ev.Time }); err != nil {
		return nil, err
	}
	gaps, err := db.Gaps(ctx)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	for _, g := range gaps {
		if r := byGate[g.Airport+"/"+g.Gate]; r != nil {
			r.Gaps = append(r.Gaps, fmt.Sprintf("%d-%d", g.From, g.To))
		}
	}
	var rows []FleetRow
	for _, r := range byGate {
		rows = append(rows, *r)
	}
	return rows, nil
}

// finishFleet computes lag and status and sorts the rows.
func finishFleet(rows []FleetRow, now time.Time, stale time.Duration) {
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Airport != rows[j].Airport {
			return rows[i].Airport < rows[j].Airport
		}
		return rows[i].Gate < rows[j].Gate
	})
	for i := range rows {
		r := &rows[i]
		h := r.Heartbeat
		switch {
		case h == nil:
			r.Status = "stale"
			r.LagS = -1
			continue
		default:
			r.LagS = now.Sub(r.LastHeartbeat).Seconds()
		}
		r.Status = "ok"
		degraded := len(h.Alarms) > 0 || h.OutboxAlarm != events.OutboxOK || h.Mode != "in-service" || len(h.ClosedBecause) > 0
		for _, d := range h.Devices {
			degraded = degraded || !d.Online
		}
		switch {
		case now.Sub(r.LastHeartbeat) > stale:
			r.Status = "stale"
		case len(r.Gaps) > 0:
			r.Status = "gaps"
		case degraded:
			r.Status = "degraded"
		}
	}
}

func printFleet(w io.Writer, rows []FleetRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GATE\tSTATUS\tLAST HEARTBEAT\tLAG\tMODE/STATE\tDEVICES\tREGISTRY\tOUTBOX\tALARMS\tLAST ALARM")
	for _, r := range rows {
		if r.Heartbeat == nil {
			fmt.Fprintf(tw, "%s/%s\t%s\t-\t-\t-\t-\t-\t-\t-\t%s\n", r.Airport, r.Gate, r.Status, lastAlarm(r))
			continue
		}
		h := r.Heartbeat
		var off []string
		for _, d := range h.Devices {
			if !d.Online {
				off = append(off, d.Name+" offline")
			}
		}
		devs := fmt.Sprintf("%d ok", len(h.Devices)-len(off))
		if len(off) > 0 {
			devs = strings.Join(off, ",")
		}
		reg := fmt.Sprintf("rev %d", h.RegistryRevision)
		if h.RegistryAgeS != nil {
			reg += fmt.Sprintf(", %.0fs old", *h.RegistryAgeS)
		}
		outboxCol := fmt.Sprintf("%d", h.OutboxDepth)
		if h.OutboxAlarm != events.OutboxOK {
			outboxCol += " " + strings.ToUpper(h.OutboxAlarm)
		}
		alarms := "-"
		if len(h.Alarms) > 0 {
			alarms = strings.Join(h.Alarms, ",")
		}
		status := r.Status
		if len(r.Gaps) > 0 {
			status += " " + strings.Join(r.Gaps, ",")
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s/%s\t%s\t%s\t%s\t%s\t%s\n", r.Airport, r.Gate, status,
			r.LastHeartbeat.UTC().Format("2006-01-02 15:04:05Z"), (time.Duration(r.LagS * 1e9)).Round(time.Second),
			h.Mode, h.State, devs, reg, outboxCol, alarms, lastAlarm(r))
	}
	tw.Flush()
}

func lastAlarm(r FleetRow) string {
	if r.LastAlarm == "" {
		return "-"
	}
	return r.LastAlarm + " " + r.LastAlarmTime.UTC().Format("01-02 15:04:05Z")
}
