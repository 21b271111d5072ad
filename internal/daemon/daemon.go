// Package daemon wires one gate lane together: the lane state machine (gate), the OSDP buses
// (devices), the matcher (match), the local store, registry sync and event outbox (sync). It is
// what `gated` runs, and what `gated demo` and `gatebench lane` run in-process.
package daemon

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/display"
	"ttpgate/gate"
	"ttpgate/internal/config"
	"ttpgate/sync/events"
	"ttpgate/sync/outbox"
	"ttpgate/sync/registry"
	"ttpgate/sync/store"
)

// Options configure a Daemon.
type Options struct {
	Config *config.Config
	Logger *slog.Logger
	// OnEvent, if set, is called on the lane goroutine after each event is committed to the
	// outbox (the local event tail). It must not block.
	OnEvent func(events.Event)
	// OfflineAfter overrides OSDP's 8 s offline timeout (tests use shorter ones).
	OfflineAfter time.Duration
}

// Daemon is one running lane.
type Daemon struct {
	cfg      *config.Config
	log      *slog.Logger
	nkey     nats.Option // the NKey sign-in, from nats.nkey_seed_file (nil: none)
	onEvent  func(events.Event)
	st       *store.Store
	lane     *gate.Lane
	inputs   chan gate.Input
	devices  map[string]*device
	buses    []*bus
	ids      events.UUIDGenerator
	seq      uint64
	pub      *outbox.Publisher
	latency  *LatencyRecorder
	offline  time.Duration
	verifier *templateVerifier
	keys     *keyStore
	metrics  *metrics
	display  *display.Server
	module   *fingerModule // the EF01 fingerprint module, when it is the lane's reader
	// verifier2 checks HQ's signatures on registry records, clocks and snapshots.
	verifier2 *registry.Verifier
	rejects   chan registry.Rejection

	mu      sync.Mutex
	status  gate.Status
	hqLink  bool
	watcher *registry.Watcher
	started time.Time

	admin  chan adminRequest
	recent *eventRing

	metricsAddr       string
	ready             chan struct{} // closed once Run has started every part
	displayAddr       string
	displayStatusAddr string
	shuttingDown      bool      // lane goroutine only
	savedMode         laneState // lane goroutine only: the mode to persist
	lastSyncRev       uint64    // lane goroutine only: registry revision of the last registry_sync event
	lastSyncApplied   uint64    // lane goroutine only
	outboxLevel       chan outbox.Alarm

	timing passageTiming
}

// passageTiming follows the software time of the passage in progress (guarded by its own lock:
// device workers write it).
type passageTiming struct {
	mu        sync.Mutex
	cardAt    time.Time
	requested time.Duration // card arrival to the fingerprint request acknowledged
}

// Device names, used in events, logs and status.
const (
	CardReader = "card-reader"
	BioReader  = "bio-reader"
	DoorBoard  = "door-board"
)

// laneState is what the store keeps of the lane across restarts.
type laneState struct {
	Mode       gate.Mode `json:"mode"`
	ModeReason string    `json:"mode_reason,omitempty"`
}

// New opens the store and prepares the lane; Run starts it.
func New(opt Options) (*Daemon, error) {
	cfg := opt.Config
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	key, err := readKey(cfg.TemplateKeyFile)
	if err != nil {
		return nil, err
	}
	var nkey nats.Option
	if cfg.NATS.NKeySeedFile != "" {
		if nkey, err = nats.NkeyOptionFromSeed(cfg.NATS.NKeySeedFile); err != nil {
			return nil, fmt.Errorf("nats.nkey_seed_file %s: %w (expected a file holding this gate's NKey seed, SU…)", cfg.NATS.NKeySeedFile, err)
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir %s: %w", cfg.DataDir, err)
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, "gate.db"), key)
	if err != nil {
		return nil, err
	}
	seq, err := st.LastEventSeq(context.Background())
	if err != nil {
		st.Close()
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: log, onEvent: opt.OnEvent, st: st, seq: seq, nkey: nkey,
		inputs: make(chan gate.Input, 256), devices: map[string]*device{},
		latency: NewLatencyRecorder(), offline: opt.OfflineAfter,
		admin: make(chan adminRequest), recent: newEventRing(500), started: time.Now(),
		outboxLevel: make(chan outbox.Alarm, 1), ready: make(chan struct{}), rejects: make(chan registry.Rejection, 64)}
	if d.verifier2, err = registry.ParsePublicKeys(cfg.Registry.HQPublicKeys); err != nil {
		st.Close()
		return nil, fmt.Errorf("registry.hq_public_keys: %w", err)
	}
	if d.keys, err = loadKeys(cfg.Devices.KeysFile); err != nil {
		st.Close()
		return nil, err
	}
	d.verifier = &templateVerifier{}
	d.verifier.setThreshold(cfg.Match.Threshold, cfg.Match.TargetFMR)
	d.lane = gate.NewLane(laneConfig(cfg), storeRegistry{st}, d.verifier)
	d.buses = d.planBuses()
	if cfg.Devices.UsesFingerModule() {
		d.module = newFingerModule()
	}
	d.metrics = newMetrics(d)
	if d.display, err = display.New(display.Options{CatalogDir: cfg.Display.Catalogs, ExitArrow: cfg.Display.ExitArrow,
		Status: func(ctx context.Context) any { return d.Report(ctx) }, Log: log.With("part", "display")}); err != nil {
		st.Close()
		return nil, fmt.Errorf("display: %w", err)
	}
	return d, nil
}

