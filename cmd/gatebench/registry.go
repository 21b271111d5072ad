package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/internal/devhq"
	"ttpgate/sync/registry"
	"ttpgate/sync/store"
)

func init() {
	register("registry", "[-users N] [-deltas N] [-revocations N] [-lookups N] [-cut-changes N] [-cut 5s] [-gate-rss=false] [-gated PATH] [-gated-cards N]   registry at a gate: snapshot bootstrap, deltas, revocation latency through a leaf, lookups, link cut", registryBench)
}

// RegistryResult is the result of `gatebench registry`.
type RegistryResult struct {
	Bench            string  `json:"bench"`
	Users            int     `json:"users"`
	TemplatesPerUser int     `json:"templates_per_user"`
	PopulateS        float64 `json:"populate_s"`       // HQ: sign and put every record (not a gate figure)
	KVBytes          uint64  `json:"kv_mb"`            // the bucket's size at HQ, MB
	SnapshotBuildS   float64 `json:"snapshot_build_s"` // HQ: read+verify the bucket, build the SQLite file, hash, upload, sign
	SnapshotMB       float64 `json:"snapshot_mb"`      // the snapshot file
	BootstrapVia     string  `json:"bootstrap_via"`
	BootstrapS       float64 `json:"bootstrap_s"`             // gate: fetch through the leaf, hash, install, swap
	BootstrapPerSec  float64 `json:"bootstrap_records_per_s"` // users / bootstrap_s
	ReadyS           float64 `json:"ready_s"`                 // gate: empty store to caught up (bootstrap + the deltas since the snapshot)
	DBMB             float64 `json:"db_mb"`                   // gate.db (+ WAL) after bootstrap
	Deltas           int     `json:"deltas"`
	ApplyPerSec      float64 `json:"apply_per_sec"` // batch-signed deltas (HQ's bulk path) verified and applied at the gate, through the leaf
	// Individually signed deltas (one Ed25519 signature each, as revocations and other single
	// changes are), verified and applied the same way: single_deltas of them.
	SingleDeltas            int     `json:"single_deltas"`
	ApplySingleSignedPerSec float64 `json:"apply_single_signed_per_sec"`
	Revocations             int     `json:"revocations"`
	RevocationP50MS         float64 `json:"revocation_p50_ms"` // HQ put -> applied in the gate's store, through hub and leaf
	RevocationP99MS         float64 `json:"revocation_p99_ms"`
	LookupMeanMS            float64 `json:"lookup_mean_ms"`
	LookupP99MS             float64 `json:"lookup_p99_ms"`
	ProcessRSSMB            float64 `json:"process_rss_mb"` // this whole process: HQ, leaf and gate (gated alone is less)
	// The real gated (the binary next to gatebench, or -gated) on the gate's database after
	// everything above: its whole lane on simulated devices, connected through the leaf with its
	// NKey, gated_cards cards looked up through its card reader.
	GatedRSSMB     float64 `json:"gated_rss_mb"`      // gated's VmRSS at the end
	GatedPeakRSSMB float64 `json:"gated_peak_rss_mb"` // gated's VmHWM
	GatedCards     int     `json:"gated_cards"`       // cards presented to gated's lane
	GatedCardsSeen int     `json:"gated_cards_found"` // of them found in its registry (it asked for a finger)
	// The gate's registry part alone, in a child process (see gateChild): the store at full
	// size, a registry watcher through the leaf applying gate_child_changes deltas, lookups.
	GatePartRSSMB     float64 `json:"gate_part_rss_mb"`      // the child's VmRSS at the end
	GatePartPeakRSSMB float64 `json:"gate_part_peak_rss_mb"` // the child's VmHWM
	GatedHeapMB       float64 `json:"gate_part_go_heap_mb"`  // the child's Go heap in use at the end
	GatedSysMB        float64 `json:"gate_part_go_sys_mb"`   // memory the child's Go runtime holds from the OS
	GateChildChange   int     `json:"gate_child_changes"`    // deltas the child applied
	CutS              float64 `json:"cut_s"`
	ChangesSent       int     `json:"changes_sent"`
	ChangesApplied    int     `json:"changes_applied"`
	ConvergeS         float64 `json:"converge_s"` // link restored -> every change applied
	Machine           Machine `json:"machine"`
}

