package registry_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/registry"
)

// outageKV is a registry bucket as a gate sees it through an airport leaf whose link to HQ can
// be cut: while cut, Status fails and the open watch delivers nothing (its consumer at HQ lost
// the gate); HQ's puts meanwhile are only in entries. Each WatchAll delivers the entries from the
// asked revision, then the end-of-initial-values marker.
type outageKV struct {
	jetstream.KeyValue // only WatchAll and Status are used
	mu                 sync.Mutex
	cut                bool
	entries            []jetstream.KeyValueEntry
	watches            int
}

func (k *outageKV) WatchAll(ctx context.Context, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cut {
		return nil, errors.New("no responders")
	}
	k.watches++
	ch := make(chan jetstream.KeyValueEntry, len(k.entries)+1)
	for _, e := range k.entries { // the watcher skips what it has applied already
		ch <- e
	}
	ch <- nil
	return &outageWatch{ch: ch}, nil
}

func (k *outageKV) Status(ctx context.Context) (jetstream.KeyValueStatus, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cut {
		return nil, errors.New("no responders")
	}
	var last uint64
	if n := len(k.entries); n > 0 {
		last = k.entries[n-1].Revision()
	}
	return outageStatus{last: last}, nil
}

func (k *outageKV) set(cut bool, entries []jetstream.KeyValueEntry) {
	k.mu.Lock()
	k.cut, k.entries = cut, entries
	k.mu.Unlock()
}

func (k *outageKV) watchCount() int { k.mu.Lock(); defer k.mu.Unlock(); return k.watches }

type outageWatch struct{ ch chan jetstream.KeyValueEntry }

func (w *outageWatch) Updates() <-chan jetstream.KeyValueEntry { return w.ch }
func (w *outageWatch) Stop() error                             { return nil }

type outageStatus struct {
	jetstream.KeyValueStatus
	last uint64
}

func (s outageStatus) StreamInfo() *jetstream.StreamInfo {
	return &jetstream.StreamInfo{State: jetstream.StreamState{LastSeq: s.last}}
}

type outageEntry struct {
	key   string
	value []byte
	rev   uint64
	op    jetstream.KeyValueOp // zero: a put
}

func (e outageEntry) Bucket() string                  { return registry.Bucket }
func (e outageEntry) Key() string                     { return e.key }
func (e outageEntry) Value() []byte                   { return e.value }
func (e outageEntry) Revision() uint64                { return e.rev }
func (e outageEntry) Created() time.Time              { return time.Time{} }
func (e outageEntry) Delta() uint64                   { return 0 }
func (e outageEntry) Operation() jetstream.KeyValueOp { return e.op }

// After an airport outage during which HQ revoked a card, the gate re-watches at the first stall
// check that reaches HQ again (it does not wait for the old watch, which will never deliver), and
// the revocation is applied.
func TestWatcherResumesAtOnceWhenHQIsBack(t *testing.T) {
	st := openStore(t)
	active := newRecord("U0000001", "1000000001")
	activeVal, _ := hqKey.SignRecord(active)
	kv := &outageKV{entries: []jetstream.KeyValueEntry{outageEntry{key: registry.Key("U0000001"), value: activeVal, rev: 1}}}
	w := registry.NewWatcher(kv, st, registry.WatcherOptions{Verifier: verifier, BatchDelay: time.Millisecond,
		StallCheck: 400 * time.Millisecond, Logger: quietLogger()})
	run(t, w)
	waitFor(t, "the first watch", func() bool { return w.Stats().CaughtUp && w.Stats().Revision == 1 })

	// The cut: HQ revokes the card meanwhile; the open watch delivers nothing.
	revoked := newRecord("U0000001", "1000000001")
	revoked.Status = registry.StatusRevoked
	revoked.Updated = active.Updated.Add(time.Hour)
	revokedVal, _ := hqKey.SignRecord(revoked)
	kv.set(true, []jetstream.KeyValueEntry{outageEntry{key: registry.Key("U0000001"), value: revokedVal, rev: 2}})
	time.Sleep(time.Second) // several failed checks
	if n := kv.watchCount(); n != 1 {
		t.Fatalf("the watch must not restart while HQ is unreachable: %d watches", n)
	}
	kv.set(false, []jetstream.KeyValueEntry{outageEntry{key: registry.Key("U0000001"), value: revokedVal, rev: 2}})
	waitFor(t, "the revocation after the outage", func() bool { return w.Stats().Revision == 2 })
	if s := w.Stats(); !strings.Contains(s.LastError, "reachable again") {
		t.Fatalf("the watch must restart because HQ is reachable again, not by the regular stall rule: %+v", s)
	}
	cr, err := st.LookupCard(context.Background(), "1000000001")
	if err != nil || cr.User.Status != registry.StatusRevoked {
		t.Fatalf("revoked after the outage: %+v %v", cr, err)
	}
}
