package match

import (
	"iter"
	"math"
	"math/bits"

	"ttpgate/match/internal/geom"
)

// Minutia Cylinder-Code (Cappelli, Ferrara, Maltoni, IEEE TPAMI 32(12),
// 2010), bit-based variant with NS = 8 (MCC8b: 8x8 cells of 17.5 px, 52 of
// them in the disc, one 64-bit word per direction section). Distances are
// pixels at 500 dpi, angles radians.
const (
	cylRadius      = 70.0                  // R: radius of a cylinder
	cylNS          = 8                     // NS: cells along a side of the cylinder's base (MCC8b)
	cylND          = 6                     // ND: directional sections
	cylDeltaS      = 2 * cylRadius / cylNS // Δs: side of a cell
	cylDeltaD      = 2 * math.Pi / cylND   // Δd: height of a section
	sigmaS         = 28.0 / 3              // σS: spatial Gaussian
	sigmaD         = 2 * math.Pi / 9       // σD: directional Gaussian
	muPsi          = 0.01                  // μΨ: a cell's bit is 1 when its contribution reaches this
	hullOmega      = 50.0                  // ωM: cells farther than this outside the convex hull are invalid
	minVC          = 0.75                  // a cylinder needs this fraction of its cells valid
	minM           = 2                     // ... and this many neighbours within R+3σS
	minME          = 0.60                  // two cylinders are comparable on this fraction of common valid cells
	maxDTheta      = math.Pi / 2           // δθ: minutiae directions farther apart are not compared
	neighbourReach = cylRadius + 3*sigmaS  // farthest neighbour that contributes to a cylinder

	cellWords = (cylNS*cylNS + 63) / 64 // words of one layer, one bit per cell
	cylWords  = cellWords * cylND       // words of a cylinder's values
)

// cellsInDisc is the number of cells whose centre lies within R of the
// cylinder's axis, and cellOffX/Y their offsets before rotation.
var (
	cellsInDisc int
	inDisc      [cylNS * cylNS]bool
	discMask    [cellWords]uint64
	gdTable     [gdTableN + 1]float32 // Gd over |α| in [0, π]
)

const gdTableN = 1024

// gsTable is the spatial contribution GS over squared distances up to (3σS)².
var gsTable [gsTableN + 2]float32

const (
	gsTableN = 4096
	gsScale  = gsTableN / (9 * sigmaS * sigmaS)
)

// sqrtTable[n] is √n for the bit counts of a cylinder.
var sqrtTable [cylWords*64 + 1]float32

func init() {
	for i := range cylNS {
		for j := range cylNS {
			x, y := cellOffset(i), cellOffset(j)
			if math.Hypot(x, y) <= cylRadius {
				inDisc[j*cylNS+i] = true
				discMask[(j*cylNS+i)/64] |= 1 << ((j*cylNS + i) % 64)
				cellsInDisc++
			}
		}
	}
	minCommonCells = int(math.Ceil(minME * float64(cellsInDisc)))
	for i := range gsTable {
		d2 := float64(i) / gsScale
		gsTable[i] = float32(math.Exp(-d2/(2*sigmaS*sigmaS)) / (sigmaS * math.Sqrt(2*math.Pi)))
	}
	for n := range sqrtTable {
		sqrtTable[n] = float32(math.Sqrt(float64(n)))
	}
	// Gd(α): the area of the directional Gaussian over a section of height
	// Δd centred on α.
	k := 1 / (sigmaD * math.Sqrt2)
	for t := range gdTable {
		a := float64(t) * math.Pi / gdTableN
		gdTable[t] = float32(0.5 * (math.Erf((a+cylDeltaD/2)*k) - math.Erf((a-cylDeltaD/2)*k)))
	}
}

// cellOffsets[i] is cellOffset(i).
var cellOffsets = func() (o [cylNS]float64) {
	for i := range o {
		o[i] = cellOffset(i)
	}
	return o
}()

// cellIdx[i] is i - (NS-1)/2, a cell's index from the axis.
var cellIdx = func() (o [cylNS]float64) {
	for i := range o {
		o[i] = float64(i) - float64(cylNS-1)/2
	}
	return o
}()

// cellOffset is the coordinate of the centre of cell i along one axis,
// relative to the cylinder's axis.
func cellOffset(i int) float64 { return (float64(i) - float64(cylNS-1)/2) * cylDeltaS }

