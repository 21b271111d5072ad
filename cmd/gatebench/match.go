package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"ttpgate/match"
	"ttpgate/match/extract"
	"ttpgate/match/legacy"
	"ttpgate/match/template"
)

func init() {
	register("match", "--images DIR [--calibrate DIR2 --table FILE] [--legacy=false]   FVC protocol on F_I.png images: accuracy and speed of extraction and matcher", matchBench)
}

// MatchResult is the result of `gatebench match`.
type MatchResult struct {
	Bench           string   `json:"bench"`
	Images          string   `json:"images"`
	Fingers         int      `json:"fingers"`
	Impressions     int      `json:"impressions"`
	Genuine         int      `json:"genuine"`
	Impostor        int      `json:"impostor"`
	FailedToExtract int      `json:"failed_to_extract"`
	EER             float64  `json:"eer"`
	FNMRAt1e2       float64  `json:"fnmr_at_fmr_1e-2"`
	FNMRAt1e3       float64  `json:"fnmr_at_fmr_1e-3"`
	FNMRAtZeroFMR   float64  `json:"fnmr_at_fmr_0"`
	FNMRAtDefault   float64  `json:"fnmr_at_default_threshold"`
	FMRAtDefault    float64  `json:"fmr_at_default_threshold"`
	DefaultThresh   float64  `json:"default_threshold"`
	ExtractMSP50    float64  `json:"extract_ms_p50"`
	ExtractMSP99    float64  `json:"extract_ms_p99"`
	ComparesPerSec  float64  `json:"compares_per_sec"`
	PrepareUSP50    float64  `json:"prepare_us_p50"`
	Verify10MSP99   float64  `json:"verify_10_fingers_ms_p99"`
	TemplateBytes50 int      `json:"template_bytes_p50"`
	MinutiaeP50     int      `json:"minutiae_p50"`
	Legacy          *Scores  `json:"legacy,omitempty"`
	Calibration     *CalInfo `json:"calibration,omitempty"`
	Machine         Machine  `json:"machine"`
}

// Scores are the accuracy figures of one matcher.
type Scores struct {
	EER            float64 `json:"eer"`
	FNMRAt1e2      float64 `json:"fnmr_at_fmr_1e-2"`
	FNMRAt1e3      float64 `json:"fnmr_at_fmr_1e-3"`
	ComparesPerSec float64 `json:"compares_per_sec"`
}

// CalInfo describes a calibration run.
type CalInfo struct {
	Impostors int       `json:"impostors"`
	Max       float64   `json:"max_impostor_score"`
	FMR       []float64 `json:"fmr"`
	Threshold []float64 `json:"threshold"`
	Method    string    `json:"method"`
	// Minutiae is the calibration of the minutiae score alone (views
	// without an orientation field), on the same comparisons.
	Minutiae *CalInfo `json:"minutiae,omitempty"`
}

type sample struct {
	finger, impression int
	tmpl               *template.Template
	prep               *match.Prepared
	old                *legacy.Prepared
	bytes              int
}

func loadSet(dir string, res *MatchResult) ([]*sample, []float64, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*_*.png"))
	if err != nil || len(files) == 0 {
		return nil, nil, fmt.Errorf("no F_I.png images in %s", dir)
	}
	slices.Sort(files)
	var out []*sample
	var ms []float64
	fingers, imps := map[int]bool{}, map[int]bool{}
	for _, f := range files {
		var fi, ii int
		if _, err := fmt.Sscanf(filepath.Base(f), "%d_%d.png", &fi, &ii); err != nil {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		fingers[fi], imps[ii] = true, true
		start := processCPUTime() // OpenCV may use threads of its own
		iso, err := extract.ExtractISO(data, extract.Options{})
		ms = append(ms, float64((processCPUTime()-start).Microseconds())/1000)
		s := &sample{finger: fi, impression: ii}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v (scores 0)\n", f, err)
			if res != nil {
				res.FailedToExtract++
			}
			out = append(out, s)
			continue
		}
		s.bytes = len(iso)
		if s.tmpl, err = template.Decode(iso); err != nil {
			return nil, nil, fmt.Errorf("%s: extracted record does not decode: %v", f, err)
		}
		if s.prep, err = match.Prepare(s.tmpl, 0); err != nil {
			return nil, nil, fmt.Errorf("%s: %v", f, err)
		}
		if s.old, err = legacy.Prepare(s.tmpl, 0); err != nil {
			return nil, nil, fmt.Errorf("%s: %v", f, err)
		}
		out = append(out, s)
	}
	if res != nil {
		res.Fingers, res.Impressions = len(fingers), len(imps)
	}
	return out, ms, nil
}

