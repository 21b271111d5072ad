// Command gatesim simulates a lane's OSDP devices — a card reader and a fingerprint reader on one
// bus, a door I/O board on another — on pseudo-terminals or real serial ports, and walks scripted
// travellers through the gated that polls them.
//
//	gatesim [-readers pty|PORT] [-doors pty|PORT] [-baud 115200] [-keys FILE | -install | -clear] [-script FILE]
//
// With pty (the default) it prints the terminal paths to put in gated's config. Without -script
// it serves the devices until interrupted; with one, it walks the travellers, prints what each
// got, and exits 1 if any outcome differs from the script's expectation.
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"ttpgate/devices/serialport"
	"ttpgate/devices/simulator"
	"ttpgate/internal/simlane"
	"ttpgate/internal/testdata"
)

// Script is a file of scripted travellers (configs/travellers.example.yaml).
type Script struct {
	Travellers []ScriptedTraveller `yaml:"travellers"`
}

// ScriptedTraveller is one traveller of a script.
type ScriptedTraveller struct {
	Name string `yaml:"name"`
	Card string `yaml:"card"`
	// Samples name ISO/IEC 19794-2 template files, one per attempt, relative to the script, or
	// "testdata:PATH" in the shared test data; "fail" is a capture that fails.
	Samples []string `yaml:"samples"`
	People  int      `yaml:"people"` // people crossing the exit beam if the door opens (default 1)
	Expect  string   `yaml:"expect"` // granted or refused
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gatesim:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("bad usage (see gatesim -h)")

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gatesim", flag.ContinueOnError)
	readers := fs.String("readers", "pty", "bus of the card reader (address 1) and fingerprint reader (address 2): pty or a serial port")
	doors := fs.String("doors", "pty", "bus of the door board (address 3): pty or a serial port")
	baud := fs.Int("baud", 115200, "baud rate on real serial ports")
	scriptPath := fs.String("script", "", "travellers to walk through (YAML); none: serve until interrupted")
	keysPath := fs.String("keys", "", "Secure Channel keys of the devices: the gate's keys file (JSON {\"card-reader\": \"32 hex digits\", …})")
	install := fs.Bool("install", false, "devices without a key accept the default key SCBK-D (install mode, for commissioning)")
	clear := fs.Bool("clear", false, "speak clear-text OSDP (no Secure Channel; gated must have secure_channel: false)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return errUsage
	}
	var script *Script
	var samples [][][]byte
	if *scriptPath != "" {
		var err error
		if script, samples, err = loadScript(*scriptPath); err != nil {
			return err
		}
	}
	devs := simlane.NewDevices()
	secure, err := secureConfig(*keysPath, *install, *clear, devs)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var files []*os.File
	defer func() {
		cancel()
		for _, f := range files {
			f.Close()
		}
		wg.Wait()
	}()
	rp, err := serve(ctx, &wg, &files, *readers, *baud, secure, devs.Card, devs.Bio)
	if err != nil {
		return err
	}
	dp, err := serve(ctx, &wg, &files, *doors, *baud, secure, devs.Door)
	if err != nil {
		return err
	}
	fmt.Printf("card reader (address 1) and fingerprint reader (address 2) on %s\ndoor board (address 3) on %s\n", rp, dp)
	if script == nil {
		fmt.Println("serving until interrupted")
		<-ctx.Done()
		return nil
	}
	w := &simlane.Walker{Lane: devs}
	fmt.Println("waiting for the lane to show PRESENT CARD…")
	bad := 0
	for i, t := range script.Travellers {
		tctx, tcancel := context.WithTimeout(ctx, 2*time.Minute)
		obs, err := w.Walk(tctx, simlane.Traveller{Name: t.Name, Card: t.Card, Samples: samples[i], People: t.People})
		tcancel()
		got := "refused"
		if obs.Granted {
			got = "granted"
		}
		switch {
		case err != nil:
			bad++
			fmt.Printf("%s: %v\n", t.Name, err)
		case t.Expect != "" && t.Expect != got:
			bad++
			fmt.Printf("%s: %s after %d captures — UNEXPECTED, the script expects %s\n", t.Name, got, obs.Attempts, t.Expect)
		default:
			fmt.Printf("%s: %s after %d captures (reader says %q)\n", t.Name, got, obs.Attempts, devs.Card.LastText())
		}
	}
	fmt.Printf("%d travellers, %d unexpected\n", len(script.Travellers), bad)
	if bad > 0 {
		return fmt.Errorf("%d travellers did not get the expected outcome", bad)
	}
	return nil
}

