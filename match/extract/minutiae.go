package extract

import (
	"cmp"
	"math"
	"slices"
	"sync"

	"ttpgate/match/template"
)

// Tuning of minutiae detection, pixels at 500 dpi.
const (
	borderMargin = 10.0 // minutiae closer to the edge of the finger area are dropped
	traceLen     = 12   // ridge length traced for a minutia's direction
	spurLen      = 16   // an ending whose ridge reaches another minutia within this is a spur or island
	bridgeLen    = 14   // two bifurcations joined by a ridge this short are a bridge
	facingDist   = 16.0 // endings facing each other this close are a broken ridge
	clusterDist  = 6.0  // minutiae closer than this are noise
)

// ring is the 8-neighbourhood in order: N, NE, E, SE, S, SW, W, NW.
var ring = [8][2]int{{0, -1}, {1, -1}, {1, 0}, {1, 1}, {0, 1}, {-1, 1}, {-1, 0}, {-1, -1}}

// skelPool recycles findMinutiae's skeletons.
var skelPool = sync.Pool{New: func() any { return new(skel) }}

type skel struct {
	w, h  int
	px    []uint8
	stamp []int32
	cur   int32
}

func (s *skel) at(x, y int) bool {
	return x >= 0 && y >= 0 && x < s.w && y < s.h && s.px[y*s.w+x] != 0
}

// thinDelete[pass][p] says whether Zhang-Suen pass 0 or 1 deletes a pixel
// whose ring (N, NE, E, SE, S, SW, W, NW) is set as the bits of p (bit k
// for ring[k]), and stairDelete[p] whether the staircase step removes it:
// both depend on the ring alone, so they are tabulated once rather than
// decided pixel by pixel.
var thinDelete, stairDelete = func() (del [2][256]bool, stair [256]bool) {
	for m := range 256 {
		var p [8]uint8
		for k := range 8 {
			p[k] = uint8(m >> k & 1)
		}
		cnt, trans := 0, 0
		for k := range 8 {
			cnt += int(p[k])
			if p[k] == 0 && p[(k+1)%8] == 1 {
				trans++
			}
		}
		if cnt >= 2 && cnt <= 6 && trans == 1 {
			// p[0]=N p[2]=E p[4]=S p[6]=W
			del[0][m] = p[0]*p[2]*p[4] == 0 && p[2]*p[4]*p[6] == 0
			del[1][m] = p[0]*p[2]*p[6] == 0 && p[0]*p[4]*p[6] == 0
		}
		// Staircases: a pixel whose two 4-neighbours at a right angle are
		// both set is redundant if its other neighbours stay connected
		// without it.
		corner := (p[0] != 0 && p[2] != 0) || (p[2] != 0 && p[4] != 0) || (p[4] != 0 && p[6] != 0) || (p[6] != 0 && p[0] != 0)
		if !corner {
			continue
		}
		// Without x,y, are the neighbours still one 8-connected group?
		// Ring neighbours are adjacent if consecutive in the ring, and
		// 4-neighbours two apart are adjacent through the diagonal.
		// Count groups: transitions, merged when a gap is a single
		// diagonal between two 4-neighbours.
		groups := trans
		for k := 1; k < 8; k += 2 {
			if p[k] == 0 && p[k-1] != 0 && p[(k+1)%8] != 0 {
				groups--
			}
		}
		stair[m] = groups <= 1
	}
	return del, stair
}()

