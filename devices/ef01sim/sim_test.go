package ef01sim_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"ttpgate/devices/ef01"
	"ttpgate/devices/ef01sim"
	"ttpgate/match"
	"ttpgate/match/extract"
	"ttpgate/match/template"
)

func testdata(t testing.TB, name string) string {
	t.Helper()
	dir := os.Getenv("TTPGATE_TESTDATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "testdata")
	}
	p := filepath.Join(dir, "fingerprints", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test image missing: %s (set TTPGATE_TESTDATA to the shared test data): %v", p, err)
	}
	return p
}

func loadImage(t testing.TB, name string) []byte {
	t.Helper()
	img, err := ef01sim.LoadPNG(testdata(t, name))
	if err != nil {
		t.Fatal(err)
	}
	if len(img) != ef01.ImageBytes {
		t.Fatalf("LoadPNG(%s): %d bytes", name, len(img))
	}
	return img
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// setup serves a simulated module on a pty and opens the driver on it.
func setup(t *testing.T, cfg ef01sim.Config, opts ef01.Options) (*ef01sim.Sim, *ef01.Module) {
	t.Helper()
	sim, p, err := ef01sim.ServePTY(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	m, err := ef01.Open(p.Path, opts)
	if err != nil {
		t.Fatalf("ef01.Open(%s): %v", p.Path, err)
	}
	t.Cleanup(func() { m.Close() })
	return sim, m
}

var fast = ef01.CaptureOptions{Timeout: 5 * time.Second, PollInterval: 5 * time.Millisecond}

func TestOpenFindsModuleAndSwitchesBaud(t *testing.T) {
	var notes []string
	sim, m := setup(t, ef01sim.Config{}, ef01.Options{Logf: func(f string, a ...any) { notes = append(notes, f) }})
	// The factory module runs at 57600 with 128-byte packets; the driver
	// first tried 115200 (garbage to the module), found it at 57600, then
	// moved both to 115200 and 256-byte packets.
	if m.Baud() != 115200 || sim.Baud() != 115200 {
		t.Fatalf("driver at %d, module at %d baud; want 115200", m.Baud(), sim.Baud())
	}
	if sim.PacketSize() != 256 || m.Params().PacketSize != 256 {
		t.Fatalf("packet size module %d, driver %d; want 256", sim.PacketSize(), m.Params().PacketSize)
	}
	if st := sim.Stats(); st.GarbledBytes == 0 {
		t.Fatalf("the probe at 115200 should have been garbage to a 57600 module: %+v", st)
	}
	p, err := m.ReadSysPara(ctxT(t))
	if err != nil || p.Baud != 115200 || p.Address != ef01.DefaultAddress {
		t.Fatalf("ReadSysPara = %+v, %v", p, err)
	}
	if len(notes) == 0 {
		t.Fatal("no log notes")
	}
}

func TestOpenAtFactoryBaud(t *testing.T) {
	sim, m := setup(t, ef01sim.Config{Baud: 115200, PacketSize: 32}, ef01.Options{Baud: 57600, PacketSize: -1})
	if m.Baud() != 57600 || sim.Baud() != 57600 || sim.PacketSize() != 32 {
		t.Fatalf("driver %d, module %d baud, packet %d", m.Baud(), sim.Baud(), sim.PacketSize())
	}
}

func TestWrongPassword(t *testing.T) {
	_, p, err := ef01sim.ServePTY(context.Background(), ef01sim.Config{Password: 0xC0FFEE})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = ef01.Open(p.Path, ef01.Options{Password: 0x1234})
	if !errors.Is(err, ef01.ErrWrongPassword) || !errors.Is(err, ef01.ErrConfig) || errors.Is(err, ef01.ErrOffline) {
		t.Fatalf("Open with a wrong password: %v", err)
	}
	m, err := ef01.Open(p.Path, ef01.Options{Password: 0xC0FFEE})
	if err != nil {
		t.Fatalf("Open with the right password: %v", err)
	}
	m.Close()
}

func TestWrongAddressIsOffline(t *testing.T) {
	_, p, err := ef01sim.ServePTY(context.Background(), ef01sim.Config{Address: 0x0A0B0C0D})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = ef01.Open(p.Path, ef01.Options{ProbeTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ef01.ErrOffline) {
		t.Fatalf("Open at the wrong address: %v", err)
	}
}

// TestCaptureMatchesSameFinger: a real image goes through the module's
// 4-bit upload over a pty, the host extracts it, and the template matches
// another impression of the same finger better than another finger.
func TestCaptureMatchesSameFinger(t *testing.T) {
	sim, m := setup(t, ef01sim.Config{Image: loadImage(t, "1_1.png")}, ef01.Options{})
	sim.Place(ef01sim.Finger{NoFingerPolls: 3})
	var fingers, progress atomic.Int32
	opts := fast
	opts.OnFinger = func() { fingers.Add(1) }
	opts.OnProgress = func(got, total int) { progress.Add(1) }
	im, err := m.Capture(ctxT(t), opts)
	if err != nil {
		t.Fatalf("Capture: %v", err)
	}
	if !bytes.Equal(im.Packed, loadImage(t, "1_1.png")) || im.Width != 256 || im.Height != 288 {
		t.Fatalf("uploaded image differs from the module's (%d bytes, %dx%d)", len(im.Packed), im.Width, im.Height)
	}
	if im.Polls != 4 || fingers.Load() != 1 || progress.Load() != ef01.ImageBytes/256 {
		t.Fatalf("polls %d, OnFinger %d, progress %d", im.Polls, fingers.Load(), progress.Load())
	}
	if im.LineBytes != ef01.ImageBytes+ef01.ImageBytes/256*ef01.Overhead {
		t.Fatalf("line bytes %d", im.LineBytes)
	}

	g, err := extract.FromPacked4(im.Packed, im.Width, im.Height)
	if err != nil {
		t.Fatal(err)
	}
	r, err := extract.Extract(g, extract.Options{})
	if err != nil {
		t.Fatalf("extraction from the uploaded image: %v", err)
	}
	probe := r.Template
	enrolled := func(name string) *template.Template {
		png, err := os.ReadFile(testdata(t, name))
		if err != nil {
			t.Fatal(err)
		}
		iso, err := extract.ExtractISO(png, extract.Options{})
		if err != nil {
			t.Fatalf("ExtractISO(%s): %v", name, err)
		}
		tpl, err := template.Decode(iso)
		if err != nil {
			t.Fatal(err)
		}
		return tpl
	}
	same, sameOK, err := match.Matcher{}.Verify(probe, []*template.Template{enrolled("1_2.png")})
	if err != nil {
		t.Fatal(err)
	}
	other, otherOK, err := match.Matcher{}.Verify(probe, []*template.Template{enrolled("2_1.png")})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d minutiae, quality %d; score same finger %.3f (match %v), other finger %.3f (match %v)",
		len(probe.Fingers[0].Minutiae), r.Quality, same, sameOK, other, otherOK)
	if same <= other || otherOK {
		t.Fatalf("same finger %.3f (match %v) vs other finger %.3f (match %v)", same, sameOK, other, otherOK)
	}
}

func TestNoFingerTimesOut(t *testing.T) {
	_, m := setup(t, ef01sim.Config{}, ef01.Options{})
	opts := fast
	opts.Timeout = 150 * time.Millisecond
	_, err := m.Capture(ctxT(t), opts)
	if !errors.Is(err, ef01.ErrNoFinger) || errors.Is(err, ef01.ErrRetryable) || errors.Is(err, ef01.ErrOffline) {
		t.Fatalf("Capture without a finger: %v", err)
	}
	ctx, cancel := context.WithCancel(ctxT(t))
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, err := m.Capture(ctx, ef01.CaptureOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Capture with a cancelled context: %v", err)
	}
}

func TestPoorImageIsRetryable(t *testing.T) {
	sim, m := setup(t, ef01sim.Config{Image: loadImage(t, "1_1.png")}, ef01.Options{})
	for _, code := range []byte{ef01.ConfImageFail, ef01.ConfTooWet, ef01.ConfNoPrimaryImage} {
		sim.Place(ef01sim.Finger{Confirm: code})
		_, err := m.Capture(ctxT(t), fast)
		if !errors.Is(err, ef01.ErrPoorImage) || !errors.Is(err, ef01.ErrRetryable) {
			t.Fatalf("GenImg 0x%02X: %v", code, err)
		}
	}
	sim.Place(ef01sim.Finger{})
	if _, err := m.Capture(ctxT(t), fast); err != nil {
		t.Fatalf("capture after poor ones: %v", err)
	}
}

// Faults in the upload: each is a retryable error, never an image, and the
// next capture works.
func TestUploadFaultsAreRetryable(t *testing.T) {
	sim, m := setup(t, ef01sim.Config{Image: loadImage(t, "3_1.png")}, ef01.Options{})
	faults := []struct {
		name string
		f    ef01sim.Finger
		is   error
	}{
		{"lost packet", ef01sim.Finger{DropPacket: 5}, ef01.ErrIncompleteImage},
		{"lost last packet", ef01sim.Finger{DropPacket: 144}, ef01.ErrStoppedMidImage},
		{"corrupted packet", ef01sim.Finger{CorruptPacket: 77}, ef01.ErrIncompleteImage},
		{"short image", ef01sim.Finger{Bytes: ef01.ImageBytes - 100}, ef01.ErrIncompleteImage},
		{"long image", ef01sim.Finger{Bytes: ef01.ImageBytes + 512}, ef01.ErrIncompleteImage},
		{"stops mid-image, recovers", ef01sim.Finger{StopAfter: 40}, ef01.ErrStoppedMidImage},
	}
	for _, c := range faults {
		sim.Place(c.f)
		im, err := m.Capture(ctxT(t), fast)
		if !errors.Is(err, c.is) || !errors.Is(err, ef01.ErrRetryable) || errors.Is(err, ef01.ErrOffline) || im.Packed != nil {
			t.Fatalf("%s: Capture = %d bytes, %v", c.name, len(im.Packed), err)
		}
		t.Logf("%s: %v", c.name, err)
		sim.Place(ef01sim.Finger{})
		im, err = m.Capture(ctxT(t), fast)
		if err != nil || len(im.Packed) != ef01.ImageBytes {
			t.Fatalf("%s: the next capture: %d bytes, %v", c.name, len(im.Packed), err)
		}
	}
	if st := m.Stats(); st.BadUploads != uint64(len(faults)) || st.Link.BadChecksum != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestModuleDiesMidImage(t *testing.T) {
	sim, m := setup(t, ef01sim.Config{Image: loadImage(t, "3_1.png")}, ef01.Options{})
	sim.Place(ef01sim.Finger{StopAfter: 20, Dead: true})
	start := time.Now()
	im, err := m.Capture(ctxT(t), fast)
	if !errors.Is(err, ef01.ErrStoppedMidImage) || !errors.Is(err, ef01.ErrOffline) || errors.Is(err, ef01.ErrRetryable) || im.Packed != nil {
		t.Fatalf("Capture from a module that died: %d bytes, %v", len(im.Packed), err)
	}
	t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if err := m.GenImg(ctxT(t)); !errors.Is(err, ef01.ErrOffline) {
		t.Fatalf("GenImg on a dead module: %v", err)
	}
	sim.Revive()
	sim.Place(ef01sim.Finger{})
	if _, err := m.Capture(ctxT(t), fast); err != nil {
		t.Fatalf("capture after the module came back: %v", err)
	}
}

func TestPoweredOffIsOffline(t *testing.T) {
	sim, m := setup(t, ef01sim.Config{}, ef01.Options{})
	sim.SetPowered(false)
	if _, err := m.Capture(ctxT(t), fast); !errors.Is(err, ef01.ErrOffline) {
		t.Fatalf("Capture on a module without power: %v", err)
	}
}

func TestLED(t *testing.T) {
	sim, m := setup(t, ef01sim.Config{AuraLED: true}, ef01.Options{})
	l := ef01.LED{Mode: ef01.LEDBreathing, Speed: 100, Color: ef01.ColorBlue, Count: 0}
	if err := m.SetLED(ctxT(t), l); err != nil || sim.LED() != l {
		t.Fatalf("SetLED: %v, module shows %+v", err, sim.LED())
	}

	_, m2 := setup(t, ef01sim.Config{}, ef01.Options{})
	if err := m2.SetLED(ctxT(t), l); !errors.Is(err, ef01.ErrUnsupported) {
		t.Fatalf("SetLED on a module without LEDs: %v", err)
	}
	before := m2.Stats().Commands
	if err := m2.SetLED(ctxT(t), l); !errors.Is(err, ef01.ErrUnsupported) || m2.Stats().Commands != before {
		t.Fatalf("second SetLED: %v, commands %d → %d", err, before, m2.Stats().Commands)
	}
}

// Wet and dry captures arrive whole; the extractor either finds a usable
// fingerprint or says there is none (a retry for the lane), never a panic.
func TestWetDryCaptures(t *testing.T) {
	img := loadImage(t, "1_1.png")
	sim, m := setup(t, ef01sim.Config{Image: img}, ef01.Options{})
	for _, c := range []ef01sim.Condition{ef01sim.Wet, ef01sim.Dry} {
		d := ef01sim.Degrade(img, c, 7)
		if bytes.Equal(d, img) {
			t.Fatalf("condition %d: image unchanged", c)
		}
		sim.Place(ef01sim.Finger{Image: d})
		im, err := m.Capture(ctxT(t), fast)
		if err != nil || !bytes.Equal(im.Packed, d) {
			t.Fatalf("condition %d: %v", c, err)
		}
		g, err := extract.FromPacked4(im.Packed, im.Width, im.Height)
		if err != nil {
			t.Fatal(err)
		}
		r, err := extract.Extract(g, extract.Options{})
		if err != nil && !errors.Is(err, extract.ErrNoUsableCapture) {
			t.Fatalf("condition %d: %v", c, err)
		}
		if err == nil {
			t.Logf("condition %d: %d minutiae, quality %d", c, len(r.Template.Fingers[0].Minutiae), r.Quality)
		} else {
			t.Logf("condition %d: %v", c, err)
		}
	}
}

// TestPacedUpload: with pacing, the upload takes at least the line's byte
// time at 115200 baud.
func TestPacedUpload(t *testing.T) {
	sim, m := setup(t, ef01sim.Config{Image: loadImage(t, "1_1.png"), Pace: true}, ef01.Options{})
	sim.Place(ef01sim.Finger{})
	im, err := m.Capture(ctxT(t), fast)
	if err != nil {
		t.Fatal(err)
	}
	line := im.LineTime()
	t.Logf("upload %v, line time %v at %d baud", im.Upload, line, im.Baud)
	if im.Baud != 115200 || line < 3300*time.Millisecond || im.Upload < line*95/100 || im.Upload > line*2 {
		t.Fatalf("upload %v, line time %v at %d baud", im.Upload, line, im.Baud)
	}
}
