package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"ttpgate/sync/events"
	"ttpgate/sync/outbox"
)

func init() {
	register("events tail", "[-nats URL] [-airport A] [-gate G] [-type T] [-reason R] [-json] [-all]   print events as they reach HQ", eventsTail)
}

// eventsTail prints the events arriving at HQ as they come, filtered by subject tokens.
func eventsTail(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hqctl events tail", flag.ContinueOnError)
	url := natsFlag(fs)
	airport := fs.String("airport", "*", "airport code")
	gateID := fs.String("gate", "*", "gate id")
	typ := fs.String("type", "*", "event type (docs/events.md)")
	reason := fs.String("reason", "", "only events with this reason code")
	asJSON := fs.Bool("json", false, "print each event as one JSON line")
	all := fs.Bool("all", false, "start from the first stored event instead of new ones")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return errUsage
	}
	nc, err := nats.Connect(*url, nats.Name("hqctl events tail"))
	if err != nil {
		return fmt.Errorf("connecting to HQ at %s: %w", *url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	deliver := jetstream.DeliverNewPolicy
	if *all {
		deliver = jetstream.DeliverAllPolicy
	}
	cons, err := js.OrderedConsumer(ctx, outbox.StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.Subject(*airport, *gateID, *typ)}, DeliverPolicy: deliver})
	if err != nil {
		return fmt.Errorf("events stream %s: %w", outbox.StreamName, err)
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		ev, err := events.Parse(m.Data())
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: not a valid event: %v\n", m.Subject(), err)
			return
		}
		if *reason != "" && ev.Reason != *reason {
			return
		}
		printEvent(ev, *asJSON)
	})
	if err != nil {
		return err
	}
	defer cc.Stop()
	<-ctx.Done()
	return nil
}

// printEvent prints ev on standard output: one JSON object a line, or the
// technician's one-line form.
func printEvent(ev *events.Event, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(ev)
		fmt.Println(string(b))
		return
	}
	fmt.Println(ev.Line())
}
