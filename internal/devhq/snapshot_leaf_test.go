package devhq

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/registry"
)

// A snapshot of many chunks reaches a gate through the airport leaf, and a
// download interrupted by a link cut resumes where it stopped.
func TestSnapshotDownloadThroughLeafResumes(t *testing.T) {
	ctx := context.Background()
	hq, err := Start(ctx, Options{Dir: t.TempDir(), Port: -1, LeafPort: -1, ClockEvery: time.Hour, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hq.Close)
	proxy, err := NewProxy(strings.TrimPrefix(hq.LeafURL, "nats-leaf://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	leaf, err := StartLeaf(ctx, LeafOptions{Airport: "HND", Gates: []string{"G01"}, HubURL: "nats-leaf://" + proxy.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(leaf.Close)

	dir := t.TempDir()
	data := make([]byte, 40<<20+777)
	rand.Read(data)
	path := filepath.Join(dir, "snap.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if _, err := registry.PublishSnapshot(ctx, hq.JS, hq.Signer, path, registry.Manifest{Revision: 7, TransportKey: registry.NewTransportKey()}, 1); err != nil {
		t.Fatal(err)
	}
	t.Logf("upload %d MB: %v", len(data)>>20, time.Since(t0))

	gc, err := nats.Connect(leaf.URL, GateOption(leaf.Seeds["G01"]), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gc.Close)
	gjs, _ := jetstream.NewWithDomain(gc, Domain)
	for _, cut := range []bool{false, true} {
		t1 := time.Now()
		if cut {
			go func() {
				time.Sleep(50 * time.Millisecond)
				proxy.Cut()
				time.Sleep(2 * time.Second)
				proxy.Restore()
			}()
		}
		m, file, err := registry.FetchSnapshot(ctx, gjs, hq.Verifier(), dir)
		if err != nil {
			t.Fatalf("cut %v: %v", cut, err)
		}
		t.Logf("download through the leaf (link cut %v): %v", cut, time.Since(t1))
		b, _ := os.ReadFile(file)
		if m.Revision != 7 || !bytes.Equal(b, data) {
			t.Fatalf("downloaded snapshot differs")
		}
		os.Remove(file)
	}
}
