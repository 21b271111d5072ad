package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"ttpgate/devices/simulator"
	"ttpgate/internal/simlane"
)

// stayInteractive keeps the demo lane running so a technician can use gatectl on it, and takes
// simulator commands on stdin: unplug and plug a device, present a card, put a finger, walk
// through, trip the fire alarm.
func stayInteractive(ctx context.Context, lane *simlane.Lane, s simlane.Samples, out io.Writer) error {
	fmt.Fprintf(out, `
The lane keeps running. Open the display in a browser to watch the travellers live. In another terminal:
  ./bin/gatectl -socket %s status
  ./bin/hqctl events tail -nats %s
Simulator commands here: unplug|plug card-reader|bio-reader|door-board, card NUMBER,
finger good|bad|none, walk, fire on|off, quit
`, lane.AdminSocket(), lane.HQ.URL)
	devs := map[string]interface {
		PowerOff()
		PowerOn()
	}{"card-reader": lane.Card, "bio-reader": lane.Bio, "door-board": lane.Door}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for {
		fmt.Fprint(out, "sim> ")
		var line string
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case line, ok = <-lines:
			if !ok {
				<-ctx.Done() // stdin closed: keep serving until interrupted
				return nil
			}
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		arg := ""
		if len(f) > 1 {
			arg = f[1]
		}
		switch f[0] {
		case "unplug", "plug":
			d, found := devs[arg]
			if !found {
				fmt.Fprintln(out, "devices: card-reader, bio-reader, door-board")
				continue
			}
			if f[0] == "unplug" {
				d.PowerOff()
			} else {
				d.PowerOn()
			}
			fmt.Fprintf(out, "%s %sged\n", arg, f[0])
		case "card":
			if err := lane.Card.Present(arg); err != nil {
				fmt.Fprintln(out, err)
			}
		case "finger":
			switch arg {
			case "good":
				_ = lane.Bio.PlaceFinger(s.Genuine, 80)
			case "bad":
				_ = lane.Bio.PlaceFinger(s.Impostor, 80)
			default:
				lane.Bio.FailCapture()
			}
		case "walk":
			_ = lane.Door.BreakBeam(simulator.InputExitBeam)
		case "fire":
			_ = lane.Door.SetInput(simulator.InputFireAlarm, arg == "on")
		case "quit", "exit":
			return nil
		default:
			fmt.Fprintln(out, "commands: unplug|plug DEVICE, card NUMBER, finger good|bad|none, walk, fire on|off, quit")
		}
	}
}
