package match

import "math"

// edgeArgs is what edgesAVX512 reads: the views' tables and the
// selection (the pairs' cylinders in each view), and where it writes the
// edges. The field offsets are the kernel's (TestEdgeKernelLayout).
type edgeArgs struct {
	adist, bdist *float32 // the views' distance tables (na×na, nb×nb)
	arel, brel   *float32 // their relative directions
	aang, bang   *float64 // the directions of the selected pairs' cylinders, in selection order
	tab          *float32 // zTables
	selA, selB   *int32   // the n selected pairs' cylinders
	kOut         *int32   // the edges' pairs k ...
	rOut         *float32 // ... and r (room for n(n-1)/2)
	n, na, nb    int
	rowEnd       *int32 // where each row's edges end (n entries)
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
