package devhq

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"ttpgate/sync/registry"
)

// EventSubjectPrefix is the first tokens of every gate event subject: ttp.evt.<airport>.<gate>.<type>.
const EventSubjectPrefix = "ttp.evt"

// Domain is HQ's JetStream domain. Gates on an airport leaf node reach HQ's JetStream as this
// domain (jetstream.NewWithDomain(nc, Domain)): a server never forwards the plain $JS.API.>
// subjects over a leaf node link.
const Domain = "hq"

// GatePermissions are what one gate's NATS user may do, the same as the gate users of
// configs/nats/leaf-airport.conf: publish its own events, read (never write) the registry bucket
// and the snapshot store through the JetStream API, and receive replies.
func GatePermissions(airport, gate string) *server.Permissions {
	api := "$JS." + Domain + ".API."
	kvs := "KV_" + registry.Bucket
	obs := "OBJ_" + registry.SnapshotBucket
	return &server.Permissions{
		Publish: &server.SubjectPermission{
			Allow: []string{
				fmt.Sprintf("%s.%s.%s.>", EventSubjectPrefix, airport, gate),
				api + "INFO",
				api + "STREAM.INFO." + kvs,
				api + "STREAM.INFO." + obs,
				api + "STREAM.INFO.TTP_EVENTS",
				api + "CONSUMER.CREATE." + kvs, api + "CONSUMER.CREATE." + kvs + ".>",
				api + "CONSUMER.CREATE." + obs, api + "CONSUMER.CREATE." + obs + ".>",
				api + "CONSUMER.INFO." + kvs + ".>", api + "CONSUMER.INFO." + obs + ".>",
				api + "CONSUMER.DELETE." + kvs + ".>", api + "CONSUMER.DELETE." + obs + ".>",
				api + "DIRECT.GET." + kvs + ".>", api + "DIRECT.GET." + obs + ".>",
				api + "STREAM.MSG.GET." + kvs, api + "STREAM.MSG.GET." + obs,
				"$JS.FC.>",
			},
			Deny: []string{"$KV.>", "$O.>"},
		},
		Subscribe: &server.SubjectPermission{
			Allow: []string{"_INBOX.>"},
		},
	}
}

// Leaf is a running airport leaf node.
type Leaf struct {
	Server *server.Server
	URL    string            // client URL for the airport's gates
	Seeds  map[string][]byte // gate → NKey seed of its user
}

// LeafOptions configure StartLeaf.
type LeafOptions struct {
	Airport string   // airport code, e.g. "HND" (required)
	Gates   []string // gate ids; each gets an NKey user with GatePermissions
	HubURL  string   // HQ's leaf node URL, e.g. HQ.LeafURL or a Proxy in front of it (required)
	Host    string   // default 127.0.0.1
	Port    int      // client port, default -1 (random)
	// ReconnectEvery is how soon the leaf redials HQ after losing it (default 100 ms here; the
	// server's own default is 1 s).
	ReconnectEvery time.Duration
}

// StartLeaf starts an airport leaf node connected to HQ, with one NKey user per gate.
func StartLeaf(ctx context.Context, o LeafOptions) (*Leaf, error) {
	if o.Airport == "" || o.HubURL == "" {
		return nil, fmt.Errorf("devhq: leaf: Airport and HubURL are required")
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = -1
	}
	if o.ReconnectEvery <= 0 {
		o.ReconnectEvery = 100 * time.Millisecond
	}
	hub, err := url.Parse(o.HubURL)
	if err != nil {
		return nil, fmt.Errorf("devhq: leaf: hub URL: %w", err)
	}
	l := &Leaf{Seeds: map[string][]byte{}}
	opts := &server.Options{ServerName: "leaf-" + o.Airport, Host: o.Host, Port: o.Port, NoSigs: true, NoLog: true}
	for _, g := range o.Gates {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return nil, err
		}
		pub, _ := kp.PublicKey()
		seed, _ := kp.Seed()
		l.Seeds[g] = seed
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: pub, Permissions: GatePermissions(o.Airport, g)})
	}
	opts.LeafNode.ReconnectInterval = o.ReconnectEvery
	opts.LeafNode.Remotes = []*server.RemoteLeafOpts{{URLs: []*url.URL{hub}}}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("devhq: leaf: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("devhq: leaf: not ready within 10s")
	}
	l.Server, l.URL = srv, srv.ClientURL()
	deadline := time.Now().Add(10 * time.Second)
	for srv.NumLeafNodes() == 0 {
		if time.Now().After(deadline) || ctx.Err() != nil {
			srv.Shutdown()
			return nil, fmt.Errorf("devhq: leaf: no connection to HQ at %s within 10s", o.HubURL)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return l, nil
}

// GateOption is the nats.Option that authenticates as a gate with its NKey seed.
func GateOption(seed []byte) nats.Option {
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return func(*nats.Options) error { return fmt.Errorf("devhq: gate seed: %w", err) }
	}
	pub, _ := kp.PublicKey()
	return nats.Nkey(pub, kp.Sign)
}

// Close stops the leaf node.
func (l *Leaf) Close() {
	l.Server.Shutdown()
	l.Server.WaitForShutdown()
}

// Proxy is a TCP proxy that can cut and restore the link it carries, like an airport's WAN
// link going down.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewProxy listens on a random loopback port and forwards every connection to target
// (host:port).
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		u, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[u] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, u)
		go p.pipe(u, c)
	}
}

func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// Cut closes every carried connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore accepts connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() {
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}