func registryBench(ctx context.Context, args []string) (any, error) {
	fs := newFlags("registry")
	users := fs.Int("users", 1_000_000, "registered users (2 enrolled fingers each)")
	deltas := fs.Int("deltas", 20_000, "changed records applied for the delta rate (batch-signed)")
	singleDeltas := fs.Int("single-deltas", -1, "changed records applied for the individually signed delta rate (default: -deltas)")
	revocations := fs.Int("revocations", 200, "revocations timed HQ -> gate")
	lookups := fs.Int("lookups", 20_000, "card lookups timed")
	cutChanges := fs.Int("cut-changes", 10_000, "changes HQ makes while the airport link is cut")
	cut := fs.Duration("cut", 5*time.Second, "how long the link is cut (the issue's scenario is 5m)")
	dirFlag := fs.String("dir", "", "work folder (default a temporary one, removed after)")
	verbose := fs.Bool("v", false, "log progress")
	gateRSS := fs.Bool("gate-rss", true, "measure the gate's memory at the end: the real gated, and the registry part alone in a child process")
	gatedBin := fs.String("gated", "", "the gated binary for the memory figure (default: gated next to gatebench)")
	gatedCards := fs.Int("gated-cards", 30, "cards presented to the real gated's lane before its memory is read")
	via := fs.String("bootstrap-via", "leaf", "leaf: the gate downloads the snapshot through the airport leaf; hq: on a direct connection to HQ")
	if err := fs.Parse(args); err != nil || *users < 1 {
		return nil, errUsage
	}
	dir := *dirFlag
	if dir == "" {
		d, err := os.MkdirTemp("", "gatebench-registry-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	say := func(format string, a ...any) {
		if *verbose {
			fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if *singleDeltas < 0 {
		*singleDeltas = *deltas
	}
	res := RegistryResult{Bench: "registry", Users: *users, TemplatesPerUser: 2, Deltas: *deltas, SingleDeltas: *singleDeltas,
		Revocations: *revocations, Machine: machine()}

	hq, err := devhq.Start(ctx, devhq.Options{Dir: filepath.Join(dir, "hq"), Port: -1, LeafPort: -1, ClockEvery: time.Second, Logger: quiet})
	if err != nil {
		return nil, err
	}
	defer hq.Close()
	proxy, err := devhq.NewProxy(strings.TrimPrefix(hq.LeafURL, "nats-leaf://"))
	if err != nil {
		return nil, err
	}
	defer proxy.Close()
	leaf, err := devhq.StartLeaf(ctx, devhq.LeafOptions{Airport: "HND", Gates: []string{"G01"}, HubURL: "nats-leaf://" + proxy.Addr()})
	if err != nil {
		return nil, err
	}
	defer leaf.Close()

	// HQ: sign (in batches) and put every record, on all cores, with async publishes.
	say("populating %d users", *users)
	start := time.Now()
	if err := populate(ctx, hq, 0, *users, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), true); err != nil {
		return nil, err
	}
	res.PopulateS = time.Since(start).Seconds()
	if st, err := hq.KV.Status(ctx); err == nil {
		res.KVBytes = st.Bytes() >> 20
	}

	// HQ: snapshot.
	say("building the snapshot")
	start = time.Now()
	m, err := buildSnapshot(ctx, hq, dir, say)
	if err != nil {
		return nil, err
	}
	res.SnapshotBuildS = time.Since(start).Seconds()
	res.SnapshotMB = float64(m.Size) / (1 << 20)

	// Changes after the snapshot, which the gate gets as deltas.
	if err := populate(ctx, hq, 0, min(1000, *users), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), true); err != nil {
		return nil, err
	}

	// The gate, through the leaf.
	gc, err := nats.Connect(leaf.URL, devhq.GateOption(leaf.Seeds["G01"]), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer gc.Close()
	gjs, err := jetstream.NewWithDomain(gc, devhq.Domain)
	if err != nil {
		return nil, err
	}
	gkv, err := gjs.KeyValue(ctx, registry.Bucket)
	if err != nil {
		return nil, fmt.Errorf("gate: registry bucket through the leaf: %w", err)
	}
	key := make([]byte, store.TemplateKeySize)
	rand.Read(key)
	dbPath := filepath.Join(dir, "gate", "gate.db")
	os.MkdirAll(filepath.Dir(dbPath), 0o700)
	st, err := store.Open(dbPath, key)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	v := hq.Verifier()

	say("bootstrapping the gate (snapshot through %s)", *via)
	res.BootstrapVia = *via
	bjs := gjs
	if *via == "hq" {
		bjs = hq.JS
	}
	start = time.Now()
	if _, err := registry.Bootstrap(ctx, bjs, st, v); err != nil {
		return nil, fmt.Errorf("gate bootstrap after %v: %w", time.Since(start).Round(time.Millisecond), err)
	}
	res.BootstrapS = time.Since(start).Seconds()
	res.BootstrapPerSec = float64(*users) / res.BootstrapS
	w := registry.NewWatcher(gkv, st, registry.WatcherOptions{Verifier: v, JS: gjs, BatchSize: 2000, BatchDelay: 5 * time.Millisecond, Logger: quiet})
	stopW := runWatcher(ctx, w)
	if err := regWaitUntil(ctx, 10*time.Minute, func() bool { return w.Stats().CaughtUp }); err != nil {
		return nil, fmt.Errorf("gate catching up after the bootstrap: %w", err)
	}
	res.ReadyS = time.Since(start).Seconds()
	res.DBMB = fileMB(dbPath) + fileMB(dbPath+"-wal")
	stopW()

	// Delta apply rate: changes made while the gate's watcher is stopped, then applied.
	// First individually signed changes, then batch-signed ones (HQ's bulk path).
	// deltaPhase puts n changes at HQ dated base, then starts a watcher and
	// times it to the last of them; the watcher keeps running.
	deltaPhase := func(what string, n int, base time.Time, batch bool) (*registry.Watcher, func(), float64, error) {
		say("delta rate, %s: %d changes", what, n)
		if err := populate(ctx, hq, 0, min(n, *users), base, batch); err != nil {
			return nil, nil, 0, err
		}
		last, err := lastRevision(ctx, hq.KV)
		if err != nil {
			return nil, nil, 0, err
		}
		w := registry.NewWatcher(gkv, st, registry.WatcherOptions{Verifier: v, JS: gjs, BatchSize: 2000, BatchDelay: 5 * time.Millisecond, Logger: quiet})
		// GATEBENCH_DELTA_CPUPROFILE=<file> profiles the batch-signed phase (the whole process: HQ, leaf and gate).
		stopProf := func() {}
		if pf := os.Getenv("GATEBENCH_DELTA_CPUPROFILE"); pf != "" && batch {
			if f, err := os.Create(pf); err == nil && pprof.StartCPUProfile(f) == nil {
				stopProf = func() { pprof.StopCPUProfile(); f.Close() }
			}
		}
		defer stopProf()
		start := time.Now()
		stop := runWatcher(ctx, w)
		if err := regWaitUntil(ctx, 10*time.Minute, func() bool { return w.Stats().Revision >= last }); err != nil {
			stop()
			return nil, nil, 0, fmt.Errorf("delta apply (%s): %w", what, err)
		}
		return w, stop, float64(w.Stats().Applied) / time.Since(start).Seconds(), nil
	}
	if *singleDeltas > 0 {
		_, stopSingle, rate, err := deltaPhase("individually signed", *singleDeltas, time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC), false)
		if err != nil {
			return nil, err
		}
		stopSingle()
		res.ApplySingleSignedPerSec = rate
	}
	w, stopW, res.ApplyPerSec, err = deltaPhase("batch-signed", *deltas, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), true)
	if err != nil {
		return nil, err
	}
	defer func() { stopW() }()

	// Revocation latency: put at HQ, applied in the gate's store.
	say("revocations")
	var lat []time.Duration
	for i := 0; i < *revocations; i++ {
		u := mrand.IntN(*users)
		r := benchRecord(u, time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC))
		r.Updated = time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
		r.Status = registry.StatusRevoked
		t0 := time.Now()
		rev, err := registry.Put(ctx, hq.KV, r)
		if err != nil {
			return nil, err
		}
		if err := regWaitUntil(ctx, 30*time.Second, func() bool { return w.Stats().Revision >= rev }); err != nil {
			return nil, fmt.Errorf("revocation %d: %w", i, err)
		}
		lat = append(lat, time.Since(t0))
		if cr, err := st.LookupCard(ctx, benchCard(u)); err != nil || cr.User.Status != registry.StatusRevoked {
			return nil, fmt.Errorf("revocation %d not in the store: %v", i, err)
		}
		time.Sleep(time.Duration(mrand.IntN(20)) * time.Millisecond)
	}
	res.RevocationP50MS, res.RevocationP99MS = quantileMS(lat, 0.5), quantileMS(lat, 0.99)

	// Lookups.
	say("lookups")
	lat = lat[:0]
	var total time.Duration
	for i := 0; i < *lookups; i++ {
		c := benchCard(mrand.IntN(*users))
		t0 := time.Now()
		if _, err := st.LookupCard(ctx, c); err != nil {
			return nil, fmt.Errorf("lookup: %w", err)
		}
		d := time.Since(t0)
		total += d
		lat = append(lat, d)
	}
	if *lookups > 0 {
		res.LookupMeanMS = ms(total / time.Duration(*lookups))
		res.LookupP99MS = quantileMS(lat, 0.99)
	}
	res.ProcessRSSMB = rssMB()

	// Link cut: HQ makes changes while the airport is cut off; time to converge once it returns.
	if *cutChanges > 0 {
		say("link cut for %s with %d changes", *cut, *cutChanges)
		before := w.Stats().Applied
		proxy.Cut()
		t0 := time.Now()
		if err := populate(ctx, hq, 0, min(*cutChanges, *users), time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), true); err != nil {
			return nil, err
		}
		res.ChangesSent = min(*cutChanges, *users)
		last, err := lastRevision(ctx, hq.KV)
		if err != nil {
			return nil, err
		}
		if rest := *cut - time.Since(t0); rest > 0 {
			time.Sleep(rest)
		}
		res.CutS = time.Since(t0).Seconds()
		proxy.Restore()
		t1 := time.Now()
		if err := regWaitUntil(ctx, 10*time.Minute, func() bool { return w.Stats().Revision >= last }); err != nil {
			return nil, fmt.Errorf("converging after the cut: %w", err)
		}
		res.ConvergeS = time.Since(t1).Seconds()
		res.ChangesApplied = int(w.Stats().Applied - before)
		// Every change is in the store.
		for u := 0; u < res.ChangesSent; u += max(1, res.ChangesSent/200) {
			cr, err := st.LookupCard(ctx, benchCard(u))
			if err != nil || !cr.User.Updated.Equal(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(u)*time.Microsecond)) {
				return nil, fmt.Errorf("after the cut, user %d is not at its latest version: %v", u, err)
			}
		}
	}

	// gated's memory: the gate's part (store + watcher + lookups) in a child process of its own,
	// on the same database, through the same leaf, while this process's watcher is stopped.
	if *gateRSS {
		say("gate memory in a child process")
		stopW()
		res.GateChildChange = min(2000, *users)
		if err := populate(ctx, hq, 0, res.GateChildChange, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), true); err != nil {
			return nil, err
		}
		last, err := lastRevision(ctx, hq.KV)
		if err != nil {
			return nil, err
		}
		cr, err := runGateChild(ctx, gateChildConfig{DB: dbPath, Key: key, LeafURL: leaf.URL, Seed: string(leaf.Seeds["G01"]),
			HQKeys: hq.PublicKeys(), Users: *users, Lookups: *lookups, Until: last})
		if err != nil {
			return nil, fmt.Errorf("gate child: %w", err)
		}
		res.GatePartRSSMB, res.GatePartPeakRSSMB, res.GatedHeapMB, res.GatedSysMB = cr.RSSMB, cr.PeakRSSMB, cr.HeapMB, cr.SysMB

		gated := *gatedBin
		if gated == "" {
			gated = filepath.Join(filepath.Dir(os.Args[0]), "gated")
		}
		if fi, err := os.Stat(gated); err != nil || fi.IsDir() {
			return nil, fmt.Errorf("gated's memory needs the gated binary: %s not found (build it with `go build -o %s ./cmd/gated`, pass -gated PATH, or -gate-rss=false)", gated, gated)
		}
		say("the real gated on the database")
		g, err := measureGatedRSS(ctx, gated, gateChildConfig{DB: dbPath, Key: key, LeafURL: leaf.URL, Seed: string(leaf.Seeds["G01"]),
			HQKeys: hq.PublicKeys(), Users: *users}, *gatedCards)
		if err != nil {
			return nil, fmt.Errorf("gated: %w", err)
		}
		if g.Found != g.Cards {
			return nil, fmt.Errorf("gated found %d of the %d registered cards presented", g.Found, g.Cards)
		}
		res.GatedRSSMB, res.GatedPeakRSSMB, res.GatedCards, res.GatedCardsSeen = g.RSSMB, g.PeakRSSMB, g.Cards, g.Found
	}
	return res, nil
}

