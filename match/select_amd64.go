//go:build amd64 && !purego

package match

import "golang.org/x/sys/cpu"

// haveSelectKernel says whether this CPU runs selectAVX512 (AVX-512 F and
// VL). Elsewhere selectPairs uses its heap, which selects the same pairs.
var haveSelectKernel = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL

// selectAVX512 is selectPairs with the rows' heads in an array (p.heads)
// instead of a heap: each step takes the smallest head (eight rows a
// vector). It writes the pairs to p.sel and returns how many.
//
//go:noescape
func selectAVX512(p *selectArgs) int
