// Package geom holds the plane geometry the matchers share: the convex hull of a view's minutiae,
// containment with a margin, and a fast atan2. Pure functions on float64 values.
package geom

import (
	"cmp"
	"math"
	"slices"
)

// Point is a position in pixels.
type Point struct{ X, Y float64 }

// ConvexHull returns the convex hull of pts, counter-clockwise, by Andrew's monotone chain.
func ConvexHull(pts []Point) []Point {
	ps := slices.Clone(pts)
	slices.SortFunc(ps, func(a, b Point) int { return cmp.Or(CompareFinite(a.X, b.X), CompareFinite(a.Y, b.Y)) })
	ps = slices.Compact(ps)
	if len(ps) < 3 {
		return ps
	}
	cross := func(o, a, b Point) float64 { return (a.X-o.X)*(b.Y-o.Y) - (a.Y-o.Y)*(b.X-o.X) }
	h := make([]Point, 0, 2*len(ps))
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

// CompareFinite is cmp.Compare for numbers that are not NaN (coordinates
// and angles of validated minutiae): it orders them the same, without
// cmp.Compare's tests for NaN, which cost sorts of small sets a third of
// their time.
func CompareFinite(x, y float64) int {
	if x < y {
		return -1
	}
	if x > y {
		return 1
	}
	return 0
}

// Hull is a convex polygon, counter-clockwise, with its edges' inward unit normals (NX, NY)
// precomputed: the signed distance of q to the inner side of edge k is
// (q.X-V[k].X)*NX[k] + (q.Y-V[k].Y)*NY[k].
type Hull struct {
	V      []Point
	NX, NY []float64
}

// NewHull precomputes the edge normals of the convex polygon v (as ConvexHull returns it).
func NewHull(v []Point) Hull {
	h := Hull{V: v}
	if len(v) < 3 {
		return h
	}
	h.NX, h.NY = make([]float64, len(v)), make([]float64, len(v))
	for k := range v {
		a, b := v[k], v[(k+1)%len(v)]
		ex, ey := b.X-a.X, b.Y-a.Y
		l := math.Hypot(ex, ey)
		h.NX[k], h.NY[k] = -ey/l, ex/l
	}
	return h
}

// Contains reports whether q lies inside the polygon or within margin of it. Degenerate hulls
// (fewer than 3 vertices) contain the points within margin of their vertices or segment.
func (h Hull) Contains(q Point, margin float64) bool {
	switch len(h.V) {
	case 0:
		return false
	case 1:
		return math.Hypot(q.X-h.V[0].X, q.Y-h.V[0].Y) <= margin
	case 2:
		return segDist(h.V[0], h.V[1], q) <= margin
	}
	for k, a := range h.V {
		if (q.X-a.X)*h.NX[k]+(q.Y-a.Y)*h.NY[k] < -margin {
			return false
		}
	}
	return true
}

func segDist(a, b, q Point) float64 {
	ex, ey := b.X-a.X, b.Y-a.Y
	t := ((q.X-a.X)*ex + (q.Y-a.Y)*ey) / (ex*ex + ey*ey)
	t = max(0, min(1, t))
	return math.Hypot(q.X-(a.X+t*ex), q.Y-(a.Y+t*ey))
}

// The coefficients of FastAtan2's polynomial on [0, 1]:
// atan(a) ≈ ((AtanC1·a² + AtanC2)·a² − AtanC3)·a²·a + a.
const (
	AtanC1 = -0.0464964749
	AtanC2 = 0.15931422
	AtanC3 = 0.327622764
)

// FastAtan2 is math.Atan2 to within 1e-5 rad (a minimax polynomial on [0, 1] and the octant
// symmetries), about 4 times faster; the matcher's angular tolerances and the orientation field
// are of the order of 0.1 rad.
func FastAtan2(y, x float64) float64 {
	ax, ay := math.Abs(x), math.Abs(y)
	if ax == 0 && ay == 0 {
		return 0
	}
	a := min(ax, ay) / max(ax, ay)
	s := a * a
	// Each product rounded (the explicit conversions keep a compiler from
	// fusing them into multiply-adds, on any architecture): the matcher's
	// vector kernel computes the same steps.
	r := float64(float64(float64(float64(AtanC1*s)+AtanC2)*s)-AtanC3) * s
	r = float64(r*a) + a
	if ay > ax {
		r = math.Pi/2 - r
	}
	if x < 0 {
		r = math.Pi - r
	}
	if y < 0 {
		r = -r
	}
	return r
}
