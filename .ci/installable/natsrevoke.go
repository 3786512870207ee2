//go:build ignore

// The program that .ci/installable.sh builds in a scratch module after
// `go get github.com/jwtrevoke/revoke/natsrevoke` through a module proxy made
// from this repository: two replicas on an in-process JetStream server, a
// revocation on one must reach the other.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/jwtrevoke/revoke/natsrevoke"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "installable natsrevoke:", err)
		os.Exit(1)
	}
	fmt.Println("natsrevoke: a revocation on replica A reached replica B")
}

func run() error {
	dir, err := os.MkdirTemp("", "installable-nats-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		return err
	}
	s.Start()
	defer s.Shutdown()
	if !s.ReadyForConnections(10 * time.Second) {
		return fmt.Errorf("server did not start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var engines [2]*revoke.Engine
	for i := range engines {
		e, err := revoke.New(revoke.Config{})
		if err != nil {
			return err
		}
		defer e.Close()
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			return err
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		rep, err := natsrevoke.New(ctx, e, js, natsrevoke.Config{Publish: natsrevoke.Synchronous})
		if err != nil {
			return err
		}
		defer rep.Close()
		engines[i] = e
	}
	if err := engines[0].Revoke("jti-1", time.Now().Add(time.Hour)); err != nil {
		return err
	}
	for !engines[1].IsRevoked("jti-1") {
		if ctx.Err() != nil {
			return fmt.Errorf("replica B never saw the revocation")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}
