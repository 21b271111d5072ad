// Command gatebench runs ttpgate's system benchmarks. Each subcommand prints its result as one
// JSON object on its last line; docs/BENCHMARKS.md records them with the machine they ran on.
// `gatebench help` lists the subcommands; each file registers its own in an init function.
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
	"sort"
	"strings"
	"syscall"
	_ "time/tzdata"
)

// bench is one subcommand: it returns the result object printed as the last line.
type bench struct {
	usage string
	run   func(ctx context.Context, args []string) (any, error)
}

var benches = map[string]bench{}

// register adds a subcommand.
func register(name, usage string, run func(ctx context.Context, args []string) (any, error)) {
	benches[name] = bench{usage: usage, run: run}
}

func usageText() string {
	var names []string
	for n := range benches {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  gatebench %s %s\n", n, benches[n].usage)
	}
	return b.String()
}

var errUsage = errors.New("bad usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usageText())
		os.Exit(2)
	}
	var result any
	err := errUsage
	if b, ok := benches[os.Args[1]]; ok {
		result, err = b.run(ctx, os.Args[2:])
	}
	if errors.Is(err, errUsage) {
		fmt.Fprint(os.Stderr, usageText())
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