// readKey reads the template key file: 64 hex digits (32 bytes).
func readKey(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("template_key_file: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("template_key_file %s: expected 64 hex digits (a 32-byte AES-256 key)", path)
	}
	return key, nil
}

// Latencies returns the recorder of decision latencies.
func (d *Daemon) Latencies() *LatencyRecorder { return d.latency }

// Status returns a snapshot of the lane for operators.
func (d *Daemon) Status() gate.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status
}

// Input feeds an input to the lane from outside the devices (the admin API, tests).
func (d *Daemon) Input(in gate.Input) { d.inputs <- in }

// Run runs the lane until ctx ends. Then it shuts down cleanly: the lane closes (a traveller
// waiting for a fingerprint is refused cleanly, a passage in progress finishes), the outbox gets a
// few seconds to flush, the devices stop being polled (door pulses are timed: the doors close by
// themselves) and the store is closed. A restart resumes with no event lost.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.st.Close()
	comp, stopComp := context.WithCancel(context.WithoutCancel(ctx))
	defer stopComp()
	var wg sync.WaitGroup
	start := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}

	// Every device is offline until it answers.
	now := time.Now()
	for _, name := range []string{CardReader, BioReader, DoorBoard} {
		d.lane.Handle(now, gate.DeviceStatusChanged{At: now, Device: name, Online: false, Detail: "not yet seen"})
	}
	mode, why := gate.InService, ""
	if raw, err := d.st.LaneState(ctx); err == nil && len(raw) > 0 {
		var ls laneState
		if json.Unmarshal(raw, &ls) == nil && ls.Mode != "" && ls.Mode != gate.EmergencyOpen {
			mode, why = ls.Mode, ls.ModeReason
		}
	}
	d.step(comp, gate.ModeRequested{At: now, Mode: mode, Reason: "gated started; " + why})

	nc, err := nats.Connect(d.cfg.NATS.URL, d.natsOptions()...)
	if err != nil {
		return fmt.Errorf("nats %s: %w", d.cfg.NATS.URL, err)
	}
	defer nc.Close()
	// Publish futures the server never answers are released after 10 s (the outbox resends).
	// Through an airport leaf, HQ's JetStream is reached in its domain.
	var js jetstream.JetStream
	if dom := d.cfg.NATS.JetStreamDomain; dom != "" {
		js, err = jetstream.NewWithDomain(nc, dom, jetstream.WithPublishAsyncTimeout(10*time.Second))
	} else {
		js, err = jetstream.New(nc, jetstream.WithPublishAsyncTimeout(10*time.Second))
	}
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	d.pub = outbox.NewPublisher(d.st, js, outbox.Options{Logger: d.log.With("part", "outbox"), OnLevel: d.onOutboxLevel})
	d.lastSyncRev, _ = d.RegistryRevision(ctx)
	ln, err := d.listenAdmin()
	if err != nil {
		return err
	}
	defer ln.Close()
	for _, b := range d.buses {
		b := b
		start(func() { b.run(comp, d) })
	}
	for _, dev := range d.devices {
		dev := dev
		start(func() { dev.work(comp, d) })
	}
	if d.module != nil {
		start(func() { d.module.run(comp, d) })
	}
	start(func() { _ = d.pub.Run(comp) })
	start(func() { d.syncRegistry(comp, js) })
	start(func() { d.serveAdmin(comp, ln) })
	if d.cfg.Display.Listen != "" {
		tln, err := net.Listen("tcp", d.cfg.Display.Listen)
		var sln net.Listener
		if err == nil && d.cfg.Display.StatusListen != "" {
			sln, err = net.Listen("tcp", d.cfg.Display.StatusListen)
			if err != nil {
				tln.Close()
			}
		}
		if err != nil {
			d.log.Error("display listen address unavailable; running without the display", "err", err)
		} else {
			d.displayAddr = tln.Addr().String()
			if sln != nil {
				d.displayStatusAddr = sln.Addr().String()
			}
			start(func() { _ = d.display.Serve(comp, tln, sln) })
		}
	}
	if d.cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", d.cfg.MetricsListen)
		if err != nil {
			// Metrics are for monitoring: their port being taken must not stop the lane.
			d.log.Error("metrics_listen unavailable; running without metrics", "addr", d.cfg.MetricsListen, "err", err)
		} else {
			d.metricsAddr = mln.Addr().String()
			start(func() { d.serveMetrics(comp, mln) })
		}
	}

	close(d.ready)
	d.loop(ctx, comp)
	stopComp()
	wg.Wait()
	d.log.Info("gated stopped")
	return nil
}