// gd returns the directional contribution for an angle difference a in [-π, π].
func gd(a float64) float32 {
	t := int(float64(math.Abs(a)*(gdTableN/math.Pi)) + 0.5)
	if t > gdTableN {
		t = gdTableN
	}
	return gdTable[t]
}

// ceilFrom0 is max(0, ⌈x⌉) for finite x of moderate size (math.Ceil
// without SSE4.1 is a function call).
func ceilFrom0(x float64) int {
	if x <= 0 {
		return 0
	}
	i := int(x)
	if float64(i) < x {
		i++
	}
	return i
}

// floorTo is min(m, ⌊x⌋) for finite x of moderate size, or -1 if x < 0
// (any negative bound gives an empty range).
func floorTo(m int, x float64) int {
	if x < 0 {
		return -1
	}
	return min(m, int(x))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// setBits yields the indices of the bits set in m (a bit set of 64-bit
// words), ascending.
func setBits(m []uint64) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i, x := range m {
			for ; x != 0; x &= x - 1 {
				if !yield(i*64 + bits.TrailingZeros64(x)) {
					return
				}
			}
		}
	}
}

// cylinder is the bit-based local descriptor of one minutia.
type cylinder struct {
	val  [cylND][cellWords]uint64 // one bit per (section, cell)
	mask [cellWords]uint64        // valid cells
	full bool                     // every cell of the disc is valid
	pop  int32                    // bits set in val
	// cnt is, bit-sliced, the number of sections set in each cell (cnt[0]
	// its 1s bit, cnt[1] its 2s, cnt[2] its 4s): the bits of val within a
	// set of cells m number popcount(cnt[0]&m) + 2·popcount(cnt[1]&m) +
	// 4·popcount(cnt[2]&m), 3 popcounts instead of 6.
	cnt [3]uint64
}

// nbrArrays is what neighboursAVX512 writes and accumulateAVX512 reads of
// a minutia's neighbours (offsets: TestCylinderKernelLayout), one array
// per field: the position in the minutia's frame, the box of cells within
// 3σS (first column and row, rows, and a mask of its columns' lanes) and
// the directional terms of the six sections.
type nbrArrays struct {
	px, py [MaxMinutiae]float64
	i0, j0 [MaxMinutiae]int32
	rows   [MaxMinutiae]int32
	lanes  [MaxMinutiae]uint32
	e      [cylND][MaxMinutiae]float32
}

// nbrArgs is what neighboursAVX512 reads (offsets:
// TestCylinderKernelLayout): the neighbours' indices, the view's minutiae
// one array per field, the minutia.
type nbrArgs struct {
	idx              *int32
	n                int
	x, y             *float64
	mx, my, ma       float64
	cos, negSin, sin float64
	c                *nbrConsts
	out              *nbrArrays
	a                *float64
	gd               *float32
}

// nbrConsts are the constants of buildCylinders' set-up of a neighbour,
// each converted from the same Go constant (centre: the sections'
// centres, computed as the scalar loop computes them).
type nbrConsts struct {
	invDS, half7, reachDS float64
	twoPi, pi, negPi      float64
	gdScale, half         float64
	absMask               uint64
	centre                [cylND]float64
}

var nbrKernelConsts = func() nbrConsts {
	c := nbrConsts{invDS: 1 / cylDeltaS, half7: float64(cylNS-1) / 2, reachDS: 3 * sigmaS / cylDeltaS,
		twoPi: 2 * math.Pi, pi: math.Pi, negPi: -math.Pi, gdScale: gdTableN / math.Pi, half: 0.5, absMask: math.MaxInt64}
	c.centre = sectionCentres
	return c
}()

// sectionCentres[k] is the direction at the centre of section k, in
// [-π, π).
var sectionCentres = func() (c [cylND]float64) {
	for k := range c {
		c[k] = -math.Pi + (float64(k)+0.5)*cylDeltaD
	}
	return c
}()

// accumConsts are the scalar loop's constants for accumulateAVX512, and
// its tables: the column offsets padded to 12 (a box's four lanes may
// read past column 7; those lanes are never kept).
type accumConsts struct {
	reach2, gsScale float64
	gs              *float32
	offs            *float64
}

var (
	cellOffsetsPadded [cylNS + 4]float64
	accConsts         accumConsts
)

