// Command hqctl is the HQ side of ttpgate: a development HQ server, the registry tools and the
// event tools. `hqctl help` lists the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one hqctl subcommand. Each file registers its own in an init function, so the
// registry, events and fleet tools grow without touching this file.
type command struct {
	name  string // e.g. "registry import"
	usage string // one line: arguments and what it does
	run   func(ctx context.Context, args []string) error
}

var commands []command

// register adds a subcommand.
func register(name, usage string, run func(ctx context.Context, args []string) error) {
	commands = append(commands, command{name: name, usage: usage, run: run})
}

func usageText() string {
	sort.Slice(commands, func(i, j int) bool { return commands[i].name < commands[j].name })
	var b strings.Builder
	b.WriteString("usage:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  hqctl %s %s\n", c.name, c.usage)
	}
	return b.String()
}

// errUsage makes main exit 2 after printing the usage.
var errUsage = errors.New("bad usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:])
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprint(os.Stderr, usageText())
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "hqctl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	if args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		fmt.Print(usageText())
		return nil
	}
	// The longest registered name that prefixes the arguments wins ("registry import" over "registry").
	best := -1
	for i, c := range commands {
		words := strings.Fields(c.name)
		if len(words) <= len(args) && strings.Join(args[:len(words)], " ") == c.name &&
			(best < 0 || len(words) > len(strings.Fields(commands[best].name))) {
			best = i
		}
	}
	if best < 0 {
		return errUsage
	}
	return commands[best].run(ctx, args[len(strings.Fields(commands[best].name)):])
}

func natsFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("TTPGATE_NATS")
	if def == "" {
		def = "nats://127.0.0.1:4222"
	}
	return fs.String("nats", def, "HQ NATS URL (env TTPGATE_NATS)")
}