// serve serves PDs on a new pseudo-terminal or an existing serial port and returns its path.
func serve(ctx context.Context, wg *sync.WaitGroup, files *[]*os.File, where string, baud int, secure map[byte]simulator.SecureConfig, pds ...simulator.PeripheralDevice) (string, error) {
	if where == "pty" {
		return simlane.ServePTY(ctx, wg, files, secure, pds...)
	}
	p, err := serialport.Open(where, baud)
	if err != nil {
		return "", err
	}
	if err := p.SetReadTimeout(50 * time.Millisecond); err != nil {
		p.Close()
		return "", err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer p.Close()
		if err := simulator.ServeSecureBus(ctx, p, secure, pds...); err != nil && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "gatesim: %s: %v\n", where, err)
		}
	}()
	return where, nil
}

// loadScript reads a script strictly and loads the sample files it names.
func loadScript(path string) (*Script, [][][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var s Script
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, nil, fmt.Errorf("%s: %w (expected travellers: [{name, card, samples, people, expect}])", path, err)
	}
	var all [][][]byte
	for i, t := range s.Travellers {
		if t.Card == "" {
			return nil, nil, fmt.Errorf("%s: travellers[%d].card: required", path, i)
		}
		if t.Expect != "" && t.Expect != "granted" && t.Expect != "refused" {
			return nil, nil, fmt.Errorf("%s: travellers[%d].expect: %q, allowed granted or refused", path, i, t.Expect)
		}
		var ss [][]byte
		for _, name := range t.Samples {
			switch {
			case name == "fail":
				ss = append(ss, nil)
			case strings.HasPrefix(name, "testdata:"):
				b, err := testdata.Read(strings.TrimPrefix(name, "testdata:"))
				if err != nil {
					return nil, nil, fmt.Errorf("%s: travellers[%d]: %w", path, i, err)
				}
				ss = append(ss, b)
			default:
				if !filepath.IsAbs(name) {
					name = filepath.Join(filepath.Dir(path), name)
				}
				b, err := os.ReadFile(name)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: travellers[%d]: %w", path, i, err)
				}
				ss = append(ss, b)
			}
		}
		all = append(all, ss)
	}
	return &s, all, nil
}

// secureConfig gives each simulated device its Secure Channel settings: its key from the keys
// file, else install mode (SCBK-D) when asked; with -clear, none.
func secureConfig(path string, install, clear bool, devs simlane.Devices) (map[byte]simulator.SecureConfig, error) {
	if clear {
		if path != "" || install {
			return nil, fmt.Errorf("-clear excludes -keys and -install: %w", errUsage)
		}
		return nil, nil
	}
	keys := map[string]string{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &keys); err != nil {
			return nil, fmt.Errorf("%s: expected JSON {\"card-reader\": \"32 hex digits\", …}: %v", path, err)
		}
	}
	out := map[byte]simulator.SecureConfig{}
	for name, addr := range map[string]byte{"card-reader": devs.Card.Address(), "bio-reader": devs.Bio.Address(), "door-board": devs.Door.Address()} {
		c := simulator.SecureConfig{InstallMode: install}
		if h, ok := keys[name]; ok {
			k, err := hex.DecodeString(h)
			if err != nil || len(k) != 16 {
				return nil, fmt.Errorf("%s: the key of %s is not 32 hex digits", path, name)
			}
			c.SCBK = k
		} else if !install {
			return nil, fmt.Errorf("no Secure Channel key for %s: give -keys FILE, -install (SCBK-D) or -clear", name)
		}
		out[addr] = c
	}
	return out, nil
}
