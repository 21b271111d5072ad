package match

import (
	"math"
	"math/bits"
)

// Minutia Cylinder-Code (Cappelli, Ferrara, Maltoni, IEEE TPAMI 32(12),
// 2010), bit-based variant. Distances are pixels at 500 dpi, angles radians.
const (
	cylRadius      = 70.0                  // R: radius of a cylinder
	cylNS          = 16                    // NS: cells along a side of the cylinder's base
	cylND          = 6                     // ND: directional sections
	cylDeltaS      = 2 * cylRadius / cylNS // Δs: side of a cell
	cylDeltaD      = 2 * math.Pi / cylND   // Δd: height of a section
	sigmaS         = 28.0 / 3              // σS: spatial Gaussian
	sigmaD         = 2 * math.Pi / 9       // σD: directional Gaussian
	muPsi          = 0.01                  // μΨ: a cell's bit is 1 when its contribution reaches this
	hullOmega      = 50.0                  // ωM: cells farther than this outside the convex hull are invalid
	minVC          = 0.75                  // a cylinder needs this fraction of its cells valid
	minM           = 2                     // ... and this many neighbours within R+3σS
	minME          = 0.60                  // two cylinders are comparable on this fraction of common valid cells
	maxDTheta      = math.Pi / 2           // δθ: minutiae directions farther apart are not compared
	neighbourReach = cylRadius + 3*sigmaS  // farthest neighbour that contributes to a cylinder

	cellWords = 4                 // words of one layer, one bit per cell: (NS² + 63) / 64
	cylWords  = cellWords * cylND // words of a cylinder's values
)

// cellsInDisc is the number of cells whose centre lies within R of the
// cylinder's axis, and cellOffX/Y their offsets before rotation.
var (
	cellsInDisc int
	inDisc      [cylNS * cylNS]bool
	discMask    [cellWords]uint64
	gdTable     [gdTableN + 1]float32 // Gd over |α| in [0, π]
)

const gdTableN = 1024

// gsTable is the spatial contribution GS over squared distances up to (3σS)².
var gsTable [gsTableN + 2]float32

const (
	gsTableN = 4096
	gsScale  = gsTableN / (9 * sigmaS * sigmaS)
)

// sqrtTable[n] is √n for the bit counts of a cylinder.
var sqrtTable [cylWords*64 + 1]float32

func init() {
	for i := range cylNS {
		for j := range cylNS {
			x, y := cellOffset(i), cellOffset(j)
			if math.Hypot(x, y) <= cylRadius {
				inDisc[j*cylNS+i] = true
				discMask[(j*cylNS+i)/64] |= 1 << ((j*cylNS + i) % 64)
				cellsInDisc++
			}
		}
	}
	for i := range gsTable {
		d2 := float64(i) / gsScale
		gsTable[i] = float32(math.Exp(-d2/(2*sigmaS*sigmaS)) / (sigmaS * math.Sqrt(2*math.Pi)))
	}
	for n := range sqrtTable {
		sqrtTable[n] = float32(math.Sqrt(float64(n)))
	}
	// Gd(α): the area of the directional Gaussian over a section of height
	// Δd centred on α.
	k := 1 / (sigmaD * math.Sqrt2)
	for t := range gdTable {
		a := float64(t) * math.Pi / gdTableN
		gdTable[t] = float32(0.5 * (math.Erf((a+cylDeltaD/2)*k) - math.Erf((a-cylDeltaD/2)*k)))
	}
}

// cellOffset is the coordinate of the centre of cell i along one axis,
// relative to the cylinder's axis.
func cellOffset(i int) float64 { return (float64(i) - float64(cylNS-1)/2) * cylDeltaS }

