package match

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"ttpgate/match/internal/geom"
	"ttpgate/match/template"
)

// Limits on what Prepare accepts.
const (
	// MinResolution and MaxResolution bound a record's resolution fields
	// (pixels per centimetre; 197 is 500 dpi). Outside them a record is
	// taken for corrupt rather than scaled by a factor of 4 or more.
	MinResolution = 98  // 250 dpi
	MaxResolution = 788 // 2000 dpi
	// MaxMinutiae is the most minutiae a finger view may have (the records'
	// 8-bit count).
	MaxMinutiae = 255
)

const refPxPerCm = 500 / 2.54 // 500 dpi in pixels per centimetre

// point is a minutia in the matcher's frame: pixels at 500 dpi with Y
// pointing up, so that a is an ordinary counter-clockwise angle in [0, 2π).
type point struct {
	x, y, a float64
}

// Prepared is one finger view ready for Score: its minutiae normalised to
// 500 dpi using the template's resolution fields, the Minutia Cylinder-Code
// descriptor of each minutia whose cylinder is valid, and the pairwise
// geometry of those minutiae. Preparing costs far more than a comparison,
// so prepare a probe once and compare it with every candidate. A Prepared is
// immutable and safe for concurrent use.
type Prepared struct {
	field *orientGrid // nil if the template has none
	pts   []point
	cyls  []cylinder
	ang   []float64 // direction of the minutia of each cylinder
	// For cylinders u, v (index u*n+v, n = len(cyls)): the distance between
	// their minutiae and the direction from u's minutia to v's relative to
	// u's direction.
	dist, rel []float32
	cpt       []point   // the minutia of each cylinder
	blk       []uint64  // the cylinders in blocks of eight, for the vector kernel (cylinderBlocks)
	byY       []point   // the minutiae sorted by y, for the rigid pairing
	hull      geom.Hull // convex hull of the minutiae
}

// Len returns the number of minutiae.
func (p *Prepared) Len() int { return len(p.pts) }

// Cylinders returns the number of minutiae with a valid cylinder: the ones
// that take part in comparisons.
func (p *Prepared) Cylinders() int { return len(p.cyls) }

// Prepare normalises finger view number finger (an index in t.Fingers) of t
// and computes its descriptors. It fails, saying why, if the index is out of
// range, a resolution is outside MinResolution..MaxResolution, a minutia
// lies outside the image size the record declares, or an angle is not
// finite. A view with too few minutiae is not an error: it prepares to a
// view that matches nothing (Score 0).
func Prepare(t *template.Template, finger int) (*Prepared, error) {
	if t == nil {
		return nil, errors.New("match: nil template")
	}
	if finger < 0 || finger >= len(t.Fingers) {
		return nil, fmt.Errorf("match: finger view index %d out of range: the template has %d finger views", finger, len(t.Fingers))
	}
	if t.ResolutionX < MinResolution || t.ResolutionX > MaxResolution || t.ResolutionY < MinResolution || t.ResolutionY > MaxResolution {
		return nil, fmt.Errorf("match: template resolution is %dx%d pixels/cm, want %d..%d (197 for 500 dpi)", t.ResolutionX, t.ResolutionY, MinResolution, MaxResolution)
	}
	ms := t.Fingers[finger].Minutiae
	if len(ms) > MaxMinutiae {
		return nil, fmt.Errorf("match: finger view %d has %d minutiae, more than the %d a record can hold", finger, len(ms), MaxMinutiae)
	}
	sx, sy := refPxPerCm/float64(t.ResolutionX), refPxPerCm/float64(t.ResolutionY)
	p := &Prepared{pts: make([]point, len(ms))}
	// Extended data the matcher cannot read (another vendor's areas in an
	// unusual layout, or a damaged field) is not an error: the view is
	// compared on its minutiae alone, as one without a field.
	if of, err := t.Fingers[finger].OrientationField(); err == nil && of != nil {
		p.field = newOrientGrid(of, sx, sy)
	}
	for i, m := range ms {
		if math.IsNaN(m.Angle) || math.IsInf(m.Angle, 0) {
			return nil, fmt.Errorf("match: finger view %d, minutia %d: angle is %v", finger, i, m.Angle)
		}
		if m.X < 0 || m.Y < 0 || (t.Width > 0 && m.X >= t.Width) || (t.Height > 0 && m.Y >= t.Height) {
			return nil, fmt.Errorf("match: finger view %d, minutia %d at (%d, %d) lies outside the %dx%d image the record declares", finger, i, m.X, m.Y, t.Width, t.Height)
		}
		p.pts[i] = point{x: float64(m.X) * sx, y: -float64(m.Y) * sy, a: normAngle(m.Angle)}
	}
	var idx []int
	p.hull = geom.NewHull(geom.ConvexHull(positions(p.pts)))
	p.byY = slices.Clone(p.pts)
	slices.SortStableFunc(p.byY, func(u, v point) int { return geom.CompareFinite(u.y, v.y) })
	p.cyls, idx = buildCylinders(p.pts, p.hull)
	// Cylinders sorted by their minutia's direction, so that Score finds
	// the candidates within δθ of a direction as one or two runs.
	order := make([]int, len(idx))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return geom.CompareFinite(p.pts[idx[x]].a, p.pts[idx[y]].a) })
	cyls := make([]cylinder, len(order))
	for i, o := range order {
		cyls[i] = p.cyls[o]
	}
	p.cyls = cyls
	if haveAVX512Popcount {
		p.blk = cylinderBlocks(cyls)
	}
	n := len(idx)
	p.ang = make([]float64, n)
	p.dist, p.rel = make([]float32, n*n), make([]float32, n*n)
	p.cpt = make([]point, n)
	for u, o := range order {
		p.ang[u] = p.pts[idx[o]].a
		p.cpt[u] = p.pts[idx[o]]
	}
	p.pairTables()
	return p, nil
}

