package natsrevoke_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/jwtrevoke/revoke/natsrevoke"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Two replicas of a service share their revocations through a JetStream
// stream. The server runs in-process here; in production it is a cluster
// of three (see the README).
func Example() {
	store, _ := os.MkdirTemp("", "natsrevoke-example")
	defer os.RemoveAll(store)
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: store, NoLog: true, NoSigs: true})
	if err != nil {
		log.Fatal(err)
	}
	srv.Start()
	defer srv.Shutdown()
	srv.ReadyForConnections(10 * time.Second)
	ctx := context.Background()

	// replica attaches an engine to the stream over its own connection.
	replica := func(cfg natsrevoke.Config) (*revoke.Engine, *natsrevoke.Replicator) {
		nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1))
		if err != nil {
			log.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		e, _ := revoke.New(revoke.Config{Leeway: 30 * time.Second})
		r, err := natsrevoke.New(ctx, e, js, cfg)
		if err != nil {
			log.Fatal(err)
		}
		if err := r.CaughtUp(ctx); err != nil { // before serving requests
			log.Fatal(err)
		}
		return e, r
	}
	// A confirms a logout only once the stream has stored it.
	a, ra := replica(natsrevoke.Config{Stream: "REVOKE_EXAMPLE", Publish: natsrevoke.Synchronous})
	b, rb := replica(natsrevoke.Config{Stream: "REVOKE_EXAMPLE"})
	defer a.Close()
	defer b.Close()
	defer ra.Close()
	defer rb.Close()

	// Logout handled by replica A.
	if err := a.Revoke("session-42", time.Now().Add(time.Hour)); err != nil {
		log.Fatal(err) // not known to be in the stream: fail the logout
	}

	// Replica B refuses the token too (CaughtUp here only to make the
	// output deterministic; B applies it within milliseconds anyway).
	_ = rb.CaughtUp(ctx)
	fmt.Println("revoked on A:", a.IsRevoked("session-42"))
	fmt.Println("revoked on B:", b.IsRevoked("session-42"))
	fmt.Println("published by A:", ra.Stats().Published, "applied by B:", rb.Stats().Applied)
	// Output:
	// revoked on A: true
	// revoked on B: true
	// published by A: 1 applied by B: 1
}