// gateChildConfig is what the child process gets (as JSON in GATEBENCH_GATE_CHILD).
type gateChildConfig struct {
	DB      string
	Key     []byte
	LeafURL string
	Seed    string
	HQKeys  map[string]string
	Users   int
	Lookups int
	Until   uint64 // bucket revision to reach
}

// gateChildResult is the child's answer (JSON on its stdout).
type gateChildResult struct {
	RSSMB, PeakRSSMB, HeapMB, SysMB float64
	Applied                         uint64
	Err                             string
}

func init() {
	if cfg := os.Getenv("GATEBENCH_GATE_CHILD"); cfg != "" {
		var c gateChildConfig
		var r gateChildResult
		if err := json.Unmarshal([]byte(cfg), &c); err != nil {
			r.Err = err.Error()
		} else if err := gateChild(c, &r); err != nil {
			r.Err = err.Error()
		}
		json.NewEncoder(os.Stdout).Encode(r)
		os.Exit(0)
	}
}

// runGateChild runs this program as the gate's part of gated: see gateChild.
func runGateChild(ctx context.Context, c gateChildConfig) (*gateChildResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cfg, _ := json.Marshal(c)
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), "GATEBENCH_GATE_CHILD="+string(cfg))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, err
	}
	var r gateChildResult
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, fmt.Errorf("child output %q: %w", out, err)
	}
	if r.Err != "" {
		return nil, errors.New(r.Err)
	}
	return &r, nil
}

