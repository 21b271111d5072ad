// Package extract turns a fingerprint image into an ISO/IEC 19794-2:2005
// minutiae template (see package ttpgate/match/template), for readers that
// deliver images rather than templates. Image processing uses OpenCV through
// gocv.io/x/gocv; see docs/matcher.md for the pipeline:
//
//  1. decoding and checks (size, depth, blank or saturated captures);
//  2. local contrast normalisation; orientation field (smoothed gradient
//     moments) and its coherence;
//  3. segmentation of the finger area (local standard deviation,
//     morphology, largest region);
//  4. ridge period (x-signatures of blocks across the ridges, median);
//  5. enhancement with a bank of 16 oriented Gabor filters tuned to the
//     ridge period, each pixel taking the response of its orientation;
//  6. binarisation (sign of the response) and Zhang-Suen thinning with
//     staircase removal;
//  7. minutiae by crossing number, directions from ridge tracing and the
//     orientation field;
//  8. removal of false minutiae: near the border of the finger area, short
//     spurs and islands, bridges, facing pairs of endings (broken ridges),
//     clusters;
//  9. per-minutia quality from the orientation coherence and the distance
//     to the border.
//
// Extraction is deterministic and does no I/O. Bad images (undecodable, too
// small or too large, blank, all black, no ridge pattern) give an error
// wrapping ErrNoUsableCapture or ErrBadImage, never a template and never a
// panic.
package extract

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // readers deliver PNG, JPEG or raw gray pixels
	_ "image/png"

	"ttpgate/match/template"
)

// Image size limits.
const (
	MinSide = 96   // pixels: smaller images hold too little of a finger
	MaxSide = 2048 // pixels: larger images are refused before decoding
)

var (
	// ErrBadImage is wrapped by errors about the image itself: undecodable,
	// wrong size or depth.
	ErrBadImage = errors.New("extract: bad image")
	// ErrNoUsableCapture is wrapped by errors about the content: blank or
	// saturated captures, no finger, too few minutiae. The gate treats it as
	// "no usable capture", never as a mismatch.
	ErrNoUsableCapture = errors.New("extract: no usable fingerprint in the image")
)

// Gray is an 8-bit grayscale image, row by row, 0 black.
type Gray struct {
	W, H int
	Pix  []byte
}

func checkSize(w, h int) error {
	if w < MinSide || h < MinSide || w > MaxSide || h > MaxSide {
		return fmt.Errorf("%w: %dx%d pixels, want %d..%d on each side", ErrBadImage, w, h, MinSide, MaxSide)
	}
	return nil
}

// Decode decodes a PNG or JPEG image (any colour model; colour is converted
// to gray), checking its declared size before decoding the pixels.
func Decode(data []byte) (*Gray, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty image", ErrBadImage)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot decode %d bytes as PNG or JPEG: %v", ErrBadImage, len(data), err)
	}
	if err := checkSize(cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s image: %v", ErrBadImage, format, err)
	}
	b := img.Bounds()
	g := &Gray{W: b.Dx(), H: b.Dy(), Pix: make([]byte, b.Dx()*b.Dy())}
	if gi, ok := img.(*image.Gray); ok {
		for y := range g.H {
			copy(g.Pix[y*g.W:(y+1)*g.W], gi.Pix[y*gi.Stride:])
		}
		return g, nil
	}
	// Paletted images (the test sets' PNGs are 8-bit colour-mapped): each
	// palette entry is converted once, as At and the colour model would
	// convert it for every pixel. An image with an index outside its
	// palette takes the generic path below, as before.
	if pi, ok := img.(*image.Paletted); ok && len(pi.Palette) > 0 {
		var lut [256]uint8
		for i, c := range pi.Palette[:min(len(pi.Palette), len(lut))] {
			lut[i] = color.GrayModel.Convert(c).(color.Gray).Y
		}
		inPalette := true
		for y := range g.H {
			row := pi.Pix[y*pi.Stride : y*pi.Stride+g.W]
			for x, idx := range row {
				if int(idx) >= len(pi.Palette) {
					inPalette = false
				}
				g.Pix[y*g.W+x] = lut[idx]
			}
		}
		if inPalette {
			return g, nil
		}
	}
	for y := range g.H {
		for x := range g.W {
			g.Pix[y*g.W+x] = color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
		}
	}
	return g, nil
}

// FromGray checks raw 8-bit gray pixels (w*h bytes, row by row).
func FromGray(pix []byte, w, h int) (*Gray, error) {
	if err := checkSize(w, h); err != nil {
		return nil, err
	}
	if len(pix) != w*h {
		return nil, fmt.Errorf("%w: %d bytes of pixels for a %dx%d 8-bit image, want %d", ErrBadImage, len(pix), w, h, w*h)
	}
	return &Gray{W: w, H: h, Pix: pix}, nil
}