// pairTablesScalar is pairTables' scalar loop.
func (p *Prepared) pairTablesScalar() {
	n := len(p.cpt)
	for u := range n {
		a := p.cpt[u]
		for v := u + 1; v < n; v++ {
			b := p.cpt[v]
			dx, dy := b.x-a.x, b.y-a.y
			d := float32(math.Sqrt(float64(dx*dx) + float64(dy*dy)))
			e := geom.FastAtan2(dy, dx) // direction from u to v; from v to u it is e+π
			p.dist[u*n+v], p.dist[v*n+u] = d, d
			p.rel[u*n+v] = float32(angleDelta(a.a, e))
			p.rel[v*n+u] = float32(angleDelta(p.ang[v], e+math.Pi))
		}
	}
}

// Global consolidation: Local Similarity Sort with Relaxation (LSS-R,
// Cappelli et al. 2010, section 5), with the candidate pairs chosen one to
// one (greedily, best local similarity first) as in LSA, from the rowTopK
// most similar candidates of each minutia. The relaxation divides the
// support a pair receives by max(n-1, relaxMinSupport) rather than n-1: with
// n-1 a pair of a 3-minutia view is fully "supported" by 2 chance
// agreements, and tiny views (partial captures) then outscored real matches.
const (
	minNP           = 4    // fewest pairs the score averages
	maxNP           = 12   // most pairs the score averages
	muP             = 20   // sigmoid of min(nA, nB) choosing nP between them
	tauP            = 0.4  //
	wR              = 0.5  // weight of a pair's own similarity in each relaxation step
	nRel            = 5    // relaxation iterations
	relaxMinSupport = 10   // support is averaged over at least this many other pairs
	rowTopK         = 6    // candidate pairs kept per minutia of the first view (window ranks exactly 6)
	mu1             = 5.0  // compatibility: distance difference (px)
	tau1            = -1.6 //
	mu2             = math.Pi / 12
	tau2            = -30.0 // compatibility: difference of the directions' difference
	mu3             = math.Pi / 12
	tau3            = -30.0 // compatibility: difference of the directions of the connecting edges
)

// Compatibility sigmoids, tabulated.
const (
	z1Step = 0.05 // px per entry
	z1N    = 600  // up to 30 px; beyond, the sigmoid is < 1e-16
	zAN    = 1024 // entries over [0, π]
)

// z1Keep is the last entry of z1Table above 1e-4 (the table decreases);
// set by init.
var z1Keep int

// zTables holds the three tables one after the other (the vector kernel
// indexes them from one base).
var (
	zTables [z1N + 1 + 2*(zAN+1)]float32
	z1Table = (*[z1N + 1]float32)(zTables[:z1N+1])
	z2Table = (*[zAN + 1]float32)(zTables[z1N+1 : z1N+1+zAN+1])
	z3Table = (*[zAN + 1]float32)(zTables[z1N+1+zAN+1:])
)

func init() {
	for i := range z1Table {
		z1Table[i] = float32(sigmoid(float64(i)*z1Step, mu1, tau1))
	}
	for i := range z2Table {
		a := float64(i) * math.Pi / zAN
		z2Table[i] = float32(sigmoid(a, mu2, tau2))
		z3Table[i] = float32(sigmoid(a, mu3, tau3))
	}
	for z1Keep < z1N && z1Table[z1Keep+1] > 1e-4 {
		z1Keep++
	}
	edgeConsts = newEdgeKernelConsts()
}

func sigmoid(v, mu, tau float64) float64 { return 1 / (1 + math.Exp(-tau*(v-mu))) }

// nPairs returns nP, the number of pairs the global score averages, for
// views with na and nb cylinders.
func nPairs(na, nb int) int {
	return minNP + int(math.Round(sigmoid(float64(min(na, nb)), muP, tauP)*(maxNP-minNP)))
}

func zAngle(t *[zAN + 1]float32, d float32) float32 {
	if d < 0 {
		d = -d
	}
	if d > math.Pi {
		d = 2*math.Pi - d
	}
	return t[int(float32(d*(zAN/math.Pi))+0.5)]
}

