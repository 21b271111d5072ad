// Package serialport opens serial lines for the gate's devices. It wraps
// go.bug.st/serial so that callers see a read timeout as an error
// (ErrTimeout) instead of the library's (0, nil), a closed or vanished port
// as ErrClosed, and it lists the machine's ports with their USB identity.
//
// Pseudo-terminals: go.bug.st/serial's Open issues TCGETS/TCSETS, TIOCEXCL
// and, when asked, TIOCMGET/TIOCMSET. On Linux the first three work on the
// slave side of a pty (checked by this package's tests, which run against a
// github.com/creack/pty pair); the modem-bit ioctls fail with ENOTTY/EINVAL
// on a pty, so Open never asks for initial modem bits.
package serialport

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"go.bug.st/serial"
	"go.bug.st/serial/enumerator"
)

// timeoutError is the type of ErrTimeout. It implements Timeout() so that
// code which does not import this package (for example the OSDP control
// panel) can recognise it with interface{ Timeout() bool }, as it recognises
// os.ErrDeadlineExceeded and net timeouts.
type timeoutError struct{}

// Error describes the timeout.
func (timeoutError) Error() string { return "serial read timed out" }

// Timeout reports true: this error is a timeout.
func (timeoutError) Timeout() bool { return true }

// Temporary reports true: reading again may succeed.
func (timeoutError) Temporary() bool { return true }

// ErrTimeout is returned (wrapped) by Port.Read when no byte arrived within
// the read timeout. Check it with errors.Is(err, serialport.ErrTimeout) or
// through its Timeout() bool method.
var ErrTimeout error = timeoutError{}

// ErrClosed is returned (wrapped) by Port.Read and Port.Write after the port
// was closed, or when the device vanished (a USB adapter was unplugged, the
// other end of a pseudo-terminal closed). The caller should Close the Port
// and reopen it, with backoff.
var ErrClosed = errors.New("serial port closed or disconnected")

// Port is an open serial line. Read and Write may be called from different
// goroutines (one reader, one writer); Close may be called from any
// goroutine and unblocks a pending Read.
type Port struct {
	path string
	p    serial.Port
}

// Open opens the serial device at path (for example /dev/ttyUSB0, or the
// slave side of a pseudo-terminal) in raw mode, 8 data bits, no parity,
// 1 stop bit, no flow control, at the given baud rate. Reads block until at
// least one byte arrives, unless SetReadTimeout sets a timeout.
func Open(path string, baud int) (*Port, error) {
	if baud <= 0 {
		return nil, fmt.Errorf("serialport: open %s: baud rate %d: expected a positive rate such as 9600, 38400 or 115200", path, baud)
	}
	mode := &serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}
	p, err := serial.Open(path, mode)
	if err != nil {
		return nil, fmt.Errorf("serialport: open %s at %d baud: %w", path, baud, err)
	}
	return &Port{path: path, p: p}, nil
}

// Path returns the device path the port was opened with.
func (p *Port) Path() string { return p.path }

// Read reads up to len(b) bytes. When a read timeout is set and nothing
// arrived in time it returns 0 and an error wrapping ErrTimeout; when the port
// is closed or the device vanished it returns an error wrapping ErrClosed.
func (p *Port) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, err := p.p.Read(b)
	if err != nil {
		return n, p.wrap("read", err)
	}
	if n == 0 {
		return 0, fmt.Errorf("serialport: read %s: %w", p.path, ErrTimeout)
	}
	return n, nil
}

// Write writes b to the line. It returns an error wrapping ErrClosed when the
// port is closed or the device vanished.
func (p *Port) Write(b []byte) (int, error) {
	n, err := p.p.Write(b)
	if err != nil {
		return n, p.wrap("write", err)
	}
	if n < len(b) {
		return n, fmt.Errorf("serialport: write %s: short write, %d of %d bytes", p.path, n, len(b))
	}
	return n, nil
}

// SetReadTimeout sets how long Read waits for the first byte. A zero or
// negative duration means wait forever.
func (p *Port) SetReadTimeout(d time.Duration) error {
	if d <= 0 {
		d = serial.NoTimeout
	}
	if err := p.p.SetReadTimeout(d); err != nil {
		return fmt.Errorf("serialport: set read timeout on %s: %w", p.path, err)
	}
	return nil
}

// Close closes the port and unblocks a pending Read. Closing twice is not an
// error.
func (p *Port) Close() error {
	if err := p.p.Close(); err != nil {
		return fmt.Errorf("serialport: close %s: %w", p.path, err)
	}
	return nil
}

func (p *Port) wrap(op string, err error) error {
	var pe *serial.PortError
	if errors.As(err, &pe) && pe.Code() == serial.PortClosed {
		return fmt.Errorf("serialport: %s %s: %w", op, p.path, ErrClosed)
	}
	// EIO: the device went away (USB unplug, pty master closed).
	if errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ENXIO) || errors.Is(err, syscall.EBADF) {
		return fmt.Errorf("serialport: %s %s: %w (%v)", op, p.path, ErrClosed, err)
	}
	return fmt.Errorf("serialport: %s %s: %w", op, p.path, err)
}

// PortInfo describes one serial port found on the machine.
type PortInfo struct {
	// Name is the device path, for example /dev/ttyUSB0.
	Name string
	// IsUSB tells whether the port is a USB serial adapter.
	IsUSB bool
	// VID and PID are the USB vendor and product ids in hex, when known.
	VID, PID string
	// SerialNumber is the USB serial number, when known.
	SerialNumber string
	// Product is the USB product string, when known.
	Product string
}

// List returns the serial ports of the machine with their USB identity, as
// go.bug.st/serial/enumerator finds them. A machine with no ports returns an
// empty list and no error.
func List() ([]PortInfo, error) {
	ports, err := enumerator.GetDetailedPortsList()
	if err != nil {
		return nil, fmt.Errorf("serialport: list ports: %w", err)
	}
	out := make([]PortInfo, 0, len(ports))
	for _, d := range ports {
		out = append(out, PortInfo{Name: d.Name, IsUSB: d.IsUSB, VID: d.VID, PID: d.PID, SerialNumber: d.SerialNumber, Product: d.Product})
	}
	return out, nil
}
