package ef01

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"ttpgate/devices/serialport"
)

// portLine is a serial port whose speed can change: SetBaud closes the port
// and opens it again at the new rate (go.bug.st/serial through
// devices/serialport has no speed change on an open port).
type portLine struct {
	mu   sync.Mutex
	path string
	p    *serialport.Port
}

func (l *portLine) port() (*serialport.Port, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p == nil {
		return nil, fmt.Errorf("serial port %s: %w", l.path, serialport.ErrClosed)
	}
	return l.p, nil
}

func (l *portLine) Read(b []byte) (int, error) {
	p, err := l.port()
	if err != nil {
		return 0, err
	}
	return p.Read(b)
}

func (l *portLine) Write(b []byte) (int, error) {
	p, err := l.port()
	if err != nil {
		return 0, err
	}
	return p.Write(b)
}

func (l *portLine) SetReadTimeout(d time.Duration) error {
	p, err := l.port()
	if err != nil {
		return err
	}
	return p.SetReadTimeout(d)
}

// SetBaud reopens the port at baud.
func (l *portLine) SetBaud(baud int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p != nil {
		_ = l.p.Close()
		l.p = nil
	}
	p, err := serialport.Open(l.path, baud)
	if err != nil {
		return err
	}
	l.p = p
	return nil
}

func (l *portLine) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.p == nil {
		return nil
	}
	err := l.p.Close()
	l.p = nil
	return err
}

// ProbeOrder returns the baud rates Open tries, in order: the configured
// rate (a module this driver set up before is already there), the factory
// 57600, then every other rate the modules accept, fastest first.
func ProbeOrder(target int) []int {
	out := []int{target}
	if target != DefaultBaud {
		out = append(out, DefaultBaud)
	}
	for n := MaxBaud / baudUnit; n >= 1; n-- {
		if b := n * baudUnit; b != target && b != DefaultBaud {
			out = append(out, b)
		}
	}
	return out
}

// Open opens the serial port at path (a USB-UART adapter such as
// /dev/ttyUSB0, or the terminal side of a simulator's pseudo-terminal),
// finds the module at whatever baud rate it is set to (ProbeOrder), checks
// the password, reads the system parameters, sets the packet size and
// switches module and line to opts.Baud. Errors wrap ErrOffline (nothing
// answers at any rate, or the port cannot be opened) or ErrConfig (wrong
// password, settings refused).
func Open(path string, opts Options) (*Module, error) {
	return OpenContext(context.Background(), path, opts)
}

// OpenContext is Open with a context bounding the search.
func OpenContext(ctx context.Context, path string, opts Options) (*Module, error) {
	opts = opts.withDefaults()
	if err := opts.check(); err != nil {
		return nil, err
	}
	line := &portLine{path: path}
	m := &Module{rw: line, closer: line, opts: opts, addr: opts.Address, rbuf: make([]byte, 1024)}
	var lastErr error
	found := false
	for _, baud := range ProbeOrder(opts.Baud) {
		if err := m.switchLine(line, baud); err != nil {
			// A rate the adapter cannot do (or the port is missing).
			lastErr = err
			m.logf("ef01: open %s at %d baud: %v", path, baud, err)
			continue
		}
		err := m.verifyPassword(ctx, opts.ProbeTimeout)
		if err == nil {
			found = true
			break
		}
		lastErr = err
		if ctx.Err() != nil {
			line.Close()
			return nil, err
		}
		if !errors.Is(err, ErrOffline) {
			// The module answered at this rate but refused us.
			line.Close()
			return nil, fmt.Errorf("ef01: open %s: module found at %d baud: %w", path, baud, err)
		}
	}
	if !found {
		line.Close()
		return nil, fmt.Errorf("ef01: open %s: no module answered at address %08X at any baud rate 9600..115200 (last: %w)", path, opts.Address, lastErr)
	}
	m.logf("ef01: module found on %s at %d baud", path, m.baud)
	if err := m.configure(ctx); err != nil {
		line.Close()
		return nil, fmt.Errorf("ef01: open %s: %w", path, err)
	}
	return m, nil
}
