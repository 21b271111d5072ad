package outbox_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/outbox"
	"ttpgate/sync/store"
)

// gatePermissions is what a gate's NATS user may do (DESIGN §7): publish its own events only,
// receive replies (JetStream acks) on its inboxes. The registry engineer adds the read-only
// registry subjects; nothing here lets a gate write the registry or touch a stream.
func gatePermissions(airport, gate string) *server.Permissions {
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: []string{"ttp.evt." + airport + "." + gate + ".>"}},
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
	}
}

// startWithUsers starts a JetStream server with an HQ user (all rights) and two gates' users.
func startWithUsers(t *testing.T) string {
	t.Helper()
	opts := &server.Options{
		ServerName: "access", Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoSigs: true, NoLog: true, JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 1 << 30,
		Users: []*server.User{
			{Username: "hq", Password: "hq-secret"},
			{Username: "gate-HND-G01", Password: "g01-secret", Permissions: gatePermissions("HND", "G01")},
			{Username: "gate-HND-G02", Password: "g02-secret", Permissions: gatePermissions("HND", "G02")},
		},
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s.ClientURL()
}

func TestGateMayPublishOnlyAsItself(t *testing.T) {
	url := startWithUsers(t)
	ctx := context.Background()
	hq, err := nats.Connect(url, nats.UserInfo("hq", "hq-secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer hq.Close()
	hqJS, _ := jetstream.New(hq)
	stream, err := outbox.EnsureStream(ctx, hqJS)
	if err != nil {
		t.Fatal(err)
	}

	violations := make(chan error, 100)
	gate, err := nats.Connect(url, nats.UserInfo("gate-HND-G01", "g01-secret"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { violations <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer gate.Close()
	js, _ := jetstream.New(gate, jetstream.WithPublishAsyncTimeout(500*time.Millisecond))

	// Its own subjects: stored.
	if _, err := js.Publish(ctx, "ttp.evt.HND.G01.heartbeat", []byte(`{}`), jetstream.WithMsgID("own-1")); err != nil {
		t.Fatalf("a gate must publish under its own subjects: %v", err)
	}
	// Another gate's subject: the server refuses it and says so.
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	_, err = js.Publish(pctx, "ttp.evt.HND.G02.passage_granted", []byte(`{}`), jetstream.WithMsgID("forged-1"))
	cancel()
	if err == nil {
		t.Fatal("publishing as another gate must fail")
	}
	expectViolation(t, violations, "ttp.evt.HND.G02.passage_granted")
	// Nor another airport's, nor a stream operation.
	pctx, cancel = context.WithTimeout(ctx, time.Second)
	_, err = js.Publish(pctx, "ttp.evt.NRT.G01.alarm", []byte(`{}`))
	cancel()
	if err == nil {
		t.Fatal("publishing as another airport's gate must fail")
	}
	expectViolation(t, violations, "ttp.evt.NRT.G01.alarm")
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	err = js.DeleteStream(dctx, outbox.StreamName)
	cancel()
	if err == nil {
		t.Fatal("a gate must not delete the events stream")
	}
	expectViolation(t, violations, "$JS.API.STREAM.DELETE."+outbox.StreamName)

	// Through the publisher: an outbox row under another gate's subject (a gate configured with
	// the wrong identity) is never stored and never deleted; the gate's own events go through.
	st := openStore(t)
	rows := []store.OutboxEvent{
		{Seq: 1, ID: eventID(1), Subject: "ttp.evt.HND.G01.passage_granted", Payload: []byte(`{"seq":1}`)},
		{Seq: 2, ID: eventID(2), Subject: "ttp.evt.HND.G02.passage_granted", Payload: []byte(`{"seq":2}`)},
		{Seq: 3, ID: eventID(3), Subject: "ttp.evt.HND.G01.passage_completed", Payload: []byte(`{"seq":3}`)},
	}
	if err := st.Commit(ctx, nil, rows, nil); err != nil {
		t.Fatal(err)
	}
	p := outbox.NewPublisher(st, js, outbox.Options{AckTimeout: 500 * time.Millisecond, RetryBackoff: 50 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond, Logger: quiet()})
	run(t, p)
	waitFor(t, "own events acknowledged", 10*time.Second, func() bool { return p.Stats().Acked == 2 && p.Stats().Errors >= 2 })
	expectViolation(t, violations, "ttp.evt.HND.G02.passage_granted")
	pending, _ := st.PendingEvents(ctx, 0, 10)
	if len(pending) != 1 || pending[0].Seq != 2 {
		t.Fatalf("outbox after publishing: %+v, want only the forged event kept", pending)
	}
	info, _ := stream.Info(ctx)
	if info.State.Msgs != 3 { // own-1, seq 1, seq 3
		t.Fatalf("stream holds %d messages, want 3", info.State.Msgs)
	}
	if _, err := stream.GetLastMsgForSubject(ctx, "ttp.evt.HND.G02.>"); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("an event under G02 reached the stream: %v", err)
	}
}

func expectViolation(t *testing.T, ch chan error, subject string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case err := <-ch:
			if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), subject) {
				return
			}
		case <-deadline:
			t.Fatalf("no permissions violation reported for %s", subject)
		}
	}
}
