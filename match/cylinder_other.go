//go:build !amd64 || purego

package match

// haveCylinderKernels is false: there is no vector kernel for this
// architecture, and buildCylinders uses its scalar loops.
const haveCylinderKernels = false

func sectionBitsAVX512(acc *[cylND][cylNS * cylNS]float32, mu float32, out *[cylND]uint64) {
	panic("match: no vector cylinder kernel on this architecture")
}

func neighboursAVX512(p *nbrArgs) int {
	panic("match: no vector cylinder kernel on this architecture")
}

func accumulateAVX512(acc *[cylND][cylNS * cylNS]float32, nb *nbrArrays, n int, mask uint64, c *accumConsts) {
	panic("match: no vector cylinder kernel on this architecture")
}

func edgeCellsAVX512(hb, hi, hj float64) uint64 {
	panic("match: no vector cylinder kernel on this architecture")
}
