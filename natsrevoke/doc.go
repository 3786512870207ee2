// Package natsrevoke replicates a [revoke.Engine] deny list between the
// replicas of a service through a NATS JetStream stream.
//
// Each replica attaches its engine with [New]. Every record the engine
// accepts locally (Revoke, RevokeToken, RevokeSubject, RevokeAll, Consume)
// is published to the stream, with a message id derived from the record so
// that retries collapse; every record of the stream is applied to the engine
// in stream order with [revoke.Engine.Apply], which merges idempotently and
// never re-publishes. A replica that restarts resumes after the last
// sequence it applied (kept in a small file in the engine's Dir); a new one
// reads the stream from its start. Local records wait in an outbox file
// until the stream acknowledges them, so a crash does not lose them for the
// other replicas; New does not need NATS to be up (the Replicator attaches
// in the background); a stream deleted and created again is noticed and
// read from its start. Checks never touch the network.
//
//	e, _ := revoke.New(revoke.Config{Dir: "/var/lib/svc/revoked"})
//	nc, _ := nats.Connect(url, nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true))
//	js, _ := jetstream.New(nc)
//	rep, err := natsrevoke.New(ctx, e, js, natsrevoke.Config{Stream: "REVOKE_myissuer", Replicas: 3})
//	...
//	_ = rep.CaughtUp(ctx) // before serving
//	defer e.Close()
//	defer rep.Close()
//
// The wire format is described at [FormatVersion]; see the README for
// production set-up, sizing and partitions.
package natsrevoke
