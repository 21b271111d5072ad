package ef01sim

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// PTYLineSpeed returns a Config.LineSpeed for the master side of a
// pseudo-terminal: the output speed the host set on the terminal side with
// termios (on Linux the master's TCGETS2 reads the terminal side's
// settings, speed included, even a non-standard one).
func PTYLineSpeed(master *os.File) func() (int, error) {
	return func() (int, error) {
		rc, err := master.SyscallConn()
		if err != nil {
			return 0, err
		}
		var speed int
		var ierr error
		cerr := rc.Control(func(fd uintptr) {
			t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS2)
			if err != nil {
				ierr = err
				return
			}
			speed = int(t.Ospeed)
		})
		if cerr != nil {
			return 0, cerr
		}
		return speed, ierr
	}
}

// PTY is a simulator served on a pseudo-terminal.
type PTY struct {
	// Path is the terminal side: open it as a serial port (ef01.Open).
	Path   string
	master *os.File
	tty    *os.File
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

// ServePTY opens a pseudo-terminal and serves the module on its master
// side until Close. Unless the Config already has one, it sets
// cfg.LineSpeed to read the terminal side's speed (a host at the wrong baud
// rate is not heard). The terminal side stays open here too, so that the
// driver closing and reopening it (to change speed) does not hang up the
// line.
func ServePTY(ctx context.Context, cfg Config) (*Sim, *PTY, error) {
	master, tty, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("ef01sim: opening a pseudo-terminal: %w", err)
	}
	if cfg.LineSpeed == nil {
		cfg.LineSpeed = PTYLineSpeed(master)
	}
	s, err := New(cfg)
	if err != nil {
		master.Close()
		tty.Close()
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &PTY{Path: tty.Name(), master: master, tty: tty, cancel: cancel}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := s.Serve(ctx, master)
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
	}()
	return s, p, nil
}

// Err returns why serving stopped (nil while serving, or after Close).
func (p *PTY) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Close stops serving and closes the pseudo-terminal.
func (p *PTY) Close() error {
	p.cancel()
	err := p.master.Close()
	p.tty.Close()
	p.wg.Wait()
	return err
}
