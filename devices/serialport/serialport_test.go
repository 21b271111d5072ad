package serialport

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// openPTY returns the master side of a new pseudo-terminal and the slave side
// opened through Open, the way gatesim and the tests use it.
func openPTY(t *testing.T) (master io.ReadWriteCloser, port *Port) {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Fatalf("pty.Open: %v", err)
	}
	port, err = Open(s.Name(), 115200)
	// The slave fd from pty.Open is no longer needed once the port holds its
	// own descriptor; closing it after Open keeps the line alive.
	s.Close()
	if err != nil {
		m.Close()
		t.Fatalf("Open(%s) on a pty slave: %v", s.Name(), err)
	}
	t.Cleanup(func() { port.Close(); m.Close() })
	return m, port
}

func TestPTYRoundTrip(t *testing.T) {
	m, p := openPTY(t)
	if err := p.SetReadTimeout(2 * time.Second); err != nil {
		t.Fatalf("SetReadTimeout: %v", err)
	}
	// Every byte value must pass unchanged in both directions (raw mode: no
	// CR/LF translation, no echo, no flow-control characters eaten).
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	if _, err := m.Write(all); err != nil {
		t.Fatalf("master write: %v", err)
	}
	got := make([]byte, 0, 256)
	buf := make([]byte, 64)
	for len(got) < len(all) {
		n, err := p.Read(buf)
		if err != nil {
			t.Fatalf("port read after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, all) {
		t.Fatalf("master→port bytes changed:\n got %x\nwant %x", got, all)
	}

	if _, err := p.Write(all); err != nil {
		t.Fatalf("port write: %v", err)
	}
	got = got[:0]
	for len(got) < len(all) {
		n, err := m.Read(buf)
		if err != nil {
			t.Fatalf("master read after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, all) {
		t.Fatalf("port→master bytes changed:\n got %x\nwant %x", got, all)
	}
}

func TestReadTimeoutIsAnError(t *testing.T) {
	_, p := openPTY(t)
	if err := p.SetReadTimeout(30 * time.Millisecond); err != nil {
		t.Fatalf("SetReadTimeout: %v", err)
	}
	n, err := p.Read(make([]byte, 8))
	if n != 0 || !errors.Is(err, ErrTimeout) {
		t.Fatalf("Read on a silent line = (%d, %v), want (0, ErrTimeout)", n, err)
	}
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() {
		t.Fatalf("timeout error %v does not report Timeout() == true", err)
	}
}

func TestCloseUnblocksRead(t *testing.T) {
	_, p := openPTY(t)
	done := make(chan error, 1)
	go func() {
		_, err := p.Read(make([]byte, 8))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	p.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Read after Close returned %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read still blocked 5 s after Close")
	}
}

func TestMasterGoneIsErrClosed(t *testing.T) {
	m, p := openPTY(t)
	if err := p.SetReadTimeout(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	m.Close()
	_, err := p.Read(make([]byte, 8))
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after the pty master closed returned %v, want ErrClosed", err)
	}
}

func TestOpenErrorsNameThePath(t *testing.T) {
	_, err := Open("/dev/does-not-exist-ttpgate", 9600)
	if err == nil || !strings.Contains(err.Error(), "/dev/does-not-exist-ttpgate") {
		t.Fatalf("Open of a missing device: err = %v, want an error naming the path", err)
	}
	_, err = Open("/dev/null", 0)
	if err == nil || !strings.Contains(err.Error(), "baud") {
		t.Fatalf("Open with baud 0: err = %v, want an error about the baud rate", err)
	}
}

func TestList(t *testing.T) {
	ports, err := List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, p := range ports {
		if p.Name == "" {
			t.Errorf("List returned a port without a name: %+v", p)
		}
	}
	t.Logf("%d serial ports found", len(ports))
}
