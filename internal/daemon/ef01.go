package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"ttpgate/devices/ef01"
	"ttpgate/devices/osdp"
	"ttpgate/gate"
	"ttpgate/match/extract"
)

// fingerModule drives an EF01 fingerprint module (R30x, AS608) as the lane's fingerprint reader:
// it captures, uploads the image, extracts an ISO/IEC 19794-2 template and hands it to the lane
// as a SampleCaptured. A capture too poor to use is a CaptureFailed (a retry within the attempt
// budget); a module that stops answering is offline, and is reopened with backoff.
type fingerModule struct {
	requests chan int // attempt numbers

	mu       sync.Mutex
	online   bool
	problem  string
	lastSeen time.Time
	cancel   context.CancelFunc // the capture in progress
	captures uint64
	failures uint64
}

func newFingerModule() *fingerModule { return &fingerModule{requests: make(chan int, 4)} }

// request asks for a capture; a request while one is queued replaces nothing (the lane asks once
// per attempt).
func (f *fingerModule) request(attempt int) {
	select {
	case f.requests <- attempt:
	default:
	}
}

// cancelCapture stops a capture in progress (the lane no longer waits for a sample).
func (f *fingerModule) cancelCapture() {
	f.mu.Lock()
	if f.cancel != nil {
		f.cancel()
	}
	f.mu.Unlock()
	for {
		select {
		case <-f.requests:
		default:
			return
		}
	}
}

func (f *fingerModule) setState(online bool, problem string) {
	f.mu.Lock()
	f.online, f.problem = online, problem
	if online {
		f.lastSeen = time.Now()
	}
	f.mu.Unlock()
}

func (f *fingerModule) report() DeviceReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	return DeviceReport{Name: BioReader, Online: f.online, Problem: f.problem, LastReply: f.lastSeen,
		Identity: fmt.Sprintf("EF01 fingerprint module, %d captures, %d failed", f.captures, f.failures)}
}

// run opens the module, serves capture requests, and reopens it after it goes silent.
func (f *fingerModule) run(ctx context.Context, d *Daemon) {
	fm := d.cfg.Devices.FingerModule
	backoff := 500 * time.Millisecond
	var lastErr string
	for ctx.Err() == nil {
		m, err := ef01.OpenContext(ctx, fm.Port, ef01.Options{Baud: fm.Baud, Password: fm.Password, Address: fm.Address})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if err.Error() != lastErr {
				d.log.Error("fingerprint module unavailable; the lane stays closed, retrying", "port", fm.Port, "err", err)
				lastErr = err.Error()
			}
			f.setState(false, err.Error())
			d.inputs <- gate.DeviceStatusChanged{At: time.Now(), Device: BioReader, Online: false, Detail: err.Error()}
			if !sleepCtx(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		lastErr, backoff = "", 500*time.Millisecond
		f.setState(true, "")
		d.inputs <- gate.DeviceStatusChanged{At: time.Now(), Device: BioReader, Online: true,
			Detail: fmt.Sprintf("EF01 fingerprint module on %s at %d baud", fm.Port, m.Baud())}
		err = f.serve(ctx, d, m)
		m.Close()
		if ctx.Err() != nil {
			return
		}
		f.setState(false, err.Error())
		d.inputs <- gate.DeviceStatusChanged{At: time.Now(), Device: BioReader, Online: false, Detail: err.Error()}
	}
}

// serve captures for each request until the module goes offline.
func (f *fingerModule) serve(ctx context.Context, d *Daemon, m *ef01.Module) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.requests:
		}
		cctx, cancel := context.WithTimeout(ctx, d.cfg.Lane.FingerTimeout.Std())
		f.mu.Lock()
		f.cancel = cancel
		f.mu.Unlock()
		im, err := m.Capture(cctx, ef01.CaptureOptions{Timeout: d.cfg.Lane.FingerTimeout.Std(), OnFinger: func() {
			// The upload takes seconds on the UART: tell the traveller to keep still.
			if dev := d.devices[CardReader]; dev != nil {
				dev.enqueue(d, func(ctx context.Context) error {
					cp, err := dev.cp()
					if err != nil {
						return err
					}
					return cp.Text(ctx, dev.addr, osdp.Text{Control: osdp.TextPermanent, Row: 1, Col: 1, Text: "KEEP FINGER STILL"})
				})
			}
		}})
		cancel()
		arrived := time.Now()
		f.mu.Lock()
		f.cancel = nil
		f.mu.Unlock()
		switch {
		case err == nil:
		case errors.Is(err, ef01.ErrOffline):
			return err
		case errors.Is(err, ef01.ErrConfig):
			return err
		case errors.Is(err, context.Canceled) && ctx.Err() == nil:
			continue // the lane stopped waiting
		default:
			f.count(false)
			d.inputs <- gate.CaptureFailed{At: arrived, Detail: err.Error()}
			continue
		}
		tmpl, err := templateFromImage(im)
		if err != nil {
			f.count(false)
			d.inputs <- gate.CaptureFailed{At: arrived, Detail: err.Error()}
			continue
		}
		f.count(true)
		f.setState(true, "")
		d.inputs <- gate.SampleCaptured{At: arrived, Data: tmpl}
	}
}

func (f *fingerModule) count(ok bool) {
	f.mu.Lock()
	if ok {
		f.captures++
	} else {
		f.failures++
	}
	f.mu.Unlock()
}

// templateFromImage extracts an ISO/IEC 19794-2 template from an uploaded image. A capture with
// no usable fingerprint is an error (a retry), never an empty template.
func templateFromImage(im ef01.Image) ([]byte, error) {
	g, err := extract.FromPacked4(im.Packed, im.Width, im.Height)
	if err != nil {
		return nil, fmt.Errorf("module image: %w", err)
	}
	r, err := extract.Extract(g, extract.Options{})
	if err != nil {
		return nil, fmt.Errorf("no usable fingerprint in the capture: %w", err)
	}
	return r.Template.EncodeISO()
}
