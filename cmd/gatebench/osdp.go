package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"time"

	"ttpgate/devices/faultlink"
	"ttpgate/devices/osdp"
	"ttpgate/devices/simulator"
)

func init() {
	register("osdp", "[--minutes M] [--corrupt RATE] [--speedup S] [--retries N] [--seed N]   three PDs over Secure Channel on one emulated 115200-baud bus with byte corruption", osdpBench)
}

// OSDPResult is the result of `gatebench osdp`. Durations named *_ms are
// in emulated time (the bus runs at 115200 baud divided by the speedup, and
// every control-panel timer is divided by it too); wall_s is real time.
type OSDPResult struct {
	Bench                string  `json:"bench"`
	MinutesSimulated     float64 `json:"minutes_simulated"`
	Corrupt              float64 `json:"corrupt"`
	Baud                 int     `json:"baud"`
	Speedup              float64 `json:"speedup"`
	Retries              int     `json:"retries"`
	SCSetupMS            float64 `json:"sc_setup_ms"`
	CardReads            int     `json:"card_reads"`
	CardReadsLost        int     `json:"card_reads_lost"`
	CardReadsDuplicated  int     `json:"card_reads_duplicated"`
	DoorPulses           int     `json:"door_pulses"`
	DoorPulsesFailed     int     `json:"door_pulses_failed"`
	DoorPulsesLost       int     `json:"door_pulses_lost"`
	DoorPulsesDuplicated int     `json:"door_pulses_duplicated"`
	SpuriousPulses       int     `json:"spurious_pulses"`
	ReadToLaneP50MS      float64 `json:"read_to_lane_p50_ms"`
	ReadToLaneP99MS      float64 `json:"read_to_lane_p99_ms"`
	ReadToLaneMaxMS      float64 `json:"read_to_lane_max_ms"`
	BytesOnWire          uint64  `json:"bytes_on_wire"`
	BytesCorrupted       uint64  `json:"bytes_corrupted"`
	CRCErrors            uint64  `json:"crc_errors"`
	Timeouts             uint64  `json:"timeouts"`
	Resyncs              uint64  `json:"resyncs"`
	MACErrors            uint64  `json:"mac_errors"`
	Handshakes           uint64  `json:"handshakes"`
	WentOffline          int     `json:"went_offline"`
	WallS                float64 `json:"wall_s"`
	Note                 string  `json:"note"`
	Machine              Machine `json:"machine"`
}

