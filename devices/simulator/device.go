package simulator

import (
	"context"
	"fmt"
	"sync"
	"time"

	"ttpgate/devices/osdp"
)

// Received is one command a simulated PD executed, as recorded in its log.
type Received struct {
	// Time is when the PD executed the command.
	Time time.Time
	// Code is the command code (osdp.Cmd*).
	Code byte
	// Data is the command data.
	Data []byte
	// Text is the displayed text, for a TEXT command.
	Text string
}

// commandLog records commands and lets scripts wait for one without missing
// it: waiters look at the whole log from a position they choose.
type commandLog struct {
	mu      sync.Mutex
	entries []Received
	changed chan struct{} // closed and replaced on every append
}

func (l *commandLog) add(r Received) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries = append(l.entries, r)
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

// wait blocks until an entry at index >= since satisfies match, and returns
// it with its index.
func (l *commandLog) wait(ctx context.Context, since int, match func(Received) bool) (Received, int, error) {
	for {
		l.mu.Lock()
		for i := max(since, 0); i < len(l.entries); i++ {
			if match(l.entries[i]) {
				r := l.entries[i]
				l.mu.Unlock()
				return r, i, nil
			}
		}
		since = len(l.entries)
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return Received{}, 0, ctx.Err()
		case <-ch:
		}
	}
}

// device is what the three simulated PDs share: address, identity,
// capabilities, power, and the log of received commands.
type device struct {
	addr byte
	id   osdp.PDID
	caps []osdp.Capability
	log  commandLog

	mu   sync.Mutex // guards off, baud and the embedding device's state
	off  bool
	baud uint32 // last rate set by COMSET (0: never)
}

// Baud returns the baud rate the control panel last set with COMSET, or 0.
func (d *device) Baud() uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.baud
}

// Address returns the PD's OSDP address.
func (d *device) Address() byte { return d.addr }

// Powered tells whether the device answers; see PowerOff.
func (d *device) Powered() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.off
}

// PowerOff makes the device silent, as if unplugged: the control panel will
// report it offline after its OfflineAfter.
func (d *device) PowerOff() {
	d.mu.Lock()
	d.off = true
	d.mu.Unlock()
}

// PowerOn makes a powered-off device answer again.
func (d *device) PowerOn() {
	d.mu.Lock()
	d.off = false
	d.mu.Unlock()
}

// Log returns a copy of every command the device executed, oldest first.
func (d *device) Log() []Received {
	d.log.mu.Lock()
	defer d.log.mu.Unlock()
	return append([]Received(nil), d.log.entries...)
}

// Mark returns the current length of the log, to wait for commands that
// arrive after this point with WaitCommand.
func (d *device) Mark() int {
	d.log.mu.Lock()
	defer d.log.mu.Unlock()
	return len(d.log.entries)
}

// WaitCommand waits until the device has executed, at log position since or
// later, a command with the given code for which match (if not nil) is
// true, and returns it.
func (d *device) WaitCommand(ctx context.Context, since int, code byte, match func(Received) bool) (Received, error) {
	r, _, err := d.log.wait(ctx, since, func(r Received) bool {
		return r.Code == code && (match == nil || match(r))
	})
	if err != nil {
		return Received{}, fmt.Errorf("simulator: PD 0x%02X: waiting for %s: %w", d.addr, osdp.CommandName(code), err)
	}
	return r, nil
}

// record logs a command.
func (d *device) record(code byte, data []byte) Received {
	r := Received{Time: time.Now(), Code: code, Data: append([]byte(nil), data...)}
	if code == osdp.CmdTEXT {
		if t, err := osdp.ParseText(data); err == nil {
			r.Text = t.Text
		}
	}
	d.log.add(r)
	return r
}

func nak(r osdp.NakReason) (byte, []byte) { return osdp.ReplyNAK, []byte{byte(r)} }

// common answers the commands every simulated PD handles the same way. It
// reports handled false for the others.
func (d *device) common(code byte, data []byte) (reply byte, replyData []byte, handled bool) {
	switch code {
	case osdp.CmdID:
		if len(data) != 1 {
			reply, replyData = nak(osdp.NakCommandLength)
			return reply, replyData, true
		}
		return osdp.ReplyPDID, d.id.Marshal(), true
	case osdp.CmdCAP:
		if len(data) != 1 {
			reply, replyData = nak(osdp.NakCommandLength)
			return reply, replyData, true
		}
		return osdp.ReplyPDCAP, osdp.MarshalPDCAP(d.caps), true
	case osdp.CmdLSTAT:
		return osdp.ReplyLSTATR, osdp.LocalStatus{}.Marshal(), true
	case osdp.CmdCOMSET:
		c, err := osdp.ParseComSettings(data)
		if err != nil {
			reply, replyData = nak(osdp.NakCommandLength)
			return reply, replyData, true
		}
		if c.Addr != d.addr || c.Baud == 0 {
			// The simulators keep their address.
			reply, replyData = nak(osdp.NakRecord)
			return reply, replyData, true
		}
		d.mu.Lock()
		d.baud = c.Baud
		d.mu.Unlock()
		d.record(code, data)
		return osdp.ReplyCOM, c.Marshal(), true
	case osdp.CmdKEYSET, osdp.CmdCHLNG, osdp.CmdSCRYPT:
		reply, replyData = nak(osdp.NakSecureBlock)
		return reply, replyData, true
	}
	return 0, nil, false
}

// vendorTTP is the OUI the simulators report (a locally administered,
// made-up value).
var vendorTTP = [3]byte{0x0A, 0x77, 0x70}
