package extract

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"sync"
	"testing"

	"ttpgate/match/internal/testfiles"
	"ttpgate/match/template"
)

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func extractFile(t testing.TB, rel string) *Result {
	t.Helper()
	g, err := Decode(testfiles.Read(t, rel))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	r, err := Extract(g, Options{})
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return r
}

// TestPlausibleMinutiae extracts one impression of every finger of the easy
// set (and two of the hard one) and checks counts, positions, qualities and
// that the ISO record round-trips.
func TestPlausibleMinutiae(t *testing.T) {
	for _, rel := range []string{
		"fingerprints/1_1.png", "fingerprints/2_3.png", "fingerprints/3_5.png", "fingerprints/4_7.png",
		"fingerprints/5_2.png", "fingerprints/6_4.png", "fingerprints/7_6.png", "fingerprints/8_8.png",
		"fingerprints-hard/1_1.png", "fingerprints-hard/5_5.png",
	} {
		r := extractFile(t, rel)
		tp := r.Template
		ms := tp.Fingers[0].Minutiae
		lo, hi := 12, 70 // a 248x338 image at 500 dpi holds roughly 20 to 50
		if rel[:17] == "fingerprints-hard" {
			lo = 5 // partial captures
		}
		t.Logf("%s: %d minutiae, period %.1f px, quality %d", rel, len(ms), r.Period, r.Quality)
		if len(ms) < lo || len(ms) > hi {
			t.Errorf("%s: %d minutiae, want %d..%d", rel, len(ms), lo, hi)
		}
		if r.Period < 6 || r.Period > 13 {
			t.Errorf("%s: ridge period %.1f px, want 6..13 at 500 dpi", rel, r.Period)
		}
		ends, bifs := 0, 0
		for _, m := range ms {
			if m.X < 0 || m.Y < 0 || m.X >= tp.Width || m.Y >= tp.Height || m.Quality < 1 || m.Quality > 100 {
				t.Errorf("%s: implausible minutia %+v", rel, m)
			}
			switch m.Type {
			case template.MinutiaEnding:
				ends++
			case template.MinutiaBifurcation:
				bifs++
			}
		}
		if ends == 0 || bifs == 0 {
			t.Errorf("%s: %d endings and %d bifurcations, want both kinds", rel, ends, bifs)
		}
		iso, err := tp.EncodeISO()
		if err != nil {
			t.Fatal(err)
		}
		back, err := template.DecodeISO(iso)
		if err != nil || len(back.Fingers[0].Minutiae) != len(ms) || back.ResolutionX != 197 {
			t.Errorf("%s: ISO record does not round-trip: %v", rel, err)
		}
	}
}

func TestDeterministic(t *testing.T) {
	data := testfiles.Read(t, "fingerprints/3_3.png")
	a, err := ExtractISO(data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ExtractISO(data, Options{})
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("two extractions of one image differ (%v)", err)
	}
}

