package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the name of the JetStream KV bucket that holds the registry.
const Bucket = "ttp-registry"

// EnsureBucket creates the registry bucket (history 1, file storage) if it
// does not exist, or updates its configuration, and returns it.
func EnsureBucket(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "TTP registry: user.<user_id> records (schema v1) and hq.clock",
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("registry: create or update KV bucket %s: %w", Bucket, err)
	}
	return kv, nil
}

// Put validates r and writes it under Key(r.UserID). It returns the new
// revision of the bucket. A revocation is a Put of the record with status
// revoked, never a delete.
func Put(ctx context.Context, kv jetstream.KeyValue, r *Record) (revision uint64, err error) {
	data, err := r.Marshal()
	if err != nil {
		return 0, err
	}
	rev, err := kv.Put(ctx, Key(r.UserID), data)
	if err != nil {
		return 0, fmt.Errorf("registry: put user %s: %w", r.UserID, err)
	}
	return rev, nil
}

// PutClock writes HQ's time t under ClockKey and returns the new revision.
// HQ calls it every few seconds; gates measure freshness by it.
func PutClock(ctx context.Context, kv jetstream.KeyValue, t time.Time) (revision uint64, err error) {
	rev, err := kv.Put(ctx, ClockKey, MarshalClock(t))
	if err != nil {
		return 0, fmt.Errorf("registry: put %s: %w", ClockKey, err)
	}
	return rev, nil
}
