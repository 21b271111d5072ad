package daemon

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"ttpgate/devices/osdp"
	"ttpgate/devices/serialport"
	"ttpgate/gate"
	"ttpgate/sync/events"
	"ttpgate/sync/store"
)

// The admin API: JSON over HTTP on a Unix socket. File permissions on the socket (0660, in a
// 0750 folder) decide who may use it. Every call that changes something is written to the audit
// log and sent to HQ as an event, in the same transaction as the lane's change. gatectl is its
// client; docs are in README.md ("Technician's tool").

// adminRequest is a change asked through the admin API, carried out on the lane goroutine.
type adminRequest struct {
	in    gate.Input
	audit []store.AuditEntry
	reply chan []events.Event
}

// StatusReport is the answer of GET /v1/status.
type StatusReport struct {
	Gate          string         `json:"gate"`
	Airport       string         `json:"airport"`
	Direction     string         `json:"direction"`
	Version       string         `json:"version"`
	Uptime        string         `json:"uptime"`
	Mode          string         `json:"mode"`
	ModeReason    string         `json:"mode_reason,omitempty"`
	State         string         `json:"state"`
	ClosedBecause []string       `json:"closed_because,omitempty"`
	FireAlarm     bool           `json:"fire_alarm"`
	Devices       []DeviceReport `json:"devices"`
	Registry      RegistryReport `json:"registry"`
	Outbox        OutboxReport   `json:"outbox"`
	HQLink        bool           `json:"hq_link"`
	RecentAlarms  []events.Event `json:"recent_alarms,omitempty"`
}

// DeviceReport is one device in a status report.
type DeviceReport struct {
	Name       string    `json:"name"`
	Port       string    `json:"port"`
	Address    int       `json:"address"`
	Online     bool      `json:"online"`
	Problem    string    `json:"problem,omitempty"`
	LastReply  time.Time `json:"last_reply,omitempty"`
	Identity   string    `json:"identity,omitempty"`
	FramesSent uint64    `json:"frames_sent"`
	Replies    uint64    `json:"replies"`
	Timeouts   uint64    `json:"timeouts"`
	CRCErrors  uint64    `json:"crc_errors"`
	NAKs       uint64    `json:"naks"`
	Secure     bool      `json:"secure_channel"`
	DefaultKey bool      `json:"default_key"`
	MACErrors  uint64    `json:"mac_errors"`
}

// RegistryReport is the registry copy's state in a status report.
type RegistryReport struct {
	Revision   uint64    `json:"revision"`
	HQTime     time.Time `json:"hq_time,omitempty"`
	AgeSeconds float64   `json:"age_seconds"`
	MaxAge     string    `json:"max_age"`
	Applied    uint64    `json:"applied"`
	Rejected   uint64    `json:"rejected"`
	LastError  string    `json:"last_error,omitempty"`
}

// OutboxReport is the event outbox's state in a status report.
type OutboxReport struct {
	Depth     int    `json:"depth"`
	Acked     uint64 `json:"acked"`
	Errors    uint64 `json:"errors"`
	LastError string `json:"last_error,omitempty"`
}

// CheckResult is one check of a self-test.
type CheckResult struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Version is the daemon's version, set at build time with -ldflags "-X ttpgate/internal/daemon.Version=…".
var Version = "dev"

func (d *Daemon) listenAdmin() (net.Listener, error) {
	path := d.cfg.AdminSocket
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("admin_socket %s: %w", path, err)
	}
	// A socket left by a daemon that died is removed; a live one means another gated runs.
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("admin_socket %s: another gated is running on this socket", path)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin_socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin_socket %s: %w", path, err)
	}
	return ln, nil
}

func (d *Daemon) serveAdmin(ctx context.Context, ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, d.Report(r.Context())) })
	mux.HandleFunc("GET /v1/ports", d.handlePorts)
	mux.HandleFunc("GET /v1/events", d.handleEvents)
	mux.HandleFunc("POST /v1/mode", d.handleMode)
	mux.HandleFunc("POST /v1/door/pulse", d.handlePulse)
	mux.HandleFunc("POST /v1/selftest", d.handleSelftest)
	mux.HandleFunc("POST /v1/osdp/commission", d.handleCommission)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && ctx.Err() == nil {
		d.log.Error("admin API stopped", "err", err)
	}
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func fail(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, apiError{Error: fmt.Sprintf(format, args...)})
}