// score and minutiaeScore compare two samples' prepared views with
// match.Score and match.MinutiaeScore; a sample that failed extraction
// scores 0.
var score, minutiaeScore = onPrepared(match.Score), onPrepared(match.MinutiaeScore)

func onPrepared(f func(a, b *match.Prepared) float64) func(a, b *sample) float64 {
	return func(a, b *sample) float64 {
		if a.prep == nil || b.prep == nil {
			return 0
		}
		return f(a.prep, b.prep)
	}
}

func legacyScore(a, b *sample) float64 {
	if a.old == nil || b.old == nil {
		return 0
	}
	return legacy.Score(a.old, b.old)
}

// fvc returns the genuine (same finger, i<j) and impostor (finger a < b,
// every impression) scores.
func fvc(set []*sample, f func(a, b *sample) float64) (gen, imp []float64) {
	for i, a := range set {
		for _, b := range set[i+1:] {
			switch {
			case a.finger == b.finger && a.impression < b.impression:
				gen = append(gen, f(a, b))
			case a.finger < b.finger:
				imp = append(imp, f(a, b))
			case a.finger > b.finger:
				imp = append(imp, f(b, a))
			}
		}
	}
	return gen, imp
}

// rates returns the EER and the FNMR at FMR 1e-2, 1e-3 and 0.
func rates(gen, imp []float64) (eer, f2, f3, f0 float64) {
	g, im := slices.Sorted(slices.Values(gen)), slices.Sorted(slices.Values(imp))
	fnmr := func(t float64) float64 { // genuine below t
		i, _ := slices.BinarySearch(g, t)
		return float64(i) / float64(len(g))
	}
	fmr := func(t float64) float64 { // impostors at or above t
		i, _ := slices.BinarySearch(im, t)
		return float64(len(im)-i) / float64(len(im))
	}
	// Thresholds: every score, plus just above the largest.
	cands := append(slices.Clone(g), im...)
	cands = append(cands, math.Nextafter(im[len(im)-1], 2))
	slices.Sort(cands)
	eer = 1
	f2, f3, f0 = 1, 1, 1
	for _, t := range cands {
		a, r := fmr(t), fnmr(t)
		if e := max(a, r); e < eer {
			eer = e
		}
		if a <= 1e-2 {
			f2 = min(f2, r)
		}
		if a <= 1e-3 {
			f3 = min(f3, r)
		}
		if a == 0 {
			f0 = min(f0, r)
		}
	}
	// EER as the mean of FMR and FNMR where they cross.
	best := 2.0
	for _, t := range cands {
		a, r := fmr(t), fnmr(t)
		if d := math.Abs(a - r); d < best {
			best, eer = d, (a+r)/2
		}
	}
	return eer, f2, f3, f0
}

