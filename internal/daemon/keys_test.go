package daemon

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyStoreRoundTripAndPermissions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "osdp-keys.json")
	ks, err := loadKeys(path)
	if err != nil || ks.get(CardReader) != nil {
		t.Fatalf("a missing keys file is an empty store: %v", err)
	}
	key := bytes.Repeat([]byte{0xA5}, 16)
	if err := ks.set(CardReader, key); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("keys file must be 0600: %v %v", err, st.Mode())
	}
	again, err := loadKeys(path)
	if err != nil || !bytes.Equal(again.get(CardReader), key) || again.get(DoorBoard) != nil {
		t.Fatalf("reloaded keys: %v", err)
	}
}

func TestKeyStoreRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"not json":       "card-reader=00",
		"short key":      `{"card-reader": "0011"}`,
		"unknown device": `{"toaster": "00112233445566778899aabbccddeeff"}`,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := loadKeys(p); err == nil || !strings.Contains(err.Error(), "devices.keys_file") {
			t.Errorf("%s: want an error naming devices.keys_file, got %v", name, err)
		}
	}
}
