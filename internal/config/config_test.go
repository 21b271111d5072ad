package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestExampleConfigLoads(t *testing.T) {
	path := filepath.Join("..", "..", "configs", "gate.example.yaml")
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("the example config must load: %v", err)
	}
	if cfg.Gate != "G01" || cfg.Direction != "entry" || cfg.Location.String() != "Asia/Tokyo" {
		t.Fatalf("decoded: %+v", cfg)
	}
	if cfg.Devices.BioReader.Address != 2 || cfg.Lane.DoorPulse.Std() != 5*time.Second {
		t.Fatalf("decoded devices/lane: %+v %+v", cfg.Devices, cfg.Lane)
	}
}

const minimal = `
registry: {hq_public_keys: {k1: rZoMvfkqJAwQQtwx5w2t2VX0AoNmOytb1egT3uLOyFc=}}
gate: G01
airport: HND
direction: departure
data_dir: data
template_key_file: key
devices:
  card_reader: {port: /dev/ttyS0, address: 1}
  bio_reader: {port: /dev/ttyS0, address: 2}
  door_board: {port: /dev/ttyS1, address: 3}
`

func TestRelativePathsAndDefaults(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "gate.yaml")
	if err := os.WriteFile(p, []byte(minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != filepath.Join(dir, "data") || cfg.TemplateKeyFile != filepath.Join(dir, "key") {
		t.Fatalf("relative paths: %q %q", cfg.DataDir, cfg.TemplateKeyFile)
	}
	if cfg.Lane.MaxAttempts != 3 || cfg.Devices.CardReader.Baud != 115200 || cfg.Timezone != "Asia/Tokyo" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestBadConfigsNameFileFieldAndAllowed(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown field", minimal + "colour: red\n", []string{"gate.yaml:12", "colour", "unknown field", "allowed here:", "direction"}},
		{"unknown nested field", strings.Replace(minimal, "address: 3}", "address: 3, speed: 9}", 1), []string{"devices.door_board.speed", "allowed here:", "baud"}},
		{"bad direction", strings.Replace(minimal, "departure", "sideways", 1), []string{"direction", `"sideways"`, "entry, departure"}},
		{"missing port", strings.Replace(minimal, "{port: /dev/ttyS1, address: 3}", "{address: 3}", 1), []string{"devices.door_board.port", "required"}},
		{"duplicate address", strings.Replace(minimal, "address: 2", "address: 1", 1), []string{"devices.bio_reader.address", "already used by devices.card_reader"}},
		{"bad duration", minimal + "lane: {door_pulse: soon}\n", []string{"gate.yaml", "not a duration"}},
		{"bad attempts", minimal + "lane: {max_attempts: 0}\n", []string{"lane.max_attempts", "allowed 1 to 10"}},
		{"bad zone", minimal + "timezone: Mars/Olympus\n", []string{"timezone", "IANA"}},
		{"loose fmr", minimal + "match: {target_fmr: 0.01}\n", []string{"match.target_fmr", "allowed 1e-7 to 1e-3"}},
		{"old-scale threshold", minimal + "match: {threshold: 0.025}\n", []string{"match.threshold", "0.025", "FMR 1e-3", "old scale"}},
		{"not yaml", "gate: [", []string{"gate.yaml", "not valid YAML"}},
		{"empty", "", []string{"empty file"}},
	}
	for _, c := range cases {
		_, err := Parse("gate.yaml", []byte(c.yaml))
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !IsConfigError(err) {
			t.Errorf("%s: %T is not a config error", c.name, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, w)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("gate: [1, 2]\nlane: 5\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if err == nil && (cfg.Location == nil || cfg.Lane.MaxAttempts < 1) {
			t.Fatalf("accepted an invalid config: %+v", cfg)
		}
	})
}

func TestSecureChannelDefaultsOn(t *testing.T) {
	cfg, err := Parse("gate.yaml", []byte(minimal))
	if err != nil || !cfg.Devices.Secure() {
		t.Fatalf("Secure Channel must be required unless switched off: %v %+v", err, cfg)
	}
	cfg, err = Parse("gate.yaml", []byte(strings.Replace(minimal, "devices:\n", "devices:\n  secure_channel: false\n", 1)))
	if err != nil || cfg.Devices.Secure() {
		t.Fatalf("secure_channel: false must allow clear text: %v", err)
	}
	_, err = Parse("gate.yaml", []byte(strings.Replace(minimal, "devices:\n", "devices:\n  secure_channel: false\n  install_mode: true\n", 1)))
	if err == nil || !strings.Contains(err.Error(), "devices.install_mode") {
		t.Fatalf("install mode without Secure Channel must be refused: %v", err)
	}
}

func TestRegistryKeysRequired(t *testing.T) {
	noKeys := strings.Replace(minimal, minimal[:strings.Index(minimal, "gate: G01")], "\n", 1)
	if _, err := Parse("gate.yaml", []byte(noKeys)); err == nil || !strings.Contains(err.Error(), "registry.hq_public_keys") {
		t.Fatalf("a gate without HQ keys would apply unsigned records; want an error, got %v", err)
	}
	bad := strings.Replace(minimal, "{k1: ", "{k1: x", 1)
	if _, err := Parse("gate.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "hq_public_keys") {
		t.Fatalf("a malformed key must be refused: %v", err)
	}
}

func TestFingerModuleReplacesOSDPBioReader(t *testing.T) {
	withModule := strings.Replace(minimal, "  bio_reader: {port: /dev/ttyS0, address: 2}\n", "  finger_module: {port: /dev/ttyUSB3}\n", 1)
	cfg, err := Parse("gate.yaml", []byte(withModule))
	if err != nil || !cfg.Devices.UsesFingerModule() || cfg.Devices.FingerModule.Baud != 115200 {
		t.Fatalf("a finger module config: %v %+v", err, cfg)
	}
	both := strings.Replace(minimal, "devices:\n", "devices:\n  finger_module: {port: /dev/ttyUSB3}\n", 1)
	if _, err := Parse("gate.yaml", []byte(both)); err == nil || !strings.Contains(err.Error(), "one fingerprint reader") {
		t.Fatalf("both readers must be refused: %v", err)
	}
	shared := strings.Replace(withModule, "/dev/ttyUSB3", "/dev/ttyS1", 1)
	if _, err := Parse("gate.yaml", []byte(shared)); err == nil || !strings.Contains(err.Error(), "its own UART") {
		t.Fatalf("a module on an OSDP bus must be refused: %v", err)
	}
}
