package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"ttpgate/devices/ef01"
	"ttpgate/devices/ef01sim"
	"ttpgate/match"
	"ttpgate/match/extract"
	"ttpgate/match/template"
)

func init() {
	register("ef01", "[-n N] [-bauds 57600,115200] [-exposure D] [-finger F_I.png] [-enrolled F_I.png]   finger placed to template and decision through the EF01 driver and a paced module simulator on a pty", ef01Bench)
}

// EF01Run is one baud rate's figures (medians over the captures, in ms).
type EF01Run struct {
	Baud         int     `json:"baud"`
	PacketSize   int     `json:"packet_size"`
	Captures     int     `json:"captures"`
	LineBytes    int     `json:"line_bytes"`
	DetectMS     float64 `json:"detect_ms"`      // finger placed → GenImg answered OK
	UploadMS     float64 `json:"upload_ms"`      // GenImg OK → last data packet
	LineMS       float64 `json:"line_ms"`        // the upload's bytes at the baud rate (10 bit times per byte)
	ExtractMS    float64 `json:"extract_ms"`     // unpack + extraction
	MatchMS      float64 `json:"match_ms"`       // prepare the probe + 1:1 score against one enrolled view
	TemplateMS   float64 `json:"to_template_ms"` // finger placed → template ready
	DecisionMS   float64 `json:"to_decision_ms"` // finger placed → match decision
	LineShare    float64 `json:"line_share"`     // LineMS / DecisionMS
	ExtractShare float64 `json:"extract_share"`  // ExtractMS / DecisionMS
	MatchShare   float64 `json:"match_share"`    // MatchMS / DecisionMS
	Score        float64 `json:"score"`
	Matched      bool    `json:"matched"`
}

// EF01Result is the result of `gatebench ef01`.
type EF01Result struct {
	Bench      string    `json:"bench"`
	Finger     string    `json:"finger"`
	Enrolled   string    `json:"enrolled"`
	ExposureMS float64   `json:"exposure_ms"`
	PollMS     float64   `json:"poll_ms"`
	Runs       []EF01Run `json:"runs"`
	Machine    Machine   `json:"machine"`
}

