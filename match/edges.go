package match

import "math"

// edgeRowArgs is row t of the compatibilities for edgeRowAVX512: the pairs
// k = k0 … k0+n-1 of the selection, whose cylinders are ak[0…n-1] in the
// first view and bk[0…n-1] in the second. The field offsets are the
// kernel's (TestEdgeKernelLayout).
type edgeRowArgs struct {
	ad, bd     *float32 // rows at and bt of the views' distances
	arel, brel *float32 // rows at and bt of the views' relative directions
	aang, bang *float64 // the views' cylinder directions
	tab        *float32 // zTables
	ak, bk     *int32
	kOut       *int32   // the pairs k kept ...
	rOut       *float32 // ... and their r
	n, k0      int
	aAt, bAt   float64 // the directions of cylinders at and bt
}

// edgeKernelConsts are the constants of the scalar loop, as the kernel
// needs them: each converted from the same Go constant, so that the
// kernel's float32 arithmetic rounds exactly as the scalar loop's.
type edgeKernelConsts struct {
	absMask                uint32
	invStep, half          float32
	z1Keep                 int32
	pi32, twoPi32, negPi32 float32
	zScale, minR           float32
	z2Off, z3Off           int32
	_                      uint32
	pi64, twoPi64, negPi64 float64
}

// edgeConsts is set by the init that fills the tables (z1Keep among them).
var edgeConsts edgeKernelConsts

func newEdgeKernelConsts() edgeKernelConsts {
	return edgeKernelConsts{
		absMask: math.MaxInt32, invStep: 1 / z1Step, half: 0.5, z1Keep: int32(z1Keep),
		pi32: math.Pi, twoPi32: 2 * math.Pi, negPi32: -math.Pi,
		zScale: zAN / math.Pi, minR: 1e-4,
		z2Off: z1N + 1, z3Off: z1N + 1 + zAN + 1,
		pi64: math.Pi, twoPi64: 2 * math.Pi, negPi64: -math.Pi,
	}
}
