package simulator

import (
	"fmt"
	"time"

	"ttpgate/devices/osdp"
)

// Door board outputs.
const (
	OutputEntryDoor   = 0 // entry door lock: active = open
	OutputExitDoor    = 1 // exit door lock: active = open
	OutputOfficerCall = 2 // officer call light
	doorOutputs       = 3
)

// Door board inputs.
const (
	InputEntryBeam       = 0 // beam at the entry: active = interrupted
	InputExitBeam        = 1 // passage sensor at the exit: active = interrupted
	InputExitDoorClosed  = 2 // exit door closed contact: active = closed
	InputTamper          = 3 // cabinet tamper switch: active = opened
	InputFireAlarm       = 4 // fire alarm: active = alarm
	doorInputs           = 5
	maxPendingInputEvent = 256
)

// Pulse is one timed activation of an output, as the door board executed it.
type Pulse struct {
	// Time is when the output went active.
	Time time.Time
	// Output is the output number.
	Output int
	// Duration is the requested activation time.
	Duration time.Duration
}

// DoorBoard simulates the lane's door I/O board: three outputs
// (OutputEntryDoor, OutputExitDoor, OutputOfficerCall) and five inputs
// (InputEntryBeam ... InputFireAlarm). An OUT command with a timer
// (osdp.OutputPulse) activates the output for that time and then releases
// it by itself; every such pulse is recorded. Input changes are reported to
// the control panel as ISTATR replies to POLL, one per change, in order.
type DoorBoard struct {
	device
	outputs    [doorOutputs]bool
	permanent  [doorOutputs]bool
	generation [doorOutputs]uint64 // invalidates the release timer of an older pulse
	inputs     [doorInputs]bool
	reports    [][]byte // ISTATR snapshots waiting for a POLL
	pulses     []Pulse
}

// NewDoorBoard returns a door board answering at addr, with every input
// inactive except InputExitDoorClosed (the exit door starts closed).
func NewDoorBoard(addr byte) *DoorBoard {
	d := &DoorBoard{device: device{
		addr: addr,
		id:   osdp.PDID{VendorCode: vendorTTP, Model: 3, Version: 1, Serial: 3000 + uint32(addr), Firmware: [3]byte{1, 0, 0}},
		caps: []osdp.Capability{
			{Function: osdp.CapContactStatus, Compliance: 1, NumItems: doorInputs},
			{Function: osdp.CapOutputControl, Compliance: 3, NumItems: doorOutputs},
			{Function: osdp.CapCheckCharacter, Compliance: 1},
			{Function: osdp.CapOSDPVersion, Compliance: 2},
		},
	}}
	d.inputs[InputExitDoorClosed] = true
	return d
}

func (d *DoorBoard) snapshot() []byte { // d.mu held
	b := make([]byte, doorInputs)
	for i, v := range d.inputs {
		if v {
			b[i] = 1
		}
	}
	return b
}

func (d *DoorBoard) setInput(n int, v bool) { // d.mu held
	if d.inputs[n] == v {
		return
	}
	d.inputs[n] = v
	if len(d.reports) < maxPendingInputEvent {
		d.reports = append(d.reports, d.snapshot())
	}
}

// SetInput sets input n (0-4) active or inactive. A change is reported on a
// following POLL.
func (d *DoorBoard) SetInput(n int, active bool) error {
	if n < 0 || n >= doorInputs {
		return fmt.Errorf("simulator: door board input %d, expected 0-%d", n, doorInputs-1)
	}
	d.mu.Lock()
	d.setInput(n, active)
	d.mu.Unlock()
	return nil
}

// BreakBeam simulates a person crossing beam input n: the input goes active
// and then inactive. Both changes are queued at once, so the control panel
// sees two ISTATR replies on two successive POLLs.
func (d *DoorBoard) BreakBeam(n int) error {
	if n < 0 || n >= doorInputs {
		return fmt.Errorf("simulator: door board input %d, expected 0-%d", n, doorInputs-1)
	}
	d.mu.Lock()
	d.setInput(n, true)
	d.setInput(n, false)
	d.mu.Unlock()
	return nil
}