// Extractions running at once (two lanes, or a lane and a technician's
// check) share the pools of temporary images: each must still give what it
// gives alone, images of different sizes interleaved.
func TestConcurrentExtractionsAgree(t *testing.T) {
	files := []string{"fingerprints/1_1.png", "fingerprints-hard/2_3.png", "fingerprints/5_7.png", "fingerprints-hard/7_1.png", "templates/sourceafis-probe.png"}
	want := make([][]byte, len(files))
	images := make([][]byte, len(files))
	for i, f := range files {
		images[i] = testfiles.Read(t, f)
		var err error
		if want[i], err = ExtractISO(images[i], Options{}); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*3*len(files))
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range 3 {
				for k := range files {
					i := (k + g + r) % len(files)
					got, err := ExtractISO(images[i], Options{})
					if err != nil || !bytes.Equal(got, want[i]) {
						errs <- fmt.Errorf("%s (goroutine %d, round %d): %v, or the template differs from the one extracted alone", files[i], g, r, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestBadImages(t *testing.T) {
	gray := func(w, h int, f func(x, y int) uint8) []byte {
		img := image.NewGray(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				img.SetGray(x, y, color.Gray{f(x, y)})
			}
		}
		return encodePNG(t, img)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	real := testfiles.Read(t, "fingerprints/1_1.png")
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrBadImage},
		{"not an image", []byte("FMR\x00 20\x00 this is no picture"), ErrBadImage},
		{"truncated PNG", real[:len(real)/2], ErrBadImage},
		{"too small", gray(40, 40, func(x, y int) uint8 { return uint8(x * y) }), ErrBadImage},
		{"too large", gray(3000, 100, func(x, y int) uint8 { return 0 }), ErrBadImage},
		{"all black", gray(248, 338, func(x, y int) uint8 { return 0 }), ErrNoUsableCapture},
		{"all white", gray(248, 338, func(x, y int) uint8 { return 255 }), ErrNoUsableCapture},
		{"white noise", gray(248, 338, func(x, y int) uint8 { return uint8(rng.IntN(256)) }), ErrNoUsableCapture},
		{"smooth gradient", gray(248, 338, func(x, y int) uint8 { return uint8(x / 2) }), ErrNoUsableCapture},
		{"checkerboard", gray(248, 338, func(x, y int) uint8 { return uint8(255 * ((x/20 + y/20) % 2)) }), ErrNoUsableCapture},
	} {
		r, err := ExtractISO(tc.data, Options{})
		if !errors.Is(err, tc.want) || r != nil {
			t.Errorf("%s: ExtractISO = %d bytes, %v; want an error wrapping %v", tc.name, len(r), err, tc.want)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
	if _, err := FromGray(make([]byte, 10), 200, 200); !errors.Is(err, ErrBadImage) {
		t.Errorf("FromGray with too few bytes: %v", err)
	}
	if _, err := FromPacked4(make([]byte, 256*288/2-1), 256, 288); !errors.Is(err, ErrBadImage) {
		t.Errorf("FromPacked4 with too few bytes: %v", err)
	}
	if _, err := Extract(nil, Options{}); !errors.Is(err, ErrBadImage) {
		t.Errorf("Extract(nil): %v", err)
	}
	if _, err := Extract(&Gray{W: 300, H: 300, Pix: make([]byte, 10)}, Options{}); !errors.Is(err, ErrBadImage) {
		t.Errorf("Extract with inconsistent pixels: %v", err)
	}
	g, _ := Decode(real)
	if _, err := Extract(g, Options{Resolution: 5000}); !errors.Is(err, ErrBadImage) {
		t.Errorf("Extract at resolution 5000: %v", err)
	}
}

func TestPacked4(t *testing.T) {
	// A 4-bit version of a real print (as an EF01 module uploads it) still
	// extracts.
	g, err := Decode(testfiles.Read(t, "fingerprints/2_2.png"))
	if err != nil {
		t.Fatal(err)
	}
	w, h := g.W&^1, g.H
	packed := make([]byte, w*h/2)
	for y := range h {
		for x := 0; x < w; x += 2 {
			packed[(y*w+x)/2] = g.Pix[y*g.W+x]>>4<<4 | g.Pix[y*g.W+x+1]>>4
		}
	}
	p, err := FromPacked4(packed, w, h)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Extract(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.Template.Fingers[0].Minutiae); n < 12 {
		t.Errorf("4-bit image: %d minutiae", n)
	}
}

// FuzzDecode checks that image decoding and extraction never panic and
// either fail with ErrBadImage/ErrNoUsableCapture or give a valid record.
func FuzzDecode(f *testing.F) {
	f.Add(testfiles.Read(f, "fingerprints/1_1.png"))
	f.Add([]byte{})
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	small := image.NewGray(image.Rect(0, 0, 100, 100))
	f.Add(encodePNG(f, small))
	f.Fuzz(func(t *testing.T, data []byte) {
		iso, err := ExtractISO(data, Options{})
		if err != nil {
			if !errors.Is(err, ErrBadImage) && !errors.Is(err, ErrNoUsableCapture) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if _, err := template.DecodeISO(iso); err != nil {
			t.Fatalf("extracted record does not decode: %v", err)
		}
	})
}

func BenchmarkExtract(b *testing.B) {
	data := testfiles.Read(b, "fingerprints/1_1.png")
	for b.Loop() {
		if _, err := ExtractISO(data, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
