package ef01

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Image geometry of the modules' upload: 256 x 288 pixels, 4 bits per
// pixel, two pixels per byte, high nibble first, row by row.
const (
	ImageWidth  = 256
	ImageHeight = 288
	ImageBytes  = ImageWidth * ImageHeight / 2 // 36,864
)

// Baud rates: the module runs at N x 9600 baud, N = 1..12.
const (
	DefaultBaud = 57600  // the factory setting
	MaxBaud     = 115200 // the fastest the modules accept
	baudUnit    = 9600
)

// ValidBaud tells whether the modules accept this baud rate.
func ValidBaud(b int) bool { return b >= baudUnit && b <= MaxBaud && b%baudUnit == 0 }

// ValidPacketSize tells whether the modules accept this data packet size.
func ValidPacketSize(n int) bool { return n == 32 || n == 64 || n == 128 || n == 256 }

func packetSizeCode(n int) byte {
	switch n {
	case 32:
		return 0
	case 64:
		return 1
	case 128:
		return 2
	}
	return 3
}

// Options configure a Module. The zero value is a factory-set module
// (address 0xFFFFFFFF, password 0) driven at its fastest: 115200 baud and
// 256-byte data packets.
type Options struct {
	// Baud is the line speed to run at. Open finds the module at whatever
	// rate it is set to and, if different, switches it to Baud. 0 means
	// MaxBaud (115200). Must be a multiple of 9600 up to 115200.
	Baud int
	// Password is the module's 32-bit password (factory: 0).
	Password uint32
	// Address is the module's 32-bit address; 0 means DefaultAddress
	// (0xFFFFFFFF).
	Address uint32
	// PacketSize is the data packet size to set: 32, 64, 128 or 256;
	// 0 means 256 (the least overhead on the line). -1 keeps the module's.
	PacketSize int
	// CommandTimeout bounds the wait for an acknowledgement; 0 means 1 s.
	CommandTimeout time.Duration
	// ProbeTimeout bounds the wait at each baud rate while Open looks for
	// the module; 0 means 300 ms.
	ProbeTimeout time.Duration
	// Logf, if set, receives the driver's notes (baud changes, resyncs).
	Logf func(format string, args ...any)
}

func (o Options) withDefaults() Options {
	if o.Baud == 0 {
		o.Baud = MaxBaud
	}
	if o.Address == 0 {
		o.Address = DefaultAddress
	}
	if o.PacketSize == 0 {
		o.PacketSize = 256
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = time.Second
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 300 * time.Millisecond
	}
	return o
}

func (o Options) check() error {
	if !ValidBaud(o.Baud) {
		return fmt.Errorf("ef01: baud rate %d: %w: expected N x 9600 with N = 1..12 (9600..115200)", o.Baud, ErrConfig)
	}
	if o.PacketSize != -1 && !ValidPacketSize(o.PacketSize) {
		return fmt.Errorf("ef01: packet size %d: %w: expected 32, 64, 128 or 256", o.PacketSize, ErrConfig)
	}
	return nil
}

// SysPara are the module's system parameters (ReadSysPara).
type SysPara struct {
	Status        uint16 // status register: bit 0 busy, 1 matched, 2 password verified, 3 image buffer valid
	SystemID      uint16
	LibrarySize   uint16 // templates the module's own library holds
	SecurityLevel uint16 // 1..5
	Address       uint32
	PacketSize    int // data packet size in bytes
	Baud          int // baud rate the module is set to
}

// ParseSysPara decodes the 16 bytes that follow the confirmation code in
// the answer to ReadSysPara.
func ParseSysPara(b []byte) (SysPara, error) {
	if len(b) < 16 {
		return SysPara{}, fmt.Errorf("%w: ReadSysPara answer of %d bytes, expected 16", ErrProtocol, len(b))
	}
	u16 := func(i int) uint16 { return uint16(b[i])<<8 | uint16(b[i+1]) }
	p := SysPara{
		Status: u16(0), SystemID: u16(2), LibrarySize: u16(4), SecurityLevel: u16(6),
		Address: uint32(b[8])<<24 | uint32(b[9])<<16 | uint32(b[10])<<8 | uint32(b[11]),
		Baud:    int(u16(14)) * baudUnit,
	}
	code := u16(12)
	if code > 3 {
		return p, fmt.Errorf("%w: ReadSysPara packet size code %d, expected 0..3", ErrProtocol, code)
	}
	p.PacketSize = 32 << code
	return p, nil
}

