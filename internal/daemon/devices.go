package daemon

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"ttpgate/devices/osdp"
	"ttpgate/devices/serialport"
	"ttpgate/gate"
	"ttpgate/internal/config"
)

// Door board wiring (docs/wiring.md): outputs and inputs of the OSDP I/O board.
const (
	outEntryDoor   = 0
	outExitDoor    = 1
	outOfficerCall = 2

	inEntryBeam      = 0
	inExitBeam       = 1
	inExitDoorClosed = 2
	inTamper         = 3
	inFireAlarm      = 4
)

// bus is one serial line with its PDs and the control panel that polls them.
type bus struct {
	port     string
	baud     int
	poll     time.Duration
	pds      []osdp.PDConfig
	names    map[byte]string
	devs     []string // device names, in the order of pds
	mu       sync.Mutex
	cp       *osdp.ControlPanel
	lastOpen error
}

// device is one configured PD and the worker that sends it commands in order.
type device struct {
	name  string
	addr  byte
	bus   *bus
	queue chan func(context.Context) error

	mu     sync.Mutex
	inputs osdp.Status // door board: the last input states seen
}

// planBuses groups the configured devices by serial port.
func (d *Daemon) planBuses() []*bus {
	byPort := map[string]*bus{}
	add := func(name string, c config.Device) {
		b := byPort[c.Port]
		if b == nil {
			b = &bus{port: c.Port, baud: c.Baud, poll: c.PollInterval.Std(), names: map[byte]string{}}
			byPort[c.Port] = b
		}
		if p := c.PollInterval.Std(); p < b.poll {
			b.poll = p
		}
		b.pds = append(b.pds, osdp.PDConfig{Addr: byte(c.Address), Name: name})
		b.devs = append(b.devs, name)
		b.names[byte(c.Address)] = name
		d.devices[name] = &device{name: name, addr: byte(c.Address), bus: b, queue: make(chan func(context.Context) error, 64),
			inputs: osdp.Status{0, 0, 1, 0, 0}}
	}
	add(CardReader, d.cfg.Devices.CardReader)
	if !d.cfg.Devices.UsesFingerModule() {
		add(BioReader, d.cfg.Devices.BioReader)
	}
	add(DoorBoard, d.cfg.Devices.DoorBoard)
	var out []*bus
	for _, b := range byPort {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].port < out[j].port })
	return out
}

func (b *bus) openError() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastOpen
}

func (b *bus) controlPanel() *osdp.ControlPanel {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cp
}

// run opens the port and runs its control panel; a port that is missing or vanishes takes its
// devices offline and is reopened with backoff. It never ends the daemon.
func (b *bus) run(ctx context.Context, d *Daemon) {
	backoff := 250 * time.Millisecond
	for ctx.Err() == nil {
		port, err := serialport.Open(b.port, b.baud)
		if err != nil {
			if prev := b.openError(); prev == nil || prev.Error() != err.Error() {
				d.log.Error("serial port unavailable; its devices are offline, retrying", "port", b.port, "err", err)
			}
			b.mu.Lock()
			b.lastOpen = err
			b.mu.Unlock()
			d.busDown(b, fmt.Sprintf("serial port %s: %v", b.port, err))
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		b.mu.Lock()
		b.lastOpen = nil
		b.mu.Unlock()
		backoff = 250 * time.Millisecond
		_ = port.SetReadTimeout(20 * time.Millisecond)
		// Keys are read at each (re)open: a key installed by commissioning is used from then on.
		pds := append([]osdp.PDConfig(nil), b.pds...)
		for i := range pds {
			pds[i].SCBK = d.keys.get(b.devs[i])
			pds[i].InstallMode = d.cfg.Devices.InstallMode
		}
		// Four repeats (same sequence number, so never executed twice) keep a door pulse from
		// failing on a noisy line: with the default two, 1 of 39 pulses failed at 1% corruption.
		cp := osdp.NewControlPanel(port, pds, osdp.Options{PollInterval: b.poll, OfflineAfter: d.offline,
			RequireSecure: d.cfg.Devices.Secure(), Retries: 4})
		b.mu.Lock()
		b.cp = cp
		b.mu.Unlock()
		d.log.Info("serial port open", "port", b.port, "baud", b.baud)
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); d.forward(runCtx, b, cp) }()
		err = cp.Run(runCtx)
		stop()
		<-done
		b.mu.Lock()
		b.cp = nil
		b.mu.Unlock()
		port.Close()
		if ctx.Err() != nil {
			return
		}
		d.log.Error("serial bus stopped; its devices are offline, reopening", "port", b.port, "err", err)
		d.busDown(b, fmt.Sprintf("serial port %s: %v", b.port, err))
		if !sleepCtx(ctx, backoff) {
			return
		}
	}
}

