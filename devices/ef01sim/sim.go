// Package ef01sim simulates a ZhianTec-family fingerprint module (R30x,
// AS608: the EF01 packet protocol of ttpgate/devices/ef01) over any
// io.ReadWriter, usually the master side of a pseudo-terminal whose
// terminal side the driver opens as a serial port. It serves real images
// (LoadPNG converts the shared test PNGs to the module's 256x288 4-bit
// upload) and plays scripted behaviours: a finger that is not yet on the
// glass, a wet or dry capture, a "poor image" answer, a lost or corrupted
// data packet, a module that stops mid-image, a wrong password, a baud-rate
// change.
//
// A pseudo-terminal has no baud rate: bytes pass as fast as the kernel
// copies them. With Config.Pace the simulator holds every byte it sends to
// the time it would take on a real 8N1 line at the module's current rate
// (ten bit times per byte; 36,864 image bytes in 256-byte packets are
// 38,448 bytes on the wire: 6.68 s at 57600, 3.34 s at 115200) and waits a
// command's byte time before answering it. With Config.LineSpeed it reads
// the speed the host set on the terminal side (termios, see PTYLineSpeed)
// and, like a real UART, hears only garbage when the two rates differ.
// The gate daemon never imports this package.
package ef01sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"ttpgate/devices/ef01"
)

// Config describes the simulated module.
type Config struct {
	// Address is the module's address; 0 means ef01.DefaultAddress.
	Address uint32
	// Password is the module's password (factory 0). A module with a
	// non-zero password answers 0x21 to every command but VfyPwd until the
	// password was verified.
	Password uint32
	// Baud is the rate the module is set to at start; 0 means 57600.
	Baud int
	// PacketSize is the data packet size at start; 0 means 128 (factory).
	PacketSize int
	// Pace holds the module's writes to the line's byte time (see the
	// package documentation). Off, the simulator writes as fast as the
	// pseudo-terminal takes bytes (for quick tests).
	Pace bool
	// LineSpeed, if set, returns the host side's line speed; bytes that
	// arrive while it differs from the module's rate are garbage.
	LineSpeed func() (int, error)
	// AuraLED gives the module an LED ring (AuraLedConfig). Without it the
	// module answers AuraLedConfig with confirmation 0xFC (unsupported).
	AuraLED bool
	// CaptureTime is how long GenImg takes with a finger on the glass
	// (the sensor's exposure); 0 answers at once.
	CaptureTime time.Duration
	// Image is served by fingers placed without their own image.
	Image []byte
}

// Finger is one placement of a finger on the glass, with the faults it
// brings.
type Finger struct {
	// Image is the packed 4-bit image (ef01.ImageBytes); nil uses
	// Config.Image.
	Image []byte
	// NoFingerPolls: GenImg answers "no finger" this many times before the
	// finger is on the glass.
	NoFingerPolls int
	// Confirm, if non-zero, is GenImg's answer instead of an image (for
	// example ef01.ConfImageFail, a smeared or wet capture); the finger is
	// then lifted.
	Confirm byte
	// DropPacket is the 1-based index of a data packet the module loses
	// (never sent); 0 none.
	DropPacket int
	// CorruptPacket is the 1-based index of a data packet sent with a bad
	// checksum; 0 none.
	CorruptPacket int
	// StopAfter, if > 0, makes the module stop sending after this many
	// data packets (no end packet).
	StopAfter int
	// Dead, with StopAfter, keeps the module silent afterwards (a module
	// that hung or lost power) until Revive.
	Dead bool
	// Bytes, if > 0, sends this many image bytes instead of
	// ef01.ImageBytes (a module or firmware with another image size).
	Bytes int
}

// Stats counts what the simulator did.
type Stats struct {
	Commands     uint64 // commands handled
	Ignored      uint64 // packets for another address, not commands, or while dead
	GarbledBytes uint64 // bytes received while the host's rate differed
	Uploads      uint64 // UpImage answered
	DataPackets  uint64 // data packets sent
	BytesSent    uint64 // all bytes written
	Polls        uint64 // GenImg commands
	LEDs         uint64 // AuraLedConfig accepted
	Link         ef01.StreamStats
}

