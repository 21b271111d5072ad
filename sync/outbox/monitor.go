package outbox

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// monitor measures the outbox and the free disk space every UsageInterval and reports level
// changes, until ctx is done.
func (p *Publisher) monitor(ctx context.Context) {
	t := time.NewTicker(p.opt.UsageInterval)
	defer t.Stop()
	for {
		p.CheckUsage(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CheckUsage measures the outbox now, updates Stats and calls OnLevel if the level changed. Run
// calls it every UsageInterval; the daemon may call it before building a heartbeat.
func (p *Publisher) CheckUsage(ctx context.Context) {
	p.mu.Lock()
	gen := p.deletes
	p.mu.Unlock()
	u, err := p.st.OutboxUsage(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("measuring the outbox failed", "err", err)
		}
		return
	}
	free := freeDisk(filepath.Dir(p.st.Path()))
	p.mu.Lock()
	prev := p.stats.Level
	level, detail := p.level(prev, u.Rows, u.Bytes, free)
	if gen == p.deletes { // else rows were deleted meanwhile: keep the newer depth
		p.stats.Depth = u.Rows
	}
	p.stats.Bytes, p.stats.Oldest, p.stats.FreeDisk = u.Bytes, u.Oldest, free
	p.stats.Level, p.stats.LevelDetail = level, detail
	p.mu.Unlock()
	if level == prev {
		return
	}
	attrs := []any{"level", level.String(), "previous", prev.String(), "rows", u.Rows, "bytes", u.Bytes, "free_disk", free, "detail", detail}
	switch level {
	case LevelOK:
		p.log.Info("outbox back below its alarm thresholds", attrs...)
	case LevelHigh:
		p.log.Warn("outbox filling up: HQ has not acknowledged events for a while", attrs...)
	default:
		p.log.Error("outbox at its limit: events are kept, but the disk is at risk", attrs...)
	}
	if p.opt.OnLevel != nil {
		p.opt.OnLevel(Alarm{Level: level, Previous: prev, Usage: u, FreeDisk: free, Detail: detail, Time: time.Now()})
	}
}

// level computes the fill level with hysteresis: a level is left only when the usage is below
// 90% of the threshold that raised it.
func (p *Publisher) level(prev Level, rows int, bytes, free int64) (Level, string) {
	frac := 0.0
	var parts []string
	if p.opt.MaxRows > 0 {
		f := float64(rows) / float64(p.opt.MaxRows)
		frac = max(frac, f)
		parts = append(parts, fmt.Sprintf("%d of %d rows (%.0f%%)", rows, p.opt.MaxRows, 100*f))
	}
	if p.opt.MaxBytes > 0 {
		f := float64(bytes) / float64(p.opt.MaxBytes)
		frac = max(frac, f)
		parts = append(parts, fmt.Sprintf("%d of %d bytes (%.0f%%)", bytes, p.opt.MaxBytes, 100*f))
	}
	// diskFrac maps free space onto the same scale: 4 x MinFreeDisk free is the alarm threshold
	// (AlarmAt), MinFreeDisk free is full (1).
	diskFrac := 0.0
	if p.opt.MinFreeDisk > 0 && free >= 0 {
		parts = append(parts, fmt.Sprintf("%d bytes free on disk (minimum %d)", free, p.opt.MinFreeDisk))
		switch m := float64(p.opt.MinFreeDisk); {
		case float64(free) <= m:
			diskFrac = 1 + (m-float64(free))/m
		case float64(free) <= 4*m:
			diskFrac = p.opt.AlarmAt + (1-p.opt.AlarmAt)*(4*m-float64(free))/(3*m)
		default:
			diskFrac = p.opt.AlarmAt * 4 * m / float64(free)
		}
		frac = max(frac, diskFrac)
	}
	detail := "outbox " + joinParts(parts)
	highAt, fullAt := p.opt.AlarmAt, 1.0
	switch {
	case frac >= fullAt:
		return LevelFull, detail
	case prev == LevelFull && frac >= 0.9*fullAt:
		return LevelFull, detail
	case frac >= highAt:
		return LevelHigh, detail
	case prev >= LevelHigh && frac >= 0.9*highAt:
		return LevelHigh, detail
	}
	return LevelOK, detail
}

func joinParts(p []string) string {
	out := ""
	for i, s := range p {
		if i > 0 {
			out += ", "
		}
		out += s
	}
	return out
}
