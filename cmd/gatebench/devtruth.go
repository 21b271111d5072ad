package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"ttpgate/match/extract"
	"ttpgate/match/template"
)

func init() {
	register("matchdevtruth", "--from DIR --dev DIR   extraction measured on a development set (matchdev): the minutiae found in each capture against those of its source image, mapped through the capture's known transform", matchDevTruth)
}

// DevTruthResult is the result of `gatebench matchdevtruth`.
type DevTruthResult struct {
	Bench  string `json:"bench"`
	Dev    string `json:"dev"`
	Images int    `json:"images"`
	// Recall: source minutiae inside the capture's contact area that have a
	// capture minutia within 8 px and 30°, by depth in the contact area
	// (px from its edge).
	Recall0to10, Recall10to20, Recall20up float64
	// RecallBy5 and VisibleBy5 are the recall and the visible source
	// minutiae per image in 5 px bands of depth: 0..5, 5..10, ... 25+.
	RecallBy5, VisibleBy5 [6]float64
	// Precision: capture minutiae with a source minutia within 8 px and 30°
	// (those lying in the source's own finger area with a source minutia
	// within 40 px, so that the source's own misses near its border do not
	// count).
	Precision float64
	// PrecisionByDepth is the precision of capture minutiae by their depth
	// in the contact area: 0..10, 10..20, 20..30 and 30+ px from its edge.
	PrecisionByDepth [4]float64
	// Found is the capture minutiae per image (mean), Visible the source
	// minutiae in the contact area (mean).
	Found, Visible float64
	// PosErr and DirErr are the mean position (px) and direction (degrees)
	// errors of the matched minutiae.
	PosErr, DirErr float64
}