// thin is Zhang-Suen thinning of b (1 for ridge) in place, followed by the
// removal of staircase pixels, so that every ridge pixel has at most two
// neighbours except at true junctions.
func thin(b []uint8, w, h int) {
	var del []int
	// ringBits returns the ring of pixel i (off the image's edge: no bounds
	// checks) as the bits of a thinDelete index.
	ringBits := func(i int) uint8 {
		return b[i-w] | b[i-w+1]<<1 | b[i+1]<<2 | b[i+w+1]<<3 | b[i+w]<<4 | b[i+w-1]<<5 | b[i-1]<<6 | b[i-w-1]<<7
	}
	// The pixels still set, in raster order: each pass examines only them.
	var live []int
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			if b[y*w+x] != 0 {
				live = append(live, y*w+x)
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for pass := range 2 {
			del = del[:0]
			tab := &thinDelete[pass]
			for _, i := range live {
				if tab[ringBits(i)] {
					del = append(del, i)
				}
			}
			for _, i := range del {
				b[i] = 0
			}
			if len(del) > 0 {
				changed = true
				kept := live[:0]
				for _, i := range live {
					if b[i] != 0 {
						kept = append(kept, i)
					}
				}
				live = kept
			}
		}
	}
	// Staircases, in raster order and in place (a removal changes the
	// rings of the pixels after it). Only pixels still set off the edge can
	// be removed, and those are the live ones.
	for _, i := range live {
		if stairDelete[ringBits(i)] {
			b[i] = 0
		}
	}
}

// crossing returns the crossing number of a skeleton pixel and the ring
// index of one pixel of each branch (a 4-neighbour when the branch has one).
func (s *skel) crossing(x, y int) (int, []int) {
	var p [8]bool
	for k, d := range ring {
		p[k] = s.at(x+d[0], y+d[1])
	}
	var starts []int
	for k := range 8 {
		if !p[k] && p[(k+1)%8] {
			// A run starts at k+1: take its first 4-neighbour if any.
			best := (k + 1) % 8
			for j := (k + 1) % 8; p[j]; j = (j + 1) % 8 {
				if j%2 == 0 {
					best = j
					break
				}
				if j == k {
					break
				}
			}
			starts = append(starts, best)
		}
	}
	return len(starts), starts
}

// trace follows the ridge from (x, y) through its ring neighbour k for at
// most n steps. It returns where it stopped, the steps taken and whether it
// stopped at another minutia (an end or a junction) rather than after n steps.
func (s *skel) trace(x, y, k, n int) (ex, ey, steps int, hit bool) {
	s.cur++
	s.stamp[y*s.w+x] = s.cur
	for _, d := range ring { // the minutia's other neighbours belong to other branches
		if s.at(x+d[0], y+d[1]) {
			s.stamp[(y+d[1])*s.w+x+d[0]] = s.cur
		}
	}
	cx, cy := x+ring[k][0], y+ring[k][1]
	for steps = 1; steps < n; steps++ {
		nx, ny, cnt := 0, 0, 0
		for _, d := range ring {
			xx, yy := cx+d[0], cy+d[1]
			if s.at(xx, yy) && s.stamp[yy*s.w+xx] != s.cur {
				if cnt == 0 || (d[0] == 0 || d[1] == 0) { // prefer 4-neighbours
					nx, ny = xx, yy
				}
				cnt++
			}
		}
		// Count the pixel's own neighbours to detect junctions.
		own := 0
		for _, d := range ring {
			if s.at(cx+d[0], cy+d[1]) {
				own++
			}
		}
		if cnt == 0 || own > 2 {
			return cx, cy, steps, true
		}
		for _, d := range ring {
			xx, yy := cx+d[0], cy+d[1]
			if s.at(xx, yy) {
				s.stamp[yy*s.w+xx] = s.cur
			}
		}
		s.stamp[cy*s.w+cx] = s.cur
		cx, cy = nx, ny
	}
	return cx, cy, steps, false
}

type minutia struct {
	x, y    int
	typ     template.MinutiaType
	dir     float64 // radians, image coordinates (Y down), pointing as the standards say
	quality int
	drop    bool
}

