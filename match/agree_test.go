package match

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// TestAgreementKernelLayout checks the offsets agreementAVX512 reads and
// writes.
func TestAgreementKernelLayout(t *testing.T) {
	var p agreementArgs
	got := []uintptr{unsafe.Offsetof(p.x), unsafe.Offsetof(p.y), unsafe.Offsetof(p.c), unsafe.Offsetof(p.s), unsafe.Offsetof(p.n),
		unsafe.Offsetof(p.cells), unsafe.Offsetof(p.cols), unsafe.Offsetof(p.lastC), unsafe.Offsetof(p.lastR),
		unsafe.Offsetof(p.cos), unsafe.Offsetof(p.sin), unsafe.Offsetof(p.tx), unsafe.Offsetof(p.ty), unsafe.Offsetof(p.x0), unsafe.Offsetof(p.y0),
		unsafe.Offsetof(p.invX), unsafe.Offsetof(p.invY), unsafe.Offsetof(p.c2t), unsafe.Offsetof(p.s2t), unsafe.Offsetof(p.sum), unsafe.Offsetof(p.cnt)}
	want := []uintptr{0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 76, 80, 84, 88, 92, 96, 100, 104, 108, 112, 116}
	if !slices.Equal(got, want) || unsafe.Sizeof(cell{}) != 12 {
		t.Fatalf("offsets %v (cell %d bytes), the kernel reads %v (12)", got, unsafe.Sizeof(cell{}), want)
	}
}

// TestAgreementKernelMatchesScalar checks agreementAVX512 against
// agreement's scalar loop, bit for bit, on the fields of the easy set's
// impressions: under the alignments Score tries and under random ones,
// many of which put a's samples partly or wholly off b's box.
func TestAgreementKernelMatchesScalar(t *testing.T) {
	if !haveAVX512 {
		t.Skip("this CPU has no AVX-512: agreement uses its scalar loop")
	}
	rng := rand.New(rand.NewPCG(51, 52))
	var grids []*orientGrid
	for _, tp := range easyImpressions(t) {
		if p := prep(t, tp, 0); p.field != nil {
			grids = append(grids, p.field)
		}
	}
	if len(grids) < 20 {
		t.Fatalf("only %d of the easy impressions have a field", len(grids))
	}
	cases, landed := 0, 0
	defer func() { useAgreementKernel = haveAVX512 }()
	for i, a := range grids {
		for j, b := range grids {
			if (i+j)%3 != 0 {
				continue
			}
			for k := range 12 {
				T := newXform(rng.Float64()*2*math.Pi, rng.NormFloat64()*100, rng.NormFloat64()*100, rng.NormFloat64()*100, rng.NormFloat64()*100)
				if k == 0 {
					T = newXform(0, 0, 0, 0, 0)
				}
				useAgreementKernel = true
				gn, gv := a.agreement(b, T)
				useAgreementKernel = false
				wn, wv := a.agreement(b, T)
				if gn != wn || math.Float64bits(gv) != math.Float64bits(wv) {
					t.Fatalf("grids %d, %d, alignment %+v: kernel n %d v %v, scalar n %d v %v", i, j, T, gn, gv, wn, wv)
				}
				cases++
				landed += wn
			}
		}
	}
	if landed < 10*cases {
		t.Fatalf("only %d samples landed on a cell in %d cases", landed, cases)
	}
	t.Logf("%d alignments, %d samples landed on a cell", cases, landed)
}
