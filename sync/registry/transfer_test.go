package registry_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ttpgate/sync/internal/natstest"
	"ttpgate/sync/registry"
)

// A snapshot of many chunks goes up and comes down intact, through the
// transfer code's flow control, and a second publication replaces it.
func TestSnapshotTransferLarge(t *testing.T) {
	_, url := natstest.Start(t)
	js := natstest.JetStream(t, natstest.Connect(t, url))
	ctx := context.Background()
	dir := t.TempDir()
	data := make([]byte, 24<<20+12345) // ~97 chunks, the last one partial
	rand.Read(data)
	path := filepath.Join(dir, "snap.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for rev := uint64(5); rev <= 6; rev++ {
		t0 := time.Now()
		m, err := registry.PublishSnapshot(ctx, js, hqKey, path, registry.Manifest{Revision: rev, TransportKey: registry.NewTransportKey()}, 1)
		if err != nil {
			t.Fatal(err)
		}
		t1 := time.Now()
		got, file, err := registry.FetchSnapshot(ctx, js, verifier, dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d MB: upload %v, download %v", len(data)>>20, t1.Sub(t0), time.Since(t1))
		if got.Revision != m.Revision {
			t.Fatalf("fetched revision %d, want %d", got.Revision, m.Revision)
		}
		b, err := os.ReadFile(file)
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("downloaded file differs (%v)", err)
		}
		os.Remove(file)
	}
}
