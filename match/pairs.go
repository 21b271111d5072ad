package match

import (
	"math"

	"ttpgate/match/internal/geom"
)

// pairArgs is what pairTablesAVX512 reads and writes (offsets:
// TestPairKernelLayout).
type pairArgs struct {
	x, y, a   *float64 // the cylinders' minutiae, one array per field
	dist, rel *float32 // n×n tables, written except on the diagonal
	n         int
	c         *pairConsts
}

// pairConsts are the constants of the scalar loop (geom.FastAtan2's and
// angleDelta's), each converted from the same Go constant.
type pairConsts struct {
	absMask, signMask uint64
	c1, c2, c3        float64
	halfPi, pi        float64
	twoPi, negPi      float64
}

var pairKernelConsts = pairConsts{
	absMask: math.MaxInt64, signMask: 1 << 63,
	c1: geom.AtanC1, c2: geom.AtanC2, c3: geom.AtanC3,
	halfPi: math.Pi / 2, pi: math.Pi, twoPi: 2 * math.Pi, negPi: -math.Pi,
}

// pairTables sets p.dist and p.rel for the cylinders' minutiae p.cpt.
func (p *Prepared) pairTables() {
	n := len(p.cpt)
	if haveAVX512 && n > 1 {
		var xs, ys, as [MaxMinutiae]float64
		for u, c := range p.cpt {
			xs[u], ys[u], as[u] = c.x, c.y, c.a
		}
		pairTablesAVX512(&pairArgs{x: &xs[0], y: &ys[0], a: &as[0], dist: &p.dist[0], rel: &p.rel[0], n: n, c: &pairKernelConsts})
		return
	}
	p.pairTablesScalar()
}
