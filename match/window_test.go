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
	// Each view of b as it is prepared (with the vector kernel's blocks
	// where the CPU has the kernel) and without them (the scalar loop).
	var bs []*Prepared
	for _, v := range views {
		scalar := *v
		scalar.blk = nil
		bs = append(bs, v, &scalar)
	}
	t.Logf("vector window kernel on this CPU: %v", haveWindowKernel)
	var s scratch
	checked := 0
	for _, a := range views {
		for _, b := range bs {
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

// TestWindowKernelMatchesScalar checks windowKeysAVX512 against the scalar
// loop of windowRuns on random cylinders, including the cases real prints
// rarely give: empty cylinders, too few common cells, runs that start and
// end inside a block of eight, and a single candidate.
func TestWindowKernelMatchesScalar(t *testing.T) {
	if !haveWindowKernel {
		t.Skip("this CPU has no AVX-512 population count: windowRuns uses its scalar loop, which TestWindowMatchesReference checks")
	}
	rng := rand.New(rand.NewPCG(21, 22))
	randomCylinder := func() cylinder {
		var c cylinder
		switch rng.IntN(5) {
		case 4: // the first m cells of the disc, m about minCommonCells: two such cylinders share min(m, m') cells
			m := minCommonCells - 1 + rng.IntN(3)
			for x := discMask[0]; m > 0; x &= x - 1 {
				c.mask[0] |= x & -x
				m--
			}
		case 0:
			c.mask[0] = discMask[0]
		case 1:
			c.mask[0] = discMask[0] & rng.Uint64() & rng.Uint64()
		default:
			c.mask[0] = discMask[0] &^ (rng.Uint64() & rng.Uint64() & rng.Uint64())
		}
		density := rng.IntN(4)
		for k := range cylND {
			v := rng.Uint64()
			for range density {
				v &= rng.Uint64()
			}
			if density == 3 {
				v = 0
			}
			c.val[k][0] = v & c.mask[0]
		}
		v := c.val
		s1, c1 := v[0][0]^v[1][0]^v[2][0], v[0][0]&v[1][0]|v[2][0]&(v[0][0]^v[1][0])
		s2, c2 := v[3][0]^v[4][0]^v[5][0], v[3][0]&v[4][0]|v[5][0]&(v[3][0]^v[4][0])
		c3 := s1 & s2
		c.cnt = [3]uint64{s1 ^ s2, c1 ^ c2 ^ c3, c1&c2 | c3&(c1^c2)}
		return c
	}
	var s scratch
	cases, keys := 0, 0
	for range 300 {
		n := 1 + rng.IntN(40)
		b := &Prepared{cyls: make([]cylinder, n)}
		for v := range b.cyls {
			b.cyls[v] = randomCylinder()
		}
		b.blk = cylinderBlocks(b.cyls)
		scalar := &Prepared{cyls: b.cyls}
		for range 10 {
			ca := randomCylinder()
			v0 := rng.IntN(n)
			v1 := v0 + rng.IntN(n-v0+1)
			v2 := rng.IntN(v0 + 1)
			r := runs{v2, v2 + rng.IntN(v0-v2+1), v0, v1}
			// Every candidate's key (s.cand), not only the ranked ones.
			s.keys = s.keys[:0]
			s.windowRuns(b, 7, &ca, r)
			got, gotCand := slices.Clone(s.keys), slices.Clone(s.cand)
			s.keys = s.keys[:0]
			s.windowRuns(scalar, 7, &ca, r)
			if !slices.Equal(got, s.keys) || !slices.Equal(gotCand, s.cand) {
				t.Fatalf("n=%d runs %v: kernel keys %x (of %x), scalar %x (of %x)", n, r, got, gotCand, s.keys, s.cand)
			}
			cases++
			keys += len(s.cand)
		}
	}
	if keys < 1000 {
		t.Fatalf("only %d keys in %d rows: the random cylinders are too rarely similar to test the kernel", keys, cases)
	}
	t.Logf("%d rows compared, %d keys", cases, keys)
}

// TestMinCommonCells checks what window relies on to skip counting the
// common valid cells when one of the two discs is full: every cylinder
// kept has more valid cells than two cylinders need in common.
func TestMinCommonCells(t *testing.T) {
	// MCC's minimum: minME of the disc's cells (an initialisation-order
	// slip once made it 0, and every pair of cylinders was compared).
	if cellsInDisc != 52 || minCommonCells != 32 {
		t.Fatalf("%d cells in the disc and minCommonCells %d, want 52 and ⌈0.6·52⌉ = 32", cellsInDisc, minCommonCells)
	}
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