// Input tells whether input n is active.
func (d *DoorBoard) Input(n int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return n >= 0 && n < doorInputs && d.inputs[n]
}

// OutputActive tells whether output n is active now.
func (d *DoorBoard) OutputActive(n int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return n >= 0 && n < doorOutputs && d.outputs[n]
}

// Pulses returns every timed activation executed so far, oldest first.
func (d *DoorBoard) Pulses() []Pulse {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Pulse(nil), d.pulses...)
}

// PulseCount returns how many timed activations output n received.
func (d *DoorBoard) PulseCount(n int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := 0
	for _, p := range d.pulses {
		if p.Output == n {
			c++
		}
	}
	return c
}

// Handle executes one command; it is called by ServeBus.
func (d *DoorBoard) Handle(code byte, data []byte) (byte, []byte) {
	if r, b, ok := d.common(code, data); ok {
		return r, b
	}
	switch code {
	case osdp.CmdPOLL:
		d.mu.Lock()
		defer d.mu.Unlock()
		if len(d.reports) == 0 {
			return osdp.ReplyACK, nil
		}
		r := d.reports[0]
		d.reports = d.reports[1:]
		return osdp.ReplyISTATR, r
	case osdp.CmdISTAT:
		d.mu.Lock()
		defer d.mu.Unlock()
		return osdp.ReplyISTATR, d.snapshot()
	case osdp.CmdOSTAT:
		d.mu.Lock()
		defer d.mu.Unlock()
		b := make([]byte, doorOutputs)
		for i, v := range d.outputs {
			if v {
				b[i] = 1
			}
		}
		return osdp.ReplyOSTATR, b
	case osdp.CmdOUT:
		outs, err := osdp.ParseOutputs(data)
		if err != nil {
			return nak(osdp.NakCommandLength)
		}
		for _, o := range outs {
			if int(o.Number) >= doorOutputs || o.Control > osdp.OutputTemporaryOff {
				return nak(osdp.NakRecord)
			}
		}
		d.record(code, data)
		for _, o := range outs {
			d.output(o)
		}
		return osdp.ReplyACK, nil
	case osdp.CmdLED, osdp.CmdBUZ, osdp.CmdTEXT:
		d.record(code, data)
		return osdp.ReplyACK, nil
	}
	return nak(osdp.NakUnknownCommand)
}

// output executes one OUT record.
func (d *DoorBoard) output(o osdp.Output) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := int(o.Number)
	switch o.Control {
	case osdp.OutputNOP:
		return
	case osdp.OutputOff, osdp.OutputOn:
		d.generation[n]++ // abort a timed operation
		d.permanent[n] = o.Control == osdp.OutputOn
		d.outputs[n] = d.permanent[n]
	case osdp.OutputOffAfterTimed, osdp.OutputOnAfterTimed:
		d.permanent[n] = o.Control == osdp.OutputOnAfterTimed
		if !d.timed(n) {
			d.outputs[n] = d.permanent[n]
		}
	case osdp.OutputPulse, osdp.OutputTemporaryOff:
		dur := time.Duration(o.Timer) * 100 * time.Millisecond
		d.generation[n]++
		gen := d.generation[n]
		d.outputs[n] = o.Control == osdp.OutputPulse
		if o.Control == osdp.OutputPulse {
			d.pulses = append(d.pulses, Pulse{Time: time.Now(), Output: n, Duration: dur})
		}
		time.AfterFunc(dur, func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			if d.generation[n] == gen {
				d.generation[n]++
				d.outputs[n] = d.permanent[n]
			}
		})
	}
}

// timed tells whether a timed operation is running on output n. d.mu held.
func (d *DoorBoard) timed(n int) bool { return d.outputs[n] != d.permanent[n] }
