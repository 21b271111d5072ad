// Command gatectl is the gate maintenance technician's tool. It talks to a running gated over its
// admin Unix socket (file permissions decide who may), except `ports` and `config check`, which
// work without a daemon.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"ttpgate/devices/serialport"
	"ttpgate/internal/config"
	"ttpgate/internal/daemon"
	"ttpgate/sync/events"
)

const usage = `usage: gatectl [-socket PATH] [-json] COMMAND
  status                           lane mode and state, devices, registry, outbox, HQ link, alarms
  ports                            serial ports with USB vendor/product ids and serial numbers
  selftest [-yes]                  cycle LEDs, buzzer, text, read inputs, pulse each door (asks first)
  mode MODE -reason TEXT           MODE: in-service, maintenance, out-of-service, emergency-open
  door pulse entry|exit [-reason TEXT]   an audited manual door pulse
  events [-n N]                    the lane's recent events (local tail)
  sync                             registry sync state
  osdp commission DEVICE           install a fresh Secure Channel key in a device on the default key
                                   (needs devices.install_mode: true); DEVICE: card-reader, bio-reader, door-board
  config check FILE                check a gate configuration file
The socket defaults to $TTPGATE_SOCKET or /run/ttpgate/gated.sock. Exit status: 0 ok, 1 failed, 2 usage.
`

var errUsage = errors.New("bad usage")

// failed is an error whose message was already printed.
type failed struct{ msg string }

func (f failed) Error() string { return f.msg }

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	case config.IsConfigError(err):
		fmt.Fprintln(os.Stderr, "gatectl: configuration error:\n"+err.Error())
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "gatectl:", err)
		os.Exit(1)
	}
}

type client struct {
	socket string
	http   *http.Client
	json   bool
	out    io.Writer
	in     *bufio.Reader
	actor  string
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("gatectl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	def := os.Getenv("TTPGATE_SOCKET")
	if def == "" {
		def = "/run/ttpgate/gated.sock"
	}
	socket := fs.String("socket", def, "gated's admin socket")
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		return errUsage
	}
	c := &client{socket: *socket, json: *asJSON, out: stdout, in: bufio.NewReader(stdin), actor: whoami()}
	c.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", c.socket)
		}}}
	rest := fs.Args()[1:]
	switch fs.Arg(0) {
	case "status":
		return c.status(ctx, false)
	case "sync":
		return c.status(ctx, true)
	case "ports":
		return c.ports()
	case "selftest":
		return c.selftest(ctx, rest)
	case "mode":
		return c.mode(ctx, rest)
	case "door":
		if len(rest) < 2 || rest[0] != "pulse" {
			return errUsage
		}
		return c.pulse(ctx, rest[1], rest[2:])
	case "events":
		return c.events(ctx, rest)
	case "osdp":
		if len(rest) != 2 || rest[0] != "commission" {
			return errUsage
		}
		var res daemon.ChangeResult
		if err := c.call(ctx, "POST", "/v1/osdp/commission", daemon.CommissionRequest{Device: rest[1], Actor: c.actor}, &res); err != nil || c.json {
			return err
		}
		fmt.Fprintf(c.out, "%s commissioned: its own Secure Channel key is installed and stored in the gate's keys file\n", rest[1])
		printEvents(c.out, res.Events)
		return nil
	case "config":
		if len(rest) != 2 || rest[0] != "check" {
			return errUsage
		}
		if _, err := config.Load(rest[1]); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "%s: ok\n", rest[1])
		return nil
	}
	return errUsage
}

func whoami() string {
	for _, v := range []string{"SUDO_USER", "USER", "LOGNAME"} {
		if u := os.Getenv(v); u != "" {
			return u
		}
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}

// call does one API request and decodes the answer into out; an API error answer becomes an error.
func (c *client) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, "http://gated"+path, rd)
	resp, err := c.http.Do(req)
	if err != nil {
		hint := "is gated running?"
		if errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "permission denied") {
			hint = "you lack permission on the socket: ask for membership of its group"
		}
		return fmt.Errorf("cannot reach gated at %s: %v (%s)", c.socket, err, hint)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("gated answered %s", resp.Status)
	}
	if c.json {
		_, err := c.out.Write(data)
		return err
	}
	return json.Unmarshal(data, out)
}