// scratch holds one comparison's working memory.
type scratch struct {
	raw      bool // the minutiae score alone: no field fusion, no common scale (MinutiaeScore)
	keys     []uint64
	heap     []uint64
	heads    []uint64 // selectKernel: each row's head
	rowStart []int32  // s.keys[rowStart[u]:rowStart[u+1]] are the keys of cylinder u of the first view
	rowPos   []int32
	usedA    []bool
	usedB    []bool
	sel      []simPair
	lam      []float32
	next     []float32
	sum      []float32
	edgeK    []int32   // compatibilities: the pair k of each edge t < k,
	edgeR    []float32 // its r,
	rowEnd   []int32   // and where the edges of row t end
	selA     []int32   // the selected pairs' cylinders in the first view
	selB     []int32   // ... and in the second
	angA     []float64 // their directions in the first view
	angB     []float64 // ... and in the second
	eff      []effPair
	rc       []uint64 // pairUp's candidate pairs (keys: squared distance, i, j)
	cand     []uint64 // windowRuns' keys of one row (windowAll's: of every row), before ranking
	candEnd  []int32  // windowAll: where each row's keys end in cand
	runs     []int32  // windowAll: each row's runs
	agree    []int32
	rUsedA   []bool
	rUsedB   []bool
}

type simPair struct {
	a, b int32
	s    float32
}

type effPair struct {
	eff, lam float32
	t        int32
}

// Score compares two prepared finger views and returns their similarity in
// [0, 1]: 0 for nothing in common, 1 for the same minutiae. It is symmetric
// (Score(a, b) == Score(b, a)), deterministic, and invariant to rotation and
// translation. See the package documentation for the algorithm.
func Score(probe, candidate *Prepared) float64 {
	var s scratch
	return s.score(probe, candidate)
}

// MinutiaeScore is the minutiae score of two prepared views alone: before
// the orientation-field fusion and before it is put on the common scale of
// Score. The calibration (`gatebench match --calibrate`) measures its
// impostor distribution; a decision should use Score.
func MinutiaeScore(probe, candidate *Prepared) float64 {
	s := scratch{raw: true}
	return s.score(probe, candidate)
}

func (s *scratch) score(a, b *Prepared) float64 {
	if a == nil || b == nil || len(a.cyls) == 0 || len(b.cyls) == 0 {
		return 0
	}
	if less(b, a) {
		a, b = b, a
	}
	// Local similarities of the pairs of cylinders whose minutiae's
	// directions differ by at most δθ (the rowTopK best for each cylinder
	// of a), as sort keys: similarity descending, then indices ascending.
	s.keys = s.keys[:0]
	s.rowStart = resized(s.rowStart, len(a.cyls)+1)
	s.rowPos = resized(s.rowPos, len(a.cyls))
	if a.blk != nil && b.blk != nil {
		s.windowAll(a, b)
	} else {
		var sw sweep
		for u := range a.cyls {
			ca, au := &a.cyls[u], a.ang[u]
			// b's cylinders are sorted by direction: those within δθ of au
			// are one run, or two when the window wraps around 0.
			lo, hi := au-maxDTheta, au+maxDTheta
			s.rowStart[u] = int32(len(s.keys))
			s.windowRuns(b, u, ca, sw.runs(b.ang, lo, hi))
		}
	}
	s.rowStart[len(a.cyls)] = int32(len(s.keys))
	if len(s.keys) == 0 {
		return 0
	}
	// The nR best pairs, one to one.
	nr := min(len(a.cyls), len(b.cyls))
	s.usedA = resetBools(s.usedA, len(a.cyls))
	s.usedB = resetBools(s.usedB, len(b.cyls))
	s.sel = s.sel[:0]
	if haveAVX512 {
		s.selectKernel(nr)
	} else {
		s.selectPairs(nr)
	}
	return s.relax(a, b)
}

// relax runs the relaxation over the pairs in s.sel and returns the score.
func (s *scratch) relax(a, b *Prepared) float64 {
	n := len(s.sel)
	nP := nPairs(len(a.cyls), len(b.cyls))
	np := min(nP, n)
	// Relaxation: each pair's similarity is reinforced by the pairs that
	// are geometrically compatible with it.
	s.lam = resized(s.lam, n)
	s.next = resized(s.next, n)
	for t, sp := range s.sel {
		s.lam[t] = sp.s
	}
	if n >= 1 { // a lone pair too: without support it decays like any other
		// Compatibilities of the selected pairs, the non-negligible ones
		// only (most pairs are incompatible), as a list of edges t < k in
		// row order: summing along it adds each pair's terms in the same
		// order as a dense row would.
		s.compatibilities(a, b)
		inv := (1 - wR) / float32(max(n-1, relaxMinSupport))
		s.sum = resized(s.sum, n)
		for range nRel {
			clear(s.sum)
			// Row by row (the edges are in order of t, then k), with the
			// row's own sum in a register: it starts from what earlier
			// rows added to it and adds the row's terms in edge order, so
			// every sum gets the same terms in the same order as edge by
			// edge.
			lam, sum, next, ek, er, rowEnd := s.lam[:n], s.sum[:n], s.next[:n], s.edgeK, s.edgeR, s.rowEnd[:n]
			i := 0
			for t := range n {
				acc, lt := sum[t], lam[t]
				for end := int(rowEnd[t]); i < end; i++ {
					k, r := ek[i], er[i]
					acc += float32(r * lam[k])
					sum[k] += float32(r * lt)
				}
				sum[t] = acc
			}
			for t := range next {
				next[t] = float32(wR*lam[t]) + float32(inv*sum[t])
			}
			s.lam, s.next = next, lam
		}
	}
	// The nP pairs that kept their similarity best (efficiency λ/λ⁰),
	// averaged.
	s.eff = s.eff[:0]
	for t, sp := range s.sel {
		s.eff = append(s.eff, effPair{eff: s.lam[t] / sp.s, lam: s.lam[t], t: int32(t)})
	}
	// Insertion sort (n is at most a few dozen): efficiency descending,
	// then λ descending.
	for i := 1; i < len(s.eff); i++ {
		for j := i; j > 0 && effBefore(s.eff[j], s.eff[j-1]); j-- {
			s.eff[j], s.eff[j-1] = s.eff[j-1], s.eff[j]
		}
	}
	sum := 0.0
	for _, e := range s.eff[:np] {
		sum += float64(e.lam)
	}
	// Divide by nP even if fewer pairs exist: few pairs are weak evidence.
	s0 := min(1, max(0, sum/float64(nP)))
	if s0 != 0 && min(len(a.cyls), len(b.cyls)) < muP {
		s0 *= s.overlapFactor(a, b)
	}
	return s.fieldFusion(a, b, s0)
}