// Marshal encodes the parameters as ReadSysPara answers them (16 bytes).
func (p SysPara) Marshal() []byte {
	code := packetSizeCode(p.PacketSize)
	n := p.Baud / baudUnit
	return []byte{
		byte(p.Status >> 8), byte(p.Status), byte(p.SystemID >> 8), byte(p.SystemID),
		byte(p.LibrarySize >> 8), byte(p.LibrarySize), byte(p.SecurityLevel >> 8), byte(p.SecurityLevel),
		byte(p.Address >> 24), byte(p.Address >> 16), byte(p.Address >> 8), byte(p.Address),
		0, code, byte(n >> 8), byte(n),
	}
}

// BaudSetter is implemented by lines whose speed the driver can change (the
// serial line Open opens). A Module over a line without it cannot change
// the module's baud rate.
type BaudSetter interface {
	SetBaud(baud int) error
}

// Stats counts what a Module did.
type Stats struct {
	Commands     uint64 // commands sent
	Timeouts     uint64 // commands without an answer in time
	Retries      uint64 // commands repeated after "packet receive error"
	StalePackets uint64 // packets dropped while waiting for an answer (late answers, leftovers)
	ForeignAddr  uint64 // packets from another address
	Captures     uint64 // images uploaded whole
	BadUploads   uint64 // uploads lost, short, long or cut
	Link         StreamStats
	Baud         int // current line speed
	PacketSize   int // current data packet size
}

// Module is one fingerprint module on a line. Its methods serialise on a
// mutex; a Module is safe for concurrent use but one command runs at a
// time.
type Module struct {
	mu     sync.Mutex
	rw     io.ReadWriter
	closer io.Closer
	opts   Options
	addr   uint32
	sp     Splitter
	rbuf   []byte
	wbuf   []byte
	baud   int
	para   SysPara
	dirty  bool
	noAura bool
	stats  Stats
}

type readDeadliner interface{ SetReadDeadline(time.Time) error }
type readTimeouter interface {
	SetReadTimeout(time.Duration) error
}

// readSlice is how long one Read may block before the driver checks its
// deadline and context again.
const readSlice = 25 * time.Millisecond

// New returns a Module over rw, which must already run at the module's baud
// rate (given as opts.Baud, the rate New assumes). Timeouts and context
// cancellation need a line whose reads time out: one with
// SetReadTimeout(time.Duration) (devices/serialport.Port: New sets a short
// timeout) or SetReadDeadline(time.Time) (net.Conn, os.File); over any
// other reader a read blocks until bytes arrive. New does no I/O: call
// Connect to check the password and read the parameters.
func New(rw io.ReadWriter, opts Options) (*Module, error) {
	opts = opts.withDefaults()
	if err := opts.check(); err != nil {
		return nil, err
	}
	m := &Module{rw: rw, opts: opts, addr: opts.Address, rbuf: make([]byte, 1024), baud: opts.Baud}
	if err := m.lineReady(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Module) lineReady() error {
	if t, ok := m.rw.(readTimeouter); ok {
		if err := t.SetReadTimeout(readSlice); err != nil {
			return fmt.Errorf("ef01: %w: %w", ErrOffline, err)
		}
	}
	return nil
}

func (m *Module) logf(format string, args ...any) {
	if m.opts.Logf != nil {
		m.opts.Logf(format, args...)
	}
}

// Close closes the line if the Module opened it (Open); a Module from New
// leaves its ReadWriter to the caller.
func (m *Module) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closer != nil {
		return m.closer.Close()
	}
	return nil
}

