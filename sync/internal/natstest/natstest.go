// Package natstest starts real embedded NATS servers with JetStream for
// tests: loopback only, a random port, storage in a test temp directory,
// shut down when the test ends. No mocks.
//
//	srv, url := natstest.Start(t)
//	nc := natstest.Connect(t, url)
//	js := natstest.JetStream(t, nc)
//	...
//	srv, url = natstest.Restart(t, srv) // same port and store dir
package natstest

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configure StartWith. Zero values select the defaults.
type Options struct {
	// StoreDir is the JetStream storage directory (default t.TempDir()).
	StoreDir string
	// Port is the client port (default -1: a random free port).
	Port int
	// ServerName is the server's name (default "natstest").
	ServerName string
	// Logs, when true, routes the server's log to t.Log.
	Logs bool
}

// Start starts a JetStream-enabled server on 127.0.0.1 with a random port and
// storage in t.TempDir(), and registers its shutdown with t.Cleanup. It
// returns the server and its client URL.
func Start(t testing.TB) (*server.Server, string) {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, o Options) (*server.Server, string) {
	t.Helper()
	if o.StoreDir == "" {
		o.StoreDir = t.TempDir()
	}
	if o.Port == 0 {
		o.Port = -1
	}
	if o.ServerName == "" {
		o.ServerName = "natstest"
	}
	opts := &server.Options{
		ServerName: o.ServerName,
		Host:       "127.0.0.1",
		Port:       o.Port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      !o.Logs,
		HTTPPort:   0,
		// Keep JetStream's resource checks small for CI machines.
		JetStreamMaxMemory: 64 << 20,
		JetStreamMaxStore:  1 << 30,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("natstest: new server: %v", err)
	}
	if o.Logs {
		s.SetLogger(testLogger{t}, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatalf("natstest: server on port %d not ready for connections within 10s", o.Port)
	}
	o.Port = s.Addr().(*net.TCPAddr).Port // the port actually bound, for Restart
	storesMu.Lock()
	stores[s] = o
	storesMu.Unlock()
	t.Cleanup(func() {
		Shutdown(s)
		storesMu.Lock()
		delete(stores, s)
		storesMu.Unlock()
	})
	return s, s.ClientURL()
}

// stores remembers each running server's options for Restart.
var (
	storesMu sync.Mutex
	stores   = map[*server.Server]Options{}
)

// Restart shuts s down (if it is still running) and starts a new server with
// the same port and store directory, so JetStream state (streams, KV
// buckets, dedupe windows) survives and clients reconnect to the same URL.
// s must come from Start, StartWith or Restart.
func Restart(t testing.TB, s *server.Server) (*server.Server, string) {
	t.Helper()
	storesMu.Lock()
	o, ok := stores[s]
	storesMu.Unlock()
	if !ok {
		t.Fatalf("natstest: Restart: server was not started by natstest")
	}
	Shutdown(s)
	return StartWith(t, o)
}

// Shutdown stops s and waits until it is down. The test's cleanup will not
// fail on an already stopped server.
func Shutdown(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

// Connect connects to url with settings suited to tests that stop and
// restart servers: unlimited reconnects every 50 ms and a large reconnect
// buffer. The connection is closed when the test ends.
func Connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	all := append([]nats.Option{
		nats.Name("natstest"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(50 * time.Millisecond),
		nats.ReconnectJitter(0, 0),
		nats.RetryOnFailedConnect(false),
	}, opts...)
	nc, err := nats.Connect(url, all...)
	if err != nil {
		t.Fatalf("natstest: connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// JetStream returns a JetStream context on nc, failing the test on error.
func JetStream(t testing.TB, nc *nats.Conn, opts ...jetstream.JetStreamOpt) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc, opts...)
	if err != nil {
		t.Fatalf("natstest: jetstream: %v", err)
	}
	return js
}

type testLogger struct{ t testing.TB }

func (l testLogger) Noticef(format string, v ...any) { l.t.Logf("nats: "+format, v...) }
func (l testLogger) Warnf(format string, v ...any)   { l.t.Logf("nats WARN: "+format, v...) }
func (l testLogger) Fatalf(format string, v ...any)  { l.t.Logf("nats FATAL: "+format, v...) }
func (l testLogger) Errorf(format string, v ...any)  { l.t.Logf("nats ERROR: "+format, v...) }
func (l testLogger) Debugf(format string, v ...any)  { l.t.Logf("nats DEBUG: "+format, v...) }
func (l testLogger) Tracef(format string, v ...any)  { l.t.Logf("nats TRACE: "+format, v...) }
