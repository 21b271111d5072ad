// Package devhq is a development HQ: an embedded NATS server with JetStream holding the registry
// bucket and the events stream, the HQ signing key, and the registry clock that tells gates their
// copy is current. `hqctl serve`, `gated demo`, gatebench and the integration tests run it;
// production HQ is a NATS cluster configured from configs/nats.
//
// It can also run an airport leaf node (StartLeaf) with one NKey user per gate, allowed what
// configs/nats/leaf-airport.conf allows a gate (GatePermissions), and a TCP Proxy to cut the
// leaf's link to HQ.
package devhq

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/outbox"
	"ttpgate/sync/registry"
)

// DefaultKeyID is the key id of a development HQ signing key.
const DefaultKeyID = "dev-hq"

// Options configure a development HQ.
type Options struct {
	Dir        string        // JetStream storage folder (required)
	Host       string        // listen address, default 127.0.0.1
	Port       int           // listen port; 0 means 4222, -1 a random free port
	ClockEvery time.Duration // how often the registry clock is put, default 2s
	Logger     *slog.Logger

	// KeyFile is the HQ signing key file: loaded if it exists, else created (mode 0600). Empty
	// means a new random key for this run only (tests, the demo). Signer, if set, wins.
	KeyFile string
	// Signer is the HQ signing key to use.
	Signer *registry.Signer
	// LeafPort, if not 0, opens a leaf node port for airport leaf nodes (-1: a random port).
	LeafPort int
}

// HQ is a running development HQ.
type HQ struct {
	Server *server.Server
	Conn   *nats.Conn
	JS     jetstream.JetStream
	// KV is the registry bucket carrying the HQ signer: registry.Put and registry.PutClock on
	// it sign.
	KV  jetstream.KeyValue
	URL string
	// Signer is the HQ signing key; gates trust Signer.PublicKey() under Signer.KeyID().
	Signer *registry.Signer
	// LeafURL is the leaf node URL ("nats-leaf://host:port") when Options.LeafPort was set.
	LeafURL string
	cancel  context.CancelFunc
	done    chan struct{}
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
	signer := opt.Signer
	if signer == nil {
		var err error
		if signer, err = LoadOrCreateKey(opt.KeyFile, DefaultKeyID); err != nil {
			return nil, fmt.Errorf("devhq: %w", err)
		}
	}
	sopts := &server.Options{Host: opt.Host, Port: opt.Port, JetStream: true, StoreDir: opt.Dir,
		ServerName: "ttpgate-dev-hq", NoSigs: true}
	if opt.LeafPort < 0 {
		p, err := freePort(opt.Host)
		if err != nil {
			return nil, fmt.Errorf("devhq: leaf port: %w", err)
		}
		opt.LeafPort = p
	}
	if opt.LeafPort != 0 {
		sopts.JetStreamDomain = Domain
		sopts.LeafNode.Host = opt.Host
		sopts.LeafNode.Port = opt.LeafPort
		sopts.LeafNode.NoAdvertise = true // leaves keep the URL they were given (a Proxy, say)
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("devhq: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("devhq: NATS server on %s:%d not ready within 10s", opt.Host, opt.Port)
	}
	h := &HQ{Server: srv, URL: srv.ClientURL(), Signer: signer, done: make(chan struct{})}
	if opt.LeafPort != 0 {
		h.LeafURL = "nats-leaf://" + net.JoinHostPort(opt.Host, strconv.Itoa(opt.LeafPort))
	}
	if h.Conn, err = nats.Connect(h.URL, nats.Name("ttpgate dev hq"), nats.MaxReconnects(-1)); err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("devhq: connect: %w", err)
	}
	if h.JS, err = jetstream.New(h.Conn); err == nil {
		var kv jetstream.KeyValue
		if kv, err = registry.EnsureBucket(ctx, h.JS); err == nil {
			h.KV = registry.SigningKV(kv, signer)
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

// freePort returns a port that was free a moment ago (the server API does not report the leaf
// node port it bound for port -1).
func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// LoadOrCreateKey loads the signing key in path, or creates one with keyID there (mode 0600) if
// the file does not exist. An empty path makes a key for this process only.
func LoadOrCreateKey(path, keyID string) (*registry.Signer, error) {
	if path == "" {
		return registry.GenerateSigner(keyID)
	}
	s, err := registry.LoadSigner(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	if s, err = registry.GenerateSigner(keyID); err != nil {
		return nil, err
	}
	if err := WriteKeyFile(path, s); err != nil {
		return nil, err
	}
	return s, nil
}

// WriteKeyFile writes s's private key to a new file at path, mode 0600. It refuses to overwrite.
func WriteKeyFile(path string, s *registry.Signer) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writing signing key: %w", err)
	}
	if _, err := f.Write(s.MarshalPrivate()); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("writing signing key %s: %w", path, err)
	}
	return f.Close()
}

// PublicKeys returns the HQ public keys a gate's config lists: key id → standard base64.
func (h *HQ) PublicKeys() map[string]string {
	_, b64, _ := cutColon(h.Signer.PublicKeyString())
	return map[string]string{h.Signer.KeyID(): b64}
}

func cutColon(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// Verifier returns a registry.Verifier trusting this HQ's key, as a gate configured with
// PublicKeys has.
func (h *HQ) Verifier() *registry.Verifier {
	v, err := registry.NewVerifier(map[string]ed25519.PublicKey{h.Signer.KeyID(): h.Signer.PublicKey()})
	if err != nil {
		panic(err) // a Signer's key is always valid
	}
	return v
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