// Sim is a simulated module. Its methods are safe for concurrent use with
// Serve.
type Sim struct {
	mu       sync.Mutex
	cfg      Config
	para     ef01.SysPara
	queue    []Finger
	buffer   *Finger // the finger whose image is in the image buffer
	verified bool
	dead     bool
	powered  bool
	led      ef01.LED
	stats    Stats
	lineFree time.Time // pacing: when the line finishes the bytes written
}

// New returns a simulated module.
func New(cfg Config) (*Sim, error) {
	if cfg.Address == 0 {
		cfg.Address = ef01.DefaultAddress
	}
	if cfg.Baud == 0 {
		cfg.Baud = ef01.DefaultBaud
	}
	if cfg.PacketSize == 0 {
		cfg.PacketSize = 128
	}
	if !ef01.ValidBaud(cfg.Baud) {
		return nil, fmt.Errorf("ef01sim: baud rate %d: expected N x 9600 up to 115200", cfg.Baud)
	}
	if !ef01.ValidPacketSize(cfg.PacketSize) {
		return nil, fmt.Errorf("ef01sim: packet size %d: expected 32, 64, 128 or 256", cfg.PacketSize)
	}
	if cfg.Image != nil && len(cfg.Image) != ef01.ImageBytes {
		return nil, fmt.Errorf("ef01sim: image of %d bytes, expected %d", len(cfg.Image), ef01.ImageBytes)
	}
	return &Sim{
		cfg:     cfg,
		powered: true,
		para: ef01.SysPara{
			SystemID: 0x0009, LibrarySize: 300, SecurityLevel: 3,
			Address: cfg.Address, PacketSize: cfg.PacketSize, Baud: cfg.Baud,
		},
	}, nil
}

// Place puts a finger on the glass (after its NoFingerPolls). Fingers
// queue: each GenImg that takes an image, or answers Confirm, lifts one.
func (s *Sim) Place(f Finger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, f)
}

// Pending returns the number of fingers placed and not yet taken.
func (s *Sim) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Revive brings a module that went dead (Finger.Dead) back.
func (s *Sim) Revive() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead = false
}

// SetPowered powers the module off (silent) or on (fresh: password to
// verify again, image buffer empty, settings kept as in flash).
func (s *Sim) SetPowered(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on && !s.powered {
		s.verified, s.buffer, s.dead = false, nil, false
	}
	s.powered = on
}

// Baud returns the module's current rate.
func (s *Sim) Baud() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.para.Baud
}

// PacketSize returns the module's current data packet size.
func (s *Sim) PacketSize() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.para.PacketSize
}

// LED returns the last LED setting accepted.
func (s *Sim) LED() ef01.LED {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.led
}

// Stats returns the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *Sim) byteTime() time.Duration {
	return time.Duration(10 * float64(time.Second) / float64(s.para.Baud))
}