// compatibilities sets s.edgeK, s.edgeR and s.rowEnd to the non-negligible
// compatibilities r of the selected pairs t < k (most pairs are
// incompatible), as a list in row order, row t ending at s.rowEnd[t]:
// summing along it adds each pair's terms in the same order as a dense row
// would.
func (s *scratch) compatibilities(a, b *Prepared) {
	if haveAVX512 {
		s.compatibilitiesKernel(a, b)
	} else {
		s.compatibilitiesScalar(a, b)
	}
}

// compatibilitiesKernel is compatibilitiesScalar, eight pairs k at a time
// (edgesAVX512).
func (s *scratch) compatibilitiesKernel(a, b *Prepared) {
	n := len(s.sel)
	na, nb := len(a.cyls), len(b.cyls)
	s.edgeK, s.edgeR = s.edgeK[:0], s.edgeR[:0]
	s.rowEnd = resized(s.rowEnd, n)
	if n == 0 {
		return
	}
	s.selA, s.selB = resized(s.selA, n), resized(s.selB, n)
	s.angA, s.angB = resized(s.angA, n), resized(s.angB, n)
	for t, sp := range s.sel {
		s.selA[t], s.selB[t] = sp.a, sp.b
		s.angA[t], s.angB[t] = a.ang[sp.a], b.ang[sp.b]
	}
	room := max(n*(n-1)/2, 1)
	s.edgeK, s.edgeR = resized(s.edgeK, room), resized(s.edgeR, room)
	m := edgesAVX512(&edgeArgs{
		adist: &a.dist[0], bdist: &b.dist[0], arel: &a.rel[0], brel: &b.rel[0],
		aang: &s.angA[0], bang: &s.angB[0], tab: &zTables[0],
		selA: &s.selA[0], selB: &s.selB[0], kOut: &s.edgeK[0], rOut: &s.edgeR[0],
		n: n, na: na, nb: nb, rowEnd: &s.rowEnd[0],
	}, &edgeConsts)
	s.edgeK, s.edgeR = s.edgeK[:m], s.edgeR[:m]
}

// compatibilitiesScalar computes the edges of compatibilities.
func (s *scratch) compatibilitiesScalar(a, b *Prepared) {
	n := len(s.sel)
	na, nb := len(a.cyls), len(b.cyls)
	s.edgeK, s.edgeR = s.edgeK[:0], s.edgeR[:0]
	s.rowEnd = resized(s.rowEnd, n)
	for t := range n {
		at, bt := int(s.sel[t].a), int(s.sel[t].b)
		ad, bd := a.dist[at*na:at*na+na], b.dist[bt*nb:bt*nb+nb]
		for k := t + 1; k < n; k++ {
			ak, bk := int(s.sel[k].a), int(s.sel[k].b)
			// |d1| without a branch (its sign is unpredictable), then
			// zDist; beyond z1Keep it is at most 1e-4 and, z2 and z3
			// being at most 1, the product would be dropped below.
			d1 := math.Float32frombits(math.Float32bits(ad[ak]-bd[bk]) &^ (1 << 31))
			i := int(float32(d1*(1/z1Step)) + 0.5)
			if i > z1Keep {
				continue
			}
			r := z1Table[i]
			d2 := float32(wrap(b.ang[bt] - b.ang[bk] - a.ang[at] + a.ang[ak]))
			z2 := zAngle(z2Table, d2)
			// r·(z2·z3) ≤ r·z2 since z3 ≤ 1 (and rounding is
			// monotonic): if r·z2 ≤ 1e-4 the product is dropped.
			if r*z2 <= 1e-4 {
				continue
			}
			d3 := wrap32(b.rel[bt*nb+bk] - a.rel[at*na+ak])
			r *= z2 * zAngle(z3Table, d3)
			if r > 1e-4 {
				s.edgeK = append(s.edgeK, int32(k))
				s.edgeR = append(s.edgeR, r)
			}
		}
		s.rowEnd[t] = int32(len(s.edgeK))
	}
}

