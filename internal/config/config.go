// Package config reads and checks a gate's YAML configuration. Every error names the file, the
// field (with its line) and what is allowed, so a technician can fix it without reading code.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"ttpgate/match"
	"ttpgate/sync/registry"
)

// Config is a gate's configuration (configs/gate.example.yaml documents every field).
type Config struct {
	Gate            string         `yaml:"gate"`
	Airport         string         `yaml:"airport"`
	Timezone        string         `yaml:"timezone"`
	Direction       string         `yaml:"direction"`
	DataDir         string         `yaml:"data_dir"`
	TemplateKeyFile string         `yaml:"template_key_file"`
	AdminSocket     string         `yaml:"admin_socket"`
	MetricsListen   string         `yaml:"metrics_listen"`
	Display         Display        `yaml:"display"`
	Registry        Registry       `yaml:"registry"`
	NATS            NATS           `yaml:"nats"`
	Devices         Devices        `yaml:"devices"`
	Lane            Lane           `yaml:"lane"`
	Match           Match          `yaml:"match"`
	Location        *time.Location `yaml:"-"`
}

// Display is the lane display (the screen above the readers) and its technician status page.
type Display struct {
	// Listen is the traveller page's address (a kiosk browser shows http://Listen/); "" for none.
	Listen string `yaml:"listen"`
	// StatusListen is the read-only technician status page's address; "" for none.
	StatusListen string `yaml:"status_listen"`
	// Catalogs is the folder of message catalogues (one JSON file per language); "" uses the
	// built-in copy of configs/display.
	Catalogs string `yaml:"catalogs"`
	// ExitArrow is where the exit is as the traveller sees it from the screen: up, left, right.
	ExitArrow string `yaml:"exit_arrow"`
}

// NATS is the link to the airport's NATS leaf node.
type NATS struct {
	URL         string `yaml:"url"`
	Credentials string `yaml:"credentials"`
	// NKeySeedFile is this gate's NKey seed file (an `SU…` seed, mode 0600): the airport leaf of
	// configs/nats authenticates gates by NKey. At most one of Credentials and NKeySeedFile.
	NKeySeedFile string `yaml:"nkey_seed_file"`
	// JetStreamDomain is HQ's JetStream domain ("hq" in configs/nats) when the gate connects to an
	// airport leaf node; "" when it connects to HQ's servers directly.
	JetStreamDomain string `yaml:"jetstream_domain"`
}

// Registry is how the gate trusts and keeps its copy of the registry.
type Registry struct {
	// HQPublicKeys are HQ's Ed25519 record-signing public keys by key id (base64): a record or
	// clock signed by any other key is rejected. Several ids allow key rotation.
	HQPublicKeys map[string]string `yaml:"hq_public_keys"`
	// MaxOffline: a gate whose registry clock is older than this when it starts rebuilds its copy
	// from HQ's snapshot (set it to the registry bucket's history window); 0 = never.
	MaxOffline Duration `yaml:"max_offline"`
}

// Devices are the lane's OSDP peripheral devices. Devices that name the same port share a bus.
type Devices struct {
	CardReader Device `yaml:"card_reader"`
	BioReader  Device `yaml:"bio_reader"`
	DoorBoard  Device `yaml:"door_board"`
	// SecureChannel requires OSDP Secure Channel with every device (production: true). False
	// allows clear text, for a bench only.
	SecureChannel *bool `yaml:"secure_channel"`
	// InstallMode accepts devices on the default key SCBK-D so gatectl can install their own
	// keys; the lane stays closed while any device is on SCBK-D.
	InstallMode bool `yaml:"install_mode"`
	// FingerModule, when its port is set, is the lane's fingerprint reader instead of an OSDP
	// biometric reader: a ZhianTec EF01 module (R30x, AS608) that sends images.
	FingerModule FingerModule `yaml:"finger_module"`
	// KeysFile holds each device's Secure Channel key (written by `gatectl osdp commission`);
	// default: osdp-keys.json in data_dir.
	KeysFile string `yaml:"keys_file"`
}

// FingerModule is an EF01 fingerprint module on its own UART (docs/ef01.md).
type FingerModule struct {
	Port     string `yaml:"port"`
	Baud     int    `yaml:"baud"`     // the rate gated moves the module to (fastest: 115200)
	Password uint32 `yaml:"password"` // the module's handshake password (factory 0)
	Address  uint32 `yaml:"address"`  // the module's address (factory 0xFFFFFFFF)
}

// UsesFingerModule reports whether the fingerprint reader is an EF01 module.
func (d Devices) UsesFingerModule() bool { return d.FingerModule.Port != "" }

// Secure reports whether Secure Channel is required (the default when secure_channel is unset).
func (d Devices) Secure() bool { return d.SecureChannel == nil || *d.SecureChannel }

