package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"ttpgate/internal/crashlane"
)

// TestCrashAndCut runs the real gated (this test binary re-executed as gated, see TestMain) on a
// simulated lane while travellers keep coming: gated is killed with SIGKILL at random moments and
// restarted on the same store, and its link to HQ is cut and restored. Every event the gate
// decided must be in HQ's consumer table exactly once, in seq order. gatebench events -kills 20
// -cuts 20 is the full-size run.
func TestCrashAndCut(t *testing.T) {
	if testing.Short() {
		t.Skip("crash-and-cut storm: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	kills, cuts := envInt("CRASHLANE_KILLS", 5), envInt("CRASHLANE_CUTS", 5)
	res, err := crashlane.Run(ctx, crashlane.Options{
		Dir: dir, Gated: os.Args[0], Env: []string{"GATED_TEST_MAIN=1"},
		Kills: kills, Cuts: cuts, Steady: 3 * time.Second, Storm: 15 * time.Second, Backlog: 500, Logf: t.Logf,
	})
	if err != nil {
		if log, rerr := os.ReadFile(filepath.Join(dir, "gated.log")); rerr == nil {
			if len(log) > 4000 {
				log = log[len(log)-4000:]
			}
			t.Logf("gated.log (end):\n%s", log)
		}
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Kills != kills || res.Cuts != cuts {
		t.Errorf("%d kills and %d cuts happened, want %d and %d", res.Kills, res.Cuts, kills, cuts)
	}
	if res.Refusals == 0 {
		t.Errorf("no traveller was refused: the lane never decided")
	}
	if err := res.OK(); err != nil {
		t.Fatal(err)
	}
}

func envInt(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err != nil {
		return def
	}
	return n
}
