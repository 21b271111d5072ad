package devhq

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"ttpgate/sync/outbox"
	"ttpgate/sync/registry"
	"ttpgate/sync/store"
)

const configDir = "../../configs/nats"

func setPasswords(t *testing.T) {
	for _, v := range []string{"HQ_REGISTRY_PASSWORD", "HQ_EVENTS_PASSWORD", "LEAF_PASSWORD", "SYS_PASSWORD"} {
		t.Setenv(v, "test-"+strings.ToLower(v))
	}
}

func loadConfig(t *testing.T, name string) *server.Options {
	t.Helper()
	o, err := server.ProcessConfigFile(filepath.Join(configDir, name))
	if err != nil {
		t.Fatalf("configs/nats/%s: %v", name, err)
	}
	return o
}

func sorted(p *server.SubjectPermission) *server.SubjectPermission {
	if p == nil {
		return nil
	}
	return &server.SubjectPermission{Allow: slices.Sorted(slices.Values(p.Allow)), Deny: slices.Sorted(slices.Values(p.Deny))}
}

// gateOf returns the gate a leaf user's permissions are for, from its event subject.
func gateOf(t *testing.T, u *server.NkeyUser) (airport, gate string) {
	t.Helper()
	for _, s := range u.Permissions.Publish.Allow {
		if p := strings.Split(s, "."); len(p) == 5 && p[0] == "ttp" && p[1] == "evt" && p[4] == ">" {
			return p[2], p[3]
		}
	}
	t.Fatalf("leaf user %s publishes no ttp.evt.<airport>.<gate>.>", u.Nkey)
	return "", ""
}