func (d *Daemon) natsOptions() []nats.Option {
	opts := []nats.Option{
		nats.Name("gated " + d.cfg.Airport + "/" + d.cfg.Gate),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.ConnectHandler(func(*nats.Conn) { d.setLink(true) }),
		nats.ReconnectHandler(func(*nats.Conn) { d.setLink(true) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { d.setLink(false) }),
	}
	if d.cfg.NATS.Credentials != "" {
		opts = append(opts, nats.UserCredentials(d.cfg.NATS.Credentials))
	}
	if d.nkey != nil {
		opts = append(opts, d.nkey)
	}
	return opts
}

func (d *Daemon) setLink(up bool) {
	d.mu.Lock()
	d.hqLink = up
	d.mu.Unlock()
	d.log.Info("hq link", "up", up)
}

// syncRegistry finds the registry bucket and keeps the store in step with it.
func (d *Daemon) syncRegistry(ctx context.Context, js jetstream.JetStream) {
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		kv, err := js.KeyValue(ctx, registry.Bucket)
		if err == nil {
			w := registry.NewWatcher(kv, d.st, registry.WatcherOptions{Logger: d.log.With("part", "registry"),
				Verifier: d.verifier2, JS: js, MaxOffline: d.cfg.Registry.MaxOffline.Std(), OnReject: d.onReject})
			d.mu.Lock()
			d.watcher = w
			d.mu.Unlock()
			err = w.Run(ctx)
			if ctx.Err() != nil {
				return
			}
		}
		d.log.Warn("registry sync interrupted", "err", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// loop is the lane goroutine: the only one that feeds the lane and writes decisions. When ctx
// ends it shuts the lane down cleanly while comp (the devices, the outbox) keeps running.
func (d *Daemon) loop(ctx, comp context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	fresh := time.NewTicker(time.Second)
	defer fresh.Stop()
	beat := time.NewTicker(HeartbeatEvery)
	defer beat.Stop()
	d.checkFreshness(comp)
	var deadline <-chan time.Time
	done := ctx.Done()
	for {
		select {
		case <-done:
			// Shut down: close the lane without persisting the mode, then let a passage in
			// progress finish and the outbox flush, within a bound.
			done = nil
			d.shuttingDown = true
			d.step(comp, gate.ModeRequested{At: time.Now(), Mode: gate.OutOfService, Reason: "gated shutting down"})
			deadline = time.After(d.cfg.Lane.DoorPulse.Std() + 2*time.Second)
		case <-deadline:
			d.log.Warn("shutdown: passage still in progress at the deadline")
			d.flush(comp)
			return
		case in := <-d.inputs:
			d.step(comp, in)
		case req := <-d.admin:
			req.reply <- d.step(comp, req.in, req.audit...)
		case now := <-tick.C:
			d.step(comp, gate.Tick{At: now})
		case <-fresh.C:
			d.checkFreshness(comp)
		case <-beat.C:
			d.heartbeat(comp)
		case r := <-d.rejects:
			rev, _ := d.RegistryRevision(comp)
			d.recordExtra(comp, events.NewRegistrySync(time.Now(), events.RegistrySync{Status: "error", Revision: rev},
				fmt.Sprintf("rejected %s entry %s at revision %d: %s", r.Kind, r.Key, r.Revision, r.Reason)))
		case a := <-d.outboxLevel:
			d.step(comp, gate.OutboxFill{At: a.Time, Level: a.Level.String(), Detail: a.Detail})
		}
		if d.shuttingDown && d.lane.State() != gate.StatePassage {
			d.flush(comp)
			return
		}
	}
}

// flush gives the device queues and the outbox a few seconds to empty before the daemon stops.
func (d *Daemon) flush(ctx context.Context) {
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		n, err := d.st.OutboxDepth(ctx)
		queued := 0
		for _, dev := range d.devices {
			queued += len(dev.queue)
		}
		if err == nil && n == 0 && queued == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n, err := d.st.OutboxDepth(ctx); err == nil && n > 0 {
		d.log.Warn("stopping with events still in the outbox; they are sent after the restart", "depth", n)
	}
}

func (d *Daemon) checkFreshness(ctx context.Context) {
	_, hq, err := d.st.RegistryCursor(ctx)
	if err != nil {
		d.log.Error("reading the registry cursor", "err", err)
		return
	}
	if !hq.IsZero() {
		d.step(ctx, gate.RegistryFreshness{At: time.Now(), HQTime: hq})
	}
}

// step feeds one input to the lane, commits the events it returns with the lane's state in one
// transaction, then hands the device commands to the device workers.
func (d *Daemon) step(ctx context.Context, in gate.Input, audit ...store.AuditEntry) []events.Event {
	now := time.Now()
	if c, ok := in.(gate.CardPresented); ok {
		d.timing.mu.Lock()
		d.timing.cardAt = c.At
		d.timing.requested = 0
		d.timing.mu.Unlock()
	}
	outs := d.lane.Handle(now, in)
	var rows []store.OutboxEvent
	var wire []events.Event
	for _, o := range outs {
		rec, ok := o.(gate.Record)
		if !ok {
			continue
		}
		ev := d.toWire(rec.Event)
		payload, err := ev.Marshal()
		if err != nil {
			// A decision that cannot be recorded is not carried out (a bug, never expected).
			d.seq -= uint64(len(rows) + 1)
			d.log.Error("event does not validate: nothing of this decision is carried out", "type", ev.Type, "err", err)
			d.failClosed(now, err)
			return nil
		}
		rows = append(rows, store.OutboxEvent{Seq: ev.Seq, ID: ev.ID, Subject: ev.Subject(), Payload: payload})
		wire = append(wire, ev)
	}
	if len(rows) > 0 || len(audit) > 0 {
		st := d.lane.Status()
		ls := laneState{Mode: st.Mode, ModeReason: st.ModeReason}
		if d.shuttingDown {
			ls = d.savedMode // the shutdown's own closing is not the lane's mode
		} else {
			d.savedMode = ls
		}
		state, _ := json.Marshal(ls)
		if err := d.commit(ctx, state, rows, wire, audit); err != nil {
			// Nothing is carried out for a decision that was not recorded; close the lane.
			d.log.Error("committing the lane's decision failed: no device command carried out", "err", err)
			d.failClosed(now, err)
			return nil
		}
	}
	d.mu.Lock()
	d.status = d.lane.Status()
	d.mu.Unlock()
	for _, o := range outs {
		d.carryOut(o, in)
	}
	return wire
}

// commit writes events (and the lane's state and audit rows) in one transaction; on failure it
// rolls the sequence back. After the commit the publisher is woken and the local tail fed.
func (d *Daemon) commit(ctx context.Context, state []byte, rows []store.OutboxEvent, wire []events.Event, audit []store.AuditEntry) error {
	if err := d.st.Commit(context.WithoutCancel(ctx), state, rows, audit); err != nil {
		d.seq -= uint64(len(rows))
		return err
	}
	if d.pub != nil {
		d.pub.Notify()
	}
	for _, ev := range wire {
		d.logEvent(ev)
		d.recent.add(ev)
		d.metrics.observe(ev)
		if d.onEvent != nil {
			d.onEvent(ev)
		}
	}
	return nil
}

// recordExtra stamps and commits events that are not lane decisions (heartbeats, registry sync).
func (d *Daemon) recordExtra(ctx context.Context, evs ...events.Event) {
	var rows []store.OutboxEvent
	for i := range evs {
		d.seq++
		events.Stamp(&evs[i], &d.ids, d.seq, d.cfg.Airport, d.cfg.Gate, d.cfg.Direction)
		payload, err := evs[i].Marshal()
		if err != nil {
			d.seq -= uint64(len(rows) + 1)
			d.log.Error("event does not validate; not recorded", "type", evs[i].Type, "err", err)
			return
		}
		rows = append(rows, store.OutboxEvent{Seq: evs[i].Seq, ID: evs[i].ID, Subject: evs[i].Subject(), Payload: payload})
	}
	if err := d.commit(ctx, nil, rows, evs, nil); err != nil {
		d.log.Error("recording events failed", "err", err)
	}
}

// failClosed takes the lane out of service after a store failure.
func (d *Daemon) failClosed(now time.Time, cause error) {
	d.lane.Handle(now, gate.ModeRequested{At: now, Mode: gate.OutOfService, Reason: "store write failed: " + cause.Error()})
	for _, name := range []string{CardReader, BioReader} {
		if dev := d.devices[name]; dev != nil {
			dev.enqueue(d, func(ctx context.Context) error { return dev.show(ctx, gate.Show{Screen: gate.ScreenClosed}) })
		}
	}
}

func (d *Daemon) logEvent(ev events.Event) {
	attrs := []any{"seq", ev.Seq, "type", ev.Type}
	if ev.Reason != "" {
		attrs = append(attrs, "reason", ev.Reason)
	}
	if ev.UserID != "" {
		attrs = append(attrs, "user", ev.UserID)
	}
	if ev.Device != "" {
		attrs = append(attrs, "device", ev.Device)
	}
	if ev.Detail != "" {
		attrs = append(attrs, "detail", ev.Detail)
	}
	d.log.Info("event", attrs...)
}

// toWire gives a lane event its id, sequence number and the gate's identity.
func (d *Daemon) toWire(e gate.Event) events.Event {
	d.seq++
	ev := events.Event{Schema: events.SchemaVersion, ID: d.ids.New(e.Time).String(), Seq: d.seq,
		Gate: d.cfg.Gate, Airport: d.cfg.Airport, Direction: d.cfg.Direction, Type: string(e.Type),
		Time: e.Time.UTC(), Card: e.Card, UserID: e.UserID, Reason: string(e.Reason), Attempts: e.Attempts,
		Device: e.Device, Mode: string(e.Mode), Detail: e.Detail}
	if e.Type == gate.PassageGranted || (e.Type == gate.Refused && (e.Reason == gate.BioMismatch || e.Reason == gate.BioNoCapture)) {
		s := e.Score
		ev.Score = &s
	}
	if e.Type == gate.PassageGranted || e.Type == gate.Refused {
		ev.Timings = &events.Timings{LookupMS: ms(e.Timings.LookupAndPolicy), MatchMS: ms(e.Timings.Match)}
	}
	return ev
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// errNoDevice is returned for a command to a device that is not configured.
var errNoDevice = errors.New("device not configured")

// RegistryRevision returns the registry revision the gate's store has applied.
func (d *Daemon) RegistryRevision(ctx context.Context) (uint64, error) {
	rev, _, err := d.st.RegistryCursor(ctx)
	return rev, err
}

// LastEventSeq returns the sequence number of the last event the gate recorded.
func (d *Daemon) LastEventSeq(ctx context.Context) (uint64, error) { return d.st.LastEventSeq(ctx) }

// MetricsAddr returns the address the metrics server listens on ("" when off).
func (d *Daemon) MetricsAddr() string { return d.metricsAddr }

// DisplayAddr returns the lane display's address, and its status page's ("" when off).
func (d *Daemon) DisplayAddr() (traveller, status string) { return d.displayAddr, d.displayStatusAddr }

// Ready is closed once Run has started every part of the lane (listeners open).
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// onReject reports a registry entry the watcher refused (unsigned, forged, malformed, replayed)
// to HQ as a registry_sync error event; it never blocks the watcher.
func (d *Daemon) onReject(r registry.Rejection) {
	select {
	case d.rejects <- r:
	default:
		d.log.Warn("registry rejections arriving faster than they are reported; this one only logged", "key", r.Key, "kind", r.Kind)
	}
}
