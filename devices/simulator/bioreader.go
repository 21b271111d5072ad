package simulator

import (
	"context"
	"fmt"

	"ttpgate/devices/osdp"
)

// BioReader simulates an OSDP fingerprint reader that returns minutiae
// templates. A BIOREAD command is acknowledged and starts a capture; the
// capture completes when the script calls PlaceFinger (or FailCapture), and
// the next POLL returns the BIOREADR reply. A finger placed before the
// BIOREAD arrives is captured as soon as it does.
type BioReader struct {
	device
	pending  *osdp.BioReadRequest // capture in progress
	finger   *osdp.BioReadReply   // sample on the sensor, waiting for a request
	result   []byte               // marshalled BIOREADR waiting for a POLL
	requests commandLog           // BIOREAD requests, for WaitCaptureRequest
}

// NewBioReader returns a biometric reader answering at addr.
func NewBioReader(addr byte) *BioReader {
	return &BioReader{device: device{
		addr: addr,
		id:   osdp.PDID{VendorCode: vendorTTP, Model: 2, Version: 1, Serial: 2000 + uint32(addr), Firmware: [3]byte{1, 0, 0}},
		caps: []osdp.Capability{
			{Function: osdp.CapBiometrics, Compliance: 1, NumItems: 1},
			{Function: osdp.CapReaderLED, Compliance: 2, NumItems: 1},
			{Function: osdp.CapCheckCharacter, Compliance: 1},
			{Function: osdp.CapReceiveBuffer, Compliance: byte(osdp.MaxFrameLen & 0xFF), NumItems: byte(osdp.MaxFrameLen >> 8)},
			{Function: osdp.CapReaders, NumItems: 1},
			{Function: osdp.CapOSDPVersion, Compliance: 2},
		},
	}}
}

// PlaceFinger puts a finger on the sensor: the pending capture (or the next
// one) yields template with the given quality (0-255).
func (b *BioReader) PlaceFinger(template []byte, quality int) error {
	if quality < 0 || quality > 255 {
		return fmt.Errorf("simulator: PlaceFinger: quality %d, expected 0-255", quality)
	}
	if len(template) > osdp.MaxFrameLen-20 {
		return fmt.Errorf("simulator: PlaceFinger: template of %d bytes, expected at most %d to fit one frame", len(template), osdp.MaxFrameLen-20)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.finger = &osdp.BioReadReply{Status: osdp.BioStatusSuccess, Quality: byte(quality), Data: append([]byte(nil), template...)}
	b.complete()
	return nil
}

// FailCapture makes the pending (or next) capture fail with status
// osdp.BioStatusTimeout: no usable finger within the reader's time limit.
func (b *BioReader) FailCapture() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.finger = &osdp.BioReadReply{Status: osdp.BioStatusTimeout}
	b.complete()
}

// complete turns a pending request plus a finger into a result. b.mu held.
func (b *BioReader) complete() {
	if b.pending == nil || b.finger == nil {
		return
	}
	r := *b.finger
	r.Reader, r.Type = b.pending.Reader, b.pending.Type
	if r.Status != osdp.BioStatusSuccess {
		r.Quality, r.Data = 0, nil
	}
	b.result, _ = r.Marshal() // PlaceFinger bounded the size
	b.pending, b.finger = nil, nil
}

// CapturePending tells whether a BIOREAD is waiting for a finger.
func (b *BioReader) CapturePending() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pending != nil
}

// WaitCaptureRequest waits until a capture is pending (it returns at once if
// one already is) and returns the BIOREAD request.
func (b *BioReader) WaitCaptureRequest(ctx context.Context) (osdp.BioReadRequest, error) {
	for {
		// Read the log position before checking: Handle sets pending before
		// it logs the request, so no request can slip between the two.
		b.requests.mu.Lock()
		since := len(b.requests.entries)
		b.requests.mu.Unlock()
		b.mu.Lock()
		if b.pending != nil {
			r := *b.pending
			b.mu.Unlock()
			return r, nil
		}
		b.mu.Unlock()
		if _, _, err := b.requests.wait(ctx, since, func(Received) bool { return true }); err != nil {
			return osdp.BioReadRequest{}, fmt.Errorf("simulator: PD 0x%02X: waiting for a BIOREAD: %w", b.addr, err)
		}
	}
}

// Handle executes one command; it is called by ServeBus.
func (b *BioReader) Handle(code byte, data []byte) (byte, []byte) {
	if r, d, ok := b.common(code, data); ok {
		return r, d
	}
	switch code {
	case osdp.CmdPOLL:
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.result == nil {
			return osdp.ReplyACK, nil
		}
		r := b.result
		b.result = nil
		return osdp.ReplyBIOREADR, r
	case osdp.CmdBIOREAD:
		req, err := osdp.ParseBioRead(data)
		if err != nil {
			return nak(osdp.NakCommandLength)
		}
		if req.Format != osdp.BioFormatTemplate && req.Format != osdp.BioFormatNotSpecified {
			return nak(osdp.NakBioFormat)
		}
		b.mu.Lock()
		b.pending, b.result = &req, nil
		b.complete()
		b.mu.Unlock()
		b.record(code, data)
		b.requests.add(Received{Code: code, Data: append([]byte(nil), data...)})
		return osdp.ReplyACK, nil
	case osdp.CmdLED, osdp.CmdBUZ, osdp.CmdTEXT:
		b.record(code, data)
		return osdp.ReplyACK, nil
	}
	return nak(osdp.NakUnknownCommand)
}
