package registry_test

import (
	"bytes"
	"strings"
	"testing"

	"ttpgate/sync/registry"
)

// A member given twice is refused everywhere HQ's bytes are parsed: Go's decoder would keep the
// last, another reader the first, so a strict format takes neither.
func TestDuplicateMembersAreRefused(t *testing.T) {
	r := newRecord("U0000001", "1000000001")
	single, err := hqKey.SignRecord(r)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := hqKey.SignBatch([]*registry.Record{r, newRecord("U0000002", "1000000002")})
	if err != nil {
		t.Fatal(err)
	}
	key := registry.Key("U0000001")
	if _, err := registry.OpenRecord(key, single, verifier); err != nil {
		t.Fatalf("the unaltered single-signed record must open: %v", err)
	}
	if _, err := registry.OpenRecord(key, batch[0], verifier); err != nil {
		t.Fatalf("the unaltered batch-signed record must open: %v", err)
	}
	body, _ := r.Marshal()
	cases := map[string][]byte{
		"key_id twice":     bytes.Replace(single, []byte(`{"key_id":`), []byte(`{"key_id":"other","key_id":`), 1),
		"record twice":     bytes.Replace(single, []byte(`"record":`), []byte(`"record":{"schema":2},"record":`), 1),
		"batch twice":      bytes.Replace(batch[0], []byte(`"batch":`), []byte(`"batch":{"sig":"","size":1,"index":0,"path":""},"batch":`), 1),
		"batch.size twice": bytes.Replace(batch[0], []byte(`"size":`), []byte(`"size":1,"size":`), 1),
	}
	for name, v := range cases {
		if bytes.Equal(v, single) || bytes.Equal(v, batch[0]) {
			t.Fatalf("%s: the test did not alter the envelope: %s", name, v)
		}
		_, err := registry.OpenRecord(key, v, verifier)
		if err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("%s: want a refusal naming the duplicate, got %v", name, err)
		}
	}
	dupBody := bytes.Replace(body, []byte(`"status":"active"`), []byte(`"status":"revoked","status":"active"`), 1)
	if bytes.Equal(dupBody, body) {
		t.Fatal("the test did not alter the body")
	}
	if _, err := registry.Parse(dupBody); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a record body with a member twice must be refused: %v", err)
	}
}
