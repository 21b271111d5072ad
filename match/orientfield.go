package match

import (
	"math"

	"ttpgate/match/template"
)

// Orientation-field fusion.
//
// Two small partial views of one finger often share only one or two
// minutiae that the extractor finds in both (about a third of the genuine
// pairs of the hard set and of the development sets): their minutiae score
// cannot tell them from an impostor pair. The ridge flow over the area they
// share still can. After the relaxation, each of the fieldAlignments best
// supported pairs of cylinders proposes an alignment (the rigid transform
// that superposes the two minutiae); a's orientation field, moved by it, is
// compared cell by cell with b's: v = max(0, mean cos 2Δ) over the n
// sampled cells that land on a cell of b with an orientation. The fused
// score min(1, s0 + fieldWeight·v) is weighted by w = min(1,
// n/fieldCellsFull) against the minutiae score alone (on the common scale,
// below) by 1 − w, and the best alignment's is the score (fieldFusion).
// Like Gu, Zhou and Yang (2006, "Fingerprint recognition by combining
// global structure and local cues"), the field is evidence next to the
// minutiae, aligned by them, not a replacement: the score is at most the
// larger of s0 + fieldWeight and the minutiae score alone, so a match needs
// a minutiae score of at least the threshold − fieldWeight (0.0084 at the
// default FMR) even where the ridge flow agrees perfectly, and the
// configuration keeps the threshold above fieldWeight (FMR 1e-3 and below).
// Views without a field (templates from other extractors, or extended data
// the matcher cannot read) are scored on their minutiae alone; that score
// is put on the fused score's scale by its own calibration (commonScale),
// so that one threshold means one false match rate for both.
const (
	fieldAlignments = 3    // alignments tried: the best supported pairs (by efficiency)
	fieldWeight     = 0.3  // weight of the field agreement next to the minutiae score
	fieldCellsFull  = 10.0 // sampled cells landing on b for full weight: about 76×76 px
)

// orientGrid is a view's orientation field in the matcher's frame (pixels
// at 500 dpi, Y up). Cell (c, r) of the box covers x in [x0 + c·stepX,
// x0 + (c+1)·stepX) and -y in [y0 + r·stepY, ...). Orientations are kept
// as doubled-angle unit vectors (cos 2θ, sin 2θ), θ counter-clockwise:
// the agreement of two cells is then a dot product.
type orientGrid struct {
	x0, y0     float32 // box origin: x, and -y
	invX, invY float32 // 1/step
	cols, rows int
	has        []bool    // per cell
	c2, s2     []float32 // per cell
	cx, cy     []float32 // centres of the cells with an orientation
	cc, cs     []float32 // their doubled-angle vectors
}

func newOrientGrid(of *template.OrientationField, sx, sy float64) *orientGrid {
	if of == nil || of.Cols == 0 || of.Rows == 0 {
		return nil
	}
	stepX, stepY := float64(of.Step)*sx, float64(of.Step)*sy
	g := &orientGrid{
		x0: float32(float64(of.X0) * stepX), y0: float32(float64(of.Y0) * stepY),
		invX: float32(1 / stepX), invY: float32(1 / stepY),
		cols: of.Cols, rows: of.Rows,
		has: make([]bool, of.Cols*of.Rows), c2: make([]float32, of.Cols*of.Rows), s2: make([]float32, of.Cols*of.Rows),
	}
	for r := range of.Rows {
		for c := range of.Cols {
			if of.Cells[r*of.Cols+c] == 0 {
				continue
			}
			// Image orientations are measured towards Y down; the
			// matcher's counter-clockwise with Y up: the angle's sign
			// flips, and so does the doubled angle's sine.
			i := r*of.Cols + c
			g.has[i] = true
			g.c2[i], g.s2[i] = doubledAngle(of.Cells[i])
			if (c+of.X0)%2 != 0 || (r+of.Y0)%2 != 0 {
				continue // every other cell each way: see fieldCellsFull
			}
			g.cx = append(g.cx, float32(float64(g.x0)+(float64(c)+0.5)*stepX))
			g.cy = append(g.cy, -float32(float64(g.y0)+(float64(r)+0.5)*stepY))
			g.cc, g.cs = append(g.cc, g.c2[i]), append(g.cs, g.s2[i])
		}
	}
	if len(g.cx) == 0 {
		return nil
	}
	return g
}

// agreement moves a's sampled cells by T and returns the number n that
// land on a cell of b with an orientation, and max(0, mean cos 2Δ) over
// them (0 if none).
func (a *orientGrid) agreement(b *orientGrid, T xform) (n int, v float64) {
	c, s := float32(T.c), float32(T.s)
	tx, ty := float32(T.tx), float32(T.ty)
	c2t, s2t := float32(T.c*T.c-T.s*T.s), float32(2*T.s*T.c) // rotation of the doubled angle
	var sum float32
	for i := range a.cx {
		x := c*a.cx[i] - s*a.cy[i] + tx - b.x0
		y := -(s*a.cx[i] + c*a.cy[i] + ty) - b.y0
		if x < 0 || y < 0 {
			continue
		}
		col, row := int(x*b.invX), int(y*b.invY)
		if col >= b.cols || row >= b.rows {
			continue
		}
		k := row*b.cols + col
		if !b.has[k] {
			continue
		}
		n++
		ac, as := a.cc[i]*c2t-a.cs[i]*s2t, a.cs[i]*c2t+a.cc[i]*s2t
		sum += ac*b.c2[k] + as*b.s2[k]
	}
	if n == 0 || sum <= 0 {
		return n, 0
	}
	return n, float64(sum) / float64(n)
}

// fieldFusion returns the score of a comparison after relax, from its
// minutiae score s0: for each of the fieldAlignments best supported pairs'
// alignments, the fused score min(1, s0 + fieldWeight·v) weighted by how
// much of the field overlaps, w = min(1, n/fieldCellsFull), and the
// minutiae score alone on the common scale weighted by 1 − w; the best of
// them. Without field evidence (no field, or no overlap) it is the minutiae
// score on the common scale, as for a view without a field.
func (s *scratch) fieldFusion(a, b *Prepared, s0 float64) float64 {
	if s.raw {
		return s0
	}
	alone := commonScale(s0)
	if a.field == nil || b.field == nil || len(s.eff) == 0 {
		return alone
	}
	best := 0.0
	for _, e := range s.eff[:min(len(s.eff), fieldAlignments)] {
		sp := s.sel[e.t]
		n, v := a.field.agreement(b.field, pairXform(a.cpt[sp.a], b.cpt[sp.b]))
		w := min(1, float64(n)/fieldCellsFull)
		best = max(best, w*min(1, s0+fieldWeight*v)+(1-w)*alone)
	}
	return best
}

// doubledAngles[v] is (cos 2θ, -sin 2θ) of cell value v (θ = v-1 degrees,
// Y down; the sine's sign turns it to Y up).
var doubledAngles = func() (t [181][2]float32) {
	for v := 1; v <= 180; v++ {
		th := float64(v-1) * math.Pi / 180
		t[v] = [2]float32{float32(math.Cos(2 * th)), float32(-math.Sin(2 * th))}
	}
	return t
}()

func doubledAngle(v uint8) (c2, s2 float32) {
	d := doubledAngles[v]
	return d[0], d[1]
}