// findMinutiae thins the ridges, detects minutiae, removes false ones and
// returns the rest, best quality first.
func findMinutiae(f *field) []template.Minutia {
	w, h := f.w, f.h
	// The skeleton and the trace stamps are recycled as enhance's
	// temporaries are (workPool).
	s := skelPool.Get().(*skel)
	defer skelPool.Put(s)
	s.w, s.h, s.cur = w, h, 0
	s.px, s.stamp = grow(s.px, w*h), grow(s.stamp, w*h)
	px := s.px
	copy(px, f.ridge)
	clear(s.stamp)
	thin(px, w, h)
	var ms []minutia
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			if px[y*w+x] == 0 || f.border[y*w+x] < 3 {
				continue
			}
			cn, starts := s.crossing(x, y)
			var typ template.MinutiaType
			switch cn {
			case 1:
				typ = template.MinutiaEnding
			case 3:
				typ = template.MinutiaBifurcation
			default:
				continue
			}
			// Direction: the ridge's branches, traced, summed and reversed
			// (an ending points away from its ridge, a bifurcation towards
			// its stem), then snapped to the orientation field.
			vx, vy := 0.0, 0.0
			for _, k := range starts {
				ex, ey, _, _ := s.trace(x, y, k, traceLen)
				dx, dy := float64(ex-x), float64(ey-y)
				if l := math.Hypot(dx, dy); l > 0 {
					vx, vy = vx+dx/l, vy+dy/l
				}
			}
			th := float64(f.orient[y*w+x])
			dir := th
			if math.Cos(th)*(-vx)+math.Sin(th)*(-vy) < 0 {
				dir += math.Pi
			}
			ms = append(ms, minutia{x: x, y: y, typ: typ, dir: dir})
		}
	}
	at := make(map[[2]int]int, len(ms))
	for i, m := range ms {
		at[[2]int{m.x, m.y}] = i
	}
	// Spurs, islands and bridges: ridges that join two minutiae too closely.
	for i := range ms {
		m := &ms[i]
		_, starts := s.crossing(m.x, m.y)
		limit := spurLen
		if m.typ == template.MinutiaBifurcation {
			limit = bridgeLen
		}
		for _, k := range starts {
			ex, ey, _, hit := s.trace(m.x, m.y, k, limit)
			if !hit {
				continue
			}
			if j, ok := nearMinutia(at, ex, ey); ok && j != i {
				if m.typ == template.MinutiaEnding || ms[j].typ == template.MinutiaBifurcation {
					m.drop, ms[j].drop = true, true
				}
			} else if m.typ == template.MinutiaEnding {
				m.drop = true // a tiny ridge fragment
			}
		}
	}
	// Broken ridges: two endings facing each other.
	for i := range ms {
		for j := i + 1; j < len(ms); j++ {
			a, b := &ms[i], &ms[j]
			dx, dy := float64(b.x-a.x), float64(b.y-a.y)
			d := math.Hypot(dx, dy)
			if d > facingDist || a.typ != template.MinutiaEnding || b.typ != template.MinutiaEnding {
				continue
			}
			if math.Cos(a.dir-b.dir) < -0.7 && (dx*math.Cos(a.dir)+dy*math.Sin(a.dir)) > 0.5*d {
				a.drop, b.drop = true, true
			}
		}
	}
	// Border and clusters.
	for i := range ms {
		m := &ms[i]
		if float64(f.border[m.y*w+m.x]) < borderMargin {
			m.drop = true
		}
		for j := i + 1; j < len(ms); j++ {
			if math.Hypot(float64(ms[j].x-m.x), float64(ms[j].y-m.y)) < clusterDist {
				m.drop, ms[j].drop = true, true
			}
		}
	}
	var out []template.Minutia
	for _, m := range ms {
		if m.drop {
			continue
		}
		i := m.y*w + m.x
		q := float64(f.coher[i]) * min(1, float64(f.border[i])/30)
		// Coherence averaged around the minutia, which is itself a singularity.
		q = 100 * min(1, 0.2+q)
		angle := math.Mod(-m.dir+4*math.Pi, 2*math.Pi) // the standards' counter-clockwise angle (Y up)
		out = append(out, template.Minutia{Type: m.typ, X: m.x, Y: m.y, Angle: angle,
			RawAngle: -1, Quality: max(1, min(100, int(math.Round(q))))})
	}
	slices.SortStableFunc(out, func(a, b template.Minutia) int {
		return cmp.Or(cmp.Compare(b.Quality, a.Quality), cmp.Compare(a.Y, b.Y), cmp.Compare(a.X, b.X))
	})
	return out
}

func nearMinutia(at map[[2]int]int, x, y int) (int, bool) {
	for dy := -1; dy <= 1; dy++ {
		for dx := -1; dx <= 1; dx++ {
			if j, ok := at[[2]int{x + dx, y + dy}]; ok {
				return j, true
			}
		}
	}
	return 0, false
}
