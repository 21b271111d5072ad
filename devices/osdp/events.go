package osdp

import "time"

// Event is something a PD reported, or a change of a PD's state, delivered
// by ControlPanel.Events. Use a type switch on the concrete types PDOnline,
// PDOffline, CardRead, BioRead, InputStatus, OutputStatus and Keypad.
type Event interface {
	// Header returns the PD address and the arrival time of the event.
	Header() EventHeader
}

// EventHeader is embedded in every event.
type EventHeader struct {
	// Addr is the address of the PD the event is about.
	Addr byte
	// Time is when the control panel received the reply (Options.Now).
	Time time.Time
}

// Header returns h; it makes every event type an Event.
func (h EventHeader) Header() EventHeader { return h }

// PDOnline reports that a PD answered its ID and CAP requests: at start, or
// after it was offline.
type PDOnline struct {
	EventHeader
	// Name is the PD's configured name.
	Name string
	// ID is the PD's identification (PDID reply).
	ID PDID
	// Caps are the PD's capabilities (PDCAP reply).
	Caps []Capability
	// Secure tells whether the PD is spoken to over Secure Channel.
	Secure bool
	// DefaultKey tells whether that Secure Channel uses the default key
	// SCBK-D (install mode): install the PD's own key with KeySet.
	DefaultKey bool
}

// PDOffline reports that a PD gave no valid reply for Options.OfflineAfter,
// never answered since the control panel started, or answers but will not
// talk the way the configuration requires (no Secure Channel, another key).
type PDOffline struct {
	EventHeader
	// Name is the PD's configured name.
	Name string
	// Reason says why, in words.
	Reason string
}

// CardRead reports a card presented to a reader (RAW reply to a POLL).
type CardRead struct {
	EventHeader
	// Reader is the reader number on the PD.
	Reader byte
	// Number is the card number (see CardNumber), or "" when Err is set.
	Number string
	// Err says why the bits could not be turned into a card number.
	Err error
	// Raw is the card data as received.
	Raw RawCard
}

// BioRead reports a biometric sample (BIOREADR reply to a POLL) after a
// BIOREAD command.
type BioRead struct {
	EventHeader
	// Reader is the reader number on the PD.
	Reader byte
	// Status is BioStatusSuccess when Template holds a sample.
	Status byte
	// Type is the body part scanned (BioType*).
	Type byte
	// Quality is the sample quality reported by the PD.
	Quality byte
	// Format is the format the BIOREAD command asked for (BIOREADR does not
	// repeat it): BioFormatTemplate for a minutiae template.
	Format byte
	// Template is the sample data.
	Template []byte
}

// InputStatus reports the PD's inputs (ISTATR reply to a POLL, sent by the
// PD when an input changed).
type InputStatus struct {
	EventHeader
	// Inputs holds one byte per input, 1 active.
	Inputs Status
}

// OutputStatus reports the PD's outputs (OSTATR reply to a POLL).
type OutputStatus struct {
	EventHeader
	// Outputs holds one byte per output, 1 active.
	Outputs Status
}

// Keypad reports keys pressed on a reader's keypad (KEYPAD reply to a POLL).
type Keypad struct {
	EventHeader
	// Reader is the reader number on the PD.
	Reader byte
	// Keys are the keys pressed, as ASCII.
	Keys string
}
