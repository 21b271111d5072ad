package extract

import (
	"math"
	"testing"
)

// Straight ridges at a known orientation give a field of that orientation
// in every reliable cell, and cells only where the finger area is.
func TestOrientationFieldOfStraightRidges(t *testing.T) {
	for _, deg := range []float64{0, 30, 75, 120, 165} {
		const w, h, period = 200, 240, 9.0
		th := deg * math.Pi / 180
		nx, ny := -math.Sin(th), math.Cos(th) // across the ridges (image axes, Y down)
		pix := make([]byte, w*h)
		for y := range h {
			for x := range w {
				v := 128.0
				if x >= 20 && x < w-20 && y >= 30 && y < h-30 { // the finger; blank glass around it
					v += 90 * math.Cos(2*math.Pi*(float64(x)*nx+float64(y)*ny)/period)
				}
				pix[y*w+x] = byte(v)
			}
		}
		g, err := FromGray(pix, w, h)
		if err != nil {
			t.Fatal(err)
		}
		f, err := enhance(g)
		if err != nil {
			t.Fatalf("%v°: %v", deg, err)
		}
		of := f.orientationField()
		n := 0
		for r := range of.Rows {
			for c := range of.Cols {
				got, ok := of.Orientation(c, r)
				if !ok {
					continue
				}
				n++
				d := math.Abs(got - th)
				d = math.Min(d, math.Pi-d)
				if d > 3*math.Pi/180 {
					t.Errorf("%v°: cell (%d, %d) holds %.1f°", deg, c+of.X0, r+of.Y0, got*180/math.Pi)
				}
				// Cell centre inside the finger area.
				cx, cy := (c+of.X0)*fieldStep+fieldStep/2, (r+of.Y0)*fieldStep+fieldStep/2
				if cx < 20 || cx >= w-20 || cy < 30 || cy >= h-30 {
					t.Errorf("%v°: cell (%d, %d) centred at (%d, %d), off the finger", deg, c+of.X0, r+of.Y0, cx, cy)
				}
			}
		}
		// The finger is 160x180 px: 13x15 cells, less a ring at its edge.
		if n < 80 {
			t.Errorf("%v°: %d cells with an orientation, want at least 80", deg, n)
		}
	}
}

// An extracted template carries its field, and the field survives the
// record.
func TestExtractedTemplateHasField(t *testing.T) {
	r := extractFile(t, "fingerprints/1_1.png")
	of, err := r.Template.Fingers[0].OrientationField()
	if err != nil || of == nil {
		t.Fatalf("extracted template's field: %v, %v", of, err)
	}
	if of.Step != fieldStep || of.Cols == 0 || of.Rows == 0 {
		t.Errorf("field %dx%d cells of %d px, want some of %d px", of.Cols, of.Rows, of.Step, fieldStep)
	}
}