// FromPacked4 unpacks 4-bit gray pixels, two per byte, high nibble first
// (the image upload of ZhianTec EF01 modules: 256x288).
func FromPacked4(data []byte, w, h int) (*Gray, error) {
	if err := checkSize(w, h); err != nil {
		return nil, err
	}
	if w%2 != 0 || len(data) != w*h/2 {
		return nil, fmt.Errorf("%w: %d bytes for a %dx%d 4-bit image, want %d (and an even width)", ErrBadImage, len(data), w, h, w*h/2)
	}
	g := &Gray{W: w, H: h, Pix: make([]byte, w*h)}
	for i, b := range data {
		g.Pix[2*i], g.Pix[2*i+1] = b>>4*17, b&15*17
	}
	return g, nil
}

// Options tune extraction; the zero value is for 500 dpi images.
type Options struct {
	// Resolution of the image in pixels per centimetre; 0 means 197 (500 dpi).
	// The pipeline's scales are for 500 dpi: other resolutions are
	// recorded in the template but not resampled.
	Resolution int
	// Position is the finger position code recorded in the template.
	Position int
	// MaxMinutiae keeps the best this many minutiae (0: 80).
	MaxMinutiae int
}

// Result is an extraction with its by-products.
type Result struct {
	Template *template.Template
	// Quality is the finger view's quality 0..100 (mean coherence of the
	// finger area times the fraction of the image it covers, saturated).
	Quality int
	// Period is the ridge period in pixels.
	Period float64
}

// Extract extracts the minutiae of g into a one-view ISO/IEC 19794-2:2005
// template.
func Extract(g *Gray, opt Options) (*Result, error) {
	if g == nil {
		return nil, fmt.Errorf("%w: nil image", ErrBadImage)
	}
	if _, err := FromGray(g.Pix, g.W, g.H); err != nil {
		return nil, err
	}
	if opt.Resolution == 0 {
		opt.Resolution = 197
	}
	if opt.Resolution < 98 || opt.Resolution > 788 {
		return nil, fmt.Errorf("%w: resolution %d pixels/cm, want 98..788 (197 for 500 dpi)", ErrBadImage, opt.Resolution)
	}
	if opt.MaxMinutiae <= 0 || opt.MaxMinutiae > 255 {
		opt.MaxMinutiae = 80
	}
	f, err := enhance(g)
	if err != nil {
		return nil, err
	}
	ms := findMinutiae(f)
	if len(ms) < minMinutiae {
		return nil, fmt.Errorf("%w: only %d reliable minutiae found (want at least %d)", ErrNoUsableCapture, len(ms), minMinutiae)
	}
	if len(ms) > opt.MaxMinutiae {
		ms = ms[:opt.MaxMinutiae]
	}
	t := &template.Template{
		Format: template.FormatISO19794_2_2005,
		Width:  g.W, Height: g.H,
		ResolutionX: opt.Resolution, ResolutionY: opt.Resolution,
		Fingers: []template.Finger{{Position: opt.Position, Quality: f.quality, Minutiae: ms}},
	}
	// The ridge flow, for the matcher's orientation-field fusion: a
	// vendor-defined extended data area that other readers skip.
	if of := f.orientationField(); of.Cols > 0 {
		data, err := of.Encode() // MaxSide/fieldStep cells fit its one-byte counts
		if err != nil {
			return nil, fmt.Errorf("extract: orientation field: %v", err)
		}
		t.Fingers[0].Extended = template.AppendExtendedArea(nil, template.OrientationFieldType, data)
	}
	return &Result{Template: t, Quality: f.quality, Period: f.period}, nil
}

// minMinutiae is the fewest minutiae a usable capture has. A partial
// contact area (a fingertip touching a small part of the glass) can hold as
// few as 3 to 5 real minutiae; such a template is weak evidence, and the
// matcher scores it low unless all its minutiae agree with the candidate
// locally and geometrically, so it is returned rather than refused (refused,
// every genuine comparison with it fails). An enrolment should demand more
// minutiae than this.
const minMinutiae = 3

// ExtractISO decodes an image and returns its ISO/IEC 19794-2:2005 record.
func ExtractISO(image []byte, opt Options) ([]byte, error) {
	g, err := Decode(image)
	if err != nil {
		return nil, err
	}
	r, err := Extract(g, opt)
	if err != nil {
		return nil, err
	}
	return r.Template.EncodeISO()
}
