package match

import (
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// TestEdgeKernelLayout checks the offsets edgesAVX512 reads its
// arguments and constants at.
func TestEdgeKernelLayout(t *testing.T) {
	var p edgeArgs
	var c edgeKernelConsts
	got := []uintptr{unsafe.Offsetof(p.adist), unsafe.Offsetof(p.bdist), unsafe.Offsetof(p.arel), unsafe.Offsetof(p.brel),
		unsafe.Offsetof(p.aang), unsafe.Offsetof(p.bang), unsafe.Offsetof(p.tab), unsafe.Offsetof(p.selA), unsafe.Offsetof(p.selB),
		unsafe.Offsetof(p.kOut), unsafe.Offsetof(p.rOut), unsafe.Offsetof(p.n), unsafe.Offsetof(p.na), unsafe.Offsetof(p.nb), unsafe.Offsetof(p.rowEnd),
		unsafe.Offsetof(c.absMask), unsafe.Offsetof(c.invStep), unsafe.Offsetof(c.half), unsafe.Offsetof(c.z1Keep),
		unsafe.Offsetof(c.pi32), unsafe.Offsetof(c.twoPi32), unsafe.Offsetof(c.negPi32), unsafe.Offsetof(c.zScale), unsafe.Offsetof(c.minR),
		unsafe.Offsetof(c.z2Off), unsafe.Offsetof(c.z3Off), unsafe.Offsetof(c.pi64), unsafe.Offsetof(c.twoPi64), unsafe.Offsetof(c.negPi64)}
	want := []uintptr{0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112,
		0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 48, 56, 64}
	if !slices.Equal(got, want) {
		t.Fatalf("offsets %v, the kernel reads %v", got, want)
	}
	// Set after the tables (an init that ran first once saw z1Keep 0).
	if edgeConsts.z1Keep != int32(z1Keep) || z1Keep < 100 || edgeConsts.z3Off != z1N+1+zAN+1 {
		t.Fatalf("the kernel's z1Keep %d, z3Off %d; the tables' %d, %d", edgeConsts.z1Keep, edgeConsts.z3Off, z1Keep, z1N+1+zAN+1)
	}
}

// TestEdgeKernelMatchesScalar checks that edgesAVX512 gives the scalar
// loop's edges, bit for bit: on the pairs Score selects for real views and
// their transformed copies, and on random selections (any cylinder with any
// other, so that every branch of the scalar loop is taken).
func TestEdgeKernelMatchesScalar(t *testing.T) {
	if !haveAVX512 {
		t.Skip("this CPU has no AVX-512: compatibilities uses its scalar loop")
	}
	rng := rand.New(rand.NewPCG(31, 32))
	var views []*Prepared
	for _, tp := range realTemplates(t) {
		views = append(views, prep(t, tp, 0))
		views = append(views, prep(t, crop(tp, 0.6, 0.2, 0.3), 0))
		views = append(views, prep(t, distort(tp, rng, 4, 0.3, 0.3, 30, 20), 0))
	}
	var s scratch
	rows, edges := 0, 0
	check := func(a, b *Prepared) {
		s.compatibilitiesScalar(a, b)
		wantK, wantR, wantEnd := slices.Clone(s.edgeK), slices.Clone(s.edgeR), slices.Clone(s.rowEnd)
		s.compatibilitiesKernel(a, b)
		if !slices.Equal(wantEnd, s.rowEnd) || !slices.Equal(wantK, s.edgeK) || !slices.Equal(wantR, s.edgeR) {
			t.Fatalf("%d pairs: kernel rows end %v, k %v, r %v; scalar %v, %v, %v", len(s.sel), s.rowEnd, s.edgeK, s.edgeR, wantEnd, wantK, wantR)
		}
		rows += len(s.sel)
		edges += len(wantK)
	}
	for _, a := range views {
		for _, b := range views {
			if len(a.cyls) == 0 || len(b.cyls) == 0 {
				continue
			}
			// The selection Score makes.
			s.score(a, b)
			if less(b, a) {
				check(b, a)
			} else {
				check(a, b)
			}
			// A random one.
			s.sel = s.sel[:0]
			for range 1 + rng.IntN(40) {
				s.sel = append(s.sel, simPair{a: int32(rng.IntN(len(a.cyls))), b: int32(rng.IntN(len(b.cyls))), s: 0.5})
			}
			check(a, b)
		}
	}
	if edges < 1000 {
		t.Fatalf("only %d edges in %d rows", edges, rows)
	}
	t.Logf("%d rows, %d edges", rows, edges)
}