// matchDevTruth compares each capture's minutiae with its source image's.
// Source minutiae are not ground truth (the same extractor on a clean
// impression), but errors that the synthetic capture adds (missed or
// spurious minutiae, direction errors) show up against them.
func matchDevTruth(ctx context.Context, args []string) (any, error) {
	fs := newFlags("matchdevtruth")
	from := fs.String("from", "", "folder of the source F_I.png images")
	dev := fs.String("dev", "", "development set written by matchdev (with its .json transforms)")
	if err := fs.Parse(args); err != nil || *from == "" || *dev == "" {
		return nil, errUsage
	}
	files, err := filepath.Glob(filepath.Join(*dev, "*_*.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no F_I.json transforms in %s (made by an older matchdev?)", *dev)
	}
	slices.Sort(files)
	res := DevTruthResult{Bench: "matchdevtruth", Dev: *dev}
	var hit, vis [3]int
	var hit5, vis5 [6]int
	var found, matched, considered int
	var pm, pc [4]int
	var posErr, dirErr float64
	const maxDist, maxDir = 8.0, 30 * math.Pi / 180
	for _, jf := range files {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		name := strings.TrimSuffix(filepath.Base(jf), ".json")
		js, err := os.ReadFile(jf)
		if err != nil {
			return nil, err
		}
		var wp devWarp
		if err := json.Unmarshal(js, &wp); err != nil {
			return nil, fmt.Errorf("%s: %v", jf, err)
		}
		srcMs, err := minutiaeOf(filepath.Join(*from, name+".png"))
		if err != nil {
			return nil, err
		}
		devMs, _ := minutiaeOf(filepath.Join(*dev, name+".png")) // a failed capture finds none
		res.Images++
		// Depth in the contact area of every source pixel the capture shows.
		depth := make([]float64, wp.W*wp.H)
		for i := range depth {
			depth[i] = -1
		}
		for y := range wp.H {
			for x := range wp.W {
				ex, ey := (float64(x)-wp.ECX)/wp.EA, (float64(y)-wp.ECY)/wp.EB
				d := (1 - math.Sqrt(ex*ex+ey*ey)) * min(wp.EA, wp.EB)
				d = min(d, float64(x), float64(y), float64(wp.W-1-x), float64(wp.H-1-y))
				if d < 0 {
					continue
				}
				sx, sy := wp.toSource(float64(x), float64(y))
				i, j := int(math.Round(sx)), int(math.Round(sy))
				if i >= 0 && j >= 0 && i < wp.W && j < wp.H {
					depth[j*wp.W+i] = max(depth[j*wp.W+i], d)
				}
			}
		}
		// Capture minutiae in source coordinates.
		type pt struct{ x, y, a float64 }
		mapped := make([]pt, len(devMs))
		for k, m := range devMs {
			x, y := float64(m.X), float64(m.Y)
			sx, sy := wp.toSource(x, y)
			tx, ty := wp.toSource(x+4*math.Cos(m.Angle), y-4*math.Sin(m.Angle))
			mapped[k] = pt{sx, sy, math.Atan2(-(ty - sy), tx-sx)}
		}
		angDiff := func(a, b float64) float64 {
			d := math.Mod(math.Abs(a-b), 2*math.Pi)
			return min(d, 2*math.Pi-d)
		}
		// One to one, nearest first.
		type cand struct {
			d    float64
			s, c int
		}
		var cs []cand
		for si, s := range srcMs {
			for ci, c := range mapped {
				d := math.Hypot(c.x-float64(s.X), c.y-float64(s.Y))
				if d <= maxDist && angDiff(c.a, s.Angle) <= maxDir {
					cs = append(cs, cand{d, si, ci})
				}
			}
		}
		slices.SortFunc(cs, func(a, b cand) int { return cmp.Compare(a.d, b.d) })
		usedS, usedC := make([]bool, len(srcMs)), make([]bool, len(devMs))
		for _, c := range cs {
			if usedS[c.s] || usedC[c.c] {
				continue
			}
			usedS[c.s], usedC[c.c] = true, true
			posErr += c.d
			dirErr += angDiff(mapped[c.c].a, srcMs[c.s].Angle)
		}
		for si, s := range srcMs {
			d := -1.0
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					i, j := s.X+dx, s.Y+dy
					if i >= 0 && j >= 0 && i < wp.W && j < wp.H {
						d = max(d, depth[j*wp.W+i])
					}
				}
			}
			if d < 0 {
				continue
			}
			b := min(2, int(d/10))
			vis[b]++
			b5 := min(5, int(d/5))
			vis5[b5]++
			if usedS[si] {
				hit[b]++
				hit5[b5]++
			}
		}
		for ci, c := range mapped {
			found++
			m := devMs[ci]
			ex, ey := (float64(m.X)-wp.ECX)/wp.EA, (float64(m.Y)-wp.ECY)/wp.EB
			b := min(3, max(0, int((1-math.Sqrt(ex*ex+ey*ey))*min(wp.EA, wp.EB)/10)))
			if usedC[ci] {
				matched++
				considered++
				pm[b]++
				pc[b]++
				continue
			}
			// Only where the source could have had a minutia of its own.
			for _, s := range srcMs {
				if math.Hypot(c.x-float64(s.X), c.y-float64(s.Y)) < 40 {
					considered++
					pc[b]++
					break
				}
			}
		}
	}
	rec := func(b int) float64 { return float64(hit[b]) / float64(max(1, vis[b])) }
	res.Recall0to10, res.Recall10to20, res.Recall20up = rec(0), rec(1), rec(2)
	res.Precision = float64(matched) / float64(max(1, considered))
	for b := range hit5 {
		res.RecallBy5[b] = float64(hit5[b]) / float64(max(1, vis5[b]))
		res.VisibleBy5[b] = float64(vis5[b]) / float64(res.Images)
	}
	for b := range pm {
		res.PrecisionByDepth[b] = float64(pm[b]) / float64(max(1, pc[b]))
	}
	res.Found = float64(found) / float64(res.Images)
	res.Visible = float64(vis[0]+vis[1]+vis[2]) / float64(res.Images)
	res.PosErr = posErr / float64(max(1, matched))
	res.DirErr = dirErr / float64(max(1, matched)) * 180 / math.Pi
	return res, nil
}

// minutiaeOf extracts an image file's minutiae (none if extraction fails).
func minutiaeOf(path string) ([]template.Minutia, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	g, err := extract.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	r, err := extract.Extract(g, extract.Options{})
	if err != nil {
		return nil, nil
	}
	return r.Template.Fingers[0].Minutiae, nil
}
