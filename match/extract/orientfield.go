package extract

import (
	"math"

	"ttpgate/match/template"
)

// Orientation field for the template. Minutiae alone cannot tell two small
// partial views of one finger from two of different fingers when the views
// share only one or two minutiae (about a third of the genuine pairs of the
// hard set and of the development sets); the ridge flow over the area they
// share still can. The field is stored, coarse, in a vendor-defined extended
// data area of the ISO record (template.OrientationField).
const (
	fieldStep     = 12   // pixels a cell side at 500 dpi: about the smoothing's reach (σ 5 then 3)
	fieldMinArea  = 0.75 // a cell is kept if this fraction of its pixels is finger...
	fieldMinDepth = 6    // ... at least this far from the finger area's edge...
	fieldMinCoher = 0.35 // ... and its mean doubled-angle vector is at least this coherent
)

// orientationField averages the doubled-angle orientation vectors of f over
// fieldStep cells and returns the cells that are reliable.
func (f *field) orientationField() *template.OrientationField {
	cols, rows := (f.w+fieldStep-1)/fieldStep, (f.h+fieldStep-1)/fieldStep
	cells := make([]uint8, cols*rows)
	for r := range rows {
		for c := range cols {
			var sc, ss float64
			n, in := 0, 0
			for y := r * fieldStep; y < min(f.h, (r+1)*fieldStep); y++ {
				for x := c * fieldStep; x < min(f.w, (c+1)*fieldStep); x++ {
					i := y*f.w + x
					n++
					if !f.mask[i] || f.border[i] < fieldMinDepth {
						continue
					}
					in++
					th := 2 * float64(f.orient[i])
					sc += math.Cos(th)
					ss += math.Sin(th)
				}
			}
			if in == 0 || float64(in) < fieldMinArea*float64(n) {
				continue
			}
			if math.Hypot(sc, ss)/float64(in) < fieldMinCoher {
				continue
			}
			th := math.Atan2(ss, sc) / 2 // (-π/2, π/2]
			if th < 0 {
				th += math.Pi
			}
			cells[r*cols+c] = template.EncodeOrientation(th)
		}
	}
	// The box of the cells that hold an orientation.
	c0, r0, c1, r1 := cols, rows, -1, -1
	for r := range rows {
		for c := range cols {
			if cells[r*cols+c] != 0 {
				c0, r0, c1, r1 = min(c0, c), min(r0, r), max(c1, c), max(r1, r)
			}
		}
	}
	of := &template.OrientationField{Step: fieldStep}
	if c1 < 0 {
		return of
	}
	of.X0, of.Y0, of.Cols, of.Rows = c0, r0, c1-c0+1, r1-r0+1
	for r := r0; r <= r1; r++ {
		of.Cells = append(of.Cells, cells[r*cols+c0:r*cols+c1+1]...)
	}
	return of
}