func TestConfigsParseAndMatchCode(t *testing.T) {
	setPasswords(t)
	for i := 1; i <= 3; i++ {
		o := loadConfig(t, fmt.Sprintf("hq-%d.conf", i))
		if !o.JetStream || o.Cluster.Name != "ttp-hq" || len(o.Routes) != 3 || o.LeafNode.Port != 7422 {
			t.Errorf("hq-%d.conf: jetstream %v cluster %q routes %d leaf port %d", i, o.JetStream, o.Cluster.Name, len(o.Routes), o.LeafNode.Port)
		}
	}
	leaf := loadConfig(t, "leaf-airport.conf")
	if len(leaf.Nkeys) < 2 || len(leaf.LeafNode.Remotes) != 1 {
		t.Fatalf("leaf-airport.conf: %d gate users, %d remotes", len(leaf.Nkeys), len(leaf.LeafNode.Remotes))
	}
	for _, u := range leaf.Nkeys {
		airport, gate := gateOf(t, u)
		want := GatePermissions(airport, gate)
		got := u.Permissions
		if !reflect.DeepEqual(sorted(got.Publish), sorted(want.Publish)) || !reflect.DeepEqual(sorted(got.Subscribe), sorted(want.Subscribe)) {
			t.Errorf("leaf-airport.conf gate %s.%s permissions differ from GatePermissions:\n got %+v %+v\nwant %+v %+v",
				airport, gate, got.Publish, got.Subscribe, want.Publish, want.Subscribe)
		}
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHubLeafLinkCutAndGatePermissions runs HQ (hq-1.conf as a single node) and an airport
// leaf (leaf-airport.conf) as embedded servers, the leaf's link to HQ through a TCP proxy. A
// revocation put at HQ while the link is cut reaches the gate once it returns; the gate's user
// cannot write the registry or publish another gate's events.
func TestHubLeafLinkCutAndGatePermissions(t *testing.T) {
	setPasswords(t)
	ctx := context.Background()

	// HQ from its config, as one node on loopback.
	ho := loadConfig(t, "hq-1.conf")
	ho.Host, ho.Port, ho.HTTPPort = "127.0.0.1", -1, 0
	ho.StoreDir = t.TempDir()
	ho.Cluster = server.ClusterOpts{}
	ho.Routes = nil
	ho.NoSigs, ho.NoLog = true, true
	lp, err := freePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ho.LeafNode.Host, ho.LeafNode.Port = "127.0.0.1", lp
	ho.LeafNode.NoAdvertise = true // else the leaf learns HQ's real address and goes around the proxy
	hub, err := server.NewServer(ho)
	if err != nil {
		t.Fatal(err)
	}
	hub.Start()
	t.Cleanup(func() { hub.Shutdown(); hub.WaitForShutdown() })
	if !hub.ReadyForConnections(10 * time.Second) {
		t.Fatal("hub not ready")
	}
	hqc, err := nats.Connect(hub.ClientURL(), nats.UserInfo("hq-registry", "test-hq_registry_password"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hqc.Close)
	hjs, _ := jetstream.New(hqc)
	kv0, err := registry.EnsureBucket(ctx, hjs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.EnsureStream(ctx, hjs); err != nil {
		t.Fatal(err)
	}
	signer, _ := registry.GenerateSigner("hq-test")
	kv := registry.SigningKV(kv0, signer)
	verifier, _ := registry.NewVerifier(map[string]ed25519.PublicKey{"hq-test": signer.PublicKey()})
	rec := func(id, card string, status registry.Status, updated time.Time) *registry.Record {
		return &registry.Record{Schema: registry.SchemaVersion, UserID: id, Status: status, Eligibility: registry.EligibilityShortTermVisitor,
			PassportExpiry: registry.MustParseDate("2030-01-31"), PreferredLanguage: "en",
			Cards:   []registry.Card{{Number: card, Status: registry.CardActive, Issued: registry.MustParseDate("2025-01-10"), Expires: registry.MustParseDate("2028-01-09")}},
			Updated: updated}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := registry.Put(ctx, kv, rec("U1", "1000000001", registry.StatusActive, t0)); err != nil {
		t.Fatal(err)
	}

	// The proxy that carries the airport's link, and the leaf from its config.
	proxy, err := NewProxy(fmt.Sprintf("127.0.0.1:%d", lp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	lo := loadConfig(t, "leaf-airport.conf")
	lo.Host, lo.Port, lo.HTTPPort = "127.0.0.1", -1, 0
	lo.NoSigs, lo.NoLog = true, true
	remote, _ := url.Parse("nats-leaf://leaf-airport:test-leaf_password@" + proxy.Addr())
	lo.LeafNode.Remotes[0].URLs = []*url.URL{remote}
	lo.LeafNode.ReconnectInterval = 100 * time.Millisecond
	seeds := map[string][]byte{}
	for _, u := range lo.Nkeys { // the test's own keys; the permissions are the config's
		_, gate := gateOf(t, u)
		kp, _ := nkeys.CreateUser()
		u.Nkey, _ = kp.PublicKey()
		seeds[gate], _ = kp.Seed()
	}
	leaf, err := server.NewServer(lo)
	if err != nil {
		t.Fatal(err)
	}
	leaf.Start()
	t.Cleanup(func() { leaf.Shutdown(); leaf.WaitForShutdown() })
	if !leaf.ReadyForConnections(10 * time.Second) {
		t.Fatal("leaf not ready")
	}
	waitFor(t, "leaf link", 10*time.Second, func() bool { return leaf.NumLeafNodes() == 1 })

	// Gate G01 on the leaf.
	var asyncMu sync.Mutex
	var asyncErrs []string
	gc, err := nats.Connect(leaf.ClientURL(), GateOption(seeds["G01"]), nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			asyncMu.Lock()
			asyncErrs = append(asyncErrs, err.Error())
			asyncMu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gc.Close)
	gjs, _ := jetstream.NewWithDomain(gc, Domain)
	var gkv jetstream.KeyValue
	waitFor(t, "registry bucket through the leaf", 10*time.Second, func() bool {
		gkv, err = gjs.KeyValue(ctx, registry.Bucket)
		if err != nil {
			t.Logf("open bucket: %v", err)
		}
		return err == nil
	})
	st, err := store.Open(filepath.Join(t.TempDir(), "gate.db"), make([]byte, store.TemplateKeySize))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := registry.NewWatcher(gkv, st, registry.WatcherOptions{Verifier: verifier, JS: gjs, BatchDelay: 5 * time.Millisecond,
		StallCheck: 300 * time.Millisecond, MinBackoff: 50 * time.Millisecond, MaxBackoff: 300 * time.Millisecond, Logger: quiet()})
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(wctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "initial sync through the leaf", 20*time.Second, func() bool { return w.Stats().Applied == 1 })

	// Cut the link; HQ revokes U1 meanwhile.
	proxy.Cut()
	waitFor(t, "leaf to notice the cut", 10*time.Second, func() bool { return leaf.NumLeafNodes() == 0 })
	rev, err := registry.Put(ctx, kv, rec("U1", "1000000001", registry.StatusRevoked, t0.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if cr, err := st.LookupCard(ctx, "1000000001"); err != nil || cr.User.Status != registry.StatusActive {
		t.Fatalf("during the cut (hub leafs %d, leaf leafs %d, gate on %s): %+v %v", hub.NumLeafNodes(), leaf.NumLeafNodes(), gc.ConnectedUrl(), cr, err)
	}
	restored := time.Now()
	proxy.Restore()
	waitFor(t, "revocation after the link returns", 30*time.Second, func() bool { return w.Stats().Revision >= rev })
	t.Logf("revocation applied %v after the link returned", time.Since(restored).Round(time.Millisecond))
	if cr, err := st.LookupCard(ctx, "1000000001"); err != nil || cr.User.Status != registry.StatusRevoked {
		t.Fatalf("after the cut: %+v %v", cr, err)
	}

	// The gate may publish its own events (JetStream acks them)...
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	defer pcancel()
	if _, err := gjs.Publish(pctx, "ttp.evt.HND.G01.passage", []byte(`{}`)); err != nil {
		t.Fatalf("gate publishing its own event: %v", err)
	}
	// ...but not write the registry: the server refuses the publish (reported to the
	// connection's error handler), so the put gets no ack.
	dctx, dcancel := context.WithTimeout(ctx, time.Second)
	defer dcancel()
	_, err = gkv.Put(dctx, registry.Key("U1"), []byte(`{}`))
	if err == nil {
		t.Fatal("gate user put to the registry")
	}
	t.Logf("gate registry put: %v", err)
	if _, err := registry.PutSigned(dctx, gkv, signer, rec("U9", "1000000009", registry.StatusActive, t0)); err == nil {
		t.Fatal("gate user put a (signed) record to the registry")
	}
	// ...nor publish as another gate.
	if _, err := gjs.Publish(dctx, "ttp.evt.HND.G02.passage", []byte(`{}`), jetstream.WithRetryAttempts(0)); err == nil {
		t.Fatal("gate published another gate's event")
	}
	waitFor(t, "permission violation reported", 5*time.Second, func() bool {
		asyncMu.Lock()
		defer asyncMu.Unlock()
		return slices.ContainsFunc(asyncErrs, func(s string) bool {
			return strings.Contains(s, "Permissions Violation for Publish") && strings.Contains(s, "$KV.ttp-registry.user.U1")
		})
	})
	// Only G01's event reached HQ's events stream.
	es, err := hjs.Stream(ctx, outbox.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := es.Info(ctx, jetstream.WithSubjectFilter("ttp.evt.>"))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 || len(info.State.Subjects) != 1 || info.State.Subjects["ttp.evt.HND.G01.passage"] != 1 {
		t.Fatalf("events stream holds %d messages on %v, want only G01's", info.State.Msgs, info.State.Subjects)
	}
	// The registry is unchanged at HQ.
	e, err := kv.Get(ctx, registry.Key("U1"))
	if err != nil || e.Revision() != rev {
		t.Fatalf("HQ's record after the gate's attempts: rev %v (want %d), %v", e, rev, err)
	}
}
