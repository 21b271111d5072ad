package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"ttpgate/internal/devhq"
)

func init() {
	register("serve", "[-dir DIR] [-listen HOST:PORT] [-clock 2s] [-key FILE]   a development HQ (embedded NATS + JetStream)", serve)
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hqctl serve", flag.ContinueOnError)
	dir := fs.String("dir", "hq-data", "JetStream storage folder")
	listen := fs.String("listen", "127.0.0.1:4222", "client listen address")
	clock := fs.Duration("clock", 2*time.Second, "how often the registry clock is put")
	key := fs.String("key", "", "HQ's record-signing key file (hqctl registry keygen); default DIR/hq.key, created if missing")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	host, portS, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen %q: expected HOST:PORT", *listen)
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return fmt.Errorf("-listen %q: port must be a number", *listen)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if *key == "" {
		*key = filepath.Join(*dir, "hq.key")
	}
	hq, err := devhq.Start(ctx, devhq.Options{Dir: *dir, Host: host, Port: port, ClockEvery: *clock, Logger: log, KeyFile: *key})
	if err != nil {
		return err
	}
	defer hq.Close()
	log.Info("development HQ serving", "url", hq.URL, "dir", *dir, "key_file", *key, "hq_public_keys", hq.PublicKeys())
	fmt.Fprintf(os.Stderr, "gates trust this HQ with, in their config:\nregistry:\n  hq_public_keys:\n")
	for id, k := range hq.PublicKeys() {
		fmt.Fprintf(os.Stderr, "    %s: %s\n", id, k)
	}
	<-ctx.Done()
	return nil
}
