package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"ttpgate/devices/simulator"
	"ttpgate/internal/daemon"
	"ttpgate/internal/simlane"
	"ttpgate/sync/events"
)

type tail struct {
	mu  sync.Mutex
	evs []events.Event
}

func (t *tail) add(e events.Event) { t.mu.Lock(); t.evs = append(t.evs, e); t.mu.Unlock() }
func (t *tail) has(typ, detail string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.evs {
		if e.Type == typ && strings.Contains(e.Detail+e.Mode+e.Device, detail) {
			return true
		}
	}
	return false
}

func gatectl(t *testing.T, socket, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"-socket", socket}, args...), strings.NewReader(stdin), &out)
	return out.String(), err
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 20s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The technician's path on a running simulated lane: see an unplugged reader, take the lane out
// of service, run the self-test, pulse a door, put the lane back; each step audited and at HQ.
func TestTechnicianCommandsAgainstRunningDaemon(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tl := &tail{}
	l, err := simlane.Start(ctx, simlane.Options{Dir: t.TempDir(), OnEvent: tl.add, OfflineAfter: 600 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sock := l.AdminSocket()
	w := &simlane.Walker{Lane: l.Devices}
	if err := w.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}

	out, err := gatectl(t, sock, "", "status")
	if err != nil || !strings.Contains(out, "in-service") || strings.Count(out, "ONLINE") != 3 {
		t.Fatalf("status of a healthy lane: %v\n%s", err, out)
	}

	l.Bio.PowerOff() // the technician unplugs the fingerprint reader
	eventually(t, "bio reader reported offline", func() bool {
		out, _ = gatectl(t, sock, "", "status")
		return strings.Contains(out, "OFFLINE") && strings.Contains(out, "device bio-reader offline")
	})
	var rep daemon.StatusReport
	js, err := gatectl(t, sock, "", "-json", "status")
	if err != nil || json.Unmarshal([]byte(js), &rep) != nil {
		t.Fatalf("status -json: %v\n%s", err, js)
	}
	if rep.Devices[1].Name != "bio-reader" || rep.Devices[1].Online || rep.State != "closed" {
		t.Fatalf("status -json must show the bio reader offline and the lane closed: %+v", rep)
	}
	l.Bio.PowerOn()
	eventually(t, "bio reader back", func() bool { out, _ = gatectl(t, sock, "", "status"); return strings.Count(out, "ONLINE") == 3 })

	if _, err := gatectl(t, sock, "", "selftest", "-yes"); err == nil || !strings.Contains(err.Error(), "maintenance") {
		t.Fatalf("self-test in service must be refused with a hint, got %v", err)
	}
	if _, err := gatectl(t, sock, "", "mode", "sideways", "-reason", "x"); err == nil || !strings.Contains(err.Error(), "allowed") {
		t.Fatalf("a wrong mode must be refused naming the allowed ones, got %v", err)
	}
	if _, err := gatectl(t, sock, "", "mode", "maintenance"); err == nil || !strings.Contains(err.Error(), "reason") {
		t.Fatalf("a mode change without a reason must be refused, got %v", err)
	}
	out, err = gatectl(t, sock, "", "mode", "maintenance", "-reason", "reader swap")
	if err != nil || !strings.Contains(out, "lane mode maintenance") {
		t.Fatalf("mode maintenance: %v\n%s", err, out)
	}
	entry, exit := l.Door.PulseCount(simulator.OutputEntryDoor), l.Door.PulseCount(simulator.OutputExitDoor)
	out, err = gatectl(t, sock, "n\n", "selftest")
	if err != nil || !strings.Contains(out, "door pulses") || !strings.Contains(out, "skipped") {
		t.Fatalf("self-test without confirmation must pass and skip the doors: %v\n%s", err, out)
	}
	if l.Door.PulseCount(simulator.OutputExitDoor) != exit {
		t.Fatal("doors pulsed without confirmation")
	}
	out, err = gatectl(t, sock, "y\n", "selftest")
	if err != nil || !strings.Contains(out, "all") || !strings.Contains(out, "PASS") || !strings.Contains(out, "exit beam clear") {
		t.Fatalf("self-test: %v\n%s", err, out)
	}
	eventually(t, "each door pulsed once by the self-test", func() bool {
		return l.Door.PulseCount(simulator.OutputEntryDoor) == entry+1 && l.Door.PulseCount(simulator.OutputExitDoor) == exit+1
	})
	if _, err = gatectl(t, sock, "", "door", "pulse", "exit", "-reason", "jammed"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "manual pulse", func() bool { return l.Door.PulseCount(simulator.OutputExitDoor) == exit+2 })
	if _, err := gatectl(t, sock, "", "door", "pulse", "roof"); err == nil {
		t.Fatal("an unknown door must be refused")
	}
	if out, err = gatectl(t, sock, "", "mode", "in-service", "-reason", "swap done"); err != nil || !strings.Contains(out, "in-service") {
		t.Fatalf("back in service: %v %s", err, out)
	}
	out, err = gatectl(t, sock, "", "events", "-n", "50")
	if err != nil || !strings.Contains(out, "door_pulse_manual") || !strings.Contains(out, "lane_mode") {
		t.Fatalf("local event tail: %v\n%s", err, out)
	}
	if !tl.has("lane_mode", "reader swap") || !tl.has("door_pulse_manual", "exit") || !tl.has("device_offline", "bio-reader") {
		t.Fatal("every change must be recorded as an event")
	}
	if out, err = gatectl(t, sock, "", "sync"); err != nil || !strings.Contains(out, "registry revision") {
		t.Fatalf("sync: %v %s", err, out)
	}
}

func TestClearErrorsWithoutDaemon(t *testing.T) {
	dir := t.TempDir()
	_, err := gatectl(t, filepath.Join(dir, "none.sock"), "", "status")
	if err == nil || !strings.Contains(err.Error(), "is gated running") {
		t.Fatalf("no daemon: %v", err)
	}
	if _, err := gatectl(t, "x", "", "frobnicate"); err != errUsage {
		t.Fatalf("unknown command: %v", err)
	}
	bad := filepath.Join(dir, "gate.yaml")
	os.WriteFile(bad, []byte("gate: G01\n"), 0o600)
	if _, err := gatectl(t, "x", "", "config", "check", bad); err == nil || !strings.Contains(err.Error(), "direction") {
		t.Fatalf("config check must name the missing fields: %v", err)
	}
	if out, err := gatectl(t, "x", "", "config", "check", filepath.Join("..", "..", "configs", "gate.example.yaml")); err != nil {
		t.Fatalf("example config: %v %s", err, out)
	}
	if _, err := gatectl(t, "x", "", "ports"); err != nil {
		t.Fatalf("ports must work without a daemon: %v", err)
	}
}

// Commissioning: devices on the default key keep the lane closed; `gatectl osdp commission`
// installs each one's own key (stored in the gate's keys file, never shown) and the lane opens.
func TestCommissionDevicesFromInstallMode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	l, err := simlane.Start(ctx, simlane.Options{Dir: dir, InstallMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sock := l.AdminSocket()
	eventually(t, "devices on the default key", func() bool {
		out, _ := gatectl(t, sock, "", "status")
		return strings.Count(out, "default Secure Channel key") == 3 && strings.Contains(out, "CLOSED")
	})
	for _, dev := range []string{"card-reader", "bio-reader", "door-board"} {
		out, err := gatectl(t, sock, "", "osdp", "commission", dev)
		if err != nil || !strings.Contains(out, "commissioned") {
			t.Fatalf("commission %s: %v\n%s", dev, err, out)
		}
		if _, err := gatectl(t, sock, "", "osdp", "commission", dev); err == nil || !strings.Contains(err.Error(), "already has its own key") {
			t.Fatalf("a second commission of %s must be refused, got %v", dev, err)
		}
	}
	w := &simlane.Walker{Lane: l.Devices}
	if err := w.WaitReady(ctx); err != nil {
		t.Fatalf("the lane must open once every device has its own key: %v", err)
	}
	keys, err := os.ReadFile(l.Config.Devices.KeysFile)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(keys, &m); err != nil || len(m) != 3 || len(m["door-board"]) != 32 {
		t.Fatalf("keys file must hold three 16-byte keys: %v %s", err, keys)
	}
	if st, _ := os.Stat(l.Config.Devices.KeysFile); st.Mode().Perm() != 0o600 {
		t.Fatalf("keys file mode %v, want 0600", st.Mode().Perm())
	}
	out, _ := gatectl(t, sock, "", "status")
	if strings.Count(out, "ONLINE (secure)") != 3 {
		t.Fatalf("every device must be online over Secure Channel:\n%s", out)
	}
	if _, err := gatectl(t, sock, "", "osdp", "commission", "toaster"); err == nil || !strings.Contains(err.Error(), "allowed") {
		t.Fatalf("unknown device: %v", err)
	}
}