// Stats returns the counters.
func (m *Module) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.Link = m.sp.Stats()
	s.Baud = m.baud
	s.PacketSize = m.para.PacketSize
	return s
}

// Baud returns the current line speed.
func (m *Module) Baud() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.baud
}

// Params returns the system parameters last read.
func (m *Module) Params() SysPara {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.para
}

var errReadTimeout = errors.New("read timed out")

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// readPacket returns the next valid packet from the module's address.
func (m *Module) readPacket(ctx context.Context, deadline time.Time) (Packet, error) {
	dl, hasDeadline := m.rw.(readDeadliner)
	for {
		p, err := m.sp.Next()
		if err == nil {
			if p.Addr != m.addr {
				m.stats.ForeignAddr++
				continue
			}
			return p, nil
		}
		if err := ctx.Err(); err != nil {
			m.dirty = true
			return Packet{}, err
		}
		now := time.Now()
		if !now.Before(deadline) {
			return Packet{}, errReadTimeout
		}
		if hasDeadline {
			d := now.Add(readSlice)
			if deadline.Before(d) {
				d = deadline
			}
			_ = dl.SetReadDeadline(d)
		}
		n, rerr := m.rw.Read(m.rbuf)
		if n > 0 {
			m.sp.Feed(m.rbuf[:n])
		}
		if rerr != nil && !isTimeout(rerr) {
			m.dirty = true
			return Packet{}, fmt.Errorf("ef01: reading the line: %w: %w", ErrOffline, rerr)
		}
	}
}

// drain discards what the module still sends after an aborted exchange,
// until the line is quiet for a moment (bounded).
func (m *Module) drain(ctx context.Context) {
	if !m.dirty {
		return
	}
	m.dirty = false
	quiet := 30 * time.Millisecond
	end := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(end) && ctx.Err() == nil {
		before := m.sp.Stats()
		buffered := m.sp.Buffered()
		_, err := m.readPacket(ctx, time.Now().Add(quiet))
		if errors.Is(err, errReadTimeout) && m.sp.Buffered() == buffered && m.sp.Stats() == before {
			break
		}
		if err == nil {
			m.stats.StalePackets++
		}
		if err != nil && !errors.Is(err, errReadTimeout) {
			break
		}
	}
	m.sp.Reset()
}

func (m *Module) send(pid byte, payload []byte) error {
	var err error
	m.wbuf, err = AppendEncode(m.wbuf[:0], Packet{Addr: m.addr, PID: pid, Payload: payload})
	if err != nil {
		return err
	}
	if _, err := m.rw.Write(m.wbuf); err != nil {
		m.dirty = true
		return fmt.Errorf("ef01: writing the line: %w: %w", ErrOffline, err)
	}
	return nil
}

// transact sends one command and returns the acknowledgement's payload
// after the confirmation code. A non-zero code is a *ConfirmationError. A
// "packet receive error" answer is retried once.
func (m *Module) transact(ctx context.Context, timeout time.Duration, ins byte, params ...byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		res, err := m.transactOnce(ctx, timeout, ins, params)
		var ce *ConfirmationError
		if attempt == 0 && errors.As(err, &ce) && ce.Code == ConfPacketReceive {
			m.stats.Retries++
			continue
		}
		return res, err
	}
}

func (m *Module) transactOnce(ctx context.Context, timeout time.Duration, ins byte, params []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.drain(ctx)
	m.sp.Reset()
	payload := append([]byte{ins}, params...)
	m.stats.Commands++
	if err := m.send(PIDCommand, payload); err != nil {
		return nil, fmt.Errorf("ef01: %s: %w", InstructionName(ins), err)
	}
	deadline := time.Now().Add(timeout)
	for {
		p, err := m.readPacket(ctx, deadline)
		if errors.Is(err, errReadTimeout) {
			m.stats.Timeouts++
			m.dirty = true
			return nil, fmt.Errorf("ef01: %s: %w within %v at %d baud, address %08X: %w", InstructionName(ins), ErrNoResponse, timeout, m.baud, m.addr, ErrOffline)
		}
		if err != nil {
			return nil, fmt.Errorf("ef01: %s: %w", InstructionName(ins), err)
		}
		if p.PID != PIDAck {
			m.stats.StalePackets++
			continue
		}
		if p.Payload[0] != ConfOK {
			return p.Payload[1:], &ConfirmationError{Instruction: ins, Code: p.Payload[0]}
		}
		return p.Payload[1:], nil
	}
}