// Device is one OSDP peripheral device.
type Device struct {
	Port         string   `yaml:"port"`
	Baud         int      `yaml:"baud"`
	Address      int      `yaml:"address"`
	PollInterval Duration `yaml:"poll_interval"`
}

// Lane holds the lane's timing and attempt settings.
type Lane struct {
	MaxAttempts    int      `yaml:"max_attempts"`
	FingerTimeout  Duration `yaml:"finger_timeout"`
	DoorPulse      Duration `yaml:"door_pulse"`
	RefusalScreen  Duration `yaml:"refusal_screen"`
	RegistryMaxAge Duration `yaml:"registry_max_age"`
}

// Match holds the fingerprint decision settings.
type Match struct {
	// TargetFMR is the false-match rate the decision threshold is calibrated to (default 1e-4).
	TargetFMR float64 `yaml:"target_fmr"`
	// Threshold overrides the calibrated threshold with a fixed score; 0 (the default) uses the
	// threshold calibrated for TargetFMR.
	Threshold float64 `yaml:"threshold"`
}

// Duration is a time.Duration written as Go duration text ("200ms", "15s", "1h").
type Duration time.Duration

// UnmarshalYAML parses Go duration text.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration (expected for example 200ms, 15s, 1h)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// Error is a configuration error: the file, the field and what is wrong.
type Error struct {
	File  string
	Field string // dotted path, e.g. devices.card_reader.address
	Line  int
	Msg   string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", loc, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
}

// Errors is every problem found in one file.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Load reads, decodes and checks a configuration file. Relative paths in it are taken relative
// to the file's folder.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	cfg, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	base := filepath.Dir(path)
	for _, p := range []*string{&cfg.DataDir, &cfg.TemplateKeyFile, &cfg.NATS.Credentials, &cfg.NATS.NKeySeedFile, &cfg.AdminSocket, &cfg.Devices.KeysFile, &cfg.Display.Catalogs} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	if cfg.Devices.KeysFile == "" {
		cfg.Devices.KeysFile = filepath.Join(cfg.DataDir, "osdp-keys.json")
	}
	return cfg, nil
}

