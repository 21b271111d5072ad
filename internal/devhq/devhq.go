// Package devhq is a development HQ: an embedded NATS server with JetStream holding the registry
// bucket and the events stream, and the registry clock that tells gates their copy is current.
// `hqctl serve`, `gated demo`, gatebench and the integration tests run it; production HQ is a NATS
// cluster configured from configs/.
package devhq

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/outbox"
	"ttpgate/sync/registry"
)

// Options configure a development HQ.
type Options struct {
	Dir        string        // JetStream storage folder (required)
	Host       string        // listen address, default 127.0.0.1
	Port       int           // listen port; 0 means 4222, -1 a random free port
	ClockEvery time.Duration // how often the registry clock is put, default 2s
	Logger     *slog.Logger
}

// HQ is a running development HQ.
type HQ struct {
	Server *server.Server
	Conn   *nats.Conn
	JS     jetstream.JetStream
	KV     jetstream.KeyValue
	URL    string
	cancel context.CancelFunc
	done   chan struct{}
}

// Start starts the server, creates the registry bucket and the events stream, and starts the
// registry clock.
func Start(ctx context.Context, opt Options) (*HQ, error) {
	if opt.Dir == "" {
		return nil, fmt.Errorf("devhq: Options.Dir is required (the JetStream storage folder)")
	}
	if opt.Host == "" {
		opt.Host = "127.0.0.1"
	}
	if opt.Port == 0 {
		opt.Port = 4222
	}
	if opt.ClockEvery <= 0 {
		opt.ClockEvery = 2 * time.Second
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	srv, err := server.NewServer(&server.Options{Host: opt.Host, Port: opt.Port, JetStream: true, StoreDir: opt.Dir,
		ServerName: "ttpgate-dev-hq", NoSigs: true})
	if err != nil {
		return nil, fmt.Errorf("devhq: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("devhq: NATS server on %s:%d not ready within 10s", opt.Host, opt.Port)
	}
	h := &HQ{Server: srv, URL: srv.ClientURL(), done: make(chan struct{})}
	if h.Conn, err = nats.Connect(h.URL, nats.Name("ttpgate dev hq")); err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("devhq: connect: %w", err)
	}
	if h.JS, err = jetstream.New(h.Conn); err == nil {
		if h.KV, err = registry.EnsureBucket(ctx, h.JS); err == nil {
			_, err = outbox.EnsureStream(ctx, h.JS)
		}
	}
	if err != nil {
		h.Conn.Close()
		srv.Shutdown()
		return nil, fmt.Errorf("devhq: %w", err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go h.clock(cctx, opt.ClockEvery, opt.Logger)
	return h, nil
}

// clock puts the registry clock now and then every period until stopped.
func (h *HQ) clock(ctx context.Context, every time.Duration, log *slog.Logger) {
	defer close(h.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := registry.PutClock(ctx, h.KV, time.Now()); err != nil && ctx.Err() == nil {
			log.Warn("putting the registry clock", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close stops the clock and the server.
func (h *HQ) Close() {
	h.cancel()
	<-h.done
	h.Conn.Close()
	h.Server.Shutdown()
	h.Server.WaitForShutdown()
}
