package outbox_test

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/internal/natstest"
	"ttpgate/sync/outbox"
)

// configs/streams/events.json is outbox.StreamConfig(3), field for field.
func TestStreamConfigFileMatchesCode(t *testing.T) {
	const path = "../../configs/streams/events.json"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the HQ stream configuration %s is required: %v", path, err)
	}
	var file jetstream.StreamConfig
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if want := outbox.StreamConfig(3); !reflect.DeepEqual(file, want) {
		t.Fatalf("%s differs from outbox.StreamConfig(3):\nfile %+v\ncode %+v", path, file, want)
	}
}

// A stream created by an older release (subjects ttp.evt.>, no deny flags) is updated in place,
// keeping its events; deletes are then refused.
func TestEnsureStreamUpdatesOldStream(t *testing.T) {
	_, url := natstest.Start(t)
	js := natstest.JetStream(t, natstest.Connect(t, url))
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: outbox.StreamName, Subjects: []string{"ttp.evt.>"},
		Storage: jetstream.FileStorage, Duplicates: outbox.DuplicateWindow}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "ttp.evt.HND.G01.heartbeat", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	s, err := outbox.EnsureStream(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := s.Info(ctx)
	if info.State.Msgs != 1 || info.Config.Subjects[0] != outbox.StreamSubjects || !info.Config.DenyDelete {
		t.Fatalf("after update: %+v", info)
	}
	if err := s.DeleteMsg(ctx, 1); err == nil {
		t.Fatal("deleting an event must be refused")
	}
	if err := s.Purge(ctx); err == nil {
		t.Fatal("purging the events must be refused")
	}
	// A malformed subject is not stored.
	if _, err := js.Publish(ctx, "ttp.evt.HND.G01", []byte("{}")); err == nil {
		t.Fatal("a 4-token subject must not be stored")
	}
}
