package simulator

import (
	"ttpgate/devices/osdp"
)

// CardReader simulates an OSDP card reader with LEDs, a buzzer and a
// two-row text display. Present queues a card; the next POLL returns it as a
// RAW reply. LED, BUZ and TEXT commands are recorded in the log (see Log,
// WaitCommand, WaitText, LastText).
type CardReader struct {
	device
	cards [][]byte // marshalled RAW replies waiting for a POLL
	text  string
	led   *osdp.LED
}

// NewCardReader returns a card reader answering at addr.
func NewCardReader(addr byte) *CardReader {
	return &CardReader{device: device{
		addr: addr,
		id:   osdp.PDID{VendorCode: vendorTTP, Model: 1, Version: 1, Serial: 1000 + uint32(addr), Firmware: [3]byte{1, 0, 0}},
		caps: []osdp.Capability{
			{Function: osdp.CapCardDataFormat, Compliance: 1},
			{Function: osdp.CapReaderLED, Compliance: 4, NumItems: 1},
			{Function: osdp.CapReaderAudible, Compliance: 2, NumItems: 1},
			{Function: osdp.CapReaderText, Compliance: 2, NumItems: 1},
			{Function: osdp.CapCheckCharacter, Compliance: 1},
			{Function: osdp.CapReaders, NumItems: 1},
			{Function: osdp.CapOSDPVersion, Compliance: 2},
		},
	}}
}

// Present queues a card whose number is made of decimal digits, encoded
// with osdp.EncodeDigitsCard; the next POLL delivers it.
func (c *CardReader) Present(cardNumber string) error {
	raw, err := osdp.EncodeDigitsCard(0, cardNumber)
	if err != nil {
		return err
	}
	return c.PresentRaw(raw)
}

// PresentRaw queues arbitrary RAW card data (for example
// osdp.EncodeH10301), delivered on the next POLL.
func (c *CardReader) PresentRaw(r osdp.RawCard) error {
	b, err := r.Marshal()
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.cards = append(c.cards, b)
	c.mu.Unlock()
	return nil
}

// LastText returns the text most recently sent to the display ("" if none).
func (c *CardReader) LastText() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.text
}

// LastLED returns the most recent LED record received, and false if none.
func (c *CardReader) LastLED() (osdp.LED, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.led == nil {
		return osdp.LED{}, false
	}
	return *c.led, true
}

// Handle executes one command; it is called by ServeBus.
func (c *CardReader) Handle(code byte, data []byte) (byte, []byte) {
	if r, d, ok := c.common(code, data); ok {
		return r, d
	}
	switch code {
	case osdp.CmdPOLL:
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.cards) == 0 {
			return osdp.ReplyACK, nil
		}
		b := c.cards[0]
		c.cards = c.cards[1:]
		return osdp.ReplyRAW, b
	case osdp.CmdLED:
		leds, err := osdp.ParseLED(data)
		if err != nil {
			return nak(osdp.NakCommandLength)
		}
		c.mu.Lock()
		c.led = &leds[len(leds)-1]
		c.mu.Unlock()
	case osdp.CmdBUZ:
		if _, err := osdp.ParseBuzzer(data); err != nil {
			return nak(osdp.NakCommandLength)
		}
	case osdp.CmdTEXT:
		t, err := osdp.ParseText(data)
		if err != nil {
			return nak(osdp.NakCommandLength)
		}
		c.mu.Lock()
		c.text = t.Text
		c.mu.Unlock()
	default:
		return nak(osdp.NakUnknownCommand)
	}
	c.record(code, data)
	return osdp.ReplyACK, nil
}
