package daemon

import (
	"sort"
	"sync"
	"time"
)

// LatencyRecorder keeps the decision latencies of granted passages: software time from the card
// read arriving to the fingerprint request acknowledged, plus from the sample arriving to the
// door board's acknowledgement of the exit-door pulse. The traveller's capture time is excluded.
type LatencyRecorder struct {
	mu sync.Mutex
	d  []time.Duration
}

// NewLatencyRecorder returns an empty recorder.
func NewLatencyRecorder() *LatencyRecorder { return &LatencyRecorder{} }

// Add records one latency.
func (r *LatencyRecorder) Add(d time.Duration) {
	r.mu.Lock()
	r.d = append(r.d, d)
	r.mu.Unlock()
}

// Count returns how many latencies were recorded.
func (r *LatencyRecorder) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.d)
}

// Quantile returns the q-quantile (0..1) of the recorded latencies, 0 when none.
func (r *LatencyRecorder) Quantile(q float64) time.Duration {
	r.mu.Lock()
	s := append([]time.Duration(nil), r.d...)
	r.mu.Unlock()
	if len(s) == 0 {
		return 0
	}
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(q*float64(len(s)-1) + 0.5)
	return s[i]
}