// Overlap normalisation of small views. The LSS-R score says how strongly
// the best supported pairs agree, not how much of the area the two views
// share agrees: an impostor's few chance-consistent pairs score like a
// genuine partial view's few true ones. Aligned rigidly, a genuine view
// pairs most of the minutiae the two views have in common and an impostor
// leaves most of them unpaired. As in many published matchers (the
// m²/(nA·nB) normalisations over the overlap area), the score of views with
// fewer than μP cylinders (those MCC's nP treats as partial) is multiplied by
// min(1, g/pairedFull), g = m²/(nA'·nB'): m minutiae paired after the
// alignment, nA' and nB' the minutiae of each view inside the other's convex
// hull (at least overlapFloor). Full views keep the LSS-R score, which
// already separates them (and they are compared at full speed).
const (
	rigidPairs   = 2     // alignments tried: one per best supported pair (by efficiency)
	rigidDist    = 10.0  // px: minutiae closer than about one ridge period after alignment pair up...
	rigidAngle   = mu2   // ... if their directions differ by at most this (the relaxation's μ2)
	overlapFloor = minNP // the overlap is taken to hold at least this many minutiae of each view
	pairedFull   = 0.5   // g at or above this keeps the LSS-R score whole; below, it scales it
)

// overlapFactor returns min(1, g/pairedFull) (see above), after relax.
func (s *scratch) overlapFactor(a, b *Prepared) float64 {
	// The alignment: of the transforms that superpose the best supported
	// pairs, the one most of the relaxation's selected pairs agree with,
	// refined by least squares on those pairs.
	bestT, bestC := xform{}, -1
	for _, e := range s.eff[:min(len(s.eff), rigidPairs)] {
		sp := s.sel[e.t]
		T := pairXform(a.cpt[sp.a], b.cpt[sp.b])
		s.agree = s.agree[:0]
		for t, q := range s.sel {
			pa, pb := a.cpt[q.a], b.cpt[q.b]
			x, y := T.apply(pa.x, pa.y)
			if dx, dy := pb.x-x, pb.y-y; dx*dx+dy*dy <= rigidDist*rigidDist && math.Abs(wrap(pb.a-pa.a-T.th)) <= rigidAngle {
				s.agree = append(s.agree, int32(t))
			}
		}
		if len(s.agree) > bestC {
			bestC, bestT = len(s.agree), T
			if len(s.agree) >= 3 {
				bestT = s.fitAgreeing(a, b)
			}
		}
	}
	m := s.pairUp(a, b, bestT)
	if m == 0 {
		return 0
	}
	na, nb := 0, 0
	for _, p := range a.pts {
		x, y := bestT.apply(p.x, p.y)
		if b.hull.Contains(geom.Point{X: x, Y: y}, 0) {
			na++
		}
	}
	inv := bestT.inverse()
	for _, p := range b.pts {
		x, y := inv.apply(p.x, p.y)
		if a.hull.Contains(geom.Point{X: x, Y: y}, 0) {
			nb++
		}
	}
	g := float64(m*m) / float64(max(na, m, overlapFloor)*max(nb, m, overlapFloor))
	return min(1, g/pairedFull)
}

// fitAgreeing returns the least-squares rigid transform of the selected
// pairs listed in s.agree (at least 2).
func (s *scratch) fitAgreeing(a, b *Prepared) xform {
	var sax, say, sbx, sby float64
	for _, t := range s.agree {
		pa, pb := a.cpt[s.sel[t].a], b.cpt[s.sel[t].b]
		sax, say, sbx, sby = sax+pa.x, say+pa.y, sbx+pb.x, sby+pb.y
	}
	n := float64(len(s.agree))
	sax, say, sbx, sby = sax/n, say/n, sbx/n, sby/n
	var num, den float64
	for _, t := range s.agree {
		pa, pb := a.cpt[s.sel[t].a], b.cpt[s.sel[t].b]
		ax, ay := pa.x-sax, pa.y-say
		bx, by := pb.x-sbx, pb.y-sby
		num += ax*by - ay*bx
		den += ax*bx + ay*by
	}
	return newXform(math.Atan2(num, den), sax, say, sbx, sby)
}

// pairUp moves all of a's minutiae by T and returns how many pair with b's
// within rigidDist and rigidAngle, one to one, nearest first.
func (s *scratch) pairUp(a, b *Prepared, T xform) int {
	cs := s.rc[:0]
	for i, p := range a.pts {
		x, y := T.apply(p.x, p.y)
		ang := p.a + T.th
		// b.byY is sorted by y: the candidates lie in one run.
		lo, hi := 0, len(b.byY)
		for lo < hi { // first k with b.byY[k].y >= y-rigidDist
			h := int(uint(lo+hi) >> 1)
			if b.byY[h].y < y-rigidDist {
				lo = h + 1
			} else {
				hi = h
			}
		}
		for k := lo; k < len(b.byY) && b.byY[k].y <= y+rigidDist; k++ {
			q := b.byY[k]
			dx, dy := q.x-x, q.y-y
			if d2 := dx*dx + dy*dy; d2 <= rigidDist*rigidDist && math.Abs(wrap(q.a-ang)) <= rigidAngle {
				// Sort key: the squared distance (a non-negative float's
				// bits order like it), then i, then k.
				cs = append(cs, uint64(math.Float32bits(float32(d2)))<<32|uint64(i)<<16|uint64(k))
			}
		}
	}
	slices.Sort(cs)
	s.rUsedA = resetBools(s.rUsedA, len(a.pts))
	s.rUsedB = resetBools(s.rUsedB, len(b.byY))
	m := 0
	for _, c := range cs {
		if i, j := c>>16&0xffff, c&0xffff; !s.rUsedA[i] && !s.rUsedB[j] {
			s.rUsedA[i], s.rUsedB[j] = true, true
			m++
		}
	}
	s.rc = cs
	return m
}