// busDown reports every device of the bus offline.
func (d *Daemon) busDown(b *bus, why string) {
	now := time.Now()
	for _, pd := range b.pds {
		d.inputs <- gate.DeviceStatusChanged{At: now, Device: pd.Name, Online: false, Detail: why}
	}
}

// forward turns the control panel's events into lane inputs.
func (d *Daemon) forward(ctx context.Context, b *bus, cp *osdp.ControlPanel) {
	for {
		var ev osdp.Event
		var ok bool
		select {
		case <-ctx.Done():
			return
		case ev, ok = <-cp.Events():
			if !ok {
				return // the control panel stopped
			}
		}
		h := ev.Header()
		name := b.names[h.Addr]
		dev := d.devices[name]
		var ins []gate.Input
		switch ev := ev.(type) {
		case osdp.PDOnline:
			id := fmt.Sprintf("vendor %X model %d firmware %d.%d.%d serial %d", ev.ID.VendorCode, ev.ID.Model,
				ev.ID.Firmware[0], ev.ID.Firmware[1], ev.ID.Firmware[2], ev.ID.Serial)
			switch {
			case ev.DefaultKey:
				// Never in service on the published default key: the lane stays closed until the
				// device has its own key.
				ins = append(ins, gate.DeviceStatusChanged{At: h.Time, Device: name, Online: false,
					Detail: "on the default Secure Channel key SCBK-D (install mode): commission it with `gatectl osdp commission " + name + "`"})
			case d.cfg.Devices.Secure() && !ev.Secure:
				ins = append(ins, gate.DeviceStatusChanged{At: h.Time, Device: name, Online: false, Detail: "answers without Secure Channel"})
			default:
				if ev.Secure {
					id += ", Secure Channel"
				} else {
					id += ", CLEAR TEXT (secure_channel: false)"
				}
				ins = append(ins, gate.DeviceStatusChanged{At: h.Time, Device: name, Online: true, Detail: id})
			}
			if name == DoorBoard {
				go d.readInputs(ctx, dev)
			}
		case osdp.PDOffline:
			ins = append(ins, gate.DeviceStatusChanged{At: h.Time, Device: name, Online: false, Detail: ev.Reason})
		case osdp.CardRead:
			if name != CardReader {
				continue
			}
			if ev.Err != nil {
				d.log.Warn("card read not understood", "err", ev.Err)
				continue
			}
			ins = append(ins, gate.CardPresented{At: h.Time, Number: ev.Number})
		case osdp.BioRead:
			if name != BioReader {
				continue
			}
			if ev.Status == osdp.BioStatusSuccess && len(ev.Template) > 0 {
				ins = append(ins, gate.SampleCaptured{At: h.Time, Data: ev.Template})
			} else {
				ins = append(ins, gate.CaptureFailed{At: h.Time, Detail: fmt.Sprintf("reader status %d", ev.Status)})
			}
		case osdp.InputStatus:
			if name == DoorBoard {
				ins = dev.inputEdges(h.Time, ev.Inputs)
			}
		}
		for _, in := range ins {
			select {
			case d.inputs <- in:
			case <-ctx.Done():
				return
			}
		}
	}
}

