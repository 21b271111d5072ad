package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the tests run this binary's main as a subprocess, to check exit statuses.
func TestMain(m *testing.M) {
	if os.Getenv("GATED_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runMain(t *testing.T, args ...string) (stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "GATED_TEST_MAIN=1")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return errb.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return errb.String(), 0
}

func TestConfigErrorsExitTwo(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "gate.yaml")
	os.WriteFile(bad, []byte("gate: G01\nairport: HND\ndirection: sideways\nbogus: 1\n"), 0o600)
	stderr, code := runMain(t, "run", "-config", bad)
	if code != 2 {
		t.Fatalf("exit status %d, want 2 (stderr %q)", code, stderr)
	}
	for _, want := range []string{bad, "bogus", "unknown field", "allowed here"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not mention %q:\n%s", want, stderr)
		}
	}
	_, code = runMain(t, "run", "-config", filepath.Join(dir, "missing.yaml"))
	if code != 2 {
		t.Fatalf("missing config: exit status %d, want 2", code)
	}
	_, code = runMain(t, "frobnicate")
	if code != 2 {
		t.Fatalf("unknown command: exit status %d, want 2", code)
	}
	_, code = runMain(t, "check", "-config", filepath.Join("..", "..", "configs", "gate.example.yaml"))
	if code != 0 {
		t.Fatalf("the example config must check: exit %d", code)
	}
}

// TestDemo runs `gated demo` in-process: every scripted traveller must get the expected outcome
// and every event must reach HQ exactly once (demo returns an error otherwise).
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := os.CreateTemp(t.TempDir(), "demo-out")
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = out
	err = demo(ctx, []string{"-dir", t.TempDir()})
	os.Stdout = stdout
	text, _ := os.ReadFile(out.Name())
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, text)
	}
	for _, want := range []string{"11 travellers, 11 as expected", "3 travellers, 3 as expected", "BIO_MISMATCH", "CARD_REVOKED", "CARD_EXPIRED",
		"ED_MISSING", "CARD_SUPERSEDED", "TAILGATING", "0 gaps", "demo passed"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
}
