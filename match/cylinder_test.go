package match

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"ttpgate/match/internal/geom"
)

// referenceCylinders computes the cylinders of pts from MCC's definition,
// cell by cell, with nothing skipped: a cell of the disc is valid if it lies
// within the hull (+ωM); its bit in section k is set if the contributions
// GS·GD of the neighbours within R+3σS, added in the order of their index,
// reach μΨ; a cylinder is kept with minVC of its cells valid and minM
// neighbours. It uses the same tables as buildCylinders, so the bits must
// be the same.
func referenceCylinders(pts []point, h geom.Hull) ([]cylinder, []int) {
	var cyls []cylinder
	var idx []int
	const reach = 3 * sigmaS
	for mi, m := range pts {
		cos, sin := math.Cos(m.a), math.Sin(m.a)
		var c cylinder
		valid := 0
		for j := range cylNS {
			for i := range cylNS {
				ci := j*cylNS + i
				ox, oy := cellOffset(i), cellOffset(j)
				if inDisc[ci] && h.Contains(geom.Point{X: m.x + cos*ox - sin*oy, Y: m.y + sin*ox + cos*oy}, hullOmega) {
					c.mask[0] |= 1 << ci
					valid++
				}
			}
		}
		if float64(valid) < minVC*float64(cellsInDisc) {
			continue
		}
		count := 0
		var acc [cylNS * cylNS][cylND]float32
		for ti, t := range pts {
			dx, dy := t.x-m.x, t.y-m.y
			if ti == mi || dx*dx+dy*dy > neighbourReach*neighbourReach {
				continue
			}
			count++
			px, py := float64(cos*dx)+float64(sin*dy), float64(-sin*dx)+float64(cos*dy)
			dth := angleDelta(m.a, t.a)
			for ci := range acc {
				i, j := ci%cylNS, ci/cylNS
				ddx, ddy := cellOffsets[i]-px, cellOffsets[j]-py
				d2 := float64(ddx*ddx) + float64(ddy*ddy)
				if c.mask[0]>>ci&1 == 0 || d2 > reach*reach {
					continue
				}
				gs := gsTable[int(d2*gsScale)]
				for k := range cylND {
					x := dth - (-math.Pi + (float64(k)+0.5)*cylDeltaD)
					if x >= math.Pi {
						x -= 2 * math.Pi
					} else if x < -math.Pi {
						x += 2 * math.Pi
					}
					acc[ci][k] += float32(gs * gd(x))
				}
			}
		}
		if count < minM {
			continue
		}
		for ci := range acc {
			for k := range cylND {
				if acc[ci][k] >= muPsi {
					c.val[k][0] |= 1 << ci
				}
			}
		}
		cyls = append(cyls, c)
		idx = append(idx, mi)
	}
	return cyls, idx
}

// TestCylindersMatchDefinition checks buildCylinders, with its shortcuts
// (bounding boxes, hull edges that cut the disc, accumulation by cell),
// with and without its vector kernels, against the definition on real views, their transformed copies and random
// minutiae, including views too small to have a hull.
func TestCylindersMatchDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	var views []*Prepared
	for _, tp := range realTemplates(t) {
		views = append(views, prep(t, tp, 0), prep(t, crop(tp, 0.5, 0.3, 0.2), 0), prep(t, distort(tp, rng, 5, 0.2, 0.2, 40, 30), 0))
	}
	for _, tp := range easyImpressions(t) {
		views = append(views, prep(t, tp, 0))
	}
	for n := range 40 {
		pts := make([]point, n%12+n/4)
		for i := range pts {
			pts[i] = point{x: rng.Float64() * 250, y: -rng.Float64() * 300, a: rng.Float64() * 2 * math.Pi}
		}
		views = append(views, &Prepared{pts: pts, hull: geom.NewHull(geom.ConvexHull(positions(pts)))})
	}
	for _, kernels := range []bool{false, true} {
		if kernels && !haveAVX512 {
			t.Log("this CPU has no AVX-512: the vector kernels are not tested")
			continue
		}
		useCylinderKernels = kernels
		checkCylinders(t, views)
	}
	useCylinderKernels = haveAVX512
}