func ef01Median(v []time.Duration) time.Duration {
	s := append([]time.Duration(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// ef01Bench times a capture through the real driver and a module simulator
// on a pseudo-terminal whose writes are paced to the baud rate (a pty has
// no baud rate of its own; see ef01sim), then extraction and matching.
func ef01Bench(ctx context.Context, args []string) (any, error) {
	fs := newFlags("ef01")
	n := fs.Int("n", 3, "captures per baud rate")
	bauds := fs.String("bauds", "57600,115200", "baud rates to run the line at")
	exposure := fs.Duration("exposure", 0, "time the simulated sensor takes to capture once the finger is on (GenImg)")
	poll := fs.Duration("poll", 50*time.Millisecond, "GenImg poll interval")
	finger := fs.String("finger", "1_1.png", "the image the module serves (in the shared fingerprints)")
	enrolled := fs.String("enrolled", "1_2.png", "the enrolled impression it is verified against")
	if err := fs.Parse(args); err != nil || *n < 1 {
		return nil, errUsage
	}
	dir := os.Getenv("TTPGATE_TESTDATA")
	if dir == "" {
		dir = filepath.Join("..", "shared", "testdata")
	}
	dir = filepath.Join(dir, "fingerprints")
	img, err := ef01sim.LoadPNG(filepath.Join(dir, *finger))
	if err != nil {
		return nil, fmt.Errorf("%w (set TTPGATE_TESTDATA to the shared test data)", err)
	}
	png, err := os.ReadFile(filepath.Join(dir, *enrolled))
	if err != nil {
		return nil, err
	}
	iso, err := extract.ExtractISO(png, extract.Options{})
	if err != nil {
		return nil, fmt.Errorf("enrolled image: %w", err)
	}
	tpl, err := template.Decode(iso)
	if err != nil {
		return nil, err
	}
	cand, err := match.Prepare(tpl, 0)
	if err != nil {
		return nil, err
	}
	res := EF01Result{Bench: "ef01", Finger: *finger, Enrolled: *enrolled, ExposureMS: ms(*exposure), PollMS: ms(*poll), Machine: machine()}
	for _, bs := range strings.Split(*bauds, ",") {
		baud, err := strconv.Atoi(strings.TrimSpace(bs))
		if err != nil || !ef01.ValidBaud(baud) {
			return nil, fmt.Errorf("baud rate %q: expected N x 9600 up to 115200: %w", bs, errUsage)
		}
		run, err := ef01Run(ctx, baud, *n, *exposure, *poll, img, cand)
		if err != nil {
			return nil, fmt.Errorf("at %d baud: %w", baud, err)
		}
		fmt.Fprintf(os.Stderr, "ef01 %6d baud: placed→template %.0f ms, →decision %.0f ms (line %.0f ms = %.0f%%, extraction %.0f ms, matching %.1f ms)\n",
			baud, run.TemplateMS, run.DecisionMS, run.LineMS, 100*run.LineShare, run.ExtractMS, run.MatchMS)
		res.Runs = append(res.Runs, run)
	}
	return res, nil
}

func ef01Run(ctx context.Context, baud, n int, exposure, poll time.Duration, img []byte, cand *match.Prepared) (EF01Run, error) {
	// The module starts at its factory settings (57600, 128-byte packets);
	// Open finds it and moves it to baud and 256-byte packets.
	sim, p, err := ef01sim.ServePTY(ctx, ef01sim.Config{Image: img, Pace: true, CaptureTime: exposure})
	if err != nil {
		return EF01Run{}, err
	}
	defer p.Close()
	m, err := ef01.OpenContext(ctx, p.Path, ef01.Options{Baud: baud})
	if err != nil {
		return EF01Run{}, err
	}
	defer m.Close()
	var detect, upload, line, extr, mat, toTpl, toDec []time.Duration
	run := EF01Run{Baud: baud, PacketSize: m.Params().PacketSize, Captures: n}
	for i := 0; i < n; i++ {
		// Let the driver poll an empty glass for a moment, then place the
		// finger at a random point of the poll cycle.
		placed := make(chan time.Time, 1)
		time.AfterFunc(3*poll+time.Duration(i)*poll/time.Duration(n), func() {
			placed <- time.Now()
			sim.Place(ef01sim.Finger{})
		})
		im, err := m.Capture(ctx, ef01.CaptureOptions{PollInterval: poll, Timeout: 10 * time.Second})
		if err != nil {
			return run, err
		}
		uploaded := time.Now()
		t0 := <-placed
		g, err := extract.FromPacked4(im.Packed, im.Width, im.Height)
		if err != nil {
			return run, err
		}
		r, err := extract.Extract(g, extract.Options{})
		if err != nil {
			return run, err
		}
		extracted := time.Now()
		probe, err := match.Prepare(r.Template, 0)
		if err != nil {
			return run, err
		}
		score, ok := match.Matcher{}.VerifyPrepared([]*match.Prepared{probe}, []*match.Prepared{cand})
		decided := time.Now()
		detect = append(detect, im.Detected.Sub(t0))
		upload = append(upload, im.Upload)
		line = append(line, im.LineTime())
		extr = append(extr, extracted.Sub(uploaded))
		mat = append(mat, decided.Sub(extracted))
		toTpl = append(toTpl, extracted.Sub(t0))
		toDec = append(toDec, decided.Sub(t0))
		run.LineBytes, run.Score, run.Matched = im.LineBytes, score, ok
	}
	run.DetectMS, run.UploadMS, run.LineMS = ms(ef01Median(detect)), ms(ef01Median(upload)), ms(ef01Median(line))
	run.ExtractMS, run.MatchMS = ms(ef01Median(extr)), ms(ef01Median(mat))
	run.TemplateMS, run.DecisionMS = ms(ef01Median(toTpl)), ms(ef01Median(toDec))
	run.LineShare = run.LineMS / run.DecisionMS
	run.ExtractShare = run.ExtractMS / run.DecisionMS
	run.MatchShare = run.MatchMS / run.DecisionMS
	return run, nil
}
