// Package legacy is ttpgate's first, deliberately simple minutiae matcher
// (nearest-neighbour local structures, 24 seeds, rigid consolidation), kept
// only so that cmd/gatebench can compare the current matcher (package match)
// with it on the same data. The gate does not use it.
//
// Algorithm: Prepare scales minutiae to 500 dpi and builds, for each
// minutia, the 8 nearest neighbours between 8 and 160 px (distance, edge
// direction and neighbour direction relative to the minutia). Score seeds
// alignments from the 24 most similar local structures, pairs minutiae one
// to one under each rigid alignment (16 px, 25°), refits twice, and scores
// W²/(Np·Nc) over the overlap. The result is in [0, 1] and symmetric.
package legacy

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"ttpgate/match/internal/geom"
	"ttpgate/match/template"
)

// DefaultThreshold was the first matcher's decision threshold (score at and
// above which two finger views were taken for the same finger).
//
// It is provisional, set between the score distributions this package's
// tests can produce: impostors (3,000 random minutiae sets and the four
// unrelated real finger views of the shared test data, also against distorted
// copies of each other) reach at most about 0.21, while synthetic second
// impressions of the real views (±8 px elastic warp, 30% of the minutiae
// lost, 30% spurious, rotated and shifted) score 0.25 and more, milder ones
// 0.45 and more. It is NOT calibrated to the design's target false match
// rate of 1 in 10,000: that needs tens of thousands of impostor comparisons
// of real templates from real captures (cmd/gatebench, once image
// extraction exists), which the current test data cannot provide.
const DefaultThreshold = 0.24

// Tuning of the matcher, in pixels at 500 dpi and radians.
const (
	refPxPerCm = 500 / 2.54 // 500 dpi in pixels per centimetre

	neighbors       = 8     // neighbours in a local structure
	minNeighborDist = 8.0   // closer neighbours have unstable directions
	maxNeighborDist = 160.0 // farther ones suffer too much from distortion

	localDistTol  = 10.0               // local structure: absolute distance tolerance
	localDistRel  = 0.10               // ... plus this fraction of the distance
	localAngleTol = 22 * math.Pi / 180 // local structure: angle tolerance
	minLocalSim   = 2                  // seeds need this many agreeing neighbours
	maxSeeds      = 24                 // alignments tried per comparison

	pairDistTol  = 16.0               // consolidation: distance tolerance
	pairAngleTol = 25 * math.Pi / 180 // consolidation: direction tolerance
	refinements  = 2                  // re-estimations of the alignment from matched pairs
	angleWeight  = 400.0              // weight of minutia directions vs positions when aligning (px²)

	minOverlap = 15 // overlap counts below this are raised to it when scoring
)

// point is a minutia in the matcher's frame: pixels at 500 dpi with Y
// pointing up, so that Angle is an ordinary counter-clockwise angle.
type point struct {
	x, y, a float64
}

// neighbor is a rotation- and translation-invariant edge of a local structure.
type neighbor struct {
	j     int     // index of the neighbour
	d     float64 // distance
	phi   float64 // direction of the edge relative to the minutia's direction
	delta float64 // the neighbour's direction relative to the minutia's direction
}

// Prepared holds a finger view's minutiae normalised to 500 dpi (using the
// template's ResolutionX and ResolutionY), with their local structures and
// the convex hull of their positions, ready for Score. A Prepared is
// immutable and safe for concurrent use.
type Prepared struct {
	pts  []point
	nbrs [][]neighbor
	hull geom.Hull // convex hull of pts
}

// Len returns the number of minutiae.
func (p *Prepared) Len() int { return len(p.pts) }

// Prepare normalises finger view number finger (an index in t.Fingers) of t
// for comparison. It fails if the index is out of range or a resolution is
// zero.
func Prepare(t *template.Template, finger int) (*Prepared, error) {
	if t == nil {
		return nil, errors.New("legacy: nil template")
	}
	if finger < 0 || finger >= len(t.Fingers) {
		return nil, fmt.Errorf("legacy: finger view index %d out of range: the template has %d finger views", finger, len(t.Fingers))
	}
	if t.ResolutionX <= 0 || t.ResolutionY <= 0 {
		return nil, fmt.Errorf("legacy: template resolution is %dx%d pixels/cm, want both positive (197 for 500 dpi)", t.ResolutionX, t.ResolutionY)
	}
	sx, sy := refPxPerCm/float64(t.ResolutionX), refPxPerCm/float64(t.ResolutionY)
	ms := t.Fingers[finger].Minutiae
	p := &Prepared{pts: make([]point, len(ms)), nbrs: make([][]neighbor, len(ms))}
	for i, m := range ms {
		if math.IsNaN(m.Angle) || math.IsInf(m.Angle, 0) {
			return nil, fmt.Errorf("legacy: finger view %d, minutia %d: angle is %v", finger, i, m.Angle)
		}
		p.pts[i] = point{x: float64(m.X) * sx, y: -float64(m.Y) * sy, a: normAngle(m.Angle)}
	}
	cand := make([]neighbor, 0, len(ms))
	for i, pi := range p.pts {
		cand = cand[:0]
		for j, pj := range p.pts {
			dx, dy := pj.x-pi.x, pj.y-pi.y
			d := math.Hypot(dx, dy)
			if j == i || d < minNeighborDist || d > maxNeighborDist {
				continue
			}
			cand = append(cand, neighbor{j: j, d: d,
				phi:   normAngle(math.Atan2(dy, dx) - pi.a),
				delta: normAngle(pj.a - pi.a)})
		}
		slices.SortFunc(cand, func(a, b neighbor) int { return cmp.Or(cmp.Compare(a.d, b.d), cmp.Compare(a.j, b.j)) })
		p.nbrs[i] = slices.Clone(cand[:min(len(cand), neighbors)])
	}
	pos := make([]geom.Point, len(p.pts))
	for i, q := range p.pts {
		pos[i] = geom.Point{X: q.x, Y: q.y}
	}
	p.hull = geom.NewHull(geom.ConvexHull(pos))
	return p, nil
}