// xform is a rigid transform: rotation by th (cosine c, sine s), then
// translation by (tx, ty).
type xform struct{ th, c, s, tx, ty float64 }

func (t xform) apply(x, y float64) (float64, float64) {
	return t.c*x - t.s*y + t.tx, t.s*x + t.c*y + t.ty
}

func (t xform) inverse() xform {
	c, s := t.c, -t.s
	return xform{th: -t.th, c: c, s: s, tx: -(c*t.tx - s*t.ty), ty: -(s*t.tx + c*t.ty)}
}

// newXform returns the rotation by th that takes (ax, ay) to (bx, by).
func newXform(th, ax, ay, bx, by float64) xform {
	c, s := math.Cos(th), math.Sin(th)
	return xform{th: th, c: c, s: s, tx: bx - (c*ax - s*ay), ty: by - (s*ax + c*ay)}
}

// pairXform aligns minutia pa on pb: position and direction.
func pairXform(pa, pb point) xform { return newXform(pb.a-pa.a, pa.x, pa.y, pb.x, pb.y) }

// window appends the keys of cylinder u of a against b's cylinders whose
// direction lies in [lo, hi] (an interval of length 2δθ = π, so it wraps at
// most once): the rowTopK most similar, in order.
func (s *scratch) window(a, b *Prepared, u int, ca *cylinder, lo, hi float64) {
	s.windowRuns(b, u, ca, binaryRuns(b.ang, lo, hi))
}

// runs are one or two runs [r[0], r[1]) and [r[2], r[3]) of a view's
// cylinders (sorted by direction): those in a row's window, the low run
// first, so that keys come in ascending index.
type runs [4]int

// binaryRuns returns the runs of the cylinders with direction (ang) in
// [lo, hi], modulo 2π, by binary search.
func binaryRuns(ang []float64, lo, hi float64) runs {
	bound := func(x float64) int { i, _ := slices.BinarySearch(ang, x); return i }
	upTo := func(x float64) int { // first index with ang > x
		i, found := slices.BinarySearch(ang, x)
		for found && i < len(ang) && ang[i] <= x {
			i++
		}
		return i
	}
	switch {
	case lo < 0:
		return runs{0, upTo(hi), bound(lo + 2*math.Pi), len(ang)}
	case hi >= 2*math.Pi:
		return runs{0, upTo(hi - 2*math.Pi), bound(lo), len(ang)}
	default:
		return runs{bound(lo), upTo(hi), 0, 0}
	}
}

// sweep returns the same runs as binaryRuns for successive rows whose
// directions ascend (a view's cylinders in order), with four pointers that
// only move forward: each of the four bounds (lo+2π while lo < 0, lo
// after; hi while hi < 2π, hi-2π after) ascends with the rows. A binary
// search's branches are unpredictable; these loops mostly exit at once.
type sweep struct{ l1, l2, h1, h2 int }

func (w *sweep) runs(ang []float64, lo, hi float64) runs {
	n := len(ang)
	bound := func(p *int, x float64) int { // first index with ang >= x
		for *p < n && ang[*p] < x {
			*p++
		}
		return *p
	}
	upTo := func(p *int, x float64) int { // first index with ang > x
		for *p < n && ang[*p] <= x {
			*p++
		}
		return *p
	}
	switch {
	case lo < 0:
		return runs{0, upTo(&w.h1, hi), bound(&w.l1, lo+2*math.Pi), n}
	case hi >= 2*math.Pi:
		return runs{0, upTo(&w.h2, hi-2*math.Pi), bound(&w.l2, lo), n}
	default:
		return runs{bound(&w.l2, lo), upTo(&w.h1, hi), 0, 0}
	}
}

