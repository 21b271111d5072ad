package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the name of the JetStream KV bucket that holds the registry.
const Bucket = "ttp-registry"

// EnsureBucket creates the registry bucket (history 1, file storage) if it
// does not exist, or updates its configuration, and returns it.
func EnsureBucket(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	return EnsureBucketReplicas(ctx, js, 1)
}

// EnsureBucketReplicas is EnsureBucket for a clustered HQ: the bucket's
// stream is kept on replicas servers (3 for the HQ cluster in configs/nats).
func EnsureBucketReplicas(ctx context.Context, js jetstream.JetStream, replicas int) (jetstream.KeyValue, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "TTP registry: user.<user_id> records and hq.clock, HQ-signed (schema 2)",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    max(replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("registry: create or update KV bucket %s: %w", Bucket, err)
	}
	return kv, nil
}

// signingKV is a KeyValue that carries the HQ signer Put and PutClock use.
type signingKV struct {
	jetstream.KeyValue
	signer *Signer
}

// SigningKV returns kv with s attached: Put and PutClock on the result sign
// with s. Everything else is kv's own.
func SigningKV(kv jetstream.KeyValue, s *Signer) jetstream.KeyValue {
	if skv, ok := kv.(*signingKV); ok {
		kv = skv.KeyValue
	}
	return &signingKV{KeyValue: kv, signer: s}
}

// SignerOf returns the signer attached to kv by SigningKV, or nil.
func SignerOf(kv jetstream.KeyValue) *Signer {
	if skv, ok := kv.(*signingKV); ok {
		return skv.signer
	}
	return nil
}

// ErrNoSigner is returned by Put and PutClock on a KeyValue without a signer.
var ErrNoSigner = errors.New("registry: no HQ signing key: gates apply only signed records (wrap the bucket with registry.SigningKV, or use PutSigned)")

// Put signs r with the signer attached to kv (SigningKV) and writes it under
// Key(r.UserID). It returns the new revision of the bucket. A revocation is
// a Put of the record with status revoked, never a delete.
func Put(ctx context.Context, kv jetstream.KeyValue, r *Record) (revision uint64, err error) {
	return PutSigned(ctx, kv, SignerOf(kv), r)
}

// PutSigned validates r, signs it with s and writes it under Key(r.UserID).
func PutSigned(ctx context.Context, kv jetstream.KeyValue, s *Signer, r *Record) (revision uint64, err error) {
	if s == nil {
		return 0, ErrNoSigner
	}
	data, err := s.SignRecord(r)
	if err != nil {
		return 0, err
	}
	rev, err := kv.Put(ctx, Key(r.UserID), data)
	if err != nil {
		return 0, fmt.Errorf("registry: put user %s: %w", r.UserID, err)
	}
	return rev, nil
}

// PutBatch signs recs with s in batches of DefaultSignBatch records (one
// Ed25519 signature a batch: SignBatch) and writes each under
// Key(r.UserID), in order. It is for bulk changes (imports, re-signing the
// registry); a single change (revocation, lost card, re-issue) is a Put. It
// returns the revision of each record written; on an error the records
// before the failing one are written, len(revisions) of them.
func PutBatch(ctx context.Context, kv jetstream.KeyValue, s *Signer, recs []*Record) (revisions []uint64, err error) {
	if s == nil {
		return nil, ErrNoSigner
	}
	revisions = make([]uint64, 0, len(recs))
	for len(recs) > 0 {
		chunk := recs[:min(len(recs), DefaultSignBatch)]
		recs = recs[len(chunk):]
		vals, err := s.SignBatch(chunk)
		if err != nil {
			return revisions, err
		}
		for i, r := range chunk {
			rev, err := kv.Put(ctx, Key(r.UserID), vals[i])
			if err != nil {
				return revisions, fmt.Errorf("registry: put user %s: %w", r.UserID, err)
			}
			revisions = append(revisions, rev)
		}
	}
	return revisions, nil
}

// PutClock writes HQ's time t under ClockKey, signed with the signer attached
// to kv, and returns the new revision. HQ calls it every few seconds; gates
// measure freshness by it.
func PutClock(ctx context.Context, kv jetstream.KeyValue, t time.Time) (revision uint64, err error) {
	s := SignerOf(kv)
	if s == nil {
		return 0, ErrNoSigner
	}
	rev, err := kv.Put(ctx, ClockKey, s.SignClock(t))
	if err != nil {
		return 0, fmt.Errorf("registry: put %s: %w", ClockKey, err)
	}
	return rev, nil
}

// Get reads and decodes the record of userID; v as for OpenRecord.
func Get(ctx context.Context, kv jetstream.KeyValue, userID string, v *Verifier) (*Record, uint64, error) {
	e, err := kv.Get(ctx, Key(userID))
	if err != nil {
		return nil, 0, fmt.Errorf("registry: get user %s: %w", userID, err)
	}
	r, err := OpenRecord(e.Key(), e.Value(), v)
	if err != nil {
		return nil, 0, err
	}
	return r, e.Revision(), nil
}
