package match

import (
	"math/rand/v2"
	"testing"
)

// overlapOf scores a against b and returns the score and the overlap
// factor that scaled it (1 for views that are not small).
func overlapOf(a, b *Prepared) (score, factor float64) {
	var s scratch
	score = s.score(a, b)
	if less(b, a) {
		a, b = b, a
	}
	if score == 0 || min(len(a.cyls), len(b.cyls)) >= muP {
		return score, 1
	}
	return score, s.overlapFactor(a, b)
}

// TestOverlapFactor checks the overlap normalisation of small views: a
// rotated, shifted copy of a partial view pairs all its minutiae (factor 1,
// score unchanged), a distorted partial impression keeps most of its score,
// and partial views of different fingers are scaled down.
func TestOverlapFactor(t *testing.T) {
	all := realTemplates(t)
	rng := rand.New(rand.NewPCG(5, 55))
	parts := map[string]*Prepared{}
	for name, tm := range all {
		part := crop(tm, 0.3, 0.05, -0.05)
		pa := prep(t, part, 0)
		if pa.Cylinders() >= muP || pa.Cylinders() < 4 {
			t.Fatalf("%s: partial view has %d cylinders, want 4..%d", name, pa.Cylinders(), muP-1)
		}
		parts[name] = pa
		if s, f := overlapOf(pa, prep(t, transform(part, 35, 40, -25), 0)); f != 1 || s == 0 {
			t.Errorf("%s: rotated copy of a partial view: factor %.3f (score %.4f), want 1", name, f, s)
		}
		s, f := overlapOf(pa, prep(t, distort(part, rng, 4, 0.15, 0.15, 20, 20), 0))
		t.Logf("%s: distorted partial impression: score %.4f, factor %.3f", name, s, f)
		if f < 0.5 {
			t.Errorf("%s: distorted partial impression: factor %.3f, want at least 0.5", name, f)
		}
	}
	for an, a := range parts {
		for bn, b := range parts {
			if an >= bn {
				continue
			}
			s, f := overlapOf(a, b)
			t.Logf("%s vs %s: score %.4f, factor %.3f", an, bn, s, f)
			if f >= 1 && s > 0 {
				t.Errorf("%s vs %s (different fingers): factor %.3f, want below 1", an, bn, f)
			}
		}
	}
}
