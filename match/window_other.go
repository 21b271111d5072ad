//go:build !amd64 || purego

package match

// haveWindowKernel is false: there is no vector kernel for this
// architecture, and score uses windowRuns' scalar loop.
const haveWindowKernel = false

func windowAllAVX512(p *windowArgs) int {
	panic("match: no vector window kernel on this architecture")
}