func checkCylinders(t *testing.T, views []*Prepared) {
	t.Helper()
	kept, bits := 0, 0
	for vi, v := range views {
		got, gotIdx := buildCylinders(v.pts, v.hull)
		want, wantIdx := referenceCylinders(v.pts, v.hull)
		if len(got) != len(want) {
			t.Fatalf("view %d: %d cylinders, the definition gives %d", vi, len(got), len(want))
		}
		for i := range want {
			if gotIdx[i] != wantIdx[i] || got[i].mask != want[i].mask || got[i].val != want[i].val {
				t.Fatalf("view %d, cylinder of minutia %d: mask %x values %x; the definition gives minutia %d, %x, %x",
					vi, gotIdx[i], got[i].mask, got[i].val, wantIdx[i], want[i].mask, want[i].val)
			}
			for k := range cylND {
				bits += int(popcount(want[i].val[k][0]))
			}
		}
		kept += len(want)
	}
	if kept < 200 || bits < 5*kept {
		t.Fatalf("only %d cylinders with %d bits set: the views test too little", kept, bits)
	}
	t.Logf("vector kernels %v: %d views, %d cylinders, %d bits", useCylinderKernels, len(views), kept, bits)
}

func popcount(x uint64) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// TestCylinderKernelLayout checks the offsets neighboursAVX512 and
// accumulateAVX512 read and write.
func TestCylinderKernelLayout(t *testing.T) {
	var nb nbrArrays
	var p nbrArgs
	var nc nbrConsts
	var c accumConsts
	got := []uintptr{unsafe.Offsetof(nb.px), unsafe.Offsetof(nb.py), unsafe.Offsetof(nb.i0), unsafe.Offsetof(nb.j0), unsafe.Offsetof(nb.rows),
		unsafe.Offsetof(nb.lanes), unsafe.Offsetof(nb.e), unsafe.Sizeof(nb.e[0]),
		unsafe.Offsetof(p.idx), unsafe.Offsetof(p.n), unsafe.Offsetof(p.x), unsafe.Offsetof(p.y), unsafe.Offsetof(p.mx), unsafe.Offsetof(p.my),
		unsafe.Offsetof(p.ma), unsafe.Offsetof(p.cos), unsafe.Offsetof(p.negSin), unsafe.Offsetof(p.sin), unsafe.Offsetof(p.c),
		unsafe.Offsetof(p.out), unsafe.Offsetof(p.a), unsafe.Offsetof(p.gd),
		unsafe.Offsetof(nc.invDS), unsafe.Offsetof(nc.half7), unsafe.Offsetof(nc.reachDS), unsafe.Offsetof(nc.twoPi), unsafe.Offsetof(nc.pi),
		unsafe.Offsetof(nc.negPi), unsafe.Offsetof(nc.gdScale), unsafe.Offsetof(nc.half), unsafe.Offsetof(nc.absMask), unsafe.Offsetof(nc.centre),
		unsafe.Offsetof(c.reach2), unsafe.Offsetof(c.gsScale), unsafe.Offsetof(c.gs), unsafe.Offsetof(c.offs)}
	want := []uintptr{0, 2040, 4080, 5100, 6120, 7140, 8160, 1020,
		0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104,
		0, 8, 16, 24, 32, 40, 48, 56, 64, 72,
		0, 8, 16, 24}
	if !slices.Equal(got, want) {
		t.Fatalf("offsets %v, the kernels read %v", got, want)
	}
}

// TestKernelsUseNoLegacySSE checks that the vector kernels use only VEX
// and EVEX encoded instructions on vector registers: one legacy SSE MOVSD
// among them made a kernel nearly three times slower than the scalar loop
// it replaced (SSE/AVX transitions), and nothing else shows it.
func TestKernelsUseNoLegacySSE(t *testing.T) {
	files, err := filepath.Glob("*_amd64.[sh]")
	if err != nil || len(files) < 4 {
		t.Fatalf("kernel sources: %v, %v", files, err)
	}
	vecReg := regexp.MustCompile(`\b[XYZ]([0-9]|[12][0-9]|3[01])\b`)
	macroCall := regexp.MustCompile(`^[A-Z0-9_]+\(`) // checked where it is defined
	lines := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(string(data), "\n") {
			code, _, _ := strings.Cut(line, "//")
			code = strings.TrimSuffix(strings.TrimSpace(code), "\\")
			if strings.HasPrefix(code, "#") || macroCall.MatchString(code) {
				continue
			}
			for _, instr := range strings.Split(code, ";") {
				fields := strings.Fields(instr)
				if len(fields) == 0 || !vecReg.MatchString(instr) {
					continue
				}
				if op := fields[0]; !strings.HasPrefix(op, "V") && !strings.HasPrefix(op, "K") {
					t.Errorf("%s:%d: %s: a legacy SSE instruction on a vector register", f, n+1, strings.TrimSpace(instr))
				}
				lines++
			}
		}
	}
	if lines < 200 {
		t.Fatalf("only %d lines with vector registers in %v", lines, files)
	}
}
