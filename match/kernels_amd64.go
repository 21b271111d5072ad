//go:build amd64 && !purego

package match

import "golang.org/x/sys/cpu"

// haveAVX512 says whether this CPU runs the vector kernels below (AVX-512
// F and VL, with the OS saving the registers: Intel Skylake-SP and later,
// AMD Zen 4 and later); haveAVX512Popcount, whether it also has the 64-bit
// population count windowAllAVX512 needs (VPOPCNTDQ: Intel Ice Lake and
// later, AMD Zen 4 and later). Elsewhere the matcher runs the scalar loops
// the kernels copy, which give the same results.
var (
	haveAVX512         = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL
	haveAVX512Popcount = haveAVX512 && cpu.X86.HasAVX512VPOPCNTDQ
)

// windowAllAVX512 computes, for every cylinder u of the first view (p.rows
// of them), the keys windowRuns computes: first those of the candidates in
// u's runs (p.runs[4u:4u+4]) with a positive similarity, in the same order,
// one row after the other in p.out, where row u ends going to
// p.rowEnd[u]; then the row's ranked keys (rank), appended to p.keys, where
// row u starts going to p.keyStart[u]. It returns the number of ranked
// keys.
//
//go:noescape
func windowAllAVX512(p *windowArgs) int

// edgesAVX512 computes the edges of compatibilitiesScalar, row by row and
// eight pairs k at a time: it writes the pairs k with r > 1e-4 and their r
// to p.kOut and p.rOut, where each row ends to p.rowEnd, and returns how
// many edges it wrote.
//
//go:noescape
func edgesAVX512(p *edgeArgs, c *edgeKernelConsts) int

// agreementAVX512 is the scalar loop of agreement, eight sampled cells at
// a time: it sets p.sum and p.cnt to the loop's sums, the terms of p.sum
// added one by one in the loop's order.
//
//go:noescape
func agreementAVX512(p *agreementArgs)

// selectAVX512 is selectPairs with the rows' heads in an array (p.heads)
// instead of a heap: each step takes the smallest head (eight rows a
// vector). It writes the pairs to p.sel and returns how many.
//
//go:noescape
func selectAVX512(p *selectArgs) int

// sectionBitsAVX512 sets out[k], for each section k, to the bits of the
// cells ci with acc[k][ci] ≥ mu, and sets acc to zero.
//
//go:noescape
func sectionBitsAVX512(acc *[cylND][cylNS * cylNS]float32, mu float32, out *[cylND]uint64)

// accumulateAVX512 adds the contributions of the n neighbours in nb to
// acc, as buildCylinders' scalar loop adds them, in the cells whose bit is
// set in mask.
//
//go:noescape
func accumulateAVX512(acc *[cylND][cylNS * cylNS]float32, nb *nbrArrays, n int, mask uint64, c *accumConsts)

// neighboursAVX512 computes buildCylinders' set-up of the neighbours
// p.idx[0…p.n-1] of one minutia, writes the fields of those whose box of
// cells is not empty to p.out, in order, and returns how many.
//
//go:noescape
func neighboursAVX512(p *nbrArgs) int

// edgeCellsAVX512 returns the bits of the cells (i, j), bit j·8+i, with
// (hb + cellIdx[i]·hi) + cellIdx[j]·hj ≥ 0, computed as the scalar loop
// computes it.
func edgeCellsAVX512(hb, hi, hj float64) uint64

// pairTablesAVX512 fills the distance and relative-direction tables of
// Prepare for the n cylinders whose minutiae are (x, y, a) in p.
//
//go:noescape
func pairTablesAVX512(p *pairArgs)