// windowRuns appends the keys of cylinder u of the first view (ca) against
// b's cylinders in the runs r: the rowTopK most similar, in order.
func (s *scratch) windowRuns(b *Prepared, u int, ca *cylinder, r runs) {
	// cylinderSim written out, with a's words held in locals. The keys of
	// the candidates with a positive similarity are gathered first, then
	// ranked: the similarities' loop then carries no ranking state from one
	// candidate to the next (fewer live values, fewer spills).
	a0, a1, a2, a3, a4, a5 := ca.val[0][0], ca.val[1][0], ca.val[2][0], ca.val[3][0], ca.val[4][0], ca.val[5][0]
	ma := ca.mask[0]
	ac0, ac1, ac2 := ca.cnt[0], ca.cnt[1], ca.cnt[2]
	hi := uint64(u) << 16
	cand := s.cand[:0]
	for run := 0; run < 4; run += 2 {
		v0, v1 := r[run], r[run+1]
		cyls := b.cyls[v0:v1]
		for v := range cyls {
			cb := &cyls[v]
			mb := cb.mask[0]
			// The common valid cells. When one disc is full they are the
			// other's valid cells, at least minVC of the disc, more than
			// minCommonCells (TestMinCommonCells): the test only fails
			// when neither is full, and is rarely taken.
			if bits.OnesCount64(ma&mb) < minCommonCells {
				continue
			}
			// Each cylinder's bits within the other's valid cells. Against
			// a full disc this is the cylinder's own count (its bits lie in
			// its valid cells, within the disc), so it is counted the same
			// way whether a disc is full or not: about half the cylinders
			// are full, and a branch on it was as good as random.
			pa := bits.OnesCount64(ac0&mb) + 2*bits.OnesCount64(ac1&mb) + 4*bits.OnesCount64(ac2&mb)
			pb := bits.OnesCount64(cb.cnt[0]&ma) + 2*bits.OnesCount64(cb.cnt[1]&ma) + 4*bits.OnesCount64(cb.cnt[2]&ma)
			if pa+pb == 0 {
				continue
			}
			pab := bits.OnesCount64(a0&cb.val[0][0]) + bits.OnesCount64(a1&cb.val[1][0]) + bits.OnesCount64(a2&cb.val[2][0]) +
				bits.OnesCount64(a3&cb.val[3][0]) + bits.OnesCount64(a4&cb.val[4][0]) + bits.OnesCount64(a5&cb.val[5][0])
			sim := 1 - sqrtTable[pa+pb-2*pab]/(sqrtTable[pa]+sqrtTable[pb])
			if sim <= 0 {
				continue
			}
			cand = append(cand, uint64(math.MaxUint32-math.Float32bits(sim))<<32|hi|uint64(v0+v))
		}
	}
	s.cand = cand
	s.rank(cand)
}

// windowAll is the loop of score over the cylinders u of a, computed by
// windowAllAVX512 (similarities and ranking): the same keys, the same rows.
func (s *scratch) windowAll(a, b *Prepared) {
	// Every row's runs first (sweep's pointers only move forward), then
	// every row's candidates and ranking in one call.
	s.runs = resized(s.runs, 4*len(a.cyls))
	var sw sweep
	room := 0
	for u, au := range a.ang {
		r := sw.runs(b.ang, au-maxDTheta, au+maxDTheta)
		for k := range r {
			s.runs[4*u+k] = int32(r[k])
		}
		room += r[1] - r[0] + r[3] - r[2]
	}
	s.cand = resized(s.cand, max(room, 1))
	s.candEnd = resized(s.candEnd, len(a.cyls))
	s.keys = resized(s.keys, rowTopK*len(a.cyls))
	n := windowAllAVX512(&windowArgs{
		ablk: &a.blk[0], bblk: &b.blk[0], runs: &s.runs[0], rows: len(a.cyls),
		out: &s.cand[0], rowEnd: &s.candEnd[0], minCommon: uint64(minCommonCells),
		keys: &s.keys[0], keyStart: &s.rowStart[0],
	})
	s.keys = s.keys[:n]
}

// windowArgs is what windowAllAVX512 reads (offsets: TestWindowKernelLayout).
type windowArgs struct {
	ablk, bblk *uint64 // the views' cylinders in blocks (cylinderBlocks)
	runs       *int32  // each row's runs, 4 bounds a row
	rows       int
	out        *uint64 // the candidates' keys, row after row (room for every candidate)
	rowEnd     *int32  // where each row's candidates end
	minCommon  uint64  // minCommonCells
	keys       *uint64 // the ranked keys (room for rowTopK a row)
	keyStart   *int32  // where each row's ranked keys start
}

// rank appends to s.keys the rowTopK smallest of one row's keys, in order.
func (s *scratch) rank(cand []uint64) {
	// Branchless ranking: top holds the rowTopK smallest keys so far,
	// ascending, padded with MaxUint64 (no key is that large: sim > 0).
	t0, t1, t2, t3, t4, t5 := uint64(math.MaxUint64), uint64(math.MaxUint64), uint64(math.MaxUint64), uint64(math.MaxUint64), uint64(math.MaxUint64), uint64(math.MaxUint64)
	for _, k := range cand {
		t5 = min(t5, max(t4, k))
		t4 = min(t4, max(t3, k))
		t3 = min(t3, max(t2, k))
		t2 = min(t2, max(t1, k))
		t1 = min(t1, max(t0, k))
		t0 = min(t0, k)
	}
	top := [rowTopK]uint64{t0, t1, t2, t3, t4, t5}
	s.keys = append(s.keys, top[:min(len(cand), rowTopK)]...)
}

// cylinderBlocks lays cyls out for windowAllAVX512: in blocks of eight
// cylinders, each 10 rows of 8 words (the six sections' values, the valid
// cells, the three bit-sliced counts), one word per cylinder; the last
// block is padded with empty cylinders (no valid cell: never compared).
func cylinderBlocks(cyls []cylinder) []uint64 {
	blk := make([]uint64, (len(cyls)+7)/8*80)
	for v := range cyls {
		c, row := &cyls[v], blk[v/8*80+v%8:]
		for k := range cylND {
			row[k*8] = c.val[k][0]
		}
		row[6*8] = c.mask[0]
		for k := range c.cnt {
			row[(7+k)*8] = c.cnt[k]
		}
	}
	return blk
}

// selectArgs is what selectAVX512 reads and writes (offsets:
// TestSelectKernelLayout).
type selectArgs struct {
	heads    *uint64 // each row's first key not yet passed over (all ones: none), padded to a multiple of 8
	rows     int
	pos      *int32   // where each row's head is in keys
	rowStart *int32   // s.rowStart
	keys     *uint64  // s.keys
	usedB    *bool    // the second view's cylinders already paired
	sel      *simPair // room for nr pairs
	nr       int
}