func init() {
	for i := range cellOffsetsPadded {
		cellOffsetsPadded[i] = cellOffset(i)
	}
	accConsts = accumConsts{reach2: 3 * sigmaS * 3 * sigmaS, gsScale: gsScale, gs: &gsTable[0], offs: &cellOffsetsPadded[0]}
}

// useCylinderKernels says whether buildCylinders uses the vector kernels
// (where the CPU has them); tests turn it off to check the scalar loops.
var useCylinderKernels = haveAVX512

// buildCylinders computes the cylinders of the minutiae pts whose cylinder
// is valid; it returns them with the indices of their minutiae.
func buildCylinders(pts []point, h geom.Hull) ([]cylinder, []int) {
	cyls := make([]cylinder, 0, len(pts))
	idx := make([]int, 0, len(pts))
	var acc [cylND][cylNS * cylNS]float32 // contributions, by section then cell
	// For the kernels: the minutiae one array per field, a minutia's
	// neighbours and their set-up.
	kernels := useCylinderKernels && len(pts) <= MaxMinutiae
	var xs, ys, as [MaxMinutiae]float64
	var nidx [MaxMinutiae]int32
	var nba nbrArrays
	if kernels {
		for i, p := range pts {
			xs[i], ys[i], as[i] = p.x, p.y, p.a
		}
	}
	var edges, edgesI, edgesJ []float64
	// The neighbours of each minutia within neighbourReach, as bit sets of
	// w words: each unordered pair is tested once (the squared distance is
	// the same both ways), without branches.
	w := (len(pts) + 63) / 64
	near := make([]uint64, len(pts)*w)
	for mi, m := range pts {
		for ti := mi + 1; ti < len(pts); ti++ {
			dx, dy := pts[ti].x-m.x, pts[ti].y-m.y
			in := uint64(b2i(dx*dx+dy*dy <= neighbourReach*neighbourReach))
			near[mi*w+ti>>6] |= in << (ti & 63)
			near[ti*w+mi>>6] |= in << (mi & 63)
		}
	}
	for mi, m := range pts {
		cos, sin := math.Cos(m.a), math.Sin(m.a)
		// Valid cells: within R of the axis and inside the hull (+ωM). The
		// signed distance of a cell centre to each hull edge is linear in
		// the cell's indices.
		var c cylinder
		valid := 0
		ne := len(h.NX)
		edges, edgesI, edgesJ = edges[:0], edgesI[:0], edgesJ[:0]
		for k := range ne {
			a := h.V[k]
			d := (m.x-a.X)*h.NX[k] + (m.y-a.Y)*h.NY[k] + hullOmega
			if d >= cylRadius && ne > 0 {
				continue // this edge cuts no cell of the disc
			}
			edges = append(edges, d)
			edgesI = append(edgesI, cylDeltaS*(cos*h.NX[k]+sin*h.NY[k]))
			edgesJ = append(edgesJ, cylDeltaS*(-sin*h.NX[k]+cos*h.NY[k]))
		}
		hb, hi, hj := edges, edgesI, edgesJ
		deep := ne > 0 && len(hb) == 0 // every cell centre lies within R of the minutia, so no edge cuts the disc
		ne = len(hb)
		if deep {
			c.mask = discMask
			valid = cellsInDisc
		}
		switch {
		case deep:
		case ne == 0: // a degenerate hull (fewer than 3 minutiae)
			for j := range cylNS {
				for i := range cylNS {
					ci := j*cylNS + i
					ox, oy := cellOffset(i), cellOffset(j)
					if inDisc[ci] && h.Contains(geom.Point{X: m.x + cos*ox - sin*oy, Y: m.y + sin*ox + cos*oy}, hullOmega) {
						c.mask[ci/64] |= 1 << (ci % 64)
						valid++
					}
				}
			}
		default:
			// The cells on the inner side of every edge that cuts the
			// disc, one edge at a time and without branches:
			// hb+fi·hi+fj·hj ≥ 0, evaluated as before.
			in := discMask[0] // cellWords == 1
			for k := range ne {
				if kernels {
					in &= edgeCellsAVX512(hb[k], hi[k], hj[k])
					continue
				}
				var col [cylNS]float64
				for i := range col {
					col[i] = hb[k] + float64(cellIdx[i]*hi[k])
				}
				var e uint64
				for j := range cylNS {
					rj := float64(cellIdx[j] * hj[k])
					var row uint64
					for i := range cylNS {
						row |= uint64(b2i(col[i]+rj >= 0)) << i
					}
					e |= row << (j * cylNS)
				}
				in &= e
			}
			c.mask[0] = in
			valid = bits.OnesCount64(in)
		}
		if float64(valid) < minVC*float64(cellsInDisc) {
			continue
		}
		const reach = 3 * sigmaS
		// Each neighbour's contributions are added as it is found. acc is
		// section-major (a section's 64 cells together, for
		// sectionBitsAVX512); touched records the cells that received a
		// contribution, so that the scalar loop thresholds and clears only
		// them.
		var touched uint64 // cellWords == 1
		near := near[mi*w : mi*w+w]
		count := 0 // neighbours within reach, including those that touch no cell
		for _, x := range near {
			count += bits.OnesCount64(x)
		}
		if kernels {
			// The same contributions: every neighbour's set-up, then
			// every contribution, by the kernels.
			n := 0
			for ti := range setBits(near) {
				nidx[n] = int32(ti)
				n++
			}
			kept := neighboursAVX512(&nbrArgs{idx: &nidx[0], n: n, x: &xs[0], y: &ys[0], mx: m.x, my: m.y, ma: m.a,
				cos: cos, negSin: -sin, sin: sin, c: &nbrKernelConsts, out: &nba, a: &as[0], gd: &gdTable[0]})
			if kept > 0 {
				accumulateAVX512(&acc, &nba, kept, c.mask[0], &accConsts)
			}
		} else {
			for ti := range setBits(near) {
				t := pts[ti]
				dx, dy := t.x-m.x, t.y-m.y
				// Rotate into the minutia's frame; the cells within 3σS.
				px, py := float64(cos*dx)+float64(sin*dy), float64(-sin*dx)+float64(cos*dy)
				// A bounding box of them (the distance test below decides; a
				// product rather than a quotient: a division is slow).
				fx, fy := float64(px*(1/cylDeltaS))+float64(cylNS-1)/2, float64(py*(1/cylDeltaS))+float64(cylNS-1)/2
				i0 := ceilFrom0(fx - reach/cylDeltaS)
				i1 := floorTo(cylNS-1, fx+reach/cylDeltaS)
				j0 := ceilFrom0(fy - reach/cylDeltaS)
				j1 := floorTo(cylNS-1, fy+reach/cylDeltaS)
				if i0 > i1 || j0 > j1 {
					continue // beyond every cell
				}
				dth := angleDelta(m.a, t.a)
				var e [cylND]float32 // directional contribution to each section
				for k := range cylND {
					// gd of the difference wrapped to [-π, π), without a
					// branch (its outcome is unpredictable): |wrap(x)| is
					// min(|x|, 2π−|x|), and so it rounds too (subtracting
					// 2π from x ≥ π gives −(2π−x) exactly).
					x := math.Abs(dth - sectionCentres[k]) // both in [-π, π)
					e[k] = gd(min(x, 2*math.Pi-x))
				}
				e0, e1, e2, e3, e4, e5 := e[0], e[1], e[2], e[3], e[4], e[5]
				var dx2 [cylNS]float64
				for i := i0; i <= i1; i++ {
					dx := cellOffsets[i] - px
					dx2[i] = float64(dx * dx)
				}
				for j := j0; j <= j1; j++ {
					dy := cellOffsets[j] - py
					dy2 := dy * dy
					row := c.mask[0] >> (j * cylNS) // valid cells of row j (cellWords == 1)
					for i := i0; i <= i1; i++ {
						if row>>i&1 == 0 {
							continue // an invalid cell: never set
						}
						d2 := dx2[i] + dy2
						if d2 > reach*reach {
							continue
						}
						gs := gsTable[int(d2*gsScale)]
						ci := j*cylNS + i
						acc[0][ci] += float32(gs * e0)
						acc[1][ci] += float32(gs * e1)
						acc[2][ci] += float32(gs * e2)
						acc[3][ci] += float32(gs * e3)
						acc[4][ci] += float32(gs * e4)
						acc[5][ci] += float32(gs * e5)
						touched |= 1 << ci
					}
				}
			}
		}
		var v [cylND]uint64
		if kernels {
			sectionBitsAVX512(&acc, muPsi, &v)
		} else {
			for t := touched; t != 0; t &= t - 1 {
				ci := bits.TrailingZeros64(t)
				// Branchless: the outcomes are unpredictable.
				for k := range cylND {
					v[k] |= uint64(b2i(acc[k][ci] >= muPsi)) << ci
					acc[k][ci] = 0
				}
			}
		}
		if count < minM {
			continue
		}
		v0, v1, v2, v3, v4, v5 := v[0], v[1], v[2], v[3], v[4], v[5]
		c.val = [cylND][cellWords]uint64{{v0}, {v1}, {v2}, {v3}, {v4}, {v5}}
		// Bit-sliced sum of the six sections: two full adders, then the
		// two partial sums added.
		s1, c1 := v0^v1^v2, v0&v1|v2&(v0^v1)
		s2, c2 := v3^v4^v5, v3&v4|v5&(v3^v4)
		c3 := s1 & s2
		c.cnt = [3]uint64{s1 ^ s2, c1 ^ c2 ^ c3, c1&c2 | c3&(c1^c2)}
		c.full = c.mask == discMask
		for k := range cylND {
			for w := range cellWords {
				c.pop += int32(bits.OnesCount64(c.val[k][w]))
			}
		}
		cyls = append(cyls, c)
		idx = append(idx, mi)
	}
	return cyls, idx
}