// gateChild is the gate's part of gated, alone in a process: it opens the store, connects to the
// leaf with the gate's credentials, runs the registry watcher (signatures checked) until it has
// applied the bucket up to c.Until, does c.Lookups random card lookups, and reports its memory.
// It is not all of gated (no lane, reader, display or outbox), which adds its own, smaller part.
func gateChild(c gateChildConfig, r *gateChildResult) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	st, err := store.Open(c.DB, c.Key)
	if err != nil {
		return err
	}
	defer st.Close()
	v, err := registry.ParsePublicKeys(c.HQKeys)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(c.LeafURL, devhq.GateOption([]byte(c.Seed)), nats.MaxReconnects(-1))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.NewWithDomain(nc, devhq.Domain)
	if err != nil {
		return err
	}
	kv, err := js.KeyValue(ctx, registry.Bucket)
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := registry.NewWatcher(kv, st, registry.WatcherOptions{Logger: quiet, Verifier: v, JS: js})
	stop := runWatcher(ctx, w)
	defer stop()
	if err := regWaitUntil(ctx, 5*time.Minute, func() bool { return w.Stats().Revision >= c.Until }); err != nil {
		return fmt.Errorf("gate child watcher: %w", err)
	}
	r.Applied = w.Stats().Applied
	for i := 0; i < c.Lookups; i++ {
		if _, err := st.LookupCard(ctx, benchCard(mrand.IntN(c.Users))); err != nil {
			return fmt.Errorf("lookup: %w", err)
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapMB, r.SysMB = float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20)
	r.RSSMB, r.PeakRSSMB = procStatusMB("VmRSS:"), procStatusMB("VmHWM:")
	return nil
}