// readInputs asks a door board that came online for its input states.
func (d *Daemon) readInputs(ctx context.Context, dev *device) {
	cp := dev.bus.controlPanel()
	if cp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := cp.InputStatus(ctx, dev.addr)
	if err != nil {
		d.log.Warn("reading door board inputs", "err", err)
		return
	}
	for _, in := range dev.inputEdges(time.Now(), st) {
		d.inputs <- in
	}
}

// inputEdges compares a door board's inputs with the last ones and reports the changes.
func (dev *device) inputEdges(at time.Time, now osdp.Status) []gate.Input {
	dev.mu.Lock()
	prev := dev.inputs
	dev.inputs = append(osdp.Status(nil), now...)
	dev.mu.Unlock()
	var ins []gate.Input
	rose := func(i int) bool { return now.Active(i) && !prev.Active(i) }
	changed := func(i int) bool { return now.Active(i) != prev.Active(i) }
	if rose(inEntryBeam) {
		ins = append(ins, gate.BeamCrossed{At: at, Sensor: gate.EntryBeam})
	}
	if rose(inExitBeam) {
		ins = append(ins, gate.BeamCrossed{At: at, Sensor: gate.ExitBeam})
	}
	if changed(inExitDoorClosed) {
		ins = append(ins, gate.ExitDoorContact{At: at, Closed: now.Active(inExitDoorClosed)})
	}
	if changed(inFireAlarm) {
		ins = append(ins, gate.FireAlarmChanged{At: at, Active: now.Active(inFireAlarm)})
	}
	return ins
}

// enqueue hands a command to the device's worker; it never blocks the lane.
func (dev *device) enqueue(d *Daemon, cmd func(context.Context) error) {
	select {
	case dev.queue <- cmd:
	default:
		d.log.Error("device command queue full: command dropped", "device", dev.name)
	}
}

// work sends the device its commands in order.
func (dev *device) work(ctx context.Context, d *Daemon) {
	for {
		select {
		case <-ctx.Done():
			return
		case cmd := <-dev.queue:
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			if err := cmd(cctx); err != nil {
				d.log.Warn("device command failed", "device", dev.name, "err", err)
			}
			cancel()
		}
	}
}

func (dev *device) cp() (*osdp.ControlPanel, error) {
	cp := dev.bus.controlPanel()
	if cp == nil {
		return nil, fmt.Errorf("%s: %w", dev.name, osdp.ErrNotRunning)
	}
	return cp, nil
}

func (dev *device) callOfficer(ctx context.Context, on bool) error {
	cp, err := dev.cp()
	if err != nil {
		return err
	}
	ctl := osdp.OutputOff
	if on {
		ctl = osdp.OutputOn
	}
	return cp.Output(ctx, dev.addr, outOfficerCall, ctl, 0)
}

