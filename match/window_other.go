//go:build !amd64 || purego

package match

// haveWindowKernel is false: there is no vector kernel for this
// architecture, and windowRuns uses its scalar loop.
const haveWindowKernel = false

func windowKeysAVX512(aw *[11]uint64, blk *uint64, v0, v1 int, hi uint64, out *uint64) int {
	panic("match: no vector window kernel on this architecture")
}