func benchUser(i int) string { return fmt.Sprintf("U%08d", i) }
func benchCard(i int) string { return fmt.Sprintf("9%011d", i) }

// benchTemplate stands for an enrolment template: 700 bytes, about the
// median of an extracted full print (27 minutiae and its orientation field,
// 682 bytes on the easy set).
var benchTemplate = func() []byte {
	b := make([]byte, 700)
	copy(b, "FMR\x00 20\x00")
	rand.Read(b[8:])
	return b
}()

// benchRecord is user i's record, updated at base + i µs (so every version is newer than the last).
func benchRecord(i int, base time.Time) *registry.Record {
	issued := registry.MustParseDate("2025-01-10")
	return &registry.Record{Schema: registry.SchemaVersion, UserID: benchUser(i), Status: registry.StatusActive,
		Eligibility: registry.EligibilityShortTermVisitor, PassportExpiry: registry.MustParseDate("2031-06-30"), PreferredLanguage: "ja",
		Cards: []registry.Card{{Number: benchCard(i), Status: registry.CardActive, Issued: issued, Expires: issued.AddDays(3*365 - 1)}},
		ED:    &registry.DateRange{From: registry.MustParseDate("2026-01-01"), To: registry.MustParseDate("2026-12-31")},
		Templates: []registry.Template{{Finger: 2, Format: registry.FormatISO19794_2_2005, Data: benchTemplate},
			{Finger: 7, Format: registry.FormatISO19794_2_2005, Data: benchTemplate}},
		Updated: base.Add(time.Duration(i) * time.Microsecond).UTC()}
}