// VerifyPassword sends VfyPwd with the configured password: the handshake
// every module of the family answers. A wrong password is an error wrapping
// ErrWrongPassword and ErrConfig; no answer wraps ErrOffline.
func (m *Module) VerifyPassword(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.verifyPassword(ctx, m.opts.CommandTimeout)
}

func (m *Module) verifyPassword(ctx context.Context, timeout time.Duration) error {
	pw := m.opts.Password
	_, err := m.transact(ctx, timeout, InsVfyPwd, byte(pw>>24), byte(pw>>16), byte(pw>>8), byte(pw))
	return err
}

// ReadSysPara reads the system parameters.
func (m *Module) ReadSysPara(ctx context.Context) (SysPara, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.readSysPara(ctx)
}

func (m *Module) readSysPara(ctx context.Context) (SysPara, error) {
	b, err := m.transact(ctx, m.opts.CommandTimeout, InsReadSysPara)
	if err != nil {
		return SysPara{}, err
	}
	p, err := ParseSysPara(b)
	if err != nil {
		return SysPara{}, err
	}
	m.para = p
	return p, nil
}

// Connect checks the password, reads the system parameters and sets the
// configured packet size (and, over a line that implements BaudSetter, the
// configured baud rate). Open calls it.
func (m *Module) Connect(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.verifyPassword(ctx, m.opts.CommandTimeout); err != nil {
		return err
	}
	return m.configure(ctx)
}

func (m *Module) configure(ctx context.Context) error {
	p, err := m.readSysPara(ctx)
	if err != nil {
		return err
	}
	if p.Baud != m.baud {
		m.logf("ef01: module reports %d baud in its parameters, the line runs at %d", p.Baud, m.baud)
	}
	if want := m.opts.PacketSize; want > 0 && p.PacketSize != want {
		if err := m.setPacketSize(ctx, want); err != nil {
			return err
		}
	}
	if _, ok := m.rw.(BaudSetter); ok && m.baud != m.opts.Baud {
		if err := m.setBaud(ctx, m.opts.Baud); err != nil {
			return err
		}
	}
	return nil
}

// SetPacketSize sets the data packet size (32, 64, 128 or 256 bytes).
func (m *Module) SetPacketSize(ctx context.Context, n int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.setPacketSize(ctx, n)
}

func (m *Module) setPacketSize(ctx context.Context, n int) error {
	if !ValidPacketSize(n) {
		return fmt.Errorf("ef01: packet size %d: %w: expected 32, 64, 128 or 256", n, ErrConfig)
	}
	if _, err := m.transact(ctx, m.opts.CommandTimeout, InsSetSysPara, ParamPacketSize, packetSizeCode(n)); err != nil {
		return err
	}
	p, err := m.readSysPara(ctx)
	if err != nil {
		return err
	}
	if p.PacketSize != n {
		return fmt.Errorf("ef01: packet size: %w: set %d, module reports %d", ErrConfig, n, p.PacketSize)
	}
	m.logf("ef01: data packet size %d bytes", n)
	return nil
}

// SetBaud changes the module's baud rate (stored in its flash, so it
// survives a power cycle) and the line's. The module acknowledges at the
// old rate and then switches; the driver switches the line and checks the
// module answers. A module that keeps the old rate until it is power
// cycled (some clones) is left at the old rate, with a note in the log, and
// no error. The line must implement BaudSetter.
func (m *Module) SetBaud(ctx context.Context, baud int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.setBaud(ctx, baud)
}

