package simlane

import (
	"fmt"
	"math"
	"math/rand/v2"

	"ttpgate/match/template"
)

// Impression makes another impression of the finger of an ISO/IEC 19794-2 template, the way a
// live capture differs from the enrolment: rotated by deg degrees, shifted by (dx, dy) pixels,
// each minutia moved by up to jitter pixels and its angle by up to 6°, a share lose of the
// minutiae lost (partial contact). It is deterministic for a seed. The shared test data holds no
// second impression of the SourceAFIS probe (its "matching" file is the same bytes), so
// scenarios make one.
func Impression(iso []byte, seed uint64, deg, dx, dy, jitter, lose float64) ([]byte, error) {
	t, err := template.Decode(iso)
	if err != nil {
		return nil, err
	}
	if len(t.Fingers) == 0 {
		return nil, fmt.Errorf("impression: template has no finger view")
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	rot := deg * math.Pi / 180
	cx, cy := float64(t.Width)/2, float64(t.Height)/2
	f := &t.Fingers[0]
	var kept []template.Minutia
	for _, m := range f.Minutiae {
		if rng.Float64() < lose {
			continue
		}
		x, y := float64(m.X)-cx, float64(m.Y)-cy
		// Image y grows downwards; a counter-clockwise rotation of the finger on the glass.
		nx := x*math.Cos(rot) + y*math.Sin(rot) + cx + dx + (rng.Float64()*2-1)*jitter
		ny := -x*math.Sin(rot) + y*math.Cos(rot) + cy + dy + (rng.Float64()*2-1)*jitter
		if nx < 0 || ny < 0 || nx >= float64(t.Width) || ny >= float64(t.Height) {
			continue
		}
		a := math.Mod(m.Angle+rot+(rng.Float64()*2-1)*6*math.Pi/180+4*math.Pi, 2*math.Pi)
		kept = append(kept, template.Minutia{Type: m.Type, X: int(nx), Y: int(ny), Angle: a, RawAngle: -1, Quality: m.Quality})
	}
	f.Minutiae = kept
	f.Extended = nil
	t.Fingers = t.Fingers[:1]
	return t.EncodeISO()
}
