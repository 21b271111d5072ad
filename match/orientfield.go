package match

import (
	"cmp"
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
	x0, y0     float32 // origin of the padded box: x, and -y
	invX, invY float32 // 1/step
	cols, rows int     // of the padded box
	cells      []cell  // per cell of the padded box: the field's box with a ring of empty cells around it
	// The samples, every other cell with an orientation each way (the
	// cells moved onto the other view): centre and doubled-angle vector,
	// one array per field (for agreementAVX512).
	smpX, smpY, smpC, smpS []float32
}

// cell is a doubled-angle unit vector (cos 2θ, sin 2θ) and w = 1, or all
// zero where the cell has no orientation: agreement adds them without a
// branch.
type cell struct{ c, s, w float32 }

func newOrientGrid(of *template.OrientationField, sx, sy float64) *orientGrid {
	if of == nil || of.Cols == 0 || of.Rows == 0 {
		return nil
	}
	stepX, stepY := float64(of.Step)*sx, float64(of.Step)*sy
	g := &orientGrid{
		x0: float32(float64(of.X0-1) * stepX), y0: float32(float64(of.Y0-1) * stepY),
		invX: float32(1 / stepX), invY: float32(1 / stepY),
		cols: of.Cols + 2, rows: of.Rows + 2,
		cells: make([]cell, (of.Cols+2)*(of.Rows+2)),
	}
	sampled := func(r, c int) bool { return (c+of.X0)%2 == 0 && (r+of.Y0)%2 == 0 } // every other cell each way: see fieldCellsFull
	n := 0
	for r := range of.Rows {
		for c := range of.Cols {
			if v := of.Cells[r*of.Cols+c]; v != 0 {
				// Image orientations are measured towards Y down; the
				// matcher's counter-clockwise with Y up: the angle's
				// sign flips, and so does the doubled angle's sine.
				g.cells[(r+1)*g.cols+c+1] = doubledAngles[v]
				n += b2i(sampled(r, c))
			}
		}
	}
	if n == 0 {
		return nil
	}
	all := make([]float32, 4*n)
	g.smpX, g.smpY, g.smpC, g.smpS = all[:n], all[n:2*n], all[2*n:3*n], all[3*n:]
	i := 0
	for r := range of.Rows {
		for c := range of.Cols {
			if v := of.Cells[r*of.Cols+c]; v != 0 && sampled(r, c) {
				d := doubledAngles[v]
				g.smpX[i] = float32(float64(of.X0+c)*stepX + 0.5*stepX)
				g.smpY[i] = -float32(float64(of.Y0+r)*stepY + 0.5*stepY)
				g.smpC[i], g.smpS[i] = d.c, d.s
				i++
			}
		}
	}
	return g
}

// compareGrids orders two fields (nil first) by their geometry, then
// their cells: the tie-break of less for views with equal minutiae.
func compareGrids(a, b *orientGrid) int {
	if a == nil || b == nil {
		return cmp.Compare(btoi(a != nil), btoi(b != nil))
	}
	if c := cmp.Or(cmp.Compare(a.x0, b.x0), cmp.Compare(a.y0, b.y0), cmp.Compare(a.invX, b.invX), cmp.Compare(a.invY, b.invY),
		cmp.Compare(a.cols, b.cols), cmp.Compare(a.rows, b.rows)); c != 0 {
		return c
	}
	for i := range a.cells {
		if c := cmp.Or(cmp.Compare(a.cells[i].c, b.cells[i].c), cmp.Compare(a.cells[i].s, b.cells[i].s), cmp.Compare(a.cells[i].w, b.cells[i].w)); c != 0 {
			return c
		}
	}
	return 0
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// agreement moves a's sampled cells by T and returns the number n that
// land on a cell of b with an orientation, and max(0, mean cos 2Δ) over
// them (0 if none).
func (a *orientGrid) agreement(b *orientGrid, T xform) (n int, v float64) {
	c, s := float32(T.c), float32(T.s)
	tx, ty := float32(T.tx), float32(T.ty)
	c2t, s2t := float32(T.c*T.c-T.s*T.s), float32(2*T.s*T.c) // rotation of the doubled angle
	// Without branches: a point off b's box is clamped onto its ring of
	// empty cells (int() truncates towards zero, so anything left of or
	// above the box lands on the ring's first column or row), and an empty
	// cell adds nothing to either sum.
	var sum, cnt float32
	lastC, lastR := b.cols-1, b.rows-1
	if useAgreementKernel {
		// The same sums, eight samples at a time.
		args := agreementArgs{
			x: &a.smpX[0], y: &a.smpY[0], c: &a.smpC[0], s: &a.smpS[0], n: len(a.smpX),
			cells: &b.cells[0], cols: b.cols, lastC: lastC, lastR: lastR,
			cos: c, sin: s, tx: tx, ty: ty, x0: b.x0, y0: b.y0, invX: b.invX, invY: b.invY, c2t: c2t, s2t: s2t,
		}
		agreementAVX512(&args)
		sum, cnt = args.sum, args.cnt
	}
	for i := range len(a.smpX) * b2i(!useAgreementKernel) {
		p := struct{ x, y, c, s float32 }{a.smpX[i], a.smpY[i], a.smpC[i], a.smpS[i]}
		x := float32(c*p.x) - float32(s*p.y) + tx - b.x0
		y := -(float32(s*p.x) + float32(c*p.y) + ty) - b.y0
		col := min(max(int(x*b.invX), 0), lastC)
		row := min(max(int(y*b.invY), 0), lastR)
		q := b.cells[row*b.cols+col]
		ac, as := float32(p.c*c2t)-float32(p.s*s2t), float32(p.s*c2t)+float32(p.c*s2t)
		sum += float32(ac*q.c) + float32(as*q.s)
		cnt += q.w
	}
	n = int(cnt)
	if n == 0 || sum <= 0 {
		return n, 0
	}
	return n, float64(sum) / float64(n)
}

// useAgreementKernel says whether agreement uses agreementAVX512 (where the
// CPU has it); tests turn it off to check the scalar loop.
var useAgreementKernel = haveAVX512

// agreementArgs is what agreementAVX512 reads and writes (offsets:
// TestAgreementKernelLayout): a's samples, b's padded box, the alignment.
type agreementArgs struct {
	x, y, c, s               *float32
	n                        int
	cells                    *cell
	cols, lastC, lastR       int
	cos, sin, tx, ty, x0, y0 float32
	invX, invY, c2t, s2t     float32
	sum, cnt                 float32 // out
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

// doubledAngles[v] is the cell of value v (θ = v-1 degrees, Y down) in
// the matcher's frame: (cos 2θ, -sin 2θ, 1); 0 and values above 180: empty.
var doubledAngles = func() (t [256]cell) {
	for v := 1; v <= 180; v++ {
		th := float64(v-1) * math.Pi / 180
		t[v] = cell{float32(math.Cos(2 * th)), float32(-math.Sin(2 * th)), 1}
	}
	return t
}()
