// Command hqctl is the HQ side of ttpgate: a development HQ server, the registry tools and the
// event tail.
//
//	hqctl serve [-dir DIR] [-listen HOST:PORT] [-clock 2s]
//	hqctl registry import [-nats URL] FILE.ndjson
//	hqctl registry revoke [-nats URL] CARD
//	hqctl events tail [-nats URL] [-airport A] [-gate G] [-type T] [-reason R] [-json]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage:
  hqctl serve [-dir DIR] [-listen HOST:PORT] [-clock 2s]     a development HQ (embedded NATS + JetStream)
  hqctl registry import [-nats URL] FILE                     put NDJSON registry records (schema: docs/registry.md)
  hqctl registry revoke [-nats URL] CARD                     cancel the registration of the card's user
  hqctl events tail [-nats URL] [-airport A] [-gate G] [-type T] [-reason R] [-json]
`

// errUsage makes main exit 2 after printing the usage.
var errUsage = errors.New("bad usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:])
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprint(os.Stderr, usage)
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
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:])
	case "registry":
		if len(args) < 2 {
			return errUsage
		}
		switch args[1] {
		case "import":
			return registryImport(ctx, args[2:])
		case "revoke":
			return registryRevoke(ctx, args[2:])
		}
	case "events":
		if len(args) >= 2 && args[1] == "tail" {
			return eventsTail(ctx, args[2:])
		}
	case "-h", "-help", "--help", "help":
		fmt.Print(usage)
		return nil
	}
	return errUsage
}

func natsFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("TTPGATE_NATS")
	if def == "" {
		def = "nats://127.0.0.1:4222"
	}
	return fs.String("nats", def, "HQ NATS URL (env TTPGATE_NATS)")
}
