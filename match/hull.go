package match

import (
	"cmp"
	"math"
	"slices"
)

// convexHull returns the convex hull of pts, counter-clockwise, by Andrew's
// monotone chain.
func convexHull(pts []point) []point {
	ps := slices.Clone(pts)
	slices.SortFunc(ps, func(a, b point) int { return cmp.Or(cmp.Compare(a.x, b.x), cmp.Compare(a.y, b.y)) })
	ps = slices.CompactFunc(ps, func(a, b point) bool { return a.x == b.x && a.y == b.y })
	if len(ps) < 3 {
		return ps
	}
	cross := func(o, a, b point) float64 { return (a.x-o.x)*(b.y-o.y) - (a.y-o.y)*(b.x-o.x) }
	h := make([]point, 0, 2*len(ps))
	for _, p := range ps {
		for len(h) >= 2 && cross(h[len(h)-2], h[len(h)-1], p) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, p)
	}
	lower := len(h) + 1
	for i := len(ps) - 2; i >= 0; i-- {
		p := ps[i]
		for len(h) >= lower && cross(h[len(h)-2], h[len(h)-1], p) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, p)
	}
	return h[:len(h)-1]
}

// hull is a convex polygon, counter-clockwise, with its edges' inward unit
// normals precomputed.
type hull struct {
	v      []point
	nx, ny []float64
}

func newHull(v []point) hull {
	h := hull{v: v}
	if len(v) < 3 {
		return h
	}
	h.nx, h.ny = make([]float64, len(v)), make([]float64, len(v))
	for k := range v {
		a, b := v[k], v[(k+1)%len(v)]
		ex, ey := b.x-a.x, b.y-a.y
		l := math.Hypot(ex, ey)
		h.nx[k], h.ny[k] = -ey/l, ex/l
	}
	return h
}

// inHull reports whether q lies inside the convex polygon h or within margin
// of it. Degenerate hulls (fewer than 3 vertices) contain the points within
// margin of their vertices or segment.
func inHull(h hull, q point, margin float64) bool {
	switch len(h.v) {
	case 0:
		return false
	case 1:
		return math.Hypot(q.x-h.v[0].x, q.y-h.v[0].y) <= margin
	case 2:
		return segDist(h.v[0], h.v[1], q) <= margin
	}
	for k, a := range h.v {
		// Signed distance of q to the inner side of edge k.
		if (q.x-a.x)*h.nx[k]+(q.y-a.y)*h.ny[k] < -margin {
			return false
		}
	}
	return true
}

func segDist(a, b, q point) float64 {
	ex, ey := b.x-a.x, b.y-a.y
	t := ((q.x-a.x)*ex + (q.y-a.y)*ey) / (ex*ex + ey*ey)
	t = max(0, min(1, t))
	return math.Hypot(q.x-(a.x+t*ex), q.y-(a.y+t*ey))
}