// alignment maps probe coordinates to candidate coordinates: rotate by rot,
// then translate by (tx, ty).
type alignment struct {
	rot, cos, sin, tx, ty float64
}

func newAlignment(rot, tx, ty float64) alignment {
	return alignment{rot: rot, cos: math.Cos(rot), sin: math.Sin(rot), tx: tx, ty: ty}
}

func (al alignment) apply(p point) point {
	return point{x: al.cos*p.x - al.sin*p.y + al.tx, y: al.sin*p.x + al.cos*p.y + al.ty, a: normAngle(p.a + al.rot)}
}

func (al alignment) invert(q point) point {
	x, y := q.x-al.tx, q.y-al.ty
	return point{x: al.cos*x + al.sin*y, y: -al.sin*x + al.cos*y, a: normAngle(q.a - al.rot)}
}

// pair is a probe/candidate minutia correspondence.
type pair struct {
	i, j int
	cost float64 // 0 for a perfect match, up to 2 at the tolerances
}

// Score compares two prepared finger views and returns their similarity in
// [0, 1]: 0 for nothing in common, 1 for the same minutiae. It is symmetric
// (Score(a, b) == Score(b, a)), deterministic, and invariant to rotation and
// translation. See the package documentation for the algorithm.
func Score(probe, candidate *Prepared) float64 {
	if probe == nil || candidate == nil || len(probe.pts) < 2 || len(candidate.pts) < 2 {
		return 0
	}
	if less(candidate, probe) {
		probe, candidate = candidate, probe
	}
	s := &scorer{p: probe, c: candidate}
	return s.run()
}

type scorer struct {
	p, c    *Prepared
	used    []bool
	pairs   []pair
	matched []pair
}

type seed struct {
	i, j int
	sim  int
}

func (s *scorer) run() float64 {
	p, c := s.p, s.c
	var seeds []seed
	for i := range p.pts {
		for j := range c.pts {
			if sim := s.localSim(i, j, nil); sim >= minLocalSim {
				seeds = append(seeds, seed{i, j, sim})
			}
		}
	}
	slices.SortFunc(seeds, func(a, b seed) int {
		return cmp.Or(cmp.Compare(b.sim, a.sim), cmp.Compare(a.i, b.i), cmp.Compare(a.j, b.j))
	})
	seeds = seeds[:min(len(seeds), maxSeeds)]

	best := 0.0
	var local []pair
	for _, sd := range seeds {
		local = local[:0]
		local = append(local, pair{i: sd.i, j: sd.j})
		s.localSim(sd.i, sd.j, &local)
		al := s.fit(local)
		score := 0.0
		for r := 0; ; r++ {
			s.consolidate(al)
			score = max(score, s.score(al, max(best, score)))
			if r == refinements || len(s.matched) < 3 {
				break
			}
			al = s.fit(s.matched)
		}
		best = max(best, score)
	}
	return best
}

func (s *scorer) usedReset(n int) {
	if cap(s.used) < n {
		s.used = make([]bool, n)
	}
	s.used = s.used[:n]
	clear(s.used)
}

// localSim counts the neighbours of probe minutia i and candidate minutia j
// that agree in distance and relative angles, matching them one to one.
// If out is not nil, the agreeing neighbour pairs are appended to it.
func (s *scorer) localSim(i, j int, out *[]pair) int {
	a, b := s.p.nbrs[i], s.c.nbrs[j]
	s.usedReset(len(b))
	n := 0
	for _, na := range a {
		bestK, bestCost := -1, math.Inf(1)
		for k, nb := range b {
			// b is sorted by distance: stop once nb is too far.
			tol := localDistTol + localDistRel*0.5*(na.d+nb.d)
			if nb.d-na.d > tol {
				break
			}
			dd := math.Abs(na.d - nb.d)
			if s.used[k] || dd > tol {
				continue
			}
			dphi, ddelta := angleDiff(na.phi, nb.phi), angleDiff(na.delta, nb.delta)
			if dphi > localAngleTol || ddelta > localAngleTol {
				continue
			}
			if cost := dd/tol + dphi/localAngleTol + ddelta/localAngleTol; cost < bestCost {
				bestK, bestCost = k, cost
			}
		}
		if bestK >= 0 {
			s.used[bestK] = true
			n++
			if out != nil {
				*out = append(*out, pair{i: na.j, j: b[bestK].j})
			}
		}
	}
	return n
}