func (c *client) status(ctx context.Context, syncOnly bool) error {
	var s daemon.StatusReport
	if err := c.call(ctx, "GET", "/v1/status", nil, &s); err != nil || c.json {
		return err
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	reg := s.Registry
	age := "unknown (no registry clock from HQ yet)"
	if !reg.HQTime.IsZero() {
		age = (time.Duration(reg.AgeSeconds) * time.Second).String() + " (limit " + reg.MaxAge + ")"
	}
	if syncOnly {
		fmt.Fprintf(w, "registry revision\t%d\nregistry age\t%s\napplied\t%d\nrejected\t%d\n", reg.Revision, age, reg.Applied, reg.Rejected)
		if reg.LastError != "" {
			fmt.Fprintf(w, "last error\t%s\n", reg.LastError)
		}
		fmt.Fprintf(w, "HQ link\t%s\noutbox\t%d events waiting\n", upDown(s.HQLink), s.Outbox.Depth)
		return w.Flush()
	}
	fmt.Fprintf(w, "gate\t%s/%s (%s lane), gated %s, up %s\n", s.Airport, s.Gate, s.Direction, s.Version, s.Uptime)
	mode := s.Mode
	if s.ModeReason != "" {
		mode += " (" + s.ModeReason + ")"
	}
	fmt.Fprintf(w, "mode\t%s\nstate\t%s\n", mode, s.State)
	if len(s.ClosedBecause) > 0 {
		fmt.Fprintf(w, "CLOSED because\t%s\n", strings.Join(s.ClosedBecause, "; "))
	}
	if s.FireAlarm {
		fmt.Fprintf(w, "FIRE ALARM\tactive: every door open\n")
	}
	fmt.Fprintln(w, "\ndevice\tport\taddr\tstate\tlast reply\ttimeouts\tcrc errors\tnaks")
	for _, d := range s.Devices {
		state := "ONLINE"
		if d.Secure {
			state += " (secure)"
		}
		if !d.Online {
			state = "OFFLINE: " + d.Problem
		}
		last := "-"
		if !d.LastReply.IsZero() {
			last = time.Since(d.LastReply).Round(time.Millisecond).String() + " ago"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%d\t%d\t%d\n", d.Name, d.Port, d.Address, state, last, d.Timeouts, d.CRCErrors, d.NAKs)
	}
	fmt.Fprintf(w, "\nregistry\trevision %d, age %s\n", reg.Revision, age)
	fmt.Fprintf(w, "outbox\t%d events waiting, %d acked by HQ", s.Outbox.Depth, s.Outbox.Acked)
	if s.Outbox.LastError != "" {
		fmt.Fprintf(w, ", last error: %s", s.Outbox.LastError)
	}
	fmt.Fprintf(w, "\nHQ link\t%s\n", upDown(s.HQLink))
	if len(s.RecentAlarms) > 0 {
		fmt.Fprintln(w, "\nrecent alarms:")
		for _, e := range s.RecentAlarms {
			fmt.Fprintf(w, "  %s\n", e.Line())
		}
	}
	return w.Flush()
}

func upDown(b bool) string {
	if b {
		return "up"
	}
	return "DOWN"
}

func (c *client) ports() error {
	ps, err := serialport.List()
	if err != nil {
		return err
	}
	if c.json {
		return json.NewEncoder(c.out).Encode(ps)
	}
	if len(ps) == 0 {
		fmt.Fprintln(c.out, "no serial ports found (is the USB adapter plugged in? see dmesg)")
		return nil
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "port\tUSB vid:pid\tserial number\tproduct")
	for _, p := range ps {
		usb := "-"
		if p.IsUSB {
			usb = p.VID + ":" + p.PID
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", p.Name, usb, dash(p.SerialNumber), dash(p.Product))
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *client) selftest(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("selftest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	yes := fs.Bool("yes", false, "pulse the doors without asking")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return errUsage
	}
	pulse := *yes
	if !pulse && !c.json {
		fmt.Fprint(c.out, "The self-test pulses the entry and the exit door once each. Is the lane clear? [y/N] ")
		line, _ := c.in.ReadString('\n')
		pulse = strings.HasPrefix(strings.ToLower(strings.TrimSpace(line)), "y")
	}
	var res []daemon.CheckResult
	if err := c.call(ctx, "POST", "/v1/selftest", daemon.SelftestRequest{PulseDoors: pulse, Actor: c.actor}, &res); err != nil {
		return err
	}
	if c.json {
		return nil
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	bad := 0
	for _, r := range res {
		verdict := "PASS"
		if !r.OK {
			verdict, bad = "FAIL", bad+1
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", verdict, r.Check, r.Detail)
	}
	w.Flush()
	if bad > 0 {
		return failed{fmt.Sprintf("self-test: %d of %d checks failed", bad, len(res))}
	}
	fmt.Fprintf(c.out, "self-test: all %d checks passed\n", len(res))
	return nil
}

func (c *client) mode(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	fs := flag.NewFlagSet("mode", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	reason := fs.String("reason", "", "why (goes to the audit log and HQ)")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 {
		return errUsage
	}
	var res daemon.ChangeResult
	if err := c.call(ctx, "POST", "/v1/mode", daemon.ModeRequest{Mode: args[0], Reason: *reason, Actor: c.actor}, &res); err != nil || c.json {
		return err
	}
	fmt.Fprintf(c.out, "lane mode %s, state %s\n", res.Status.Mode, res.Status.State)
	printEvents(c.out, res.Events)
	return nil
}

func (c *client) pulse(ctx context.Context, door string, args []string) error {
	fs := flag.NewFlagSet("door pulse", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	reason := fs.String("reason", "manual pulse", "why (goes to the audit log and HQ)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return errUsage
	}
	var res daemon.ChangeResult
	if err := c.call(ctx, "POST", "/v1/door/pulse", daemon.PulseRequest{Door: door, Reason: *reason, Actor: c.actor}, &res); err != nil || c.json {
		return err
	}
	fmt.Fprintf(c.out, "%s door pulsed\n", door)
	printEvents(c.out, res.Events)
	return nil
}

func (c *client) events(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	n := fs.Int("n", 20, "how many")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return errUsage
	}
	var evs []events.Event
	if err := c.call(ctx, "GET", fmt.Sprintf("/v1/events?n=%d", *n), nil, &evs); err != nil || c.json {
		return err
	}
	printEvents(c.out, evs)
	return nil
}

func printEvents(w io.Writer, evs []events.Event) {
	for _, e := range evs {
		fmt.Fprintln(w, e.Line())
	}
}