func (m *Module) setBaud(ctx context.Context, baud int) error {
	if !ValidBaud(baud) {
		return fmt.Errorf("ef01: baud rate %d: %w: expected N x 9600 with N = 1..12", baud, ErrConfig)
	}
	bs, ok := m.rw.(BaudSetter)
	if !ok {
		return fmt.Errorf("ef01: baud rate %d: %w: the line cannot change speed", baud, ErrUnsupported)
	}
	old := m.baud
	if _, err := m.transact(ctx, m.opts.CommandTimeout, InsSetSysPara, ParamBaud, byte(baud/baudUnit)); err != nil {
		return err
	}
	if err := m.switchLine(bs, baud); err != nil {
		return err
	}
	var err error
	for try := 0; try < 3; try++ {
		if err = m.verifyPassword(ctx, m.opts.ProbeTimeout); err == nil {
			break
		}
		if !errors.Is(err, ErrOffline) {
			return err
		}
	}
	if err != nil {
		// Back to the old rate: some modules only switch after a reset.
		if serr := m.switchLine(bs, old); serr != nil {
			return serr
		}
		if err2 := m.verifyPassword(ctx, m.opts.ProbeTimeout); err2 != nil {
			return fmt.Errorf("ef01: baud rate change %d → %d: the module answers at neither: %w", old, baud, err)
		}
		m.logf("ef01: module accepted %d baud but still answers at %d (it switches after a power cycle)", baud, old)
		return nil
	}
	m.logf("ef01: line switched from %d to %d baud", old, baud)
	_, err = m.readSysPara(ctx)
	return err
}

func (m *Module) switchLine(bs BaudSetter, baud int) error {
	if err := bs.SetBaud(baud); err != nil {
		return fmt.Errorf("ef01: setting the line to %d baud: %w: %w", baud, ErrOffline, err)
	}
	m.baud = baud
	m.sp.Reset()
	m.dirty = false
	return m.lineReady()
}

// GenImg asks the module to capture an image. No finger on the glass is an
// error wrapping ErrNoFinger; a poor image one wrapping ErrPoorImage and
// ErrRetryable.
func (m *Module) GenImg(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, err := m.transact(ctx, m.opts.CommandTimeout, InsGenImg)
	return err
}

// UpImage uploads the module's image buffer: ImageBytes bytes, 4 bits per
// pixel. onProgress, if set, is called after each data packet with the
// bytes received so far. Any other byte count, lost or corrupted packets,
// or a module that stops sending gives an error wrapping ErrRetryable (the
// module answers again) or ErrOffline (it does not); never a partial image.
func (m *Module) UpImage(ctx context.Context, onProgress func(received, total int)) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	img, _, err := m.upImage(ctx, onProgress)
	return img, err
}

func (m *Module) packetTime(payload int) time.Duration {
	return time.Duration(float64(payload+Overhead) * 10 / float64(m.baud) * float64(time.Second))
}