// Parse decodes and checks a configuration; name is used in errors.
func Parse(name string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{File: name, Msg: "not valid YAML: " + err.Error()}
	}
	if len(root.Content) == 0 {
		return nil, &Error{File: name, Msg: "empty file: expected a mapping with gate, airport, direction, devices, …"}
	}
	var errs Errors
	checkKeys(name, "", root.Content[0], reflect.TypeOf(Config{}), &errs)
	if len(errs) > 0 {
		return nil, errs
	}
	cfg := Defaults()
	if err := root.Content[0].Decode(cfg); err != nil {
		return nil, &Error{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  ")}
	}
	if errs := cfg.validate(name); len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// Defaults returns a configuration with every optional field at its default.
func Defaults() *Config {
	dev := func(addr int) Device {
		return Device{Baud: 115200, Address: addr, PollInterval: Duration(50 * time.Millisecond)}
	}
	return &Config{
		Timezone:      "Asia/Tokyo",
		DataDir:       "/var/lib/ttpgate",
		AdminSocket:   "/run/ttpgate/gated.sock",
		MetricsListen: "127.0.0.1:9310",
		Display:       Display{Listen: "127.0.0.1:9320", StatusListen: "127.0.0.1:9321", ExitArrow: "up"},
		Match:         Match{TargetFMR: 1e-4},
		NATS:          NATS{URL: "nats://127.0.0.1:4222"},
		Devices:       Devices{CardReader: dev(1), BioReader: dev(2), DoorBoard: dev(3)},
		Lane: Lane{MaxAttempts: 3, FingerTimeout: Duration(15 * time.Second), DoorPulse: Duration(5 * time.Second),
			RefusalScreen: Duration(3 * time.Second), RegistryMaxAge: Duration(time.Hour)},
	}
}

// checkKeys reports keys the configuration does not know, with the keys allowed there.
func checkKeys(file, prefix string, n *yaml.Node, t reflect.Type, errs *Errors) {
	if t.Kind() != reflect.Struct || t == reflect.TypeOf(time.Location{}) {
		return
	}
	if n.Kind != yaml.MappingNode {
		*errs = append(*errs, &Error{File: file, Field: strings.TrimSuffix(prefix, "."), Line: n.Line,
			Msg: "expected a mapping of " + strings.Join(allowedKeys(t), ", ")})
		return
	}
	fields := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag := strings.Split(f.Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
			fields[tag] = f
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, ok := fields[k.Value]
		if !ok {
			*errs = append(*errs, &Error{File: file, Field: prefix + k.Value, Line: k.Line,
				Msg: "unknown field (allowed here: " + strings.Join(allowedKeys(t), ", ") + ")"})
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			checkKeys(file, prefix+k.Value+".", v, f.Type, errs)
		}
	}
}

func allowedKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		if tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	sort.Strings(keys)
	return keys
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

func (c *Config) validate(file string) Errors {
	var errs Errors
	bad := func(field, msg string) { errs = append(errs, &Error{File: file, Field: field, Msg: msg}) }
	if !idPattern.MatchString(c.Gate) {
		bad("gate", fmt.Sprintf("%q: expected 1 to 32 letters, digits, - or _ (it is part of NATS subjects)", c.Gate))
	}
	if !idPattern.MatchString(c.Airport) {
		bad("airport", fmt.Sprintf("%q: expected an airport code of letters and digits, e.g. HND", c.Airport))
	}
	if c.NATS.Credentials != "" && c.NATS.NKeySeedFile != "" {
		bad("nats.nkey_seed_file", "set together with nats.credentials: expected one of them (a .creds file for a JWT user, or an NKey seed file for the airport leaf's NKey users)")
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil || c.Timezone == "" || c.Timezone == "Local" {
		bad("timezone", fmt.Sprintf("%q: expected an IANA zone name such as Asia/Tokyo (never the machine's Local)", c.Timezone))
	}
	c.Location = loc
	if c.Direction != "entry" && c.Direction != "departure" {
		bad("direction", fmt.Sprintf("%q: allowed values are entry, departure", c.Direction))
	}
	if c.DataDir == "" {
		bad("data_dir", "required: the folder of the gate's SQLite store")
	}
	if c.TemplateKeyFile == "" {
		bad("template_key_file", "required: a file holding the 32-byte key (64 hex digits) that encrypts templates at rest")
	}
	if c.AdminSocket == "" || len(c.AdminSocket) > 100 {
		bad("admin_socket", fmt.Sprintf("%q: expected the path of the admin Unix socket, at most 100 bytes (e.g. /run/ttpgate/gated.sock)", c.AdminSocket))
	}
	if len(c.Registry.HQPublicKeys) == 0 {
		bad("registry.hq_public_keys", "required: HQ's record-signing public keys by key id, e.g. {hq-2026: <base64>} (`hqctl registry keygen` prints them); the gate applies only records they sign")
	} else if _, err := registry.ParsePublicKeys(c.Registry.HQPublicKeys); err != nil {
		bad("registry.hq_public_keys", err.Error()+" (expected key id: base64 of a 32-byte Ed25519 public key)")
	}
	for _, a := range []struct{ field, v, eg string }{{"metrics_listen", c.MetricsListen, "127.0.0.1:9310"},
		{"display.listen", c.Display.Listen, "127.0.0.1:9320"}, {"display.status_listen", c.Display.StatusListen, "127.0.0.1:9321"}} {
		if a.v == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.v); err != nil {
			bad(a.field, fmt.Sprintf("%q: expected HOST:PORT (e.g. %s) or \"\" for none", a.v, a.eg))
		}
	}
	switch c.Display.ExitArrow {
	case "up", "left", "right":
	default:
		bad("display.exit_arrow", fmt.Sprintf("%q: allowed up, left, right", c.Display.ExitArrow))
	}
	if !strings.HasPrefix(c.NATS.URL, "nats://") && !strings.HasPrefix(c.NATS.URL, "tls://") {
		bad("nats.url", fmt.Sprintf("%q: expected nats://host:port or tls://host:port", c.NATS.URL))
	}
	seen := map[string]string{}
	osdpDevices := []struct {
		name string
		dev  Device
	}{{"card_reader", c.Devices.CardReader}, {"bio_reader", c.Devices.BioReader}, {"door_board", c.Devices.DoorBoard}}
	if c.Devices.UsesFingerModule() {
		// Unset fields take the defaults (the YAML decoder zeroes a mapping it decodes into).
		if c.Devices.FingerModule.Baud == 0 {
			c.Devices.FingerModule.Baud = 115200
		}
		if c.Devices.FingerModule.Address == 0 {
			c.Devices.FingerModule.Address = 0xFFFFFFFF
		}
		if c.Devices.BioReader.Port != "" {
			bad("devices.bio_reader", "configure one fingerprint reader: an OSDP bio_reader or a finger_module, not both")
		}
		osdpDevices = append(osdpDevices[:1], osdpDevices[2])
		switch c.Devices.FingerModule.Baud {
		case 9600, 19200, 38400, 57600, 115200:
		default:
			bad("devices.finger_module.baud", fmt.Sprintf("%d: allowed 9600, 19200, 38400, 57600, 115200 (the module's rates; 115200 is fastest)", c.Devices.FingerModule.Baud))
		}
		for _, o := range osdpDevices {
			if o.dev.Port == c.Devices.FingerModule.Port {
				bad("devices.finger_module.port", fmt.Sprintf("%s is also devices.%s's OSDP bus: the module needs its own UART", o.dev.Port, o.name))
			}
		}
	}
	for _, d := range osdpDevices {
		f := "devices." + d.name
		if d.dev.Port == "" {
			bad(f+".port", "required: the serial port of this device, e.g. /dev/ttyUSB0 (gatectl ports lists them)")
		}
		if d.dev.Address < 0 || d.dev.Address > 126 {
			bad(f+".address", fmt.Sprintf("%d: allowed OSDP addresses are 0 to 126", d.dev.Address))
		}
		switch d.dev.Baud {
		case 9600, 19200, 38400, 57600, 115200, 230400:
		default:
			bad(f+".baud", fmt.Sprintf("%d: allowed values are 9600, 19200, 38400, 57600, 115200, 230400", d.dev.Baud))
		}
		if d.dev.PollInterval.Std() < 5*time.Millisecond || d.dev.PollInterval.Std() > time.Second {
			bad(f+".poll_interval", fmt.Sprintf("%s: allowed 5ms to 1s", d.dev.PollInterval.Std()))
		}
		key := fmt.Sprintf("%s#%d", d.dev.Port, d.dev.Address)
		if other, ok := seen[key]; ok && d.dev.Port != "" {
			bad(f+".address", fmt.Sprintf("%d on %s is already used by devices.%s: devices on one bus need distinct addresses", d.dev.Address, d.dev.Port, other))
		}
		seen[key] = d.name
	}
	for _, busDev := range [][2]Device{{c.Devices.CardReader, c.Devices.BioReader}, {c.Devices.CardReader, c.Devices.DoorBoard}, {c.Devices.BioReader, c.Devices.DoorBoard}} {
		if busDev[0].Port == "" || busDev[1].Port == "" {
			continue
		}
		if busDev[0].Port == busDev[1].Port && busDev[0].Baud != busDev[1].Baud {
			bad("devices", fmt.Sprintf("devices on port %s have different baud rates %d and %d: one bus has one speed", busDev[0].Port, busDev[0].Baud, busDev[1].Baud))
			break
		}
	}
	if c.Devices.InstallMode && !c.Devices.Secure() {
		bad("devices.install_mode", "install mode installs Secure Channel keys: it needs devices.secure_channel: true")
	}
	if c.Lane.MaxAttempts < 1 || c.Lane.MaxAttempts > 10 {
		bad("lane.max_attempts", fmt.Sprintf("%d: allowed 1 to 10", c.Lane.MaxAttempts))
	}
	for _, d := range []struct {
		f        string
		v        Duration
		min, max time.Duration
	}{
		{"lane.finger_timeout", c.Lane.FingerTimeout, time.Second, 5 * time.Minute},
		{"lane.door_pulse", c.Lane.DoorPulse, 200 * time.Millisecond, time.Minute},
		{"lane.refusal_screen", c.Lane.RefusalScreen, 100 * time.Millisecond, time.Minute},
		{"lane.registry_max_age", c.Lane.RegistryMaxAge, 10 * time.Second, 7 * 24 * time.Hour},
	} {
		if d.v.Std() < d.min || d.v.Std() > d.max {
			bad(d.f, fmt.Sprintf("%s: allowed %s to %s", d.v.Std(), d.min, d.max))
		}
	}
	if c.Match.TargetFMR < 1e-7 || c.Match.TargetFMR > 1e-3 {
		bad("match.target_fmr", fmt.Sprintf("%g: allowed 1e-7 to 1e-3 (default 1e-4: one false match in 10,000 impostor attempts; above 1e-3 the threshold falls below the orientation field's weight, and the ridge flow alone could match)", c.Match.TargetFMR))
	}
	// A fixed threshold below the one for FMR 1e-3 would let the ridge flow
	// alone match, and one copied from before the orientation field (session
	// 3: scores about 0.3 higher) would accept nearly every impostor.
	if lo := match.ThresholdForFMR(1e-3); c.Match.Threshold != 0 && (c.Match.Threshold < lo || c.Match.Threshold > 1) {
		bad("match.threshold", fmt.Sprintf("%g: allowed 0 (the matcher's calibrated default, preferred: set match.target_fmr) or a score from %.4f (FMR 1e-3) to 1; thresholds from before the orientation field (about 0.02 to 0.03) are on the old scale", c.Match.Threshold, lo))
	}
	return errs
}

// IsConfigError reports whether err is a configuration error (exit status 2).
func IsConfigError(err error) bool {
	var e *Error
	var es Errors
	return errors.As(err, &e) || errors.As(err, &es)
}
