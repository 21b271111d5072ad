package faultlink

import (
	"bytes"
	"io"
	"testing"
	"time"
)

func readN(t *testing.T, r io.Reader, n int) []byte {
	t.Helper()
	out := make([]byte, 0, n)
	buf := make([]byte, 64)
	deadline := time.Now().Add(5 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		k, err := r.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, buf[:k]...)
	}
	return out
}

func TestCleanLineDeliversInOrder(t *testing.T) {
	a, b, l := New(Config{})
	defer l.Close()
	msg := bytes.Repeat([]byte("0123456789"), 50)
	a.Write(msg)
	if got := readN(t, b, len(msg)); !bytes.Equal(got, msg) {
		t.Fatalf("got %q", got)
	}
	b.Write([]byte("back"))
	if got := readN(t, a, 4); string(got) != "back" {
		t.Fatalf("got %q", got)
	}
}

func TestFaultRatesAndDeterminism(t *testing.T) {
	run := func() ([]byte, Stats) {
		a, b, l := New(Config{Corrupt: 0.05, Drop: 0.05, Duplicate: 0.05, Seed: 7})
		defer l.Close()
		msg := make([]byte, 20000)
		a.Write(msg)
		st := l.Stats()
		want := len(msg) - int(st.Dropped) + int(st.Duplicated)
		return readN(t, b, want), st
	}
	got1, st1 := run()
	got2, st2 := run()
	if st1 != st2 || !bytes.Equal(got1, got2) {
		t.Fatal("same seed, different faults")
	}
	for name, v := range map[string]uint64{"corrupted": st1.Corrupted, "dropped": st1.Dropped, "duplicated": st1.Duplicated} {
		if v < 700 || v > 1300 {
			t.Errorf("%s %d of 20000 bytes at 5%%", name, v)
		}
	}
	nonzero := 0
	for _, c := range got1 {
		if c != 0 {
			nonzero++
		}
	}
	if nonzero == 0 {
		t.Fatal("no corrupted byte arrived")
	}
}

func TestBaudRateEmulation(t *testing.T) {
	// 1000 bytes at 115200 baud take 86.8 ms (100 ms at speedup 1 give or
	// take scheduling); at speedup 10, about a tenth.
	for _, c := range []struct {
		speedup  float64
		min, max time.Duration
	}{{1, 80 * time.Millisecond, 2 * time.Second}, {10, 8 * time.Millisecond, time.Second}} {
		a, b, l := New(Config{Baud: 115200, Speedup: c.speedup})
		start := time.Now()
		a.Write(make([]byte, 1000))
		readN(t, b, 1000)
		if d := time.Since(start); d < c.min || d > c.max {
			t.Errorf("speedup %v: 1000 bytes took %v, want %v-%v", c.speedup, d, c.min, c.max)
		}
		l.Close()
	}
}

func TestCloseEndsReads(t *testing.T) {
	a, b, _ := New(Config{})
	done := make(chan error, 1)
	go func() { _, err := b.Read(make([]byte, 8)); done <- err }()
	time.Sleep(10 * time.Millisecond)
	a.Close()
	select {
	case err := <-done:
		if err != io.EOF {
			t.Fatalf("Read after Close: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Read did not return after Close")
	}
	if _, err := a.Write([]byte{1}); err != ErrClosed {
		t.Fatalf("Write after Close: %v", err)
	}
}
