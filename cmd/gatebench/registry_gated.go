package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"ttpgate/devices/osdp"
	"ttpgate/devices/simulator"
	"ttpgate/internal/devhq"
	"ttpgate/internal/simlane"
)

// gatedRSS is the memory of the real gated on the registry's database.
type gatedRSS struct {
	RSSMB, PeakRSSMB float64
	Cards, Found     int // cards presented; of them, found in the registry (the lane asked for a finger)
}

// measureGatedRSS runs the real gated binary (the whole daemon: lane, OSDP devices simulated on
// pseudo-terminals, display, metrics, admin socket, outbox, registry watcher) on the gate's
// database of c.DB, connected to the airport leaf with gate G01's NKey and HQ's public keys,
// walks cards travellers of the registry through its lane (each card looked up; the finger is
// never placed), and reads the process's VmRSS and VmHWM. The database must be named gate.db.
func measureGatedRSS(ctx context.Context, gated string, c gateChildConfig, cards int) (*gatedRSS, error) {
	if filepath.Base(c.DB) != "gate.db" {
		return nil, fmt.Errorf("gated keeps its store as <data_dir>/gate.db, not %s", c.DB)
	}
	dir, err := os.MkdirTemp("", "gatebench-gated-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	lane, err := simlane.Start(ctx, simlane.Options{Dir: dir, NoDaemon: true, Gate: "G01",
		FingerTimeout: time.Second, RefusalScreen: 100 * time.Millisecond, PollInterval: 20 * time.Millisecond,
		RegistryMaxAge: time.Minute})
	if err != nil {
		return nil, err
	}
	defer lane.Close()
	// The lane's config, pointed at the benchmark's gate: its store, template key, leaf and HQ keys.
	cfg, err := os.ReadFile(lane.ConfigPath)
	if err != nil {
		return nil, err
	}
	seed := filepath.Join(dir, "gate.nkey")
	if err := os.WriteFile(seed, []byte(c.Seed), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "template.key"), []byte(hex.EncodeToString(c.Key)+"\n"), 0o600); err != nil {
		return nil, err
	}
	keys, _ := json.Marshal(c.HQKeys) // a JSON object is a YAML flow mapping
	text := string(cfg)
	for _, r := range []struct{ re, to string }{
		{`(?m)^data_dir: .*$`, "data_dir: " + filepath.Dir(c.DB)},
		{`(?m)^  url: .*$`, fmt.Sprintf("  url: %s\n  nkey_seed_file: %s\n  jetstream_domain: %s", c.LeafURL, seed, devhq.Domain)},
		{`(?m)^  hq_public_keys: .*$`, "  hq_public_keys: " + string(keys)},
		{`(?m)^  max_attempts: .*$`, "  max_attempts: 1"},
		{`(?m)^devices:$`, "devices:\n  keys_file: " + filepath.Join(dir, "gate-data", "osdp-keys.json")},
	} {
		re := regexp.MustCompile(r.re)
		if !re.MatchString(text) {
			return nil, fmt.Errorf("simlane's config has no line %s any more", r.re)
		}
		text = re.ReplaceAllLiteralString(text, r.to)
	}
	if err := os.WriteFile(lane.ConfigPath, []byte(text), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "gated.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(gated, "run", "-config", lane.ConfigPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", gated, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	tail := func() string {
		b, _ := os.ReadFile(logf.Name())
		if len(b) > 2000 {
			b = b[len(b)-2000:]
		}
		return string(b)
	}
	text1 := func(want func(string) bool) func(simulator.Received) bool {
		return func(m simulator.Received) bool { return want(m.Text) }
	}
	ready := text1(func(s string) bool { return s == "PRESENT CARD" })
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	_, err = lane.Card.WaitCommand(wctx, 0, osdp.CmdTEXT, ready)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("gated's lane did not come into service within 3 min: %w\ngated.log (end):\n%s", err, tail())
	}
	r := &gatedRSS{}
	for i := 0; i < cards && ctx.Err() == nil; i++ {
		mark := lane.Card.Mark()
		if err := lane.Card.Present(benchCard(mrand.IntN(c.Users))); err != nil {
			return nil, err
		}
		r.Cards++
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		m, err := lane.Card.WaitCommand(tctx, mark, osdp.CmdTEXT, text1(func(s string) bool {
			return strings.HasPrefix(s, "PLACE FINGER") || strings.HasPrefix(s, "SEE OFFICER")
		}))
		if err == nil && strings.HasPrefix(m.Text, "PLACE FINGER") {
			r.Found++
		}
		if err == nil { // the finger times out, the refusal screen ends
			_, err = lane.Card.WaitCommand(tctx, mark, osdp.CmdTEXT, ready)
		}
		cancel()
		if err != nil {
			return nil, fmt.Errorf("card %d: the lane did not answer: %w\ngated.log (end):\n%s", i, err, tail())
		}
	}
	pid := cmd.Process.Pid
	r.RSSMB, r.PeakRSSMB = procStatusMBOf(pid, "VmRSS:"), procStatusMBOf(pid, "VmHWM:")
	if r.RSSMB == 0 {
		return nil, fmt.Errorf("could not read /proc/%d/status (gated exited?)\ngated.log (end):\n%s", pid, tail())
	}
	return r, nil
}

// procStatusMBOf reads a kB field of /proc/<pid>/status in MB (0 if it cannot).
func procStatusMBOf(pid int, field string) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field {
			var kb float64
			fmt.Sscan(f[1], &kb)
			return kb / 1024
		}
	}
	return 0
}
