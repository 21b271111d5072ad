// Command gated is the lane daemon of a ttpgate immigration gate.
//
//	gated [run] -config /etc/ttpgate/gate.yaml   run the lane
//	gated check -config FILE                      check a configuration and exit
//	gated demo [-json] [-keep DIR]                a whole lane on this machine: embedded HQ,
//	                                              simulated devices, scripted travellers
//
// Exit status: 0 done, 1 runtime failure, 2 configuration or usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // the airport's zone must load even on a machine without zoneinfo

	"ttpgate/internal/config"
	"ttpgate/internal/daemon"
)

const usage = `usage:
  gated [run] -config FILE     run the lane daemon
  gated check -config FILE     check a configuration file and exit (status 2 if it is wrong)
  gated demo [-json]           run a whole simulated lane with scripted travellers
  gated --version              print the version
`

var errUsage = errors.New("bad usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:])
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	case config.IsConfigError(err):
		fmt.Fprintln(os.Stderr, "gated: configuration error:\n"+err.Error())
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "gated:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	cmd := "run"
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		cmd, args = "version", args[1:]
	} else if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runLane(ctx, args)
	case "check":
		fs := flag.NewFlagSet("gated check", flag.ContinueOnError)
		path := fs.String("config", "/etc/ttpgate/gate.yaml", "configuration file")
		if err := fs.Parse(args); err != nil {
			return errUsage
		}
		if _, err := config.Load(*path); err != nil {
			return err
		}
		fmt.Printf("%s: ok\n", *path)
		return nil
	case "demo":
		return demo(ctx, args)
	case "help":
		fmt.Print(usage)
		return nil
	case "version", "--version", "-version":
		fmt.Println("gated", daemon.Version)
		return nil
	}
	return errUsage
}

func runLane(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gated run", flag.ContinueOnError)
	path := fs.String("config", "/etc/ttpgate/gate.yaml", "configuration file")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("gate", cfg.Gate, "airport", cfg.Airport)
	d, err := daemon.New(daemon.Options{Config: cfg, Logger: log})
	if err != nil {
		return err
	}
	// SIGHUP reloads what can change safely; anything else is refused whole with the fields named.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			next, err := config.Load(*path)
			if err == nil {
				err = d.Reload(next)
			}
			if err != nil {
				log.Error("config reload refused; the running configuration stays", "err", err.Error())
			}
		}
	}()
	log.Info("gated starting", "config", *path, "direction", cfg.Direction, "version", daemon.Version)
	return d.Run(ctx)
}
