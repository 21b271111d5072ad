//go:build amd64 && !purego

package match

import "golang.org/x/sys/cpu"

// haveWindowKernel says whether this CPU runs windowKeysAVX512: AVX-512
// with the 64-bit population count (Intel Ice Lake and later, AMD Zen 4
// and later). Elsewhere windowRuns uses its scalar loop, which gives the
// same keys.
var haveWindowKernel = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VPOPCNTDQ

// windowKeysAVX512 is the scalar loop of windowRuns for the candidates
// v0 ≤ v < v1 of b, eight at a time: it writes to out the keys of those
// with a positive similarity to the cylinder whose words are aw (val[0..5],
// mask, cnt[0..2], then minCommonCells), each ORed with hi, and returns how
// many it wrote (at most v1-v0). blk is b's cylinders in blocks of eight
// (cylinderBlocks).
//
//go:noescape
func windowKeysAVX512(aw *[11]uint64, blk *uint64, v0, v1 int, hi uint64, out *uint64) int