// gd returns the directional contribution for an angle difference a in [-π, π].
func gd(a float64) float32 {
	t := int(math.Abs(a)*(gdTableN/math.Pi) + 0.5)
	if t > gdTableN {
		t = gdTableN
	}
	return gdTable[t]
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cylinder is the bit-based local descriptor of one minutia.
type cylinder struct {
	val  [cylND][cellWords]uint64 // one bit per (section, cell)
	mask [cellWords]uint64        // valid cells
}

// buildCylinders computes the cylinders of the minutiae pts whose cylinder
// is valid; it returns them with the indices of their minutiae.
func buildCylinders(pts []point, h hull) ([]cylinder, []int) {
	var cyls []cylinder
	var idx []int
	var acc [cylND * cylNS * cylNS]float32
	type nb struct{ x, y float64 } // neighbour position in the cylinder's frame
	var nbs []nb
	var nbDir [][cylND]float32
	var edges, edgesI, edgesJ []float64
	for mi, m := range pts {
		cos, sin := math.Cos(m.a), math.Sin(m.a)
		// Valid cells: within R of the axis and inside the hull (+ωM). The
		// signed distance of a cell centre to each hull edge is linear in
		// the cell's indices.
		var c cylinder
		valid := 0
		ne := len(h.nx)
		hb, hi, hj := edges[:0], edgesI[:0], edgesJ[:0]
		for k := range ne {
			a := h.v[k]
			hb = append(hb, (m.x-a.x)*h.nx[k]+(m.y-a.y)*h.ny[k]+hullOmega)
			hi = append(hi, cylDeltaS*(cos*h.nx[k]+sin*h.ny[k]))
			hj = append(hj, cylDeltaS*(-sin*h.nx[k]+cos*h.ny[k]))
		}
		deep := ne > 0 // every cell centre lies within R of the minutia
		for k := range ne {
			if hb[k] < cylRadius {
				deep = false
				break
			}
		}
		if deep {
			c.mask = discMask
			valid = cellsInDisc
		}
		for j := range cylNS * b2i(!deep) {
			for i := range cylNS {
				ci := j*cylNS + i
				if !inDisc[ci] {
					continue
				}
				in := true
				if ne == 0 {
					ox, oy := cellOffset(i), cellOffset(j)
					in = inHull(h, point{x: m.x + cos*ox - sin*oy, y: m.y + sin*ox + cos*oy}, hullOmega)
				} else {
					fi, fj := float64(i)-float64(cylNS-1)/2, float64(j)-float64(cylNS-1)/2
					for k := range ne {
						if hb[k]+fi*hi[k]+fj*hj[k] < 0 {
							in = false
							break
						}
					}
				}
				if in {
					c.mask[ci/64] |= 1 << (ci % 64)
					valid++
				}
			}
		}
		if float64(valid) < minVC*float64(cellsInDisc) {
			continue
		}
		nbs, nbDir = nbs[:0], nbDir[:0]
		for ti, t := range pts {
			if ti == mi {
				continue
			}
			dx, dy := t.x-m.x, t.y-m.y
			if dx*dx+dy*dy > neighbourReach*neighbourReach {
				continue
			}
			// Rotate into the minutia's frame.
			nbs = append(nbs, nb{x: cos*dx + sin*dy, y: -sin*dx + cos*dy})
			dth := angleDelta(m.a, t.a)
			var d [cylND]float32
			for k := range cylND {
				bin := -math.Pi + (float64(k)+0.5)*cylDeltaD
				d[k] = gd(angleDelta(bin, dth))
			}
			nbDir = append(nbDir, d)
		}
		if len(nbs) < minM {
			continue
		}
		clear(acc[:])
		const reach = 3 * sigmaS
		for n, p := range nbs {
			i0 := max(0, int(math.Ceil((p.x-reach)/cylDeltaS+float64(cylNS-1)/2)))
			i1 := min(cylNS-1, int(math.Floor((p.x+reach)/cylDeltaS+float64(cylNS-1)/2)))
			j0 := max(0, int(math.Ceil((p.y-reach)/cylDeltaS+float64(cylNS-1)/2)))
			j1 := min(cylNS-1, int(math.Floor((p.y+reach)/cylDeltaS+float64(cylNS-1)/2)))
			for j := j0; j <= j1; j++ {
				dy := cellOffset(j) - p.y
				for i := i0; i <= i1; i++ {
					ci := j*cylNS + i
					if c.mask[ci/64]&(1<<(ci%64)) == 0 {
						continue
					}
					dx := cellOffset(i) - p.x
					d2 := dx*dx + dy*dy
					if d2 > reach*reach {
						continue
					}
					gs := gsTable[int(d2*gsScale)]
					for k := range cylND {
						acc[k*cylNS*cylNS+ci] += gs * nbDir[n][k]
					}
				}
			}
		}
		for k := range cylND {
			for ci := range cylNS * cylNS {
				if acc[k*cylNS*cylNS+ci] >= muPsi {
					c.val[k][ci/64] |= 1 << (ci % 64)
				}
			}
		}
		cyls = append(cyls, c)
		idx = append(idx, mi)
	}
	return cyls, idx
}

// minCommonCells is the number of common valid cells two cylinders need to be compared.
var minCommonCells = int(math.Ceil(minME * float64(cellsInDisc)))

// cylinderSim is the bit-based MCC similarity of two cylinders over their
// common valid cells: 1 - ‖a⊕b‖ / (‖a‖+‖b‖) with the Euclidean norm, or 0
// if they have too few valid cells in common.
func cylinderSim(a, b *cylinder) float32 {
	// Written out for cellWords == 4 (NS == 16).
	m0, m1, m2, m3 := a.mask[0]&b.mask[0], a.mask[1]&b.mask[1], a.mask[2]&b.mask[2], a.mask[3]&b.mask[3]
	if bits.OnesCount64(m0)+bits.OnesCount64(m1)+bits.OnesCount64(m2)+bits.OnesCount64(m3) < minCommonCells {
		return 0
	}
	pa, pb, pab := 0, 0, 0
	for k := range cylND {
		x, y := &a.val[k], &b.val[k]
		a0, a1, a2, a3 := x[0]&m0, x[1]&m1, x[2]&m2, x[3]&m3
		b0, b1, b2, b3 := y[0]&m0, y[1]&m1, y[2]&m2, y[3]&m3
		pa += bits.OnesCount64(a0) + bits.OnesCount64(a1) + bits.OnesCount64(a2) + bits.OnesCount64(a3)
		pb += bits.OnesCount64(b0) + bits.OnesCount64(b1) + bits.OnesCount64(b2) + bits.OnesCount64(b3)
		pab += bits.OnesCount64(a0&b0) + bits.OnesCount64(a1&b1) + bits.OnesCount64(a2&b2) + bits.OnesCount64(a3&b3)
	}
	if pa+pb == 0 {
		return 0
	}
	// ‖a⊕b‖² = ‖a‖² + ‖b‖² - 2 a·b for bit vectors.
	return 1 - sqrtTable[pa+pb-2*pab]/(sqrtTable[pa]+sqrtTable[pb])
}

// angleDelta returns the signed difference b-a wrapped to [-π, π).
func angleDelta(a, b float64) float64 {
	d := b - a
	for d < -math.Pi {
		d += 2 * math.Pi
	}
	for d >= math.Pi {
		d -= 2 * math.Pi
	}
	return d
}