// minCommonCells is the number of common valid cells two cylinders need to
// be compared; set by init once the disc is known (a package-level
// initialiser would run before init and see an empty disc).
var minCommonCells int

// cylinderSim is the bit-based MCC similarity of two cylinders over their
// common valid cells: 1 - ‖a⊕b‖ / (‖a‖+‖b‖) with the Euclidean norm, or 0
// if they have too few valid cells in common.
func cylinderSim(a, b *cylinder) float32 {
	// Written out for cellWords == 1 (NS == 8) and ND == 6. A cylinder's
	// values lie within its valid cells, so a·b needs no mask, and ‖a‖
	// over the common cells is a's values masked by b's valid cells.
	m := a.mask[0] & b.mask[0]
	if bits.OnesCount64(m) < minCommonCells {
		return 0
	}
	x, y := &a.val, &b.val
	pab := bits.OnesCount64(x[0][0]&y[0][0]) + bits.OnesCount64(x[1][0]&y[1][0]) + bits.OnesCount64(x[2][0]&y[2][0]) +
		bits.OnesCount64(x[3][0]&y[3][0]) + bits.OnesCount64(x[4][0]&y[4][0]) + bits.OnesCount64(x[5][0]&y[5][0])
	pa, pb := int(a.pop), int(b.pop)
	if !b.full {
		mb := b.mask[0]
		pa = bits.OnesCount64(x[0][0]&mb) + bits.OnesCount64(x[1][0]&mb) + bits.OnesCount64(x[2][0]&mb) +
			bits.OnesCount64(x[3][0]&mb) + bits.OnesCount64(x[4][0]&mb) + bits.OnesCount64(x[5][0]&mb)
	}
	if !a.full {
		ma := a.mask[0]
		pb = bits.OnesCount64(y[0][0]&ma) + bits.OnesCount64(y[1][0]&ma) + bits.OnesCount64(y[2][0]&ma) +
			bits.OnesCount64(y[3][0]&ma) + bits.OnesCount64(y[4][0]&ma) + bits.OnesCount64(y[5][0]&ma)
	}
	if pa+pb == 0 {
		return 0
	}
	// ‖a⊕b‖² = ‖a‖² + ‖b‖² - 2 a·b for bit vectors.
	return 1 - sqrtTable[pa+pb-2*pab]/(sqrtTable[pa]+sqrtTable[pb])
}

// The similarity above is written out for these sizes.
var _ = [1]struct{}{}[cellWords-1]
var _ = [1]struct{}{}[cylND-6]

// window's ranking is written out for 6 candidates per row.
var _ = [1]struct{}{}[rowTopK-6]

// angleDelta returns the signed difference b-a wrapped to [-π, π).
func angleDelta(a, b float64) float64 {
	d := b - a
	for d < -math.Pi {
		d += 2 * math.Pi
	}
	for d >= math.Pi {
		d -= 2 * math.Pi
	}
	return d
}
