//go:build amd64 && !purego

package match

import "golang.org/x/sys/cpu"

// haveCylinderKernels says whether this CPU runs sectionBitsAVX512,
// neighboursAVX512, accumulateAVX512 and edgeCellsAVX512 (AVX-512 F and
// VL). Elsewhere
// buildCylinders uses its scalar loops, which give the same bits.
var haveCylinderKernels = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL

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
