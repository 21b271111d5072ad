package match

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// TestPairKernelLayout checks the offsets pairTablesAVX512 reads.
func TestPairKernelLayout(t *testing.T) {
	var p pairArgs
	var c pairConsts
	got := []uintptr{unsafe.Offsetof(p.x), unsafe.Offsetof(p.y), unsafe.Offsetof(p.a), unsafe.Offsetof(p.dist), unsafe.Offsetof(p.rel),
		unsafe.Offsetof(p.n), unsafe.Offsetof(p.c),
		unsafe.Offsetof(c.absMask), unsafe.Offsetof(c.signMask), unsafe.Offsetof(c.c1), unsafe.Offsetof(c.c2), unsafe.Offsetof(c.c3),
		unsafe.Offsetof(c.halfPi), unsafe.Offsetof(c.pi), unsafe.Offsetof(c.twoPi), unsafe.Offsetof(c.negPi)}
	if want := []uintptr{0, 8, 16, 24, 32, 40, 48, 0, 8, 16, 24, 32, 40, 48, 56, 64}; !slices.Equal(got, want) {
		t.Fatalf("offsets %v, the kernel reads %v", got, want)
	}
}

// TestPairKernelMatchesScalar checks pairTablesAVX512 against Prepare's
// scalar loop, bit for bit, on real views and on random minutiae with the
// cases that take FastAtan2's and angleDelta's branches: coincident
// minutiae, pairs on a horizontal or vertical line either way, directions
// near 0 and 2π.
func TestPairKernelMatchesScalar(t *testing.T) {
	if !haveAVX512 {
		t.Skip("this CPU has no AVX-512: Prepare uses its scalar loop")
	}
	rng := rand.New(rand.NewPCG(71, 72))
	var views []*Prepared
	for _, tp := range easyImpressions(t) {
		views = append(views, prep(t, tp, 0))
	}
	for range 300 {
		n := 2 + rng.IntN(60)
		p := &Prepared{cpt: make([]point, n), ang: make([]float64, n)}
		for u := range p.cpt {
			x, y := float64(rng.IntN(40)*5), -float64(rng.IntN(40)*5)
			a := rng.Float64() * 2 * math.Pi
			switch rng.IntN(6) {
			case 0:
				a = 0
			case 1:
				a = math.Nextafter(2*math.Pi, 0)
			case 2:
				a = float64(rng.IntN(256)) * 2 * math.Pi / 256
			}
			if u > 0 && rng.IntN(8) == 0 {
				x, y = p.cpt[u-1].x, p.cpt[u-1].y
			}
			p.cpt[u], p.ang[u] = point{x: x, y: y, a: a}, a
		}
		views = append(views, p)
	}
	pairs := 0
	for vi, v := range views {
		n := len(v.cpt)
		if n < 2 {
			continue
		}
		w := &Prepared{cpt: v.cpt, ang: v.ang, dist: make([]float32, n*n), rel: make([]float32, n*n)}
		w.pairTablesScalar()
		wantD, wantR := slices.Clone(w.dist), slices.Clone(w.rel)
		clear(w.dist)
		clear(w.rel)
		w.pairTables()
		for i := range wantD {
			if math.Float32bits(w.dist[i]) != math.Float32bits(wantD[i]) || math.Float32bits(w.rel[i]) != math.Float32bits(wantR[i]) {
				u, k := i/n, i%n
				t.Fatalf("view %d, pair (%d, %d) of %d: kernel dist %v rel %v, scalar %v %v (minutiae %+v, %+v)", vi, u, k, n, w.dist[i], w.rel[i], wantD[i], wantR[i], v.cpt[u], v.cpt[k])
			}
		}
		pairs += n * (n - 1)
	}
	if pairs < 100000 {
		t.Fatalf("only %d pairs", pairs)
	}
	t.Logf("%d ordered pairs", pairs)
}