func pct(v []float64, p float64) float64 {
	s := slices.Sorted(slices.Values(v))
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func matchBench(ctx context.Context, args []string) (any, error) {
	fs := newFlags("match")
	dir := fs.String("images", "", "folder of F_I.png images (finger F, impression I)")
	cal := fs.String("calibrate", "", "a second folder of the same fingers: calibrate thresholds on the impostors of both sets and across them")
	table := fs.String("table", "", "with --calibrate: write the calibration table as Go source to this file")
	withLegacy := fs.Bool("legacy", true, "also score with the first matcher (match/legacy)")
	if err := fs.Parse(args); err != nil || *dir == "" {
		return nil, errUsage
	}
	runtime.GOMAXPROCS(1) // one core, as the figures say
	res := MatchResult{Bench: "match", Images: *dir, Machine: machine(), DefaultThresh: match.DefaultThreshold}
	set, ms, err := loadSet(*dir, &res)
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	res.ExtractMSP50, res.ExtractMSP99 = pct(ms, 0.5), pct(ms, 0.99)
	var sizes, counts []float64
	for _, s := range set {
		if s.tmpl != nil {
			sizes = append(sizes, float64(s.bytes))
			counts = append(counts, float64(len(s.tmpl.Fingers[0].Minutiae)))
		}
	}
	if len(sizes) > 0 {
		res.TemplateBytes50, res.MinutiaeP50 = int(pct(sizes, 0.5)), int(pct(counts, 0.5))
	}
	gen, imp := fvc(set, score)
	res.Genuine, res.Impostor = len(gen), len(imp)
	if len(gen) == 0 || len(imp) == 0 {
		return nil, fmt.Errorf("%s: need at least 2 fingers of at least 2 impressions", *dir)
	}
	res.EER, res.FNMRAt1e2, res.FNMRAt1e3, res.FNMRAtZeroFMR = rates(gen, imp)
	below := 0
	for _, g := range gen {
		if g < match.DefaultThreshold {
			below++
		}
	}
	above := 0
	for _, i := range imp {
		if i >= match.DefaultThreshold {
			above++
		}
	}
	res.FNMRAtDefault = float64(below) / float64(len(gen))
	res.FMRAtDefault = float64(above) / float64(len(imp))
	res.ComparesPerSec, res.PrepareUSP50, res.Verify10MSP99 = speed(set)
	if *withLegacy {
		lg, li := fvc(set, legacyScore)
		var l Scores
		l.EER, l.FNMRAt1e2, l.FNMRAt1e3, _ = rates(lg, li)
		l.ComparesPerSec = legacySpeed(set)
		res.Legacy = &l
	}
	if *cal != "" {
		other, _, err := loadSet(*cal, nil)
		if err != nil {
			return nil, err
		}
		ci, err := calibrate(set, other, *dir, *cal, *table)
		if err != nil {
			return nil, err
		}
		res.Calibration = ci
	}
	return res, nil
}

// cpuTime returns the CPU time the calling OS thread has used (the
// machine is shared: wall time would count other processes' work).
func cpuTime() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3 // CLOCK_THREAD_CPUTIME_ID (Linux)
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

// processCPUTime returns the CPU time of the whole process.
func processCPUTime() time.Duration {
	var ts syscall.Timespec
	const clockProcessCPUTime = 2 // CLOCK_PROCESS_CPUTIME_ID (Linux)
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTime, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

// speed measures one core's comparisons per second in verifications of one
// probe against 10 candidates (prepared at enrolment), the probe's
// preparation included and amortised over them; the median preparation;
// and the 99th percentile of a whole Verify of templates against 10
// enrolled templates (every preparation included).
func speed(set []*sample) (perSec, prepUS, verify10 float64) {
	var ok []*sample
	for _, s := range set {
		if s.tmpl != nil {
			ok = append(ok, s)
		}
	}
	if len(ok) < 11 {
		return 0, 0, 0
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var prep []float64
	compares := 0
	start, cpu0 := time.Now(), cpuTime()
	for round := 0; time.Since(start) < 3*time.Second || round < 1; round++ {
		for i, p := range ok {
			t0 := cpuTime()
			pp, _ := match.Prepare(p.tmpl, 0)
			prep = append(prep, float64((cpuTime()-t0).Nanoseconds())/1000)
			cands := make([]*match.Prepared, 0, 10)
			for k := 1; len(cands) < 10; k++ {
				cands = append(cands, ok[(i+k)%len(ok)].prep)
			}
			match.Matcher{}.VerifyPrepared([]*match.Prepared{pp}, cands)
			compares += len(cands)
		}
	}
	perSec = float64(compares) / (cpuTime() - cpu0).Seconds()
	var ver []float64
	for i, p := range ok {
		var enrolled []*template.Template
		for k := 1; len(enrolled) < 10; k++ {
			enrolled = append(enrolled, ok[(i+k)%len(ok)].tmpl)
		}
		t0 := cpuTime()
		match.Matcher{}.Verify(p.tmpl, enrolled)
		ver = append(ver, float64((cpuTime()-t0).Microseconds())/1000)
	}
	return perSec, pct(prep, 0.5), pct(ver, 0.99)
}

func legacySpeed(set []*sample) float64 {
	var ok []*sample
	for _, s := range set {
		if s.tmpl != nil {
			ok = append(ok, s)
		}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	compares := 0
	start, cpu0 := time.Now(), cpuTime()
	for time.Since(start) < 2*time.Second {
		for i, p := range ok {
			pp, _ := legacy.Prepare(p.tmpl, 0)
			for k := 1; k <= 10; k++ {
				legacy.Score(pp, ok[(i+k)%len(ok)].old)
				compares++
			}
		}
	}
	return float64(compares) / (cpuTime() - cpu0).Seconds()
}

// calibrate collects impostor scores within each set and across the two
// (finger a of one set against finger b≠a of the other), and derives the
// thresholds for FMR 1e-1..1e-6: empirical quantiles where the data
// resolve them (at least 10 impostors above), beyond that an exponential fit
// of the tail (the 10% highest impostor scores).
func calibrate(a, b []*sample, da, db, table string) (*CalInfo, error) {
	// Impostor scores of the two sets, within each and across.
	impostors := func(f func(x, y *sample) float64) []float64 {
		_, ia := fvc(a, f)
		_, ib := fvc(b, f)
		imp := append(ia, ib...)
		for _, x := range a {
			for _, y := range b {
				if x.finger != y.finger {
					imp = append(imp, f(x, y))
				}
			}
		}
		slices.Sort(imp)
		return imp
	}
	ci := tailThresholds(impostors(score))
	// The same comparisons on minutiae alone: the table that puts the
	// scores of views without an orientation field on the same scale.
	ci.Minutiae = tailThresholds(impostors(minutiaeScore))
	for i := range ci.Threshold {
		if i > 0 && !(ci.Threshold[i] > ci.Threshold[i-1] && ci.Minutiae.Threshold[i] > ci.Minutiae.Threshold[i-1]) {
			return nil, fmt.Errorf("calibration thresholds do not increase as the false match rate falls: %v, %v", ci.Threshold, ci.Minutiae.Threshold)
		}
	}
	if table != "" {
		var sb strings.Builder
		fmt.Fprintf(&sb, "// Code generated by `gatebench match --images %s --calibrate %s --table ...`; DO NOT EDIT.\n\n", filepath.Base(filepath.Clean(da)), filepath.Base(filepath.Clean(db)))
		sb.WriteString("package match\n\n")
		fmt.Fprintf(&sb, "// calibrationImpostors is the number of impostor comparisons the table rests on.\nconst calibrationImpostors = %d\n\n", ci.Impostors)
		fmt.Fprintf(&sb, "// calibrationMethod says how the thresholds were derived.\nconst calibrationMethod = %q\n\n", ci.Method)
		rows := func(doc, name string, c *CalInfo) {
			fmt.Fprintf(&sb, "%svar %s = []calPoint{\n", doc, name)
			for i := range c.FMR {
				fmt.Fprintf(&sb, "\t{fmr: %g, threshold: %.4f},\n", c.FMR[i], c.Threshold[i])
			}
			sb.WriteString("}\n")
		}
		rows("// calibration maps false match rates to thresholds of Score, FMR decreasing.\n", "calibration", ci)
		sb.WriteString("\n")
		rows(fmt.Sprintf("// calibrationMinutiae maps the same false match rates to thresholds of\n// MinutiaeScore (%s).\n", ci.Minutiae.Method), "calibrationMinutiae", ci.Minutiae)
		if err := os.WriteFile(table, []byte(sb.String()), 0o644); err != nil {
			return nil, err
		}
	}
	return ci, nil
}

// tailThresholds returns the thresholds of the FMR rows from sorted
// impostor scores.
func tailThresholds(imp []float64) *CalInfo {
	n := len(imp)
	ci := &CalInfo{Impostors: n, Max: imp[n-1]}
	// Exponential tail: P(S >= t) = p0 * exp(-(t - t0)/beta) for t >= t0,
	// t0 the 99th percentile (at least the 20th highest score), beta the
	// mean excess over t0 (maximum likelihood for an exponential).
	k0 := min(n-n/100, n-20)
	t0 := imp[k0]
	p0 := float64(n-k0) / float64(n)
	beta := 0.0
	for _, s := range imp[k0:] {
		beta += s - t0
	}
	beta /= float64(n - k0)
	ci.Method = fmt.Sprintf("empirical quantile where at least 10 of the %d impostors lie above it; beyond, the higher of an exponential fit of the top 1%% (t0=%.4f, beta=%.4f, p0=%.4f) and just above the impostor at that rank; below 1/%d, the fitted slope anchored at the highest impostor score seen (%.4f)", n, t0, beta, p0, n, imp[n-1])
	for _, fmr := range []float64{1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6} {
		var t float64
		if fmr*float64(n) >= 10 {
			k := n - int(math.Round(fmr*float64(n)))
			t = math.Nextafter(imp[k-1], 2) // just above the score of the impostor at that rank
		} else if fmr*float64(n) >= 1 {
			k := n - int(fmr*float64(n))
			t = max(t0+beta*math.Log(p0/fmr), math.Nextafter(imp[k], 2))
		} else {
			// Below 1/n nothing is measured: the fitted slope, anchored
			// at the highest impostor score seen.
			t = max(t0+beta*math.Log(p0/fmr), math.Nextafter(imp[n-1], 2)+beta*math.Log(1/(fmr*float64(n))))
		}
		ci.FMR = append(ci.FMR, fmr)
		ci.Threshold = append(ci.Threshold, math.Ceil(t*1e4)/1e4)
	}
	return ci
}

func init() {
	register("matchdev", "--from DIR --out DIR [--seed N]   make a development set of partial, rotated, distorted, noisy captures from F_I.png images (for tuning the matcher without touching the test sets)", matchDev)
}

// DevResult is the result of `gatebench matchdev`.
type DevResult struct {
	Bench  string `json:"bench"`
	From   string `json:"from"`
	Out    string `json:"out"`
	Seed   uint64 `json:"seed"`
	Images int    `json:"images"`
}

// matchDev writes, for every F_I.png of --from, a synthetic live capture of
// it to --out: rotated (±30°), shifted (±24 px), scaled (0.93..1.07), warped
// by a smooth random displacement field (amplitude 2..7 px), cut to a
// random elliptical contact area (50..80% of each side), with contrast,
// brightness, blur and noise changes. The transforms and their ranges are
// this generator's own choice (a plausible gate capture), drawn from a
// seeded generator, so the set is reproducible.
func matchDev(ctx context.Context, args []string) (any, error) {
	fs := newFlags("matchdev")
	from := fs.String("from", "", "folder of F_I.png images")
	out := fs.String("out", "", "folder to write the development set to")
	seed := fs.Uint64("seed", 7, "random seed")
	if err := fs.Parse(args); err != nil || *from == "" || *out == "" {
		return nil, errUsage
	}
	files, err := filepath.Glob(filepath.Join(*from, "*_*.png"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no F_I.png images in %s", *from)
	}
	slices.Sort(files)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(*seed, 0x6465760a))
	u := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
	n := 0
	for _, f := range files {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		img, err := png.Decode(r)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f, err)
		}
		b := img.Bounds()
		w, h := b.Dx(), b.Dy()
		src := make([]float64, w*h)
		var border []float64
		for y := range h {
			for x := range w {
				v := float64(color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y)
				src[y*w+x] = v
				if x < 3 || y < 3 || x >= w-3 || y >= h-3 {
					border = append(border, v)
				}
			}
		}
		slices.Sort(border)
		bg := border[len(border)/2]
		at := func(x, y float64) float64 { // bilinear, background outside
			x0, y0 := math.Floor(x), math.Floor(y)
			fx, fy := x-x0, y-y0
			px := func(i, j int) float64 {
				if i < 0 || j < 0 || i >= w || j >= h {
					return bg
				}
				return src[j*w+i]
			}
			i, j := int(x0), int(y0)
			return (px(i, j)*(1-fx)+px(i+1, j)*fx)*(1-fy) + (px(i, j+1)*(1-fx)+px(i+1, j+1)*fx)*fy
		}
		wp := devWarp{W: w, H: h, Theta: u(-30, 30) * math.Pi / 180, Scale: u(0.93, 1.07)}
		wp.TX, wp.TY = u(-24, 24), u(-24, 24)
		wp.Amp = u(2, 7)
		for k := range wp.Waves {
			l := u(120, 260)
			d := u(0, 2*math.Pi)
			wp.Waves[k] = devWave{KX: 2 * math.Pi * math.Cos(d) / l, KY: 2 * math.Pi * math.Sin(d) / l, Ph: u(0, 2*math.Pi), AX: u(-1, 1), AY: u(-1, 1)}
		}
		wp.ECX, wp.ECY = float64(w)/2+u(-30, 30), float64(h)/2+u(-40, 40)
		wp.EA, wp.EB = u(0.50, 0.80)*float64(w)/2, u(0.50, 0.80)*float64(h)/2
		contrast, bright := u(0.65, 1.15), u(-25, 25)
		noise := u(4, 16)
		dst := make([]float64, w*h)
		for y := range h {
			for x := range w {
				sx, sy := wp.toSource(float64(x), float64(y))
				v := at(sx, sy)
				v = bg + (v-bg)*wp.contact(float64(x), float64(y))
				dst[y*w+x] = (v-128)*contrast + 128 + bright
			}
		}
		if rng.IntN(2) == 0 { // 3x3 box blur
			tmp := slices.Clone(dst)
			for y := 1; y < h-1; y++ {
				for x := 1; x < w-1; x++ {
					s := 0.0
					for j := -1; j <= 1; j++ {
						for i := -1; i <= 1; i++ {
							s += tmp[(y+j)*w+x+i]
						}
					}
					dst[y*w+x] = s / 9
				}
			}
		}
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i, v := range dst {
			v += noise * rng.NormFloat64()
			g.Pix[i] = uint8(min(255, max(0, math.Round(v))))
		}
		o, err := os.Create(filepath.Join(*out, filepath.Base(f)))
		if err != nil {
			return nil, err
		}
		if err := png.Encode(o, g); err != nil {
			o.Close()
			return nil, err
		}
		if err := o.Close(); err != nil {
			return nil, err
		}
		// The transform, for `gatebench matchdevtruth` (extraction measured
		// against the source image's minutiae).
		js, _ := json.Marshal(wp)
		if err := os.WriteFile(filepath.Join(*out, strings.TrimSuffix(filepath.Base(f), ".png")+".json"), js, 0o644); err != nil {
			return nil, err
		}
		n++
	}
	return DevResult{Bench: "matchdev", From: *from, Out: *out, Seed: *seed, Images: n}, nil
}

// devWave is one sinusoidal component of a development capture's smooth
// displacement field.
type devWave struct{ KX, KY, Ph, AX, AY float64 }

// devWarp is the geometric transform of one development capture: output
// pixel to source pixel (shift, rotation, scale, then the smooth warp), and
// the elliptical contact area.
type devWarp struct {
	W, H             int
	Theta, Scale     float64
	TX, TY, Amp      float64
	Waves            [3]devWave
	ECX, ECY, EA, EB float64
}

// toSource maps an output pixel to the source image.
func (wp *devWarp) toSource(x, y float64) (sx, sy float64) {
	cx, cy := float64(wp.W)/2, float64(wp.H)/2
	cos, sin := math.Cos(wp.Theta), math.Sin(wp.Theta)
	ox, oy := x-cx-wp.TX, y-cy-wp.TY
	sx = (cos*ox+sin*oy)/wp.Scale + cx
	sy = (-sin*ox+cos*oy)/wp.Scale + cy
	for _, wv := range wp.Waves {
		s := math.Sin(wv.KX*sx + wv.KY*sy + wv.Ph)
		sx += wp.Amp * wv.AX * s / 1.5
		sy += wp.Amp * wv.AY * s / 1.5
	}
	return sx, sy
}

// contact is the contact mask at an output pixel: 1 inside the ellipse,
// falling to 0 over about 6 px at its edge.
func (wp *devWarp) contact(x, y float64) float64 {
	ex, ey := (x-wp.ECX)/wp.EA, (y-wp.ECY)/wp.EB
	e := math.Sqrt(ex*ex + ey*ey)
	return min(1, max(0, (1-e)*min(wp.EA, wp.EB)/6))
}
