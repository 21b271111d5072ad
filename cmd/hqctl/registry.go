package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/registry"
)

func init() {
	register("registry import", "[-nats URL] FILE.ndjson   put registry records (schema: docs/registry.md)", registryImport)
	register("registry revoke", "[-nats URL] CARD   cancel the registration of the card's holder", registryRevoke)
}

func connectKV(ctx context.Context, url string) (*nats.Conn, jetstream.KeyValue, error) {
	nc, err := nats.Connect(url, nats.Name("hqctl"))
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to HQ at %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	kv, err := registry.EnsureBucket(ctx, js)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, kv, nil
}

// registryImport puts NDJSON records, one per line, streaming; bad lines are reported with their
// line number and counted, and the import goes on.
func registryImport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hqctl registry import", flag.ContinueOnError)
	url := natsFlag(fs)
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return errUsage
	}
	name := fs.Arg(0)
	var in io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	nc, kv, err := connectKV(ctx, *url)
	if err != nil {
		return err
	}
	defer nc.Close()
	n, bad, err := importRecords(ctx, kv, name, in, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: %d records imported, %d rejected\n", name, n, bad)
	if bad > 0 {
		return fmt.Errorf("%d records rejected", bad)
	}
	return nil
}

// importRecords reads NDJSON records and puts each valid one; it returns the counts.
func importRecords(ctx context.Context, kv jetstream.KeyValue, name string, in io.Reader, msgs io.Writer) (ok, bad int, err error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	line := 0
	last := time.Now()
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		rec, err := registry.Parse(sc.Bytes())
		if err != nil {
			fmt.Fprintf(msgs, "%s:%d: rejected: %v\n", name, line, err)
			bad++
			continue
		}
		if _, err := registry.Put(ctx, kv, rec); err != nil {
			return ok, bad, fmt.Errorf("%s:%d: put: %w", name, line, err)
		}
		ok++
		if time.Since(last) > time.Second {
			fmt.Fprintf(msgs, "%s: %d records imported…\n", name, ok)
			last = time.Now()
		}
	}
	if err := sc.Err(); err != nil {
		return ok, bad, fmt.Errorf("%s:%d: %w", name, line, err)
	}
	return ok, bad, nil
}

// registryRevoke cancels the registration of the user holding a card: a Put of the changed
// record, never a delete.
func registryRevoke(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hqctl registry revoke", flag.ContinueOnError)
	url := natsFlag(fs)
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return errUsage
	}
	nc, kv, err := connectKV(ctx, *url)
	if err != nil {
		return err
	}
	defer nc.Close()
	rev, user, err := Revoke(ctx, kv, fs.Arg(0), time.Now())
	if err != nil {
		return err
	}
	fmt.Printf("user %s revoked (registry revision %d)\n", user, rev)
	return nil
}

// errCardNotFound is returned when no record holds the card.
var errCardNotFound = errors.New("no registry record holds this card")

// Revoke finds the record holding card and puts it again with status revoked. It scans the
// bucket's keys: fine for the development HQ; production HQ keeps its own card index.
func Revoke(ctx context.Context, kv jetstream.KeyValue, card string, now time.Time) (uint64, string, error) {
	rec, err := findByCard(ctx, kv, card)
	if err != nil {
		return 0, "", err
	}
	rec.Status = registry.StatusRevoked
	rec.Updated = now.UTC()
	rev, err := registry.Put(ctx, kv, rec)
	return rev, rec.UserID, err
}

func findByCard(ctx context.Context, kv jetstream.KeyValue, card string) (*registry.Record, error) {
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	defer keys.Stop()
	for k := range keys.Keys() {
		if _, ok := registry.UserIDFromKey(k); !ok {
			continue
		}
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue
		}
		rec, err := registry.Parse(e.Value())
		if err != nil {
			continue
		}
		for _, c := range rec.Cards {
			if c.Number == card {
				return rec, nil
			}
		}
	}
	return nil, fmt.Errorf("card %s: %w", card, errCardNotFound)
}
