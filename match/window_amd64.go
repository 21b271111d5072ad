//go:build amd64 && !purego

package match

import "golang.org/x/sys/cpu"

// haveWindowKernel says whether this CPU runs windowAllAVX512: AVX-512
// with the 64-bit population count (Intel Ice Lake and later, AMD Zen 4
// and later). Elsewhere score uses windowRuns' scalar loop, which gives the
// same keys.
var haveWindowKernel = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VPOPCNTDQ

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
