package match

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// TestSelectKernelLayout checks the offsets selectAVX512 reads and writes.
func TestSelectKernelLayout(t *testing.T) {
	var p selectArgs
	got := []uintptr{unsafe.Offsetof(p.heads), unsafe.Offsetof(p.rows), unsafe.Offsetof(p.pos), unsafe.Offsetof(p.rowStart),
		unsafe.Offsetof(p.keys), unsafe.Offsetof(p.usedB), unsafe.Offsetof(p.sel), unsafe.Offsetof(p.nr),
		unsafe.Offsetof(simPair{}.a), unsafe.Offsetof(simPair{}.b), unsafe.Offsetof(simPair{}.s), unsafe.Sizeof(simPair{})}
	if want := []uintptr{0, 8, 16, 24, 32, 40, 48, 56, 0, 4, 8, 12}; !slices.Equal(got, want) {
		t.Fatalf("offsets %v, the kernel reads %v", got, want)
	}
}

// TestSelectKernelMatchesHeap checks selectAVX512 against selectPairs' heap:
// the same pairs in the same order, on the rows Score ranks for real views
// and on random rows (rows of 0 to rowTopK keys, few columns so that many
// are taken, nr below and above the number of rows).
func TestSelectKernelMatchesHeap(t *testing.T) {
	if !haveAVX512 {
		t.Skip("this CPU has no AVX-512: selectPairs uses its heap")
	}
	rng := rand.New(rand.NewPCG(61, 62))
	var s scratch
	check := func(nb, nr int) {
		t.Helper()
		rows := len(s.rowStart) - 1
		s.usedA, s.usedB = resetBools(s.usedA, rows), resetBools(s.usedB, nb)
		s.rowPos = resized(s.rowPos, rows)
		s.sel = s.sel[:0]
		s.selectPairs(nr)
		want := slices.Clone(s.sel)
		s.usedB = resetBools(s.usedB, nb)
		s.selectKernel(nr)
		if !slices.Equal(want, s.sel) {
			t.Fatalf("%d rows, %d columns, nr %d: kernel %v, heap %v", rows, nb, nr, s.sel, want)
		}
	}
	pairs := 0
	for _, tp := range easyImpressions(t) {
		for _, tq := range easyImpressions(t) {
			a, b := prep(t, tp, 0), prep(t, tq, 0)
			if rng.IntN(4) != 0 || len(a.cyls) == 0 || len(b.cyls) == 0 {
				continue
			}
			if less(b, a) {
				a, b = b, a
			}
			s.score(a, b) // leaves the rows in s.keys, s.rowStart
			check(len(b.cyls), min(len(a.cyls), len(b.cyls)))
			pairs += len(s.sel)
		}
	}
	for range 2000 {
		rows, nb := 1+rng.IntN(40), 1+rng.IntN(30)
		s.keys, s.rowStart = s.keys[:0], s.rowStart[:0]
		for u := range rows {
			s.rowStart = append(s.rowStart, int32(len(s.keys)))
			var row []uint64
			for range rng.IntN(rowTopK + 1) {
				sim := uint64(rng.Uint32N(1000))
				row = append(row, (math.MaxUint32-sim)<<32|uint64(u)<<16|uint64(rng.IntN(nb)))
			}
			slices.Sort(row)
			row = slices.Compact(row)
			s.keys = append(s.keys, row...)
		}
		s.rowStart = append(s.rowStart, int32(len(s.keys)))
		check(nb, 1+rng.IntN(rows+5))
		pairs += len(s.sel)
	}
	if pairs < 10000 {
		t.Fatalf("only %d pairs selected", pairs)
	}
	t.Logf("%d pairs selected", pairs)
}
