package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream settings of the events stream. configs/streams/events.json is the same configuration
// for HQ's cluster (3 replicas); a test keeps the two equal.
const (
	// StreamName is the JetStream stream holding every gate's events.
	StreamName = "TTP_EVENTS"
	// StreamSubjects is the subject filter of StreamName: exactly ttp.evt.<airport>.<gate>.<type>.
	StreamSubjects = "ttp.evt.*.*.*"
	// DuplicateWindow is how long JetStream remembers message ids: a resend within it is dropped
	// by the stream; a resend after it is stored again and dropped by HQ's consumers (on the id).
	DuplicateWindow = 2 * time.Minute
	// StreamMaxAge is how long the stream keeps events for replays and late consumers. HQ's
	// consumers copy them into their databases, which are the record.
	StreamMaxAge = 90 * 24 * time.Hour
	// MaxEventSize is the largest event the stream accepts (events are about 400 bytes).
	MaxEventSize = 64 << 10
	// SeqHeader carries the gate's event sequence number on every message.
	SeqHeader = "Ttp-Gate-Seq"
)

// StreamConfig is the configuration of the events stream with the given number of replicas
// (1 for a single server such as the development HQ, 3 in HQ's cluster). Events are legal
// records: the stream denies message deletes and purges, and discards only by age.
func StreamConfig(replicas int) jetstream.StreamConfig {
	if replicas < 1 {
		replicas = 1
	}
	return jetstream.StreamConfig{
		Name:              StreamName,
		Description:       "TTP gate events (docs/events.md): subjects ttp.evt.<airport>.<gate>.<type>, Nats-Msg-Id = event id",
		Subjects:          []string{StreamSubjects},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxAge:            StreamMaxAge,
		MaxMsgs:           -1,
		MaxBytes:          -1,
		MaxMsgSize:        MaxEventSize,
		MaxMsgsPerSubject: -1,
		MaxConsumers:      -1,
		Storage:           jetstream.FileStorage,
		Replicas:          replicas,
		Duplicates:        DuplicateWindow,
		DenyDelete:        true,
		DenyPurge:         true,
	}
}

// EnsureStream creates the events stream with StreamConfig(1) or updates an existing one to it.
// HQ's cluster uses EnsureStreamConfig with StreamConfig(3) (`hqctl events stream -replicas 3`)
// or configs/streams/events.json.
func EnsureStream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	return EnsureStreamConfig(ctx, js, StreamConfig(1))
}

// EnsureStreamConfig creates or updates the events stream with cfg.
func EnsureStreamConfig(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("outbox: create or update stream %s: %w", cfg.Name, err)
	}
	return s, nil
}
