package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/events"
	"ttpgate/sync/events/consumer"
	"ttpgate/sync/outbox"
)

func init() {
	register("events consume", "-durable NAME -db FILE [-nats URL] [-filter SUBJECT] [-batch N] [-report 10s]   store every event once in SQLite (idempotent, acks after commit), report gaps", eventsConsume)
	register("events replay", "-since TIME [-until TIME] [-nats URL] [-airport A] [-gate G] [-type T] [-reason R] [-json]   print stored events from the stream (TIME: RFC 3339 or a duration ago, e.g. 2h)", eventsReplay)
	register("events stream", "[-nats URL] [-replicas N]   create or update the TTP_EVENTS stream (configs/streams/events.json)", eventsStream)
	register("events gaps", "-db FILE   list the missing ranges of each gate's sequence in a consumer database", eventsGaps)
}

func connectHQ(url, name string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(500*time.Millisecond))
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to HQ at %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// eventsConsume runs the durable consumer into a SQLite file until interrupted.
func eventsConsume(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hqctl events consume", flag.ContinueOnError)
	url := natsFlag(fs)
	durable := fs.String("durable", "", "durable consumer name (required): a restart resumes after the last acknowledged event")
	dbPath := fs.String("db", "", "SQLite file (required): tables events, duplicates, rejected, gates")
	filter := fs.String("filter", outbox.StreamSubjects, "subject filter, e.g. ttp.evt.HND.>")
	batch := fs.Int("batch", 500, "events per transaction")
	report := fs.Duration("report", 10*time.Second, "how often to print the totals (0: never)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *durable == "" || *dbPath == "" {
		if err == nil {
			fmt.Fprintln(os.Stderr, "hqctl events consume: -durable and -db are required")
		}
		return errUsage
	}
	db, err := consumer.OpenDB(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	nc, js, err := connectHQ(*url, "hqctl events consume "+*durable)
	if err != nil {
		return err
	}
	defer nc.Close()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	c, err := consumer.New(db, js, consumer.Options{Durable: *durable, Filter: *filter, Batch: *batch, Logger: log})
	if err != nil {
		return err
	}
	if *report > 0 {
		go func() {
			t := time.NewTicker(*report)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					s := c.Stats()
					log.Info("consumer", "stored", s.Stored, "duplicates", s.Duplicates, "redelivered", s.Redelivered,
						"rejected", s.Rejected, "late", s.Late, "gaps_opened", s.GapsOpened, "gaps_closed", s.GapsClosed)
				}
			}
		}()
	}
	fmt.Fprintf(os.Stderr, "consuming %s (%s) as %q into %s; Ctrl-C to stop\n", outbox.StreamName, *filter, *durable, *dbPath)
	if err := c.Run(ctx); err != nil {
		return err
	}
	return printTotals(context.Background(), db)
}

func printTotals(ctx context.Context, db *consumer.DB) error {
	t, err := db.Totals(ctx)
	if err != nil {
		return err
	}
	gaps, err := db.Gaps(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("events %d, duplicates %d, redelivered %d, rejected %d, gates %d, gaps %d\n", t.Events, t.Duplicates, t.Redelivered, t.Rejected, t.Gates, len(gaps))
	for _, g := range gaps {
		fmt.Println("gap:", g)
	}
	return nil
}

func eventsGaps(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hqctl events gaps", flag.ContinueOnError)
	dbPath := fs.String("db", "", "consumer SQLite file (required)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *dbPath == "" {
		return errUsage
	}
	if _, err := os.Stat(*dbPath); err != nil {
		return fmt.Errorf("consumer database: %w", err)
	}
	db, err := consumer.OpenDB(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	return printTotals(ctx, db)
}

// parseSince accepts RFC 3339 or a duration before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("time %q: expected RFC 3339 (2026-11-26T09:00:00+09:00) or a duration ago (90m, 2h)", s)
}

// eventsReplay prints the events stored in the stream since a time, then exits.
func eventsReplay(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hqctl events replay", flag.ContinueOnError)
	url := natsFlag(fs)
	since := fs.String("since", "", "first stream arrival time (required): RFC 3339 or a duration ago")
	until := fs.String("until", "", "stop after this arrival time (default: the end of the stream when started)")
	airport := fs.String("airport", "*", "airport code")
	gateID := fs.String("gate", "*", "gate id")
	typ := fs.String("type", "*", "event type")
	reason := fs.String("reason", "", "only events with this reason code")
	asJSON := fs.Bool("json", false, "print each event as one JSON line")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *since == "" {
		return errUsage
	}
	now := time.Now()
	from, err := parseSince(*since, now)
	if err != nil {
		return err
	}
	to := time.Time{}
	if *until != "" {
		if to, err = parseSince(*until, now); err != nil {
			return err
		}
	}
	nc, js, err := connectHQ(*url, "hqctl events replay")
	if err != nil {
		return err
	}
	defer nc.Close()
	n, bad, err := replay(ctx, js, from, to, events.Subject(*airport, *gateID, *typ), func(ev *events.Event) {
		if *reason != "" && ev.Reason != *reason {
			return
		}
		printEvent(ev, *asJSON)
	})
	fmt.Fprintf(os.Stderr, "%d events replayed, %d not valid\n", n, bad)
	return err
}

// replay calls fn for every valid event the stream received in [from, to] (to zero: up to the
// end of the stream when replay started) on subjects matching filter. It returns the counts of
// events read and of invalid ones.
func replay(ctx context.Context, js jetstream.JetStream, from, to time.Time, filter string, fn func(*events.Event)) (n, bad int, err error) {
	s, err := js.Stream(ctx, outbox.StreamName)
	if err != nil {
		return 0, 0, fmt.Errorf("events stream %s: %w", outbox.StreamName, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, 0, err
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 || info.State.LastTime.Before(from) {
		return 0, 0, nil
	}
	cons, err := js.OrderedConsumer(ctx, outbox.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{filter}, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &from})
	if err != nil {
		return 0, 0, err
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return n, bad, err
		}
		got := 0
		for m := range batch.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				return n, bad, err
			}
			if !to.IsZero() && md.Timestamp.After(to) {
				return n, bad, nil
			}
			if ev, err := events.Parse(m.Data()); err != nil {
				bad++
			} else {
				n++
				fn(ev)
			}
			if md.Sequence.Stream >= last || md.NumPending == 0 {
				return n, bad, nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return n, bad, err
		}
		if got == 0 {
			return n, bad, nil // nothing more matches the filter
		}
	}
	return n, bad, ctx.Err()
}

// eventsStream creates or updates the events stream with configs/streams/events.json's settings.
func eventsStream(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hqctl events stream", flag.ContinueOnError)
	url := natsFlag(fs)
	replicas := fs.Int("replicas", 1, "stream replicas (3 in HQ's cluster)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *replicas < 1 || *replicas > 5 {
		return errUsage
	}
	nc, js, err := connectHQ(*url, "hqctl events stream")
	if err != nil {
		return err
	}
	defer nc.Close()
	s, err := outbox.EnsureStreamConfig(ctx, js, outbox.StreamConfig(*replicas))
	if err != nil {
		return err
	}
	c := s.CachedInfo().Config
	fmt.Printf("stream %s: subjects %v, replicas %d, duplicate window %v, max age %v, deny delete/purge %v/%v, %d events\n",
		c.Name, c.Subjects, c.Replicas, c.Duplicates, c.MaxAge, c.DenyDelete, c.DenyPurge, s.CachedInfo().State.Msgs)
	return nil
}