// decode reads a JSON body strictly.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// submit carries a change out on the lane goroutine and returns the events it recorded.
func (d *Daemon) submit(ctx context.Context, in gate.Input, audit store.AuditEntry) ([]events.Event, error) {
	req := adminRequest{in: in, audit: []store.AuditEntry{audit}, reply: make(chan []events.Event, 1)}
	select {
	case d.admin <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(5 * time.Second):
		return nil, errors.New("the lane did not take the request within 5 s")
	}
	select {
	case evs := <-req.reply:
		return evs, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ModeRequest is the body of POST /v1/mode.
type ModeRequest struct {
	Mode   string `json:"mode"`
	Reason string `json:"reason"`
	Actor  string `json:"actor"`
}

// ChangeResult answers a change: the events it recorded (sent to HQ).
type ChangeResult struct {
	Events []events.Event `json:"events"`
	Status StatusReport   `json:"status"`
}

func (d *Daemon) handleMode(w http.ResponseWriter, r *http.Request) {
	var req ModeRequest
	if err := decode(r, &req); err != nil {
		fail(w, 400, "mode request: %v (expected {\"mode\": \"in-service|maintenance|out-of-service|emergency-open\", \"reason\": \"…\", \"actor\": \"…\"})", err)
		return
	}
	switch gate.Mode(req.Mode) {
	case gate.InService, gate.Maintenance, gate.OutOfService, gate.EmergencyOpen:
	default:
		fail(w, 400, "mode %q: allowed in-service, maintenance, out-of-service, emergency-open", req.Mode)
		return
	}
	if req.Reason == "" {
		fail(w, 400, "mode change: a reason is required (it goes to the audit log and to HQ)")
		return
	}
	now := time.Now()
	evs, err := d.submit(r.Context(), gate.ModeRequested{At: now, Mode: gate.Mode(req.Mode), Reason: req.Reason + " (by " + actor(req.Actor) + ")"},
		store.AuditEntry{Time: now, Actor: actor(req.Actor), Action: "mode " + req.Mode, Detail: req.Reason})
	if err != nil {
		fail(w, 503, "%v", err)
		return
	}
	writeJSON(w, 200, ChangeResult{Events: evs, Status: d.Report(r.Context())})
}

// PulseRequest is the body of POST /v1/door/pulse.
type PulseRequest struct {
	Door   string `json:"door"`
	Reason string `json:"reason"`
	Actor  string `json:"actor"`
}

func (d *Daemon) handlePulse(w http.ResponseWriter, r *http.Request) {
	var req PulseRequest
	if err := decode(r, &req); err != nil {
		fail(w, 400, "pulse request: %v (expected {\"door\": \"entry|exit\", \"reason\": \"…\"})", err)
		return
	}
	if req.Door != string(gate.EntryDoor) && req.Door != string(gate.ExitDoor) {
		fail(w, 400, "door %q: allowed entry, exit", req.Door)
		return
	}
	if req.Reason == "" {
		req.Reason = "manual pulse"
	}
	now := time.Now()
	evs, err := d.submit(r.Context(), gate.ManualPulse{At: now, Door: gate.Door(req.Door), Actor: actor(req.Actor), Reason: req.Reason},
		store.AuditEntry{Time: now, Actor: actor(req.Actor), Action: "door pulse " + req.Door, Detail: req.Reason})
	if err != nil {
		fail(w, 503, "%v", err)
		return
	}
	for _, e := range evs {
		if e.Type == string(gate.ManualPulseRefused) {
			writeJSON(w, 409, apiError{Error: "pulse refused: " + e.Detail})
			return
		}
	}
	writeJSON(w, 200, ChangeResult{Events: evs, Status: d.Report(r.Context())})
}

func actor(a string) string {
	if a == "" {
		return "unknown technician"
	}
	return a
}

func (d *Daemon) handlePorts(w http.ResponseWriter, r *http.Request) {
	ports, err := serialport.List()
	if err != nil {
		fail(w, 500, "listing serial ports: %v", err)
		return
	}
	writeJSON(w, 200, ports)
}

func (d *Daemon) handleEvents(w http.ResponseWriter, r *http.Request) {
	n := 50
	if v := r.URL.Query().Get("n"); v != "" {
		if _, err := fmt.Sscanf(v, "%d", &n); err != nil || n < 1 || n > 500 {
			fail(w, 400, "n=%q: expected a number from 1 to 500", v)
			return
		}
	}
	writeJSON(w, 200, d.recent.last(n))
}

// SelftestRequest is the body of POST /v1/selftest.
type SelftestRequest struct {
	PulseDoors bool   `json:"pulse_doors"` // the technician confirmed the doors may open
	Actor      string `json:"actor"`
}

func (d *Daemon) handleSelftest(w http.ResponseWriter, r *http.Request) {
	var req SelftestRequest
	if err := decode(r, &req); err != nil {
		fail(w, 400, "selftest request: %v (expected {\"pulse_doors\": true|false})", err)
		return
	}
	if st := d.Status(); st.Mode != gate.Maintenance && st.Mode != gate.OutOfService {
		fail(w, 409, "self-test needs the lane in maintenance or out-of-service mode (it is %s): gatectl mode maintenance --reason …", st.Mode)
		return
	}
	writeJSON(w, 200, d.selftest(r.Context(), req))
}

// selftest cycles each reader's LED, buzzer and text, reads the door board's inputs and, if the
// technician confirmed it, pulses each door once through the lane (audited).
func (d *Daemon) selftest(ctx context.Context, req SelftestRequest) []CheckResult {
	var res []CheckResult
	check := func(name string, err error, detail string) {
		r := CheckResult{Check: name, OK: err == nil, Detail: detail}
		if err != nil {
			r.Detail = err.Error()
		}
		res = append(res, r)
	}
	for _, name := range []string{CardReader, BioReader, DoorBoard} {
		dev := d.devices[name]
		if dev == nil {
			r := d.module.report()
			var err error
			if !r.Online {
				err = fmt.Errorf("fingerprint module offline: %s", r.Problem)
			}
			check(name+" (EF01 module) online", err, "")
			continue
		}
		cp, err := dev.cp()
		if err == nil {
			var st osdp.PDStats
			for _, s := range cp.Stats() {
				if s.Addr == dev.addr {
					st = s
				}
			}
			if !st.Online {
				err = fmt.Errorf("%s is offline (no reply since %s)", name, st.LastReply.Format(time.RFC3339))
			}
		}
		check(name+" online", err, "")
		if err != nil || name == DoorBoard {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		var lerr error
		for _, c := range []osdp.LEDColor{osdp.ColorRed, osdp.ColorGreen, osdp.ColorAmber, osdp.ColorBlue} {
			if lerr = cp.LED(cctx, dev.addr, osdp.LED{Permanent: osdp.LEDPermanent{Control: osdp.LEDPermSet, OnTime: 1, OnColor: c, OffColor: c}}); lerr != nil {
				break
			}
		}
		check(name+" LED red/green/amber/blue", lerr, "")
		check(name+" buzzer", cp.Buzzer(cctx, dev.addr, osdp.Buzzer{Tone: osdp.ToneDefault, OnTime: 2, OffTime: 1, Count: 1}), "")
		check(name+" text", cp.Text(cctx, dev.addr, osdp.Text{Control: osdp.TextPermanent, Row: 1, Col: 1, Text: "SELF TEST"}), "")
		_ = dev.show(cctx, gate.Show{Screen: gate.ScreenClosed})
		cancel()
	}
	if dev := d.devices[DoorBoard]; dev != nil {
		if cp, err := dev.cp(); err == nil {
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			st, err := cp.InputStatus(cctx, dev.addr)
			cancel()
			detail := ""
			if err == nil {
				detail = fmt.Sprintf("entry beam %s, exit beam %s, exit door %s, tamper %s, fire alarm %s",
					onOff(st.Active(inEntryBeam), "interrupted", "clear"), onOff(st.Active(inExitBeam), "interrupted", "clear"),
					onOff(st.Active(inExitDoorClosed), "closed", "OPEN"), onOff(st.Active(inTamper), "ACTIVE", "normal"),
					onOff(st.Active(inFireAlarm), "ACTIVE", "normal"))
			}
			check("door-board inputs", err, detail)
		}
	}
	if req.PulseDoors {
		for _, door := range []gate.Door{gate.EntryDoor, gate.ExitDoor} {
			now := time.Now()
			evs, err := d.submit(ctx, gate.ManualPulse{At: now, Door: door, Actor: actor(req.Actor), Reason: "self-test"},
				store.AuditEntry{Time: now, Actor: actor(req.Actor), Action: "door pulse " + string(door), Detail: "self-test"})
			if err == nil {
				for _, e := range evs {
					if e.Type == string(gate.ManualPulseRefused) {
						err = errors.New(e.Detail)
					}
				}
			}
			check(string(door)+" door pulse", err, "pulsed for "+gate.ManualPulseDuration.String())
		}
	} else {
		res = append(res, CheckResult{Check: "door pulses", OK: true, Detail: "skipped (not confirmed)"})
	}
	return res
}

func onOff(b bool, on, off string) string {
	if b {
		return on
	}
	return off
}

// Report builds the status report.
func (d *Daemon) Report(ctx context.Context) StatusReport {
	st := d.Status()
	d.mu.Lock()
	link, w := d.hqLink, d.watcher
	d.mu.Unlock()
	rep := StatusReport{Gate: d.cfg.Gate, Airport: d.cfg.Airport, Direction: d.cfg.Direction, Version: Version,
		Uptime: time.Since(d.started).Round(time.Second).String(), Mode: string(st.Mode), ModeReason: st.ModeReason,
		State: string(st.State), ClosedBecause: st.ClosedBecause, FireAlarm: st.FireAlarm, HQLink: link}
	for _, name := range []string{CardReader, BioReader, DoorBoard} {
		dev := d.devices[name]
		if dev == nil && name == BioReader && d.module != nil {
			dr := d.module.report()
			dr.Port = d.cfg.Devices.FingerModule.Port
			rep.Devices = append(rep.Devices, dr)
			continue
		}
		dr := DeviceReport{Name: name, Port: dev.bus.port, Address: int(dev.addr)}
		if cp := dev.bus.controlPanel(); cp != nil {
			for _, s := range cp.Stats() {
				if s.Addr != dev.addr {
					continue
				}
				dr.Online, dr.LastReply = s.Online, s.LastReply
				dr.FramesSent, dr.Replies, dr.Timeouts, dr.CRCErrors, dr.NAKs = s.FramesSent, s.Replies, s.Timeouts, s.CRCErrors, s.NAKs
				dr.Secure, dr.DefaultKey, dr.MACErrors = s.Secure, s.DefaultKey, s.MACErrors
				if s.Online || !s.LastReply.IsZero() {
					dr.Identity = fmt.Sprintf("vendor %X model %d firmware %d.%d.%d serial %d", s.ID.VendorCode, s.ID.Model,
						s.ID.Firmware[0], s.ID.Firmware[1], s.ID.Firmware[2], s.ID.Serial)
				}
				switch {
				case !s.Online && s.Reason != "":
					dr.Problem = s.Reason
				case !s.Online:
					dr.Problem = "no reply"
					if !s.LastReply.IsZero() {
						dr.Problem += " since " + s.LastReply.Format(time.RFC3339)
					}
					dr.Problem += " (unplugged, unpowered, wrong address or baud rate?)"
				case s.DefaultKey:
					dr.Online = false
					dr.Problem = "on the default Secure Channel key (install mode): gatectl osdp commission " + name
				}
			}
		} else if err := dev.bus.openError(); err != nil {
			dr.Problem = "serial port: " + err.Error()
		} else {
			dr.Problem = "serial port not open yet"
		}
		rep.Devices = append(rep.Devices, dr)
	}
	rev, hq, _ := d.st.RegistryCursor(ctx)
	rep.Registry = RegistryReport{Revision: rev, HQTime: hq, MaxAge: d.cfg.Lane.RegistryMaxAge.Std().String()}
	if !hq.IsZero() {
		rep.Registry.AgeSeconds = time.Since(hq).Seconds()
	}
	if w != nil {
		ws := w.Stats()
		rep.Registry.Applied, rep.Registry.Rejected, rep.Registry.LastError = ws.Applied, ws.Rejected, ws.LastError
	}
	rep.Outbox.Depth, _ = d.st.OutboxDepth(ctx)
	if d.pub != nil {
		ps := d.pub.Stats()
		rep.Outbox.Acked, rep.Outbox.Errors, rep.Outbox.LastError = ps.Acked, ps.Errors, ps.LastError
	}
	for _, e := range d.recent.last(500) {
		if e.Type == string(gate.AlarmRaised) || e.Type == string(gate.AlarmCleared) {
			rep.RecentAlarms = append(rep.RecentAlarms, e)
		}
	}
	if n := len(rep.RecentAlarms); n > 10 {
		rep.RecentAlarms = rep.RecentAlarms[n-10:]
	}
	return rep
}

// eventRing keeps the last events the lane recorded, for the local tail.
type eventRing struct {
	mu  sync.Mutex
	buf []events.Event
	max int
}

func newEventRing(n int) *eventRing { return &eventRing{max: n} }

func (r *eventRing) add(e events.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.buf = append(r.buf, e)
	if len(r.buf) > r.max {
		r.buf = append(r.buf[:0:0], r.buf[len(r.buf)-r.max:]...)
	}
}

func (r *eventRing) last(n int) []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n > len(r.buf) {
		n = len(r.buf)
	}
	return append([]events.Event(nil), r.buf[len(r.buf)-n:]...)
}

// CommissionRequest is the body of POST /v1/osdp/commission.
type CommissionRequest struct {
	Device string `json:"device"`
	Actor  string `json:"actor"`
}

// handleCommission installs a fresh Secure Channel key in a device that is on the default key
// (install mode): KEYSET over the SCBK-D session, then the key is stored in the keys file. The
// key never appears in a log, an answer or an event.
func (d *Daemon) handleCommission(w http.ResponseWriter, r *http.Request) {
	var req CommissionRequest
	if err := decode(r, &req); err != nil {
		fail(w, 400, "commission request: %v (expected {\"device\": \"card-reader|bio-reader|door-board\"})", err)
		return
	}
	dev := d.devices[req.Device]
	if dev == nil {
		fail(w, 400, "device %q: allowed the lane's OSDP devices %s, %s, %s", req.Device, CardReader, BioReader, DoorBoard)
		return
	}
	if !d.cfg.Devices.InstallMode {
		fail(w, 409, "commissioning needs devices.install_mode: true in the config (and a restart); set it back to false afterwards")
		return
	}
	if d.keys.get(req.Device) != nil {
		fail(w, 409, "%s already has its own key; commissioning is for a device on the default key", req.Device)
		return
	}
	cp, err := dev.cp()
	if err != nil {
		fail(w, 503, "%v", err)
		return
	}
	secure, defaultKey := cp.Secure(dev.addr)
	if !secure {
		fail(w, 409, "%s has no Secure Channel session (offline, or it refused): see gatectl status", req.Device)
		return
	}
	if !defaultKey {
		fail(w, 409, "%s already has its own key; commissioning is for a device on the default key", req.Device)
		return
	}
	key := make([]byte, 16)
	if _, err := rand.Read(key); err != nil {
		fail(w, 500, "no random key: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if err := cp.KeySet(ctx, dev.addr, key); err != nil {
		fail(w, 502, "KEYSET to %s failed, its key is unchanged: %v", req.Device, err)
		return
	}
	if err := d.keys.set(req.Device, key); err != nil {
		// The device now has a key the gate could not store: say so plainly; the device must be
		// reset to install mode by hand.
		fail(w, 500, "%s accepted a new key but writing %s failed: %v — reset the device to its default key and commission again", req.Device, d.keys.path, err)
		return
	}
	now := time.Now()
	evs, err := d.submit(r.Context(), gate.DeviceStatusChanged{At: now, Device: req.Device, Online: true,
		Detail: "commissioned: own Secure Channel key installed"},
		store.AuditEntry{Time: now, Actor: actor(req.Actor), Action: "osdp commission " + req.Device, Detail: "new SCBK installed and stored"})
	if err != nil {
		fail(w, 503, "%v", err)
		return
	}
	writeJSON(w, 200, ChangeResult{Events: evs, Status: d.Report(r.Context())})
}
