package daemon

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// keyStore is the gate's file of OSDP Secure Channel keys, one per device: JSON
// {"card-reader": "<32 hex digits>", …}, mode 0600. Keys are never logged.
type keyStore struct {
	path string
	mu   sync.Mutex
	keys map[string][]byte
}

func loadKeys(path string) (*keyStore, error) {
	ks := &keyStore{path: path, keys: map[string][]byte{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ks, nil
	}
	if err != nil {
		return nil, fmt.Errorf("devices.keys_file: %w", err)
	}
	var hexKeys map[string]string
	if err := json.Unmarshal(data, &hexKeys); err != nil {
		return nil, fmt.Errorf("devices.keys_file %s: expected JSON {\"card-reader\": \"32 hex digits\", …}: %v", path, err)
	}
	for name, h := range hexKeys {
		switch name {
		case CardReader, BioReader, DoorBoard:
		default:
			return nil, fmt.Errorf("devices.keys_file %s: unknown device %q (allowed: %s, %s, %s)", path, name, CardReader, BioReader, DoorBoard)
		}
		k, err := hex.DecodeString(h)
		if err != nil || len(k) != 16 {
			return nil, fmt.Errorf("devices.keys_file %s: the key of %s is not 32 hex digits (an AES-128 SCBK)", path, name)
		}
		ks.keys[name] = k
	}
	return ks, nil
}

func (ks *keyStore) get(name string) []byte {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.keys[name]
}

// set stores a device's new key: written to a temporary file, synced, then renamed over the old.
func (ks *keyStore) set(name string, key []byte) error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	next := map[string]string{}
	for n, k := range ks.keys {
		next[n] = hex.EncodeToString(k)
	}
	next[name] = hex.EncodeToString(key)
	names := make([]string, 0, len(next))
	for n := range next {
		names = append(names, n)
	}
	sort.Strings(names)
	data, _ := json.MarshalIndent(next, "", "  ")
	if err := os.MkdirAll(filepath.Dir(ks.path), 0o700); err != nil {
		return err
	}
	tmp := ks.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, ks.path); err != nil {
		return err
	}
	ks.keys[name] = append([]byte(nil), key...)
	return nil
}
