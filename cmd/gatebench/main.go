// Command gatebench runs ttpgate's system benchmarks. Each subcommand prints its result as one
// JSON object on its last line; docs/BENCHMARKS.md records them with the machine they ran on.
//
//	gatebench lane [-travellers N]   simulated travellers through a lane on pseudo-terminals
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	_ "time/tzdata"
)

const usage = `usage:
  gatebench lane [-travellers N]   decision latency of a simulated lane (devices on pseudo-terminals)
`

var errUsage = errors.New("bad usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var result any
	var err error
	switch os.Args[1] {
	case "lane":
		result, err = lane(ctx, os.Args[2:])
	default:
		err = errUsage
	}
	if errors.Is(err, errUsage) {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gatebench:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(result)
	fmt.Println(string(b))
}

// Machine describes where a benchmark ran.
type Machine struct {
	CPU   string `json:"cpu"`
	Cores int    `json:"cores"`
	Go    string `json:"go"`
	OS    string `json:"os"`
}

func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("gatebench "+name, flag.ContinueOnError)
	return fs
}