// selectKernel is selectPairs by selectAVX512: the same pairs.
func (s *scratch) selectKernel(nr int) {
	rows := len(s.rowStart) - 1
	padded := (rows + 7) &^ 7
	s.heads = resized(s.heads, padded)
	s.rowPos = resized(s.rowPos, rows)
	for r := range padded {
		h := uint64(math.MaxUint64)
		if r < rows && s.rowStart[r] < s.rowStart[r+1] {
			h = s.keys[s.rowStart[r]]
		}
		s.heads[r] = h
	}
	copy(s.rowPos, s.rowStart[:rows])
	s.sel = resized(s.sel, nr)
	if nr == 0 || rows == 0 || len(s.keys) == 0 {
		s.sel = s.sel[:0]
		return
	}
	n := selectAVX512(&selectArgs{
		heads: &s.heads[0], rows: rows, pos: &s.rowPos[0], rowStart: &s.rowStart[0], keys: &s.keys[0],
		usedB: &s.usedB[0], sel: &s.sel[0], nr: nr,
	})
	s.sel = s.sel[:n]
}

// selectPairs appends to s.sel the nr best pairs, one to one, taking the
// keys in ascending order (similarity descending, then indices): greedy
// assignment. Each row of s.keys (the candidates of one cylinder of the
// first view, s.rowStart) is sorted, so the keys are merged with a heap of
// the rows' heads. A row leaves the heap once its cylinder is paired (its
// other keys would be skipped), so only a few keys are ever looked at.
func (s *scratch) selectPairs(nr int) {
	h := s.heap[:0]
	for r := 0; r+1 < len(s.rowStart); r++ {
		if s.rowStart[r] < s.rowStart[r+1] {
			h = append(h, s.keys[s.rowStart[r]])
			s.rowPos[r] = s.rowStart[r]
		}
	}
	// Heapify (min-heap).
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
	for len(h) > 0 {
		k := h[0]
		a, b := int32(k>>16&0xffff), int32(k&0xffff)
		if !s.usedB[b] {
			s.usedA[a], s.usedB[b] = true, true
			s.sel = append(s.sel, simPair{a: a, b: b, s: math.Float32frombits(math.MaxUint32 - uint32(k>>32))})
			if len(s.sel) == nr {
				break
			}
		} else if p := s.rowPos[a] + 1; p < s.rowStart[a+1] {
			s.rowPos[a] = p
			h[0] = s.keys[p]
			siftDown(h, 0)
			continue
		}
		// The row is done: remove its head.
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		siftDown(h, 0)
	}
	s.heap = h
}

func siftDown(h []uint64, i int) {
	n := len(h)
	if i >= n {
		return
	}
	x := h[i]
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h[c+1] < h[c] {
			c++
		}
		if x <= h[c] {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = x
}

func effBefore(x, y effPair) bool {
	return x.eff > y.eff || (x.eff == y.eff && x.lam > y.lam)
}

// resized returns f with length n, reusing its array when it is large
// enough (the elements are not cleared).
func resized[T any](f []T, n int) []T {
	if cap(f) < n {
		return make([]T, n)
	}
	return f[:n]
}

func resetBools(b []bool, n int) []bool {
	if cap(b) < n {
		return make([]bool, n)
	}
	b = b[:n]
	clear(b)
	return b
}

// less orders prepared views (by size, then coordinates) so that Score can
// compare them in a canonical order and be exactly symmetric.
func less(a, b *Prepared) bool {
	if len(a.pts) != len(b.pts) {
		return len(a.pts) < len(b.pts)
	}
	for i := range a.pts {
		if c := cmp.Or(cmp.Compare(a.pts[i].x, b.pts[i].x), cmp.Compare(a.pts[i].y, b.pts[i].y), cmp.Compare(a.pts[i].a, b.pts[i].a)); c != 0 {
			return c < 0
		}
	}
	// Equal minutiae: the field decides, since the agreement is measured
	// from the first view's cells.
	return compareGrids(a.field, b.field) < 0
}

// normAngle returns a in [0, 2π).
func normAngle(a float64) float64 {
	a = math.Mod(a, 2*math.Pi)
	if a < 0 {
		a += 2 * math.Pi
	}
	if a >= 2*math.Pi {
		a = 0
	}
	return a
}

// wrap returns d, in (-4π, 4π), wrapped to [-π, π).
func wrap(d float64) float64 {
	for d >= math.Pi {
		d -= 2 * math.Pi
	}
	for d < -math.Pi {
		d += 2 * math.Pi
	}
	return d
}

// wrap32 returns d, in (-2π, 2π), wrapped to [-π, π].
func wrap32(d float32) float32 {
	if d > math.Pi {
		d -= 2 * math.Pi
	} else if d < -math.Pi {
		d += 2 * math.Pi
	}
	return d
}

// positions returns the points' positions, for the hull.
func positions(pts []point) []geom.Point {
	out := make([]geom.Point, len(pts))
	for i, p := range pts {
		out[i] = geom.Point{X: p.x, Y: p.y}
	}
	return out
}
