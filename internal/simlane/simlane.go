// Package simlane runs a whole gate lane on this machine: a development HQ (embedded NATS), the
// lane daemon, and simulated OSDP devices on pseudo-terminals that the daemon opens as serial
// ports, exactly as it opens real ones. Scripted travellers walk through it. `gated demo`,
// `gatebench lane` and the integration tests use it.
package simlane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/creack/pty"

	"ttpgate/devices/ef01"
	"ttpgate/devices/ef01sim"
	"ttpgate/devices/osdp"
	"ttpgate/devices/simulator"
	"ttpgate/internal/config"
	"ttpgate/internal/daemon"
	"ttpgate/internal/devhq"
	"ttpgate/sync/events"
	"ttpgate/sync/registry"
)

// Options configure a simulated lane.
type Options struct {
	Dir            string // working folder: HQ data, gate store, config (required)
	Direction      string // entry (default) or departure
	Logger         *slog.Logger
	OnEvent        func(events.Event) // the daemon's local event tail
	DoorPulse      time.Duration      // default 1s
	RefusalScreen  time.Duration      // default 300ms
	FingerTimeout  time.Duration      // default 10s
	HQClock        time.Duration      // default 500ms
	PollInterval   time.Duration      // default 20ms
	OfflineAfter   time.Duration      // default OSDP's 8s
	RegistryMaxAge time.Duration      // default 30s
	// InstallMode starts the devices on the default Secure Channel key SCBK-D and the gate in
	// install mode, to commission them; otherwise every device has its own key from the start.
	InstallMode bool
	// FingerModule makes the fingerprint reader an EF01 module (images over a UART) simulated on
	// its own pseudo-terminal, instead of an OSDP biometric reader; PaceModule holds its writes
	// to the line's byte time (a 256x288 image takes 3.4 s at 115200 baud).
	FingerModule bool
	PaceModule   bool
	// Gate is the lane's gate id (default SIM01).
	Gate string
	// NoDaemon starts HQ, the simulated devices and the config (Lane.ConfigPath) but not the
	// in-process daemon: the caller runs `gated -config Lane.ConfigPath` itself (as a child
	// process, say) and may call StartDaemon later. Lane.Daemon stays nil until then.
	NoDaemon bool
	// NATSURL, if set, gives the NATS URL written in the gate's config from HQ's own (a TCP
	// proxy in front of HQ, to cut the link); it is called once HQ runs.
	NATSURL func(hqURL string) (string, error)
	// ViaLeaf connects the gate as deployed at an airport: through a leaf node of its own
	// (Lane.Leaf, linked to HQ) that signs the gate in by its NKey (nats.nkey_seed_file) with the
	// gate permissions of configs/nats, and HQ's JetStream domain. Not with NATSURL.
	ViaLeaf bool
}

// Devices are the simulated devices of one lane.
type Devices struct {
	Card *simulator.CardReader
	Bio  *simulator.BioReader // the OSDP fingerprint reader
	Door *simulator.DoorBoard
	// Module is the EF01 fingerprint module when the lane has one instead of Bio; the samples
	// a traveller places on it are packed 4-bit images.
	Module *ef01sim.Sim
}

// NewDevices returns a card reader, a fingerprint reader and a door board at OSDP addresses 1, 2
// and 3.
func NewDevices() Devices {
	return Devices{Card: simulator.NewCardReader(1), Bio: simulator.NewBioReader(2), Door: simulator.NewDoorBoard(3)}
}

// Lane is a running simulated lane.
type Lane struct {
	Devices
	HQ         *devhq.HQ
	Leaf       *devhq.Leaf // the airport leaf node with Options.ViaLeaf, else nil
	Daemon     *daemon.Daemon
	ConfigPath string
	Config     *config.Config

	cancel context.CancelFunc
	opt    Options

	modulePTY  *ef01sim.PTY
	stopDaemon context.CancelFunc
	daemonDone chan struct{}
	wg         sync.WaitGroup
	ptys       []*os.File
	errMu      sync.Mutex
	runErr     error
}