// osdpBench runs a card reader (1), a fingerprint reader (2) and a door
// board (3) behind one control panel on a fault rig that emulates a
// 115200-baud RS-485 bus and corrupts bytes at the given rate. Cards are
// presented about every 1.5 s and the exit door pulsed about every 3 s
// (emulated time); each card number and each pulse length is unique, so a
// lost, duplicated or spurious one is seen.
func osdpBench(ctx context.Context, args []string) (any, error) {
	fs := newFlags("osdp")
	minutes := fs.Float64("minutes", 2, "emulated minutes of traffic")
	corrupt := fs.Float64("corrupt", 0.01, "probability that a byte on the bus is corrupted")
	speedup := fs.Float64("speedup", 1, "run emulated time this many times faster than real time")
	retries := fs.Int("retries", 2, "control panel repeats of an unanswered frame (osdp.Options.Retries)")
	seed := fs.Uint64("seed", 1, "fault generator seed")
	if err := fs.Parse(args); err != nil || *minutes <= 0 || *corrupt < 0 || *corrupt >= 1 || *speedup <= 0 || *speedup > 100 {
		return nil, errUsage
	}
	sp := *speedup
	emu := func(d time.Duration) time.Duration { return time.Duration(float64(d) / sp) } // emulated → real
	msEmu := func(real time.Duration) float64 { return float64(real) * sp / float64(time.Millisecond) }

	cpEnd, pdEnd, line := faultlink.New(faultlink.Config{Corrupt: *corrupt, Baud: 115200, Speedup: sp, Seed: *seed})
	defer line.Close()
	card, bio, door := simulator.NewCardReader(1), simulator.NewBioReader(2), simulator.NewDoorBoard(3)
	bus, err := simulator.NewBus(pdEnd, card, bio, door)
	if err != nil {
		return nil, err
	}
	keys := map[byte][]byte{}
	for _, a := range []byte{1, 2, 3} {
		k := make([]byte, 16)
		for i := range k {
			k[i] = byte(rand.Uint32())
		}
		keys[a] = k
		if err := bus.SetSecure(a, simulator.SecureConfig{SCBK: k}); err != nil {
			return nil, err
		}
	}
	cp := osdp.NewControlPanel(cpEnd, []osdp.PDConfig{
		{Addr: 1, Name: "card reader", SCBK: keys[1]},
		{Addr: 2, Name: "fingerprint reader", SCBK: keys[2]},
		{Addr: 3, Name: "door board", SCBK: keys[3]},
	}, osdp.Options{
		PollInterval:         emu(50 * time.Millisecond),
		ReplyTimeout:         emu(200 * time.Millisecond),
		OfflineAfter:         emu(8 * time.Second),
		OfflineProbeInterval: emu(time.Second),
		Retries:              *retries,
		RequireSecure:        true,
		EventBuffer:          1024,
	})

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = bus.Serve(rctx) }()
	go func() { defer wg.Done(); _ = cp.Run(rctx) }()
	defer func() { cancel(); line.Close(); wg.Wait() }()

	var (
		mu        sync.Mutex
		presented = map[string]time.Time{}
		received  = map[string]int{}
		latencies []time.Duration
		online    = map[byte]bool{}
		offline   int
		allOnline = make(chan time.Time, 1)
	)
	start := time.Now()
	evDone := make(chan struct{})
	go func() {
		defer close(evDone)
		for ev := range cp.Events() {
			now := time.Now()
			mu.Lock()
			switch e := ev.(type) {
			case osdp.PDOnline:
				online[e.Addr] = true
				if len(online) == 3 {
					select {
					case allOnline <- now:
					default:
					}
				}
			case osdp.PDOffline:
				offline++
				fmt.Fprintf(os.Stderr, "PD 0x%02X offline: %s\n", e.Addr, e.Reason)
			case osdp.CardRead:
				received[e.Number]++
				if t, ok := presented[e.Number]; ok && received[e.Number] == 1 {
					latencies = append(latencies, now.Sub(t))
				}
			}
			mu.Unlock()
		}
	}()

	var setup time.Duration
	select {
	case t := <-allOnline:
		setup = t.Sub(start)
	case <-time.After(emu(time.Minute) + 10*time.Second):
		return nil, fmt.Errorf("the three PDs did not come online over Secure Channel within a minute of emulated time")
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	res := OSDPResult{Bench: "osdp", MinutesSimulated: *minutes, Corrupt: *corrupt, Baud: 115200, Speedup: sp, Retries: *retries,
		SCSetupMS: msEmu(setup), Machine: machine()}
	rng := rand.New(rand.NewPCG(*seed, 7))
	trafficEnd := time.Now().Add(emu(time.Duration(*minutes * float64(time.Minute))))
	nextCard := time.Now()
	nextPulse := time.Now().Add(emu(time.Second))
	requested := map[time.Duration]bool{}
	acked := map[time.Duration]bool{}
	pulseN := 0
	var pulseWG sync.WaitGroup
	for time.Now().Before(trafficEnd) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		now := time.Now()
		if !now.Before(nextCard) {
			num := fmt.Sprintf("%010d", 1000000000+res.CardReads)
			mu.Lock()
			presented[num] = time.Now()
			mu.Unlock()
			if err := card.Present(num); err != nil {
				return nil, err
			}
			res.CardReads++
			nextCard = now.Add(emu(time.Duration(1000+rng.IntN(1000)) * time.Millisecond))
		}
		if !now.Before(nextPulse) {
			pulseN++
			d := time.Duration(pulseN) * 100 * time.Millisecond // unique: names the pulse
			requested[d] = true
			pulseWG.Add(1)
			go func() {
				defer pulseWG.Done()
				pctx, pcancel := context.WithTimeout(ctx, emu(10*time.Second)+time.Second)
				defer pcancel()
				err := cp.Output(pctx, 3, simulator.OutputExitDoor, osdp.OutputPulse, d)
				mu.Lock()
				if err == nil {
					acked[d] = true
				} else {
					res.DoorPulsesFailed++
					fmt.Fprintf(os.Stderr, "pulse %v: %v\n", d, err)
				}
				mu.Unlock()
			}()
			nextPulse = now.Add(emu(time.Duration(2000+rng.IntN(2000)) * time.Millisecond))
		}
		wake := min(time.Until(nextCard), time.Until(nextPulse), time.Until(trafficEnd))
		time.Sleep(max(wake, 0))
	}
	pulseWG.Wait()
	// Let the last card reads arrive.
	drain := time.Now().Add(emu(10 * time.Second))
	for time.Now().Before(drain) {
		mu.Lock()
		n := len(received)
		mu.Unlock()
		if n >= res.CardReads {
			break
		}
		time.Sleep(emu(50 * time.Millisecond))
	}
	res.WallS = time.Since(start).Seconds()

	mu.Lock()
	for num := range presented {
		switch n := received[num]; {
		case n == 0:
			res.CardReadsLost++
		case n > 1:
			res.CardReadsDuplicated += n - 1
		}
	}
	lat := append([]time.Duration(nil), latencies...)
	res.WentOffline = offline
	mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return msEmu(lat[min(len(lat)-1, int(p*float64(len(lat))))])
	}
	res.ReadToLaneP50MS, res.ReadToLaneP99MS, res.ReadToLaneMaxMS = q(0.5), q(0.99), q(1)

	res.DoorPulses = pulseN
	executed := map[time.Duration]int{}
	for _, p := range door.Pulses() {
		if p.Output == simulator.OutputExitDoor {
			executed[p.Duration]++
		}
	}
	for d, n := range executed {
		if !requested[d] {
			res.SpuriousPulses += n
		} else if n > 1 {
			res.DoorPulsesDuplicated += n - 1
		}
	}
	for d := range acked {
		if executed[d] == 0 {
			res.DoorPulsesLost++
		}
	}
	ls := line.Stats()
	res.BytesOnWire, res.BytesCorrupted = ls.Bytes, ls.Corrupted
	for _, s := range cp.Stats() {
		res.CRCErrors += s.CRCErrors
		res.Timeouts += s.Timeouts
		res.Resyncs += s.Resyncs
		res.MACErrors += s.MACErrors
		res.Handshakes += s.Handshakes
	}
	res.Note = fmt.Sprintf("*_ms are emulated time (115200-baud byte times and CP timers divided by speedup %g, results multiplied back); wall_s is real time. "+
		"door_pulses_failed: Output returned an error (the caller was told; a failed pulse is never executed later nor twice); door_pulses_lost: acknowledged but not executed.", sp)
	return res, nil
}
