//go:build amd64 && !purego

package match

import "golang.org/x/sys/cpu"

// haveCylinderKernels says whether this CPU runs sectionBitsAVX512
// (AVX-512 F). Elsewhere buildCylinders uses its scalar loop, which gives
// the same bits.
var haveCylinderKernels = cpu.X86.HasAVX512F

// sectionBitsAVX512 sets out[k], for each section k, to the bits of the
// cells ci with acc[k][ci] ≥ mu, and sets acc to zero.
//
//go:noescape
func sectionBitsAVX512(acc *[cylND][cylNS * cylNS]float32, mu float32, out *[cylND]uint64)
