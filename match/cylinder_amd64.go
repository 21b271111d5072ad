//go:build amd64 && !purego

package match

import "golang.org/x/sys/cpu"

// haveCylinderKernels says whether this CPU runs sectionBitsAVX512 and
// edgeCellsAVX512 (AVX-512 F). Elsewhere buildCylinders uses its scalar
// loops, which give the same bits.
var haveCylinderKernels = cpu.X86.HasAVX512F

// sectionBitsAVX512 sets out[k], for each section k, to the bits of the cells ci
// with acc[k][ci] ≥ mu, and sets acc to zero.
//
//go:noescape
func sectionBitsAVX512(acc *[cylND][cylNS * cylNS]float32, mu float32, out *[cylND]uint64)

// edgeCellsAVX512 returns the bits of the cells (i, j), bit j·8+i, with
// (hb + cellIdx[i]·hi) + cellIdx[j]·hj ≥ 0, computed as the scalar loop
// computes it.
func edgeCellsAVX512(hb, hi, hj float64) uint64
