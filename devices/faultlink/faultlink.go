// Package faultlink is a fault rig for tests and benchmarks: an in-memory,
// half-duplex serial line between a control panel and its PDs that
// corrupts, drops, duplicates and delays bytes at given rates, drawn from a
// seeded random number generator, and that can emulate the byte time of a
// real baud rate so that timings are realistic.
//
// New returns the two ends of the line; each is an io.ReadWriteCloser. A
// Write returns at once (as a UART's transmit buffer would); its bytes
// reach the other end one byte time apart, after any byte already on the
// wire in either direction (RS-485 is half duplex: one talker at a time).
package faultlink

import (
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"time"
)

// Config sets the faults and the speed of a line. Rates are per byte, 0-1.
type Config struct {
	// Corrupt is the probability that a byte arrives with 1 to 8 bits flipped.
	Corrupt float64
	// Drop is the probability that a byte is lost.
	Drop float64
	// Duplicate is the probability that a byte arrives twice.
	Duplicate float64
	// Delay is the probability that the line stalls before a byte for a
	// random time up to MaxDelay (the bytes after it wait too: order is kept).
	Delay float64
	// MaxDelay bounds a stall. Default 5 ms (of emulated time).
	MaxDelay time.Duration
	// Baud, when not 0, emulates that rate: a byte (start bit, 8 data bits,
	// stop bit) takes 10/Baud seconds of emulated time on the wire.
	Baud int
	// Speedup compresses emulated time: 10 runs the line ten times faster
	// than the emulated baud rate and stalls. Default 1.
	Speedup float64
	// Seed seeds the fault generator; the same seed and the same traffic
	// give the same faults.
	Seed uint64
}

// Stats counts what the line did to the bytes written to it.
type Stats struct {
	Bytes      uint64 // bytes written
	Corrupted  uint64
	Dropped    uint64
	Duplicated uint64
	Delayed    uint64
}

// ErrClosed is returned by Read and Write after Close.
var ErrClosed = errors.New("faultlink: line closed")

// Line is the shared wire. Its methods are safe for concurrent use.
type Line struct {
	mu       sync.Mutex
	cfg      Config
	rng      *rand.Rand
	byteTime time.Duration // real time per byte
	wireFree time.Time     // when the last byte on the wire has arrived
	stats    Stats
	closed   bool
	ends     [2]*End
}

// End is one end of the line: the control panel's or the PDs'.
type End struct {
	line *Line
	peer *End
	q    []timedByte // guarded by line.mu
	wake chan struct{}
}

type timedByte struct {
	at time.Time
	b  byte
}

// New returns a line and its two ends.
func New(cfg Config) (a, b *End, line *Line) {
	if cfg.Speedup <= 0 {
		cfg.Speedup = 1
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 5 * time.Millisecond
	}
	l := &Line{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9E3779B97F4A7C15))}
	if cfg.Baud > 0 {
		l.byteTime = time.Duration(float64(10*time.Second) / float64(cfg.Baud) / cfg.Speedup)
	}
	a = &End{line: l, wake: make(chan struct{}, 1)}
	b = &End{line: l, wake: make(chan struct{}, 1)}
	a.peer, b.peer = b, a
	l.ends = [2]*End{a, b}
	return a, b, l
}

// Stats returns the counters.
func (l *Line) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// SetConfig changes the fault rates (not the speed) from now on.
func (l *Line) SetConfig(c Config) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg.Corrupt, l.cfg.Drop, l.cfg.Duplicate, l.cfg.Delay = c.Corrupt, c.Drop, c.Duplicate, c.Delay
	if c.MaxDelay > 0 {
		l.cfg.MaxDelay = c.MaxDelay
	}
}

// Close closes both ends: pending and later Reads and Writes fail.
func (l *Line) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	for _, e := range l.ends {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// Close closes the line (both ends).
func (e *End) Close() error { return e.line.Close() }

// Write puts p on the wire towards the other end, applying the faults.
func (e *End) Write(p []byte) (int, error) {
	l := e.line
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	now := time.Now()
	t := l.wireFree
	if t.Before(now) {
		t = now
	}
	c := l.cfg
	for _, b := range p {
		l.stats.Bytes++
		if c.Delay > 0 && l.rng.Float64() < c.Delay {
			l.stats.Delayed++
			stall := time.Duration(l.rng.Int64N(int64(c.MaxDelay) + 1))
			t = t.Add(time.Duration(float64(stall) / c.Speedup))
		}
		t = t.Add(l.byteTime)
		if c.Drop > 0 && l.rng.Float64() < c.Drop {
			l.stats.Dropped++
			continue
		}
		if c.Corrupt > 0 && l.rng.Float64() < c.Corrupt {
			l.stats.Corrupted++
			b ^= byte(l.rng.IntN(255) + 1)
		}
		e.peer.q = append(e.peer.q, timedByte{t, b})
		if c.Duplicate > 0 && l.rng.Float64() < c.Duplicate {
			l.stats.Duplicated++
			t = t.Add(l.byteTime)
			e.peer.q = append(e.peer.q, timedByte{t, b})
		}
	}
	l.wireFree = t
	l.mu.Unlock()
	select {
	case e.peer.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// Read returns the bytes that have arrived, waiting for at least one.
func (e *End) Read(p []byte) (int, error) {
	l := e.line
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return 0, io.EOF
		}
		now := time.Now()
		n := 0
		for n < len(p) && n < len(e.q) && !e.q[n].at.After(now) {
			p[n] = e.q[n].b
			n++
		}
		if n > 0 {
			e.q = e.q[:copy(e.q, e.q[n:])]
			l.mu.Unlock()
			return n, nil
		}
		var wait <-chan time.Time
		if len(e.q) > 0 {
			d := e.q[0].at.Sub(now)
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			wait = timer.C
		}
		l.mu.Unlock()
		select {
		case <-e.wake:
		case <-wait:
		}
	}
}