// Start starts HQ, the simulated devices on two pseudo-terminal buses (the readers on one, the
// door board on the other) and the daemon.
func Start(ctx context.Context, opt Options) (*Lane, error) {
	if opt.Dir == "" {
		return nil, errors.New("simlane: Options.Dir is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opt.DoorPulse, time.Second)
	def(&opt.RefusalScreen, 300*time.Millisecond)
	def(&opt.FingerTimeout, 10*time.Second)
	def(&opt.HQClock, 500*time.Millisecond)
	def(&opt.PollInterval, 20*time.Millisecond)
	def(&opt.RegistryMaxAge, 30*time.Second)
	if opt.Gate == "" {
		opt.Gate = "SIM01"
	}
	if opt.Direction == "" {
		opt.Direction = "entry"
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Lane{Devices: NewDevices()}
	ok := false
	defer func() {
		if !ok {
			l.Close()
		}
	}()
	if opt.ViaLeaf && opt.NATSURL != nil {
		return nil, errors.New("simlane: Options.ViaLeaf and Options.NATSURL exclude each other")
	}
	hqOpt := devhq.Options{Dir: filepath.Join(opt.Dir, "hq"), Port: -1, ClockEvery: opt.HQClock, Logger: opt.Logger}
	if opt.ViaLeaf {
		hqOpt.LeafPort = -1
	}
	hq, err := devhq.Start(ctx, hqOpt)
	if err != nil {
		return nil, err
	}
	l.HQ = hq
	runCtx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	// Every device speaks OSDP Secure Channel: its own key (in the gate's keys file), or the
	// default key in install mode.
	secure := map[byte]simulator.SecureConfig{}
	keys := map[string]string{}
	for name, pd := range map[string]simulator.PeripheralDevice{"card-reader": l.Card, "bio-reader": l.Bio, "door-board": l.Door} {
		if opt.InstallMode {
			secure[pd.Address()] = simulator.SecureConfig{InstallMode: true}
			continue
		}
		k := make([]byte, 16)
		_, _ = rand.Read(k)
		secure[pd.Address()] = simulator.SecureConfig{SCBK: k}
		keys[name] = hex.EncodeToString(k)
	}
	if err := os.MkdirAll(filepath.Join(opt.Dir, "gate-data"), 0o700); err != nil {
		return nil, err
	}
	if !opt.InstallMode {
		kj, _ := json.Marshal(keys)
		if err := os.WriteFile(filepath.Join(opt.Dir, "gate-data", "osdp-keys.json"), kj, 0o600); err != nil {
			return nil, err
		}
	}
	readerPDs := []simulator.PeripheralDevice{l.Card, l.Bio}
	bioLine := ""
	if opt.FingerModule {
		readerPDs = readerPDs[:1]
		sim, p, err := ef01sim.ServePTY(runCtx, ef01sim.Config{Pace: opt.PaceModule})
		if err != nil {
			return nil, err
		}
		l.Module, l.modulePTY = sim, p
		bioLine = fmt.Sprintf("  finger_module: {port: %s, baud: 115200}\n", p.Path)
	}
	readers, err := ServePTY(runCtx, &l.wg, &l.ptys, secure, readerPDs...)
	if err != nil {
		return nil, err
	}
	if !opt.FingerModule {
		bioLine = fmt.Sprintf("  bio_reader: {port: %s, baud: 115200, address: 2, poll_interval: %s}\n", readers, opt.PollInterval)
	}
	doors, err := ServePTY(runCtx, &l.wg, &l.ptys, secure, l.Door)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyPath := filepath.Join(opt.Dir, "template.key")
	if err := os.WriteFile(keyPath, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, err
	}
	natsURL := hq.URL
	if opt.NATSURL != nil {
		if natsURL, err = opt.NATSURL(hq.URL); err != nil {
			return nil, err
		}
	}
	natsExtra := ""
	if opt.ViaLeaf {
		if l.Leaf, err = devhq.StartLeaf(ctx, devhq.LeafOptions{Airport: "HND", Gates: []string{opt.Gate}, HubURL: hq.LeafURL}); err != nil {
			return nil, err
		}
		seedPath := filepath.Join(opt.Dir, "gate.nkey")
		if err := os.WriteFile(seedPath, l.Leaf.Seeds[opt.Gate], 0o600); err != nil {
			return nil, err
		}
		natsURL = l.Leaf.URL
		natsExtra = fmt.Sprintf("  nkey_seed_file: %s\n  jetstream_domain: %s\n", seedPath, devhq.Domain)
	}
	yaml := fmt.Sprintf(`# written by simlane: a simulated lane on pseudo-terminals
gate: %s
airport: HND
timezone: Asia/Tokyo
direction: %s
data_dir: gate-data
template_key_file: template.key
admin_socket: gated.sock
metrics_listen: 127.0.0.1:0
display: {listen: 127.0.0.1:0, status_listen: 127.0.0.1:0}
nats:
  url: %s
%sregistry:
  hq_public_keys: %s
devices:
  install_mode: %t
  card_reader: {port: %s, baud: 115200, address: 1, poll_interval: %s}
%s  door_board: {port: %s, baud: 115200, address: 3, poll_interval: %s}
lane:
  max_attempts: 3
  finger_timeout: %s
  door_pulse: %s
  refusal_screen: %s
  registry_max_age: %s
`, opt.Gate, opt.Direction, natsURL, natsExtra, hqKeysYAML(hq.PublicKeys()), opt.InstallMode, readers, opt.PollInterval, bioLine,
		doors, opt.PollInterval, opt.FingerTimeout, opt.DoorPulse, opt.RefusalScreen, opt.RegistryMaxAge)
	l.ConfigPath = filepath.Join(opt.Dir, "gate.yaml")
	if err := os.WriteFile(l.ConfigPath, []byte(yaml), 0o600); err != nil {
		return nil, err
	}
	if l.Config, err = config.Load(l.ConfigPath); err != nil {
		return nil, err
	}
	l.opt = opt
	if !opt.NoDaemon {
		if err := l.StartDaemon(); err != nil {
			return nil, err
		}
	}
	ok = true
	return l, nil
}

// StartDaemon starts the lane daemon (again, after StopDaemon) on the same store and devices.
func (l *Lane) StartDaemon() error {
	d, err := daemon.New(daemon.Options{Config: l.Config, Logger: l.opt.Logger, OnEvent: l.opt.OnEvent,
		OfflineAfter: l.opt.OfflineAfter})
	if err != nil {
		return err
	}
	l.Daemon = d
	ctx, cancel := context.WithCancel(context.Background())
	l.stopDaemon, l.daemonDone = cancel, make(chan struct{})
	go func() {
		defer close(l.daemonDone)
		if err := d.Run(ctx); err != nil {
			l.errMu.Lock()
			l.runErr = err
			l.errMu.Unlock()
		}
	}()
	select {
	case <-d.Ready():
		return nil
	case <-l.daemonDone:
		return fmt.Errorf("simlane: the daemon stopped at start: %v", l.Err())
	}
}

// StopDaemon stops the daemon as SIGTERM does and waits until it has exited.
func (l *Lane) StopDaemon() {
	if l.stopDaemon != nil {
		l.stopDaemon()
		<-l.daemonDone
		l.stopDaemon = nil
	}
}

// ServePTY opens a pseudo-terminal, serves the PDs on its master side until ctx ends and returns
// the path of its terminal side, which the daemon opens as a serial port. secure gives the PDs'
// Secure Channel settings by address (nil: clear text). The files opened are appended to files
// (the caller closes them); the serving goroutine is counted in wg.
func ServePTY(ctx context.Context, wg *sync.WaitGroup, files *[]*os.File, secure map[byte]simulator.SecureConfig, pds ...simulator.PeripheralDevice) (string, error) {
	master, tty, err := pty.Open()
	if err != nil {
		return "", fmt.Errorf("simlane: opening a pseudo-terminal: %w", err)
	}
	// Keep the terminal side open here too, so the master never sees a hang-up while the
	// daemon reopens the port.
	*files = append(*files, master, tty)
	var mine map[byte]simulator.SecureConfig // the settings of this bus's PDs only
	if secure != nil {
		mine = map[byte]simulator.SecureConfig{}
		for _, pd := range pds {
			if c, ok := secure[pd.Address()]; ok {
				mine[pd.Address()] = c
			}
		}
	}
	bus, err := simulator.NewBus(master, pds...)
	if err != nil {
		return "", err
	}
	for a, c := range mine {
		if err := bus.SetSecure(a, c); err != nil {
			return "", err
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = bus.Serve(ctx)
	}()
	return tty.Name(), nil
}

// AdminSocket returns the path of the daemon's admin socket.
func (l *Lane) AdminSocket() string { return l.Config.AdminSocket }

// Err returns the daemon's error if it stopped by itself.
func (l *Lane) Err() error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.runErr
}

// Close stops the daemon, the simulators and HQ.
func (l *Lane) Close() {
	l.StopDaemon()
	if l.cancel != nil {
		l.cancel()
	}
	for _, f := range l.ptys {
		f.Close()
	}
	if l.modulePTY != nil {
		l.modulePTY.Close()
	}
	l.wg.Wait()
	if l.Leaf != nil {
		l.Leaf.Close()
	}
	if l.HQ != nil {
		l.HQ.Close()
	}
}

// Put puts registry records at HQ and returns the revision of the last one.
func (l *Lane) Put(ctx context.Context, recs ...*registry.Record) (uint64, error) {
	var rev uint64
	for _, r := range recs {
		var err error
		if rev, err = registry.Put(ctx, l.HQ.KV, r); err != nil {
			return 0, fmt.Errorf("put %s: %w", r.UserID, err)
		}
	}
	return rev, nil
}

// WaitRegistry waits until the gate has applied the registry up to revision rev.
func (l *Lane) WaitRegistry(ctx context.Context, rev uint64) error {
	for {
		got, err := l.Daemon.RegistryRevision(ctx)
		if err != nil {
			return err
		}
		if got >= rev {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gate registry at revision %d, waiting for %d: %w", got, rev, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Traveller is one scripted traveller.
type Traveller struct {
	Name string
	Card string
	// Samples are what the traveller puts on the fingerprint reader at each attempt; a nil entry
	// is a capture that fails. When they run out, further captures fail.
	Samples [][]byte
	// People is how many people cross the exit beam when the door opens (default 1; 2 is a
	// tailgater).
	People int
}

// Observed is what the simulated devices saw of a traveller's passage.
type Observed struct {
	Granted    bool // the exit door was pulsed
	Refused    bool // the reader said to see the officer
	Attempts   int  // fingerprint captures the lane asked for
	ExitPulses int  // exit door pulses during the passage
	// SampleAt is when the last sample was handed to the reader (for latency bookkeeping).
	SampleAt time.Time
}

// Walker walks travellers through a lane one after the other, acting on its simulated devices.
type Walker struct {
	Lane Devices
	mark int // card reader log position after which the next "PRESENT CARD" counts
}

const readyText = "PRESENT CARD"

// WaitReady waits until the lane shows "present card" after the last traveller.
func (w *Walker) WaitReady(ctx context.Context) error {
	_, err := w.Lane.Card.WaitCommand(ctx, w.mark, osdp.CmdTEXT, func(r simulator.Received) bool { return r.Text == readyText })
	return err
}

// Walk waits for the lane to be ready, then walks one traveller through it.
func (w *Walker) Walk(ctx context.Context, t Traveller) (Observed, error) {
	var obs Observed
	if err := w.WaitReady(ctx); err != nil {
		return obs, fmt.Errorf("%s: lane never ready: %w", t.Name, err)
	}
	l := w.Lane
	pulses := l.Door.PulseCount(simulator.OutputExitDoor)
	w.mark = l.Card.Mark()
	if err := l.Card.Present(t.Card); err != nil {
		return obs, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if n := l.Door.PulseCount(simulator.OutputExitDoor); n > pulses {
			obs.Granted = true
			break
		}
		if strings.HasPrefix(l.Card.LastText(), "SEE OFFICER") {
			obs.Refused = true
			break
		}
		if l.Module != nil {
			// An EF01 module has no capture request to watch: the lane's guidance on the card
			// reader's display says when it wants a finger.
			for n := attemptTexts(l.Card, w.mark); obs.Attempts < n; {
				i := obs.Attempts
				obs.Attempts++
				obs.SampleAt = time.Now()
				if i < len(t.Samples) && t.Samples[i] != nil {
					l.Module.Place(ef01sim.Finger{Image: t.Samples[i]})
				} else {
					l.Module.Place(ef01sim.Finger{Confirm: ef01.ConfImageFail})
				}
			}
		} else if l.Bio.CapturePending() {
			i := obs.Attempts
			obs.Attempts++
			obs.SampleAt = time.Now()
			if i < len(t.Samples) && t.Samples[i] != nil {
				if err := l.Bio.PlaceFinger(t.Samples[i], 80); err != nil {
					return obs, err
				}
			} else {
				l.Bio.FailCapture()
			}
			// Wait until the reader has handed the sample over before looking again.
			for l.Bio.CapturePending() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return obs, fmt.Errorf("%s: no decision from the lane (last text %q)", t.Name, l.Card.LastText())
		}
		time.Sleep(2 * time.Millisecond)
	}
	if obs.Granted {
		people := max(t.People, 1)
		time.Sleep(50 * time.Millisecond)
		for i := 0; i < people; i++ {
			if err := l.Door.BreakBeam(simulator.InputExitBeam); err != nil {
				return obs, err
			}
			time.Sleep(120 * time.Millisecond)
		}
	}
	obs.ExitPulses = l.Door.PulseCount(simulator.OutputExitDoor) - pulses
	return obs, nil
}

// attemptTexts counts the fingerprint prompts ("PLACE FINGER n/m", "TRY AGAIN n/m") the card
// reader displayed since log position since.
func attemptTexts(card *simulator.CardReader, since int) int {
	n := 0
	log := card.Log()
	for _, r := range log[min(since, len(log)):] {
		if strings.HasPrefix(r.Text, "PLACE FINGER") || strings.HasPrefix(r.Text, "TRY AGAIN") {
			n++
		}
	}
	return n
}

// hqKeysYAML writes HQ's public keys as a YAML flow mapping.
func hqKeysYAML(keys map[string]string) string {
	var parts []string
	for id, k := range keys {
		parts = append(parts, fmt.Sprintf("%q: %q", id, k))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ", ") + "}"
}
