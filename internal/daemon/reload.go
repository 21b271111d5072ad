package daemon

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"ttpgate/gate"
	"ttpgate/internal/config"
)

// Reload applies a changed configuration to the running lane (SIGHUP). The lane's timings and
// attempts, the staleness limit and the match threshold change for the next traveller; anything
// else (identity, zone, direction, store, key, NATS, devices, socket) needs a restart, and a
// config that changes any of it is refused whole, with the fields named.
func (d *Daemon) Reload(next *config.Config) error {
	cur := *d.cfg
	var fixed []string
	same := func(field string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			fixed = append(fixed, field)
		}
	}
	same("gate", cur.Gate, next.Gate)
	same("airport", cur.Airport, next.Airport)
	same("timezone", cur.Timezone, next.Timezone)
	same("direction", cur.Direction, next.Direction)
	same("data_dir", cur.DataDir, next.DataDir)
	same("template_key_file", cur.TemplateKeyFile, next.TemplateKeyFile)
	same("admin_socket", cur.AdminSocket, next.AdminSocket)
	same("nats", cur.NATS, next.NATS)
	same("devices", cur.Devices, next.Devices)
	if len(fixed) > 0 {
		return fmt.Errorf("config reload refused, nothing changed: %s can only change with a restart", strings.Join(fixed, ", "))
	}
	d.verifier.setThreshold(next.Match.Threshold, next.Match.TargetFMR)
	d.inputs <- gate.Reconfigure{At: time.Now(), Config: laneConfig(next)}
	d.log.Info("config reloaded", "lane", next.Lane, "match_threshold", next.Match.Threshold)
	return nil
}

// laneConfig is the part of the configuration the lane uses.
func laneConfig(cfg *config.Config) gate.Config {
	return gate.Config{
		Direction:      gate.Direction(cfg.Direction),
		Location:       cfg.Location,
		MaxAttempts:    cfg.Lane.MaxAttempts,
		FingerTimeout:  cfg.Lane.FingerTimeout.Std(),
		DoorPulse:      cfg.Lane.DoorPulse.Std(),
		RefusalScreen:  cfg.Lane.RefusalScreen.Std(),
		RegistryMaxAge: cfg.Lane.RegistryMaxAge.Std(),
	}
}
