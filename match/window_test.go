package match

import (
	"cmp"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
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

// TestWindowKernelLayout checks the offsets windowAllAVX512 reads its
// arguments at.
func TestWindowKernelLayout(t *testing.T) {
	var p windowArgs
	got := []uintptr{unsafe.Offsetof(p.ablk), unsafe.Offsetof(p.bblk), unsafe.Offsetof(p.runs), unsafe.Offsetof(p.rows),
		unsafe.Offsetof(p.out), unsafe.Offsetof(p.rowEnd), unsafe.Offsetof(p.minCommon), unsafe.Offsetof(p.keys), unsafe.Offsetof(p.keyStart)}
	if want := []uintptr{0, 8, 16, 24, 32, 40, 48, 56, 64}; !slices.Equal(got, want) {
		t.Fatalf("offsets %v, the kernel reads %v", got, want)
	}
}

// TestWindowKernelMatchesScalar checks windowAll (windowAllAVX512) against
// score's scalar loop over the rows (windowRuns): the same keys before and
// after ranking, the same rows. On real views and their transformed copies,
// and on random cylinders, with the cases real prints rarely give: empty
// cylinders, exactly minCommonCells common cells or one fewer, views of one
// cylinder.
func TestWindowKernelMatchesScalar(t *testing.T) {
	if !haveAVX512Popcount {
		t.Skip("this CPU has no AVX-512 population count: score uses windowRuns' scalar loop, which TestWindowMatchesReference checks")
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
	randomView := func() *Prepared {
		p := &Prepared{cyls: make([]cylinder, 1+rng.IntN(40))}
		for v := range p.cyls {
			p.cyls[v] = randomCylinder()
			p.ang = append(p.ang, rng.Float64()*2*math.Pi)
		}
		slices.Sort(p.ang)
		p.blk = cylinderBlocks(p.cyls)
		return p
	}
	var views []*Prepared
	for _, tp := range realTemplates(t) {
		views = append(views, prep(t, tp, 0), prep(t, crop(tp, 0.6, 0.2, 0.3), 0), prep(t, distort(tp, rng, 4, 0.3, 0.3, 30, 20), 0))
	}
	var pairs [][2]*Prepared
	for _, a := range views {
		for _, b := range views {
			pairs = append(pairs, [2]*Prepared{a, b})
		}
	}
	for range 300 {
		pairs = append(pairs, [2]*Prepared{randomView(), randomView()})
	}
	var s scratch
	rows, keys := 0, 0
	for _, ab := range pairs {
		a, b := ab[0], ab[1]
		if len(a.cyls) == 0 || len(b.cyls) == 0 {
			continue
		}
		// The scalar rows, each row's candidates kept.
		s.keys = s.keys[:0]
		var wantCand []uint64
		var wantStart []int32
		var sw sweep
		for u := range a.cyls {
			wantStart = append(wantStart, int32(len(s.keys)))
			s.windowRuns(b, u, &a.cyls[u], sw.runs(b.ang, a.ang[u]-maxDTheta, a.ang[u]+maxDTheta))
			wantCand = append(wantCand, s.cand...)
		}
		want := slices.Clone(s.keys)
		s.keys = s.keys[:0]
		s.rowStart = resized(s.rowStart, len(a.cyls)+1)
		s.windowAll(a, b)
		if !slices.Equal(want, s.keys) || !slices.Equal(wantStart, s.rowStart[:len(a.cyls)]) || !slices.Equal(wantCand, s.cand[:s.candEnd[len(a.cyls)-1]]) {
			t.Fatalf("%d×%d cylinders: kernel keys %x rows %v; scalar %x rows %v", len(a.cyls), len(b.cyls), s.keys, s.rowStart, want, wantStart)
		}
		rows += len(a.cyls)
		keys += len(wantCand)
	}
	if keys < 10000 {
		t.Fatalf("only %d keys in %d rows: too few similar cylinders to test the kernel", keys, rows)
	}
	t.Logf("%d rows compared, %d keys", rows, keys)
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
