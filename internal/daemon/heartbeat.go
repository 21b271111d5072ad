package daemon

import (
	"context"
	"time"

	"ttpgate/gate"
	"ttpgate/sync/events"
	"ttpgate/sync/outbox"
)

// HeartbeatEvery is how often the gate reports its state to HQ.
const HeartbeatEvery = 5 * time.Second

// onOutboxLevel hands the outbox's fill level to the lane goroutine; it never blocks (the
// newest level wins).
func (d *Daemon) onOutboxLevel(a outbox.Alarm) {
	select {
	case <-d.outboxLevel:
	default:
	}
	select {
	case d.outboxLevel <- a:
	default:
	}
}

// heartbeat records the gate's state for HQ's fleet view, and a registry_sync event when the
// registry moved since the last one. Lane goroutine only.
func (d *Daemon) heartbeat(ctx context.Context) {
	now := time.Now()
	st := d.lane.Status()
	rep := d.Report(ctx)
	hb := events.Heartbeat{State: string(st.State), Mode: string(st.Mode), ClosedBecause: st.ClosedBecause,
		Alarms: st.ActiveAlarms, RegistryRevision: rep.Registry.Revision, OutboxDepth: rep.Outbox.Depth,
		HQLink: rep.HQLink, UptimeS: time.Since(d.started).Seconds(), Version: Version}
	for _, dev := range rep.Devices {
		hb.Devices = append(hb.Devices, events.DeviceHealth{Name: dev.Name, Online: dev.Online, Detail: dev.Problem})
	}
	if !rep.Registry.HQTime.IsZero() {
		age := rep.Registry.AgeSeconds
		hb.RegistryAgeS = &age
	}
	if d.pub != nil {
		ps := d.pub.Stats()
		hb.OutboxBytes, hb.OutboxAlarm = ps.Bytes, ps.Level.String()
		if !ps.Oldest.IsZero() {
			hb.OutboxOldestS = now.Sub(ps.Oldest).Seconds()
		}
	}
	evs := []events.Event{events.NewHeartbeat(now, hb)}
	if rev := rep.Registry.Revision; rev != d.lastSyncRev {
		applied := d.watcherApplied()
		rs := events.RegistrySync{Status: "applied", Revision: rev, Records: int(applied - d.lastSyncApplied)}
		if !rep.Registry.HQTime.IsZero() {
			t, age := rep.Registry.HQTime, rep.Registry.AgeSeconds
			rs.HQTime, rs.AgeS = &t, &age
		}
		if st.State == gate.StateClosed && containsStale(st.ActiveAlarms) {
			rs.Status = "stale"
		}
		evs = append(evs, events.NewRegistrySync(now, rs, ""))
		d.lastSyncRev, d.lastSyncApplied = rev, applied
	}
	d.recordExtra(ctx, evs...)
}

func (d *Daemon) watcherApplied() uint64 {
	d.mu.Lock()
	w := d.watcher
	d.mu.Unlock()
	if w == nil {
		return 0
	}
	return w.Stats().Applied
}

func containsStale(alarms []string) bool {
	for _, a := range alarms {
		if a == string(gate.RegistryStale) {
			return true
		}
	}
	return false
}
