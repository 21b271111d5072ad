package match

import (
	"cmp"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestWindowMatchesReference checks the written-out similarity and the
// branchless ranking of window against the plain definition: for every
// cylinder u of a, the keys are the rowTopK most similar cylinders of b
// within δθ (by cylinderSim), similarity descending, then index ascending.
func TestWindowMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var views []*Prepared
	for _, tp := range realTemplates(t) {
		views = append(views, prep(t, tp, 0))
		views = append(views, prep(t, crop(tp, 0.6, 0.2, 0.3), 0))
		views = append(views, prep(t, distort(tp, rng, 4, 0.3, 0.3, 30, 20), 0))
	}
	var s scratch
	checked := 0
	for _, a := range views {
		for _, b := range views {
			var sw sweep
			for u := range a.cyls {
				lo, hi := a.ang[u]-maxDTheta, a.ang[u]+maxDTheta
				if got, want := sw.runs(b.ang, lo, hi), binaryRuns(b.ang, lo, hi); got != want {
					t.Fatalf("u=%d: sweep runs %v, binary search %v", u, got, want)
				}
				s.keys = s.keys[:0]
				s.window(a, b, u, &a.cyls[u], a.ang[u]-maxDTheta, a.ang[u]+maxDTheta)
				type cand struct {
					v   int
					sim float32
				}
				var want []cand
				for v := range b.cyls {
					// In the window [au-δθ, au+δθ], modulo 2π (as Score
					// defines it; ISO angles are multiples of 2π/256, so
					// differences of exactly δθ are common).
					lo, hi, x := a.ang[u]-maxDTheta, a.ang[u]+maxDTheta, b.ang[v]
					if !(lo <= x && x <= hi || x <= hi-2*math.Pi || x >= lo+2*math.Pi) {
						continue
					}
					if sim := cylinderSim(&a.cyls[u], &b.cyls[v]); sim > 0 {
						want = append(want, cand{v, sim})
					}
				}
				slices.SortFunc(want, func(x, y cand) int { return cmp.Or(cmp.Compare(y.sim, x.sim), cmp.Compare(x.v, y.v)) })
				want = want[:min(len(want), rowTopK)]
				if len(s.keys) != len(want) {
					t.Fatalf("u=%d: %d keys, want %d", u, len(s.keys), len(want))
				}
				for i, k := range s.keys {
					v, sim := int(k&0xffff), math.Float32frombits(math.MaxUint32-uint32(k>>32))
					if int(k>>16&0xffff) != u || v != want[i].v || sim != want[i].sim {
						t.Fatalf("u=%d key %d: (u %d, v %d, sim %v), want (v %d, sim %v)", u, i, k>>16&0xffff, v, sim, want[i].v, want[i].sim)
					}
				}
				checked++
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d rows checked", checked)
	}
}

// TestMinCommonCells checks what window relies on to skip counting the
// common valid cells when one of the two discs is full: every cylinder
// kept has more valid cells than two cylinders need in common.
func TestMinCommonCells(t *testing.T) {
	if kept := int(math.Ceil(minVC * float64(cellsInDisc))); kept < minCommonCells {
		t.Fatalf("a cylinder may have %d valid cells, fewer than minCommonCells = %d", kept, minCommonCells)
	}
}

// TestCellCounts checks the bit-sliced section counts of cylinders against
// their values: for any set of cells, the count is the number of bits.
func TestCellCounts(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	n := 0
	for _, tp := range realTemplates(t) {
		for _, c := range prep(t, tp, 0).cyls {
			for range 8 {
				m := rng.Uint64()
				want := 0
				for k := range cylND {
					want += bits.OnesCount64(c.val[k][0] & m)
				}
				if got := bits.OnesCount64(c.cnt[0]&m) + 2*bits.OnesCount64(c.cnt[1]&m) + 4*bits.OnesCount64(c.cnt[2]&m); got != want {
					t.Fatalf("counts give %d bits, want %d", got, want)
				}
				n++
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d cases", n)
	}
}
