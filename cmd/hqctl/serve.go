package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"ttpgate/internal/devhq"
)

func init() {
	register("serve", "[-dir DIR] [-listen HOST:PORT] [-clock 2s]   a development HQ (embedded NATS + JetStream)", serve)
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hqctl serve", flag.ContinueOnError)
	dir := fs.String("dir", "hq-data", "JetStream storage folder")
	listen := fs.String("listen", "127.0.0.1:4222", "client listen address")
	clock := fs.Duration("clock", 2*time.Second, "how often the registry clock is put")
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
	hq, err := devhq.Start(ctx, devhq.Options{Dir: *dir, Host: host, Port: port, ClockEvery: *clock, Logger: log})
	if err != nil {
		return err
	}
	defer hq.Close()
	log.Info("development HQ serving", "url", hq.URL, "dir", *dir)
	<-ctx.Done()
	return nil
}
