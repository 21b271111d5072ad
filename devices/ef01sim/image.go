package ef01sim

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg"
	_ "image/png"
	"math/rand/v2"
	"os"
	"sort"

	"ttpgate/devices/ef01"
)

// LoadPNG reads a fingerprint image file (PNG or JPEG) and converts it with
// Fit.
func LoadPNG(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ef01sim: %w", err)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("ef01sim: decoding %s: %w", path, err)
	}
	return Fit(img), nil
}

// Fit converts an image to the module's upload: 256 x 288 pixels at
// 4 bits per pixel (ef01.ImageBytes bytes, high nibble first). It does not
// scale: the shared test images and the modules' sensors are both about
// 500 dpi, and scaling would change the ridge period the extractor expects.
// The image is centred: rows or columns beyond 256 x 288 are cropped evenly
// from both sides (248 x 338 loses 25 rows at the top and at the bottom),
// missing ones are padded with the background (the median of the image's
// outermost ring of pixels; 248 wide gets 4 columns each side). Gray levels
// are rounded to 16 levels: v*15/255.
func Fit(img image.Image) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	gray := func(x, y int) uint8 { return color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y }
	var ring []int
	for x := 0; x < w; x++ {
		ring = append(ring, int(gray(x, 0)), int(gray(x, h-1)))
	}
	for y := 0; y < h; y++ {
		ring = append(ring, int(gray(0, y)), int(gray(w-1, y)))
	}
	sort.Ints(ring)
	bg := uint8(255)
	if len(ring) > 0 {
		bg = uint8(ring[len(ring)/2])
	}
	dx := (w - ef01.ImageWidth) / 2  // > 0 crop, < 0 pad
	dy := (h - ef01.ImageHeight) / 2 // idem
	pix := make([]uint8, ef01.ImageWidth*ef01.ImageHeight)
	for y := 0; y < ef01.ImageHeight; y++ {
		for x := 0; x < ef01.ImageWidth; x++ {
			sx, sy := x+dx, y+dy
			v := bg
			if sx >= 0 && sx < w && sy >= 0 && sy < h {
				v = gray(sx, sy)
			}
			pix[y*ef01.ImageWidth+x] = v
		}
	}
	return Pack(pix)
}

// Pack packs 8-bit gray pixels (256 x 288) into 4 bits per pixel.
func Pack(pix []uint8) []byte {
	out := make([]byte, len(pix)/2)
	q := func(v uint8) byte { return byte((int(v)*15 + 127) / 255) }
	for i := range out {
		out[i] = q(pix[2*i])<<4 | q(pix[2*i+1])
	}
	return out
}

// Unpack expands a packed image to 16 levels, 0..15.
func unpack(p []byte) []uint8 {
	out := make([]uint8, 2*len(p))
	for i, b := range p {
		out[2*i], out[2*i+1] = b>>4, b&15
	}
	return out
}

func repack(v []uint8) []byte {
	out := make([]byte, len(v)/2)
	for i := range out {
		out[i] = v[2*i]<<4 | v[2*i+1]
	}
	return out
}

// Condition is the skin condition of a degraded capture.
type Condition int

const (
	// Wet: ridges spread into the valleys (each pixel takes the darkest of
	// its 3x3 neighbourhood) and the image darkens by 3 of 16 levels.
	Wet Condition = iota + 1
	// Dry: the image lightens by 4 levels and a quarter of the ridge
	// pixels break (set to the background), as on cracked, dry skin.
	Dry
)

// Degrade returns a degraded copy of a packed image (deterministic for a
// seed). Whether the extractor still finds a usable fingerprint in it
// depends on the finger: the point is a capture worse than the clean one.
func Degrade(packed []byte, c Condition, seed uint64) []byte {
	v := unpack(packed)
	w, h := ef01.ImageWidth, ef01.ImageHeight
	out := make([]uint8, len(v))
	switch c {
	case Wet:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				m := uint8(15)
				for yy := max(0, y-1); yy <= min(h-1, y+1); yy++ {
					for xx := max(0, x-1); xx <= min(w-1, x+1); xx++ {
						m = min(m, v[yy*w+xx])
					}
				}
				out[y*w+x] = uint8(max(0, int(m)-3))
			}
		}
	case Dry:
		r := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
		for i, p := range v {
			q := min(15, int(p)+4)
			if p < 8 && r.IntN(4) == 0 {
				q = 15
			}
			out[i] = uint8(q)
		}
	default:
		copy(out, v)
	}
	return repack(out)
}