// upImage returns the image and the bytes received on the line for it.
func (m *Module) upImage(ctx context.Context, onProgress func(int, int)) ([]byte, int, error) {
	if _, err := m.transact(ctx, m.opts.CommandTimeout, InsUpImage); err != nil {
		return nil, 0, err
	}
	psize := max(m.para.PacketSize, 32)
	gap := max(time.Second, 4*m.packetTime(psize))
	img := make([]byte, 0, ImageBytes)
	lineBytes := 0
	checks := m.sp.Stats().BadChecksum
	fail := func(format string, args ...any) ([]byte, int, error) {
		m.stats.BadUploads++
		m.dirty = true
		return nil, lineBytes, fmt.Errorf("ef01: UpImage: "+format, args...)
	}
	for {
		p, err := m.readPacket(ctx, time.Now().Add(gap))
		if errors.Is(err, errReadTimeout) {
			m.stats.Timeouts++
			m.dirty = true
			bad := m.sp.Stats().BadChecksum - checks
			// Is the module still there?
			if perr := m.verifyPassword(ctx, m.opts.ProbeTimeout); perr != nil {
				return fail("%w after %d of %d bytes (%d corrupted packets), and it no longer answers: %w", ErrStoppedMidImage, len(img), ImageBytes, bad, ErrOffline)
			}
			return fail("%w after %d of %d bytes (%d corrupted packets); it answers again: %w", ErrStoppedMidImage, len(img), ImageBytes, bad, ErrRetryable)
		}
		if err != nil {
			return fail("after %d of %d bytes: %w", len(img), ImageBytes, err)
		}
		switch p.PID {
		case PIDData, PIDEndData:
		default:
			m.stats.StalePackets++
			continue
		}
		lineBytes += p.Len()
		if len(img)+len(p.Payload) > ImageBytes {
			// Never truncate into a "valid" image.
			return fail("%w: more than %d bytes: %w", ErrIncompleteImage, ImageBytes, ErrRetryable)
		}
		img = append(img, p.Payload...)
		if onProgress != nil {
			onProgress(len(img), ImageBytes)
		}
		if p.PID == PIDEndData {
			break
		}
	}
	if len(img) != ImageBytes {
		bad := m.sp.Stats().BadChecksum - checks
		return fail("%w: %d of %d bytes (%d corrupted packets dropped): %w", ErrIncompleteImage, len(img), ImageBytes, bad, ErrRetryable)
	}
	m.stats.Captures++
	return img, lineBytes, nil
}

// LED colours and modes of AuraLedConfig.
const (
	LEDBreathing  byte = 1
	LEDFlashing   byte = 2
	LEDOn         byte = 3
	LEDOff        byte = 4
	LEDGradualOn  byte = 5
	LEDGradualOff byte = 6

	ColorRed    byte = 1
	ColorBlue   byte = 2
	ColorPurple byte = 3
)

// LED is one AuraLedConfig setting.
type LED struct {
	Mode  byte // LEDBreathing .. LEDGradualOff
	Speed byte // 0..255, lower is faster
	Color byte // ColorRed, ColorBlue, ColorPurple (more on some modules)
	Count byte // cycles for breathing/flashing, 0 = endless
}

// SetLED sets the LED ring (AuraLedConfig, R503 and later). A module
// without it (R307, AS608) answers with an error code or not at all: the
// error wraps ErrUnsupported, and later calls fail at once without sending.
func (m *Module) SetLED(ctx context.Context, l LED) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.setLED(ctx, l)
}

func (m *Module) setLED(ctx context.Context, l LED) error {
	if m.noAura {
		return fmt.Errorf("ef01: AuraLedConfig: %w (this module has no LED ring)", ErrUnsupported)
	}
	_, err := m.transact(ctx, m.opts.CommandTimeout, InsAuraLedConfig, l.Mode, l.Speed, l.Color, l.Count)
	var ce *ConfirmationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		m.noAura = true
		return fmt.Errorf("ef01: AuraLedConfig: %w (answered 0x%02X %s)", ErrUnsupported, ce.Code, ConfirmationText(ce.Code))
	case errors.Is(err, ErrNoResponse):
		// Some modules ignore unknown instructions. Make sure the module
		// itself is alive before calling the LED missing.
		if perr := m.verifyPassword(ctx, m.opts.ProbeTimeout); perr != nil {
			return perr
		}
		m.noAura = true
		return fmt.Errorf("ef01: AuraLedConfig: %w (no answer)", ErrUnsupported)
	}
	return err
}

// Progress stages reported by Capture.
type Progress int

const (
	// FingerDetected: the module captured an image; the upload starts.
	// Tell the traveller to keep the finger still.
	FingerDetected Progress = iota + 1
	// Uploaded: the image is on the host; the finger may be lifted.
	Uploaded
)