// carryOut turns one lane output into device commands.
func (d *Daemon) carryOut(o gate.Output, in gate.Input) {
	switch o := o.(type) {
	case gate.Show:
		d.display.Show(o)
		for _, name := range []string{CardReader, BioReader} {
			if dev := d.devices[name]; dev != nil {
				dev.enqueue(d, func(ctx context.Context) error { return dev.show(ctx, o) })
			}
		}
	case gate.RequestSample:
		if d.module != nil {
			if o.Attempt == 1 {
				d.timing.mu.Lock()
				if !d.timing.cardAt.IsZero() {
					d.timing.requested = time.Since(d.timing.cardAt)
				}
				d.timing.mu.Unlock()
			}
			d.module.request(o.Attempt)
			return
		}
		dev := d.devices[BioReader]
		dev.enqueue(d, func(ctx context.Context) error {
			cp, err := dev.cp()
			if err != nil {
				return err
			}
			err = cp.BioRead(ctx, dev.addr, osdp.BioReadRequest{Reader: 0, Type: osdp.BioTypeNotSpecified,
				Format: osdp.BioFormatTemplate, Quality: 0})
			if err == nil && o.Attempt == 1 {
				d.timing.mu.Lock()
				if !d.timing.cardAt.IsZero() {
					d.timing.requested = time.Since(d.timing.cardAt)
				}
				d.timing.mu.Unlock()
			}
			return err
		})
	case gate.PulseDoor:
		dev := d.devices[DoorBoard]
		sample, isSample := in.(gate.SampleCaptured)
		dev.enqueue(d, func(ctx context.Context) error {
			cp, err := dev.cp()
			if err != nil {
				return err
			}
			out := byte(outExitDoor)
			if o.Door == gate.EntryDoor {
				out = outEntryDoor
			}
			if err := cp.Output(ctx, dev.addr, out, osdp.OutputPulse, o.Duration); err != nil {
				return err
			}
			if isSample && o.Door == gate.ExitDoor {
				d.timing.mu.Lock()
				total := d.timing.requested + time.Since(sample.At)
				d.timing.mu.Unlock()
				d.latency.Add(total)
				d.metrics.decisions.Observe(total.Seconds())
			}
			return nil
		})
	case gate.CallOfficer:
		dev := d.devices[DoorBoard]
		dev.enqueue(d, func(ctx context.Context) error { return dev.callOfficer(ctx, o.On) })
	case gate.CancelSample:
		// An OSDP reader's pending capture is simply ignored: a late sample finds the lane no
		// longer waiting for one. A module's capture is stopped.
		if d.module != nil {
			d.module.cancelCapture()
		}
	}
}

// show drives a reader's LED, buzzer and text for a screen.
func (dev *device) show(ctx context.Context, s gate.Show) error {
	cp, err := dev.cp()
	if err != nil {
		return err
	}
	color, beeps := osdp.ColorBlue, byte(0)
	switch s.Screen {
	case gate.ScreenClosed, gate.ScreenEmergency:
		color = osdp.ColorRed
	case gate.ScreenPlaceFinger, gate.ScreenTryAgain, gate.ScreenWait:
		color = osdp.ColorAmber
	case gate.ScreenProceed:
		color, beeps = osdp.ColorGreen, 1
	case gate.ScreenSeeOfficer:
		color, beeps = osdp.ColorRed, 3
	}
	led := osdp.LED{Permanent: osdp.LEDPermanent{Control: osdp.LEDPermSet, OnTime: 1, OnColor: color, OffColor: color}}
	if err := cp.LED(ctx, dev.addr, led); err != nil {
		return err
	}
	if beeps > 0 {
		if err := cp.Buzzer(ctx, dev.addr, osdp.Buzzer{Tone: osdp.ToneDefault, OnTime: 2, OffTime: 1, Count: beeps}); err != nil {
			return err
		}
	}
	return cp.Text(ctx, dev.addr, osdp.Text{Control: osdp.TextPermanent, Row: 1, Col: 1, Text: ScreenText(s)})
}

// ScreenText is the reader display's text for a screen (short, ASCII: OSDP TEXT). The lane display
// issue brings full language support; readers show English.
func ScreenText(s gate.Show) string {
	switch s.Screen {
	case gate.ScreenClosed:
		return "LANE CLOSED"
	case gate.ScreenPresentCard:
		return "PRESENT CARD"
	case gate.ScreenPlaceFinger:
		return fmt.Sprintf("PLACE FINGER %d/%d", s.Attempt, s.Of)
	case gate.ScreenTryAgain:
		return fmt.Sprintf("TRY AGAIN %d/%d", s.Attempt, s.Of)
	case gate.ScreenProceed:
		return "PLEASE PROCEED"
	case gate.ScreenSeeOfficer:
		if s.Reason != "" && s.Reason.TravellerMay() {
			return "SEE OFFICER " + string(s.Reason)
		}
		return "SEE OFFICER"
	case gate.ScreenWait:
		return "PLEASE WAIT"
	case gate.ScreenEmergency:
		return "EMERGENCY OPEN"
	}
	return string(s.Screen)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