// populate signs and puts users [from, to) with JetStream async publishes on every core.
// batched signs registry.DefaultSignBatch records at a time under one signature (SignBatch,
// as hqctl registry import does); otherwise each record is signed on its own (SignRecord).
func populate(ctx context.Context, hq *devhq.HQ, from, to int, base time.Time, batched bool) error {
	workers := max(runtime.GOMAXPROCS(0), 2)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for wk := 0; wk < workers; wk++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			js, err := jetstream.New(hq.Conn, jetstream.WithPublishAsyncMaxPending(2048))
			if err != nil {
				errs <- err
				return
			}
			chunk := 1
			if batched {
				chunk = registry.DefaultSignBatch
			}
			var recs []*registry.Record
			for i := from + wk; i < to; i += workers * chunk {
				recs = recs[:0]
				for j := i; j < to && j < i+workers*chunk; j += workers {
					recs = append(recs, benchRecord(j, base))
				}
				var vals [][]byte
				var err error
				if batched {
					vals, err = hq.Signer.SignBatch(recs)
				} else {
					var val []byte
					val, err = hq.Signer.SignRecord(recs[0])
					vals = [][]byte{val}
				}
				if err != nil {
					errs <- err
					return
				}
				for k, r := range recs {
					if _, err := js.PublishAsync("$KV."+registry.Bucket+"."+registry.Key(r.UserID), vals[k], jetstream.WithStallWait(time.Minute)); err != nil {
						errs <- err
						return
					}
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				errs <- ctx.Err()
			case <-time.After(5 * time.Minute):
				errs <- fmt.Errorf("populate: publish acks not complete after 5m")
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func buildSnapshot(ctx context.Context, hq *devhq.HQ, dir string, say func(string, ...any)) (*registry.Manifest, error) {
	path := filepath.Join(dir, "snapshot-build.db")
	defer os.Remove(path)
	tk := registry.NewTransportKey()
	b, bs, err := store.BuildSnapshot(ctx, hq.JS, hq.Verifier(), path, tk)
	if err != nil {
		return nil, err
	}
	say("snapshot file built: %d records, %d tombstones; publishing", bs.Records, b.Tombstones)
	return registry.PublishSnapshot(ctx, hq.JS, hq.Signer, path, registry.Manifest{Revision: bs.Revision, Users: b.Users,
		Cards: b.Cards, Templates: b.Templates, TransportKey: tk}, 1)
}

func runWatcher(ctx context.Context, w *registry.Watcher) (stop func()) {
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(wctx); close(done) }()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }
}

func regWaitUntil(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not done within %v", limit)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(500 * time.Microsecond)
	}
	return nil
}

func lastRevision(ctx context.Context, kv jetstream.KeyValue) (uint64, error) {
	st, err := kv.Status(ctx)
	if err != nil {
		return 0, err
	}
	si, ok := st.(interface{ StreamInfo() *jetstream.StreamInfo })
	if !ok {
		return 0, fmt.Errorf("bucket status has no stream info")
	}
	return si.StreamInfo().State.LastSeq, nil
}

func quantileMS(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return float64(s[max(i, 0)].Microseconds()) / 1000
}

func fileMB(path string) float64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(fi.Size()) / (1 << 20)
}

func rssMB() float64 { return procStatusMB("VmRSS:") }

// procStatusMB reads a field of /proc/self/status in MB.
func procStatusMB(field string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	return 0
}
