package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"ttpgate/internal/simlane"
	"ttpgate/internal/testdata"
	"ttpgate/match/extract"
	"ttpgate/sync/registry"
)

func init() {
	register("lane", "[-travellers N] [-fingers 1..10]   decision latency of a simulated lane (devices on pseudo-terminals)", lane)
}

// LaneResult is the result of `gatebench lane`.
type LaneResult struct {
	Bench         string  `json:"bench"`
	Travellers    int     `json:"travellers"`
	Fingers       int     `json:"enrolled_fingers"` // enrolled per traveller; the sample is compared with every one
	Granted       int     `json:"granted"`
	DecisionP50MS float64 `json:"decision_p50_ms"`
	DecisionP99MS float64 `json:"decision_p99_ms"`
	DecisionMaxMS float64 `json:"decision_max_ms"`
	Errors        int     `json:"errors"`
	WallS         float64 `json:"wall_s"`
	Machine       Machine `json:"machine"`
}

// lane walks N travellers with their own finger through a simulated lane and reports the
// software decision time the daemon measured: card read arriving to the fingerprint request
// acknowledged, plus sample arriving to the exit-door pulse acknowledged (capture excluded).
func lane(ctx context.Context, args []string) (any, error) {
	fs := newFlags("lane")
	n := fs.Int("travellers", 100, "how many travellers")
	fingers := fs.Int("fingers", 1, "enrolled fingers per traveller (1..10): the genuine one and others from the test images")
	if err := fs.Parse(args); err != nil || *n < 1 || *fingers < 1 || *fingers > 10 {
		return nil, errUsage
	}
	dir, err := os.MkdirTemp("", "gatebench-lane-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	samples, err := simlane.LoadSamples()
	if err != nil {
		return nil, err
	}
	l, err := simlane.Start(ctx, simlane.Options{Dir: dir, Direction: "departure", DoorPulse: 300 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	others, err := otherFingers(*fingers - 1)
	if err != nil {
		return nil, err
	}
	today := registry.DateOf(time.Now(), l.Config.Location)
	var recs []*registry.Record
	for i := 0; i < *n; i++ {
		r := simlane.NewRecord(fmt.Sprintf("B%06d", i), fmt.Sprintf("%010d", 2000000000+i), today, samples.Enrolled, simlane.RecordOptions{})
		// The genuine finger goes last, after the others (finger positions 1, 3, 4, …):
		// the verifier compares the sample with every enrolled finger either way.
		genuine := r.Templates[0]
		r.Templates = r.Templates[:0]
		pos := 1
		for _, o := range others {
			if pos == genuine.Finger {
				pos++
			}
			r.Templates = append(r.Templates, registry.Template{Finger: pos, Format: registry.FormatISO19794_2_2005, Data: o})
			pos++
		}
		r.Templates = append(r.Templates, genuine)
		recs = append(recs, r)
	}
	rev, err := l.Put(ctx, recs...)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := l.WaitRegistry(wctx, rev); err != nil {
		return nil, err
	}
	res := LaneResult{Bench: "lane", Travellers: *n, Fingers: *fingers, Machine: machine()}
	w := &simlane.Walker{Lane: l.Devices}
	start := time.Now()
	for i, r := range recs {
		tctx, cancel := context.WithTimeout(ctx, time.Minute)
		obs, err := w.Walk(tctx, simlane.Traveller{Name: r.UserID, Card: r.Cards[0].Number, Samples: [][]byte{samples.Genuine}})
		cancel()
		switch {
		case err != nil:
			res.Errors++
			fmt.Fprintf(os.Stderr, "traveller %d: %v\n", i, err)
		case !obs.Granted || obs.ExitPulses != 1:
			res.Errors++
			fmt.Fprintf(os.Stderr, "traveller %d: granted=%v exit pulses=%d\n", i, obs.Granted, obs.ExitPulses)
		default:
			res.Granted++
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	res.WallS = time.Since(start).Seconds()
	lat := l.Daemon.Latencies()
	res.DecisionP50MS = ms(lat.Quantile(0.5))
	res.DecisionP99MS = ms(lat.Quantile(0.99))
	res.DecisionMaxMS = ms(lat.Quantile(1))
	if lat.Count() != res.Granted {
		fmt.Fprintf(os.Stderr, "note: %d latencies recorded for %d granted passages\n", lat.Count(), res.Granted)
	}
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// otherFingers returns n templates of fingers other than the lane's genuine sample: extracted
// from the first impression of each finger of the test images (8 fingers), then the SourceAFIS
// non-matching template.
func otherFingers(n int) ([][]byte, error) {
	var out [][]byte
	for f := 1; f <= 8 && len(out) < n; f++ {
		png, err := testdata.Read("fingerprints", fmt.Sprintf("%d_1.png", f))
		if err != nil {
			return nil, err
		}
		iso, err := extract.ExtractISO(png, extract.Options{})
		if err != nil {
			return nil, fmt.Errorf("finger %d: %w", f, err)
		}
		out = append(out, iso)
	}
	if len(out) < n {
		iso, err := testdata.Read("templates", "sourceafis-iso-nonmatching.dat")
		if err != nil {
			return nil, err
		}
		out = append(out, iso)
	}
	if len(out) < n {
		return nil, fmt.Errorf("only %d other fingers in the test data, %d asked", len(out), n)
	}
	return out, nil
}