// Serve answers commands read from rw until ctx ends or rw fails. To stop
// it, cancel ctx and close rw (a read in progress only ends when rw is
// closed).
func (s *Sim) Serve(ctx context.Context, rw io.ReadWriter) error {
	type chunk struct {
		b   []byte
		err error
	}
	chunks := make(chan chunk)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			buf := make([]byte, 512)
			n, err := rw.Read(buf)
			if err != nil && isTimeout(err) && n == 0 {
				continue
			}
			select {
			case chunks <- chunk{buf[:n], err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	var sp ef01.Splitter
	for {
		var c chunk
		select {
		case <-ctx.Done():
			return ctx.Err()
		case c = <-chunks:
		}
		if len(c.b) > 0 {
			if s.garbled(len(c.b)) {
				continue
			}
			sp.Feed(c.b)
		}
		for {
			p, err := sp.Next()
			if err != nil {
				break
			}
			if err := s.handle(ctx, rw, p); err != nil {
				return err
			}
		}
		s.mu.Lock()
		s.stats.Link = sp.Stats()
		s.mu.Unlock()
		if c.err != nil {
			if errors.Is(c.err, io.EOF) {
				return nil
			}
			return c.err
		}
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// garbled tells whether bytes arriving now are garbage because the host's
// line speed differs from the module's.
func (s *Sim) garbled(n int) bool {
	if s.cfg.LineSpeed == nil {
		return false
	}
	speed, err := s.cfg.LineSpeed()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || speed == s.para.Baud {
		return false
	}
	s.stats.GarbledBytes += uint64(n)
	return true
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// write sends one packet, paced to the line when configured: the bytes are
// released in 32-byte slices at the times their last bit would arrive (a
// USB-UART adapter delivers bursts like these).
func (s *Sim) write(ctx context.Context, w io.Writer, b []byte) error {
	if !s.cfg.Pace {
		_, err := w.Write(b)
		s.mu.Lock()
		s.stats.BytesSent += uint64(len(b))
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	bt := s.byteTime()
	s.mu.Unlock()
	// A line idle for a while starts now; otherwise bytes follow the
	// previous packet back to back (a timer that fired late must not add
	// its lateness to every packet of an upload).
	if now := time.Now(); s.lineFree.Before(now.Add(-5 * time.Millisecond)) {
		s.lineFree = now
	}
	for len(b) > 0 {
		k := min(32, len(b))
		s.lineFree = s.lineFree.Add(time.Duration(k) * bt)
		sleep(ctx, time.Until(s.lineFree))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, err := w.Write(b[:k]); err != nil {
			return err
		}
		s.mu.Lock()
		s.stats.BytesSent += uint64(k)
		s.mu.Unlock()
		b = b[k:]
	}
	return nil
}

func (s *Sim) reply(ctx context.Context, w io.Writer, pid byte, payload []byte) error {
	s.mu.Lock()
	addr := s.para.Address
	s.mu.Unlock()
	b, err := ef01.Encode(ef01.Packet{Addr: addr, PID: pid, Payload: payload})
	if err != nil {
		return err
	}
	return s.write(ctx, w, b)
}

func (s *Sim) ack(ctx context.Context, w io.Writer, code byte, data ...byte) error {
	return s.reply(ctx, w, ef01.PIDAck, append([]byte{code}, data...))
}

// handle answers one packet.
func (s *Sim) handle(ctx context.Context, w io.Writer, p ef01.Packet) error {
	s.mu.Lock()
	if !s.powered || s.dead || p.Addr != s.para.Address || p.PID != ef01.PIDCommand {
		s.stats.Ignored++
		s.mu.Unlock()
		return nil
	}
	s.stats.Commands++
	bt := s.byteTime()
	needPwd := s.cfg.Password != 0 && !s.verified
	s.mu.Unlock()
	if s.cfg.Pace {
		// The command took its byte time to arrive.
		sleep(ctx, time.Duration(p.Len())*bt)
	}
	ins, args := p.Payload[0], p.Payload[1:]
	if needPwd && ins != ef01.InsVfyPwd {
		return s.ack(ctx, w, ef01.ConfPasswordRequired)
	}
	switch ins {
	case ef01.InsVfyPwd:
		if len(args) != 4 {
			return s.ack(ctx, w, ef01.ConfPacketReceive)
		}
		pw := uint32(args[0])<<24 | uint32(args[1])<<16 | uint32(args[2])<<8 | uint32(args[3])
		if pw != s.cfg.Password {
			return s.ack(ctx, w, ef01.ConfWrongPassword)
		}
		s.mu.Lock()
		s.verified = true
		s.mu.Unlock()
		return s.ack(ctx, w, ef01.ConfOK)
	case ef01.InsHandShake:
		return s.ack(ctx, w, ef01.ConfOK)
	case ef01.InsReadSysPara:
		s.mu.Lock()
		b := s.para.Marshal()
		s.mu.Unlock()
		return s.ack(ctx, w, ef01.ConfOK, b...)
	case ef01.InsSetSysPara:
		return s.setSysPara(ctx, w, args)
	case ef01.InsGenImg:
		return s.genImg(ctx, w)
	case ef01.InsUpImage:
		return s.upImage(ctx, w)
	case ef01.InsAuraLedConfig:
		if !s.cfg.AuraLED {
			return s.ack(ctx, w, ef01.ConfUnsupported)
		}
		if len(args) != 4 || args[0] < 1 || args[0] > 6 {
			return s.ack(ctx, w, ef01.ConfPacketReceive)
		}
		s.mu.Lock()
		s.led = ef01.LED{Mode: args[0], Speed: args[1], Color: args[2], Count: args[3]}
		s.stats.LEDs++
		s.mu.Unlock()
		return s.ack(ctx, w, ef01.ConfOK)
	}
	return s.ack(ctx, w, ef01.ConfUnsupported)
}

func (s *Sim) setSysPara(ctx context.Context, w io.Writer, args []byte) error {
	if len(args) != 2 {
		return s.ack(ctx, w, ef01.ConfPacketReceive)
	}
	switch args[0] {
	case ef01.ParamBaud:
		n := int(args[1])
		if n < 1 || n > 12 {
			return s.ack(ctx, w, ef01.ConfBadRegisterValue)
		}
		// Answer at the old rate, then switch.
		if err := s.ack(ctx, w, ef01.ConfOK); err != nil {
			return err
		}
		s.mu.Lock()
		s.para.Baud = n * 9600
		s.mu.Unlock()
		return nil
	case ef01.ParamSecurity:
		if args[1] < 1 || args[1] > 5 {
			return s.ack(ctx, w, ef01.ConfBadRegisterValue)
		}
		s.mu.Lock()
		s.para.SecurityLevel = uint16(args[1])
		s.mu.Unlock()
	case ef01.ParamPacketSize:
		if args[1] > 3 {
			return s.ack(ctx, w, ef01.ConfBadRegisterValue)
		}
		s.mu.Lock()
		s.para.PacketSize = 32 << args[1]
		s.mu.Unlock()
	default:
		return s.ack(ctx, w, ef01.ConfInvalidRegister)
	}
	return s.ack(ctx, w, ef01.ConfOK)
}

func (s *Sim) genImg(ctx context.Context, w io.Writer) error {
	s.mu.Lock()
	s.stats.Polls++
	if len(s.queue) == 0 {
		s.mu.Unlock()
		return s.ack(ctx, w, ef01.ConfNoFinger)
	}
	f := &s.queue[0]
	if f.NoFingerPolls > 0 {
		f.NoFingerPolls--
		s.mu.Unlock()
		return s.ack(ctx, w, ef01.ConfNoFinger)
	}
	taken := *f
	s.queue = s.queue[1:]
	if taken.Confirm != 0 {
		s.buffer = nil
		s.mu.Unlock()
		return s.ack(ctx, w, taken.Confirm)
	}
	if taken.Image == nil {
		taken.Image = s.cfg.Image
	}
	s.buffer = &taken
	s.mu.Unlock()
	sleep(ctx, s.cfg.CaptureTime)
	return s.ack(ctx, w, ef01.ConfOK)
}

func (s *Sim) upImage(ctx context.Context, w io.Writer) error {
	s.mu.Lock()
	f := s.buffer
	psize := s.para.PacketSize
	if f != nil {
		// Faults happen once; a second upload of the same buffer is clean.
		clean := Finger{Image: f.Image}
		s.buffer = &clean
	}
	s.stats.Uploads++
	s.mu.Unlock()
	if f == nil || f.Image == nil {
		return s.ack(ctx, w, ef01.ConfNoPrimaryImage)
	}
	if err := s.ack(ctx, w, ef01.ConfOK); err != nil {
		return err
	}
	img := f.Image
	if f.Bytes > 0 {
		img = make([]byte, f.Bytes)
		copy(img, f.Image)
	}
	for i := 1; len(img) > 0; i++ {
		k := min(psize, len(img))
		payload := img[:k]
		img = img[k:]
		pid := ef01.PIDData
		if len(img) == 0 {
			pid = ef01.PIDEndData
		}
		if f.StopAfter > 0 && i > f.StopAfter {
			if f.Dead {
				s.mu.Lock()
				s.dead = true
				s.mu.Unlock()
			}
			return nil
		}
		if i == f.DropPacket {
			continue
		}
		b, err := ef01.Encode(ef01.Packet{Addr: s.cfg.Address, PID: pid, Payload: payload})
		if err != nil {
			return err
		}
		if i == f.CorruptPacket {
			b[len(b)-1] ^= 0x5A
		}
		if err := s.write(ctx, w, b); err != nil {
			return err
		}
		s.mu.Lock()
		s.stats.DataPackets++
		s.mu.Unlock()
	}
	return nil
}