// CaptureOptions tune Capture.
type CaptureOptions struct {
	// Timeout bounds the wait for a finger; 0 means 10 s.
	Timeout time.Duration
	// PollInterval is the pause between GenImg polls; 0 means 50 ms.
	PollInterval time.Duration
	// OnFinger is called once a finger is on the glass and the image was
	// taken, before the upload (several seconds at 57600 baud).
	OnFinger func()
	// OnProgress is called after each data packet of the upload.
	OnProgress func(received, total int)
	// LED, if set, shows these LED settings while waiting, while
	// uploading and after (on modules with an LED ring; errors ignored).
	LED *CaptureLEDs
}

// CaptureLEDs are the LED settings Capture shows.
type CaptureLEDs struct {
	Waiting, Uploading, Done LED
}

// Image is an uploaded fingerprint image.
type Image struct {
	Width, Height int
	// Packed is the image, 4 bits per pixel, two pixels per byte, high
	// nibble first (extract.FromPacked4(Packed, Width, Height)).
	Packed []byte
	// Polls is the number of GenImg commands sent.
	Polls int
	// Detected is when the module answered the GenImg that took the image.
	Detected time.Time
	// Upload is the time from UpImage sent to the last data packet.
	Upload time.Duration
	// LineBytes is the bytes of the data packets (payload and overhead).
	LineBytes int
	// Baud is the line speed of the upload.
	Baud int
}

// LineTime is the time LineBytes take on the wire at Baud (8N1: ten bit
// times per byte), the floor of the upload time.
func (im Image) LineTime() time.Duration {
	if im.Baud == 0 {
		return 0
	}
	return time.Duration(float64(im.LineBytes) * 10 / float64(im.Baud) * float64(time.Second))
}

// Gray returns the image as 8-bit gray pixels (0..15 scaled to 0..255).
func (im Image) Gray() []byte {
	g := make([]byte, 2*len(im.Packed))
	for i, b := range im.Packed {
		g[2*i], g[2*i+1] = b>>4*17, b&15*17
	}
	return g
}

// Capture waits for a finger (polling GenImg), uploads the image and
// returns it. Errors:
//   - ErrNoFinger: no finger within the timeout (the traveller did not
//     place one); the context's error if ctx ended first;
//   - ErrRetryable: a poor image or an upload that did not arrive whole;
//     the module works, ask for the finger again;
//   - ErrOffline: the module does not answer;
//   - ErrConfig: the module refuses the password or settings.
func (m *Module) Capture(ctx context.Context, opts CaptureOptions) (Image, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 50 * time.Millisecond
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	led := func(l func(CaptureLEDs) LED) {
		if opts.LED != nil && !m.noAura {
			_ = m.setLED(ctx, l(*opts.LED))
		}
	}
	led(func(c CaptureLEDs) LED { return c.Waiting })
	deadline := time.Now().Add(opts.Timeout)
	polls := 0
	for {
		_, err := m.transact(ctx, m.opts.CommandTimeout, InsGenImg)
		polls++
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNoFinger) {
			return Image{Polls: polls}, fmt.Errorf("ef01: capture: %w", err)
		}
		if time.Now().Add(opts.PollInterval).After(deadline) {
			return Image{Polls: polls}, fmt.Errorf("ef01: capture: %w within %v (%d polls)", ErrNoFinger, opts.Timeout, polls)
		}
		t := time.NewTimer(opts.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return Image{Polls: polls}, fmt.Errorf("ef01: capture: %w", ctx.Err())
		case <-t.C:
		}
	}
	im := Image{Width: ImageWidth, Height: ImageHeight, Polls: polls, Detected: time.Now(), Baud: m.baud}
	if opts.OnFinger != nil {
		opts.OnFinger()
	}
	led(func(c CaptureLEDs) LED { return c.Uploading })
	data, lineBytes, err := m.upImage(ctx, opts.OnProgress)
	im.Upload = time.Since(im.Detected)
	im.LineBytes = lineBytes
	if err != nil {
		return im, fmt.Errorf("ef01: capture: %w", err)
	}
	im.Packed = data
	led(func(c CaptureLEDs) LED { return c.Done })
	return im, nil
}