// fit estimates the rigid alignment that best maps the probe minutiae of
// pairs onto their candidate minutiae (least squares on positions, plus the
// minutia directions weighted by angleWeight).
func (s *scorer) fit(pairs []pair) alignment {
	var pcx, pcy, qcx, qcy float64
	for _, pr := range pairs {
		p, q := s.p.pts[pr.i], s.c.pts[pr.j]
		pcx, pcy, qcx, qcy = pcx+p.x, pcy+p.y, qcx+q.x, qcy+q.y
	}
	n := float64(len(pairs))
	pcx, pcy, qcx, qcy = pcx/n, pcy/n, qcx/n, qcy/n
	var sc, ss float64
	for _, pr := range pairs {
		p, q := s.p.pts[pr.i], s.c.pts[pr.j]
		px, py, qx, qy := p.x-pcx, p.y-pcy, q.x-qcx, q.y-qcy
		sc += px*qx + py*qy + angleWeight*math.Cos(q.a-p.a)
		ss += px*qy - py*qx + angleWeight*math.Sin(q.a-p.a)
	}
	rot := math.Atan2(ss, sc)
	cos, sin := math.Cos(rot), math.Sin(rot)
	return newAlignment(rot, qcx-(cos*pcx-sin*pcy), qcy-(sin*pcx+cos*pcy))
}

// consolidate pairs the aligned probe minutiae with candidate minutiae one to
// one, closest first, within the distance and direction tolerances.
func (s *scorer) consolidate(al alignment) {
	s.pairs = s.pairs[:0]
	for i, p := range s.p.pts {
		q := al.apply(p)
		for j, c := range s.c.pts {
			dx, dy := c.x-q.x, c.y-q.y
			if math.Abs(dx) > pairDistTol || math.Abs(dy) > pairDistTol {
				continue
			}
			d := math.Hypot(dx, dy)
			da := angleDiff(c.a, q.a)
			if d > pairDistTol || da > pairAngleTol {
				continue
			}
			s.pairs = append(s.pairs, pair{i: i, j: j, cost: sq(d/pairDistTol) + sq(da/pairAngleTol)})
		}
	}
	slices.SortFunc(s.pairs, func(a, b pair) int {
		return cmp.Or(cmp.Compare(a.cost, b.cost), cmp.Compare(a.i, b.i), cmp.Compare(a.j, b.j))
	})
	s.usedReset(len(s.p.pts) + len(s.c.pts))
	usedP, usedC := s.used[:len(s.p.pts)], s.used[len(s.p.pts):]
	s.matched = s.matched[:0]
	for _, pr := range s.pairs {
		if usedP[pr.i] || usedC[pr.j] {
			continue
		}
		usedP[pr.i], usedC[pr.j] = true, true
		s.matched = append(s.matched, pr)
	}
}

// score turns the matched pairs under al into a similarity: the squared
// quality-weighted number of pairs over the product of the numbers of
// minutiae of each view inside the other's (aligned) area, those numbers
// being at least minOverlap so that a tiny overlap cannot score high.
func (s *scorer) score(al alignment, atLeast float64) float64 {
	if len(s.matched) == 0 {
		return 0
	}
	w := 0.0
	for _, pr := range s.matched {
		w += 1 - pr.cost/2 // 1 for a perfect pair, 0 at both tolerances
	}
	if lo := float64(max(minOverlap, len(s.matched))); w*w/(lo*lo) <= atLeast {
		return 0 // cannot beat the best score so far
	}
	np := 0
	for _, p := range s.p.pts {
		if s.c.hull.Contains(xy(al.apply(p)), pairDistTol) {
			np++
		}
	}
	nc := 0
	for _, c := range s.c.pts {
		if s.p.hull.Contains(xy(al.invert(c)), pairDistTol) {
			nc++
		}
	}
	np, nc = max(np, minOverlap, len(s.matched)), max(nc, minOverlap, len(s.matched))
	return min(1, w*w/(float64(np)*float64(nc)))
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
	return false
}

// normAngle returns a in [0, 2π).
func normAngle(a float64) float64 {
	const twoPi = 2 * math.Pi
	switch {
	case a >= 0 && a < twoPi:
		return a
	case a < 0 && a >= -twoPi:
		a += twoPi
	case a >= twoPi && a < 2*twoPi:
		a -= twoPi
	default:
		a = math.Mod(a, twoPi)
		if a < 0 {
			a += twoPi
		}
	}
	if a >= twoPi { // rounding of a tiny negative a
		a = 0
	}
	return a
}

// angleDiff returns the absolute difference of two angles in [0, 2π), in [0, π].
func angleDiff(a, b float64) float64 {
	d := math.Abs(a - b)
	if d > math.Pi {
		d = 2*math.Pi - d
	}
	return d
}

// xy is a point's position, for the hull.
func xy(p point) geom.Point { return geom.Point{X: p.x, Y: p.y} }

func sq(x float64) float64 { return x * x }
