package natsrevoke

import "errors"

// Sentinel errors. Every error the package returns wraps one of these, one of
// the core package's (revoke.ErrFull, revoke.ErrClosed, …) or one of
// nats.go's, so callers match them with [errors.Is].
var (
	// ErrInvalidConfig is wrapped by [New] when a [Config] field is out of
	// range; the message names the field.
	ErrInvalidConfig = errors.New("natsrevoke: invalid config")

	// ErrStreamConfig is wrapped by [New] when the stream exists but its
	// configuration could lose live records (MaxAge shorter than the
	// engine's longest deadline, memory storage, limits that discard old
	// messages, a per-subject limit that deletes a subject's oldest
	// messages, a retention policy that deletes consumed messages,
	// roll-ups that let a publisher purge it), takes no records (a mirror,
	// sealed, a counter stream, NoAck) or does not capture the subject. The
	// message says what to change.
	ErrStreamConfig = errors.New("natsrevoke: stream configuration cannot keep revocations")

	// ErrQueueFull is returned by the revoking call (Revoke, RevokeSubject,
	// …, through the engine's observer) in [Queued] mode when the publish
	// queue holds Config.QueueLength records. The revocation is in force
	// locally (and journaled when the engine has a Dir) but was not handed
	// to the queue: the caller decides whether to retry or to fail the
	// logout. With a StateDir the record is kept in the outbox and queued
	// as soon as the queue has room (or published by the next start).
	// Nothing is ever dropped silently.
	ErrQueueFull = errors.New("natsrevoke: publish queue is full")

	// ErrClosed is returned by the revoking call when the record reached
	// the observer of a [Replicator] that was closing, and by
	// [Replicator.CaughtUp] after Close.
	ErrClosed = errors.New("natsrevoke: replicator is closed")

	// ErrBadMessage is wrapped by [DecodeRecord] for a payload that no
	// [Replicator] could have published: a wrong length, a zero fingerprint
	// or deadline, or a subject of an unknown format version.
	ErrBadMessage = errors.New("natsrevoke: bad message")

	// ErrNotDrained is wrapped by [Replicator.Close] when queued records
	// could not be published within Config.CloseTimeout; the message says
	// how many. They stay revoked locally.
	ErrNotDrained = errors.New("natsrevoke: publish queue not drained")

	// ErrPending is wrapped by the error of a revoking call whose record
	// the stream has not acknowledged (Synchronous mode: the publication
	// failed or timed out; either mode: the Replicator is not attached to
	// its stream yet) but which is kept for publication: in the outbox
	// file when the Replicator has a StateDir (so it survives a crash),
	// in memory otherwise. The revocation is in force locally. With the
	// core's ErrNotPropagated in the same chain, it reads "stored locally,
	// will reach the other replicas once the stream takes it".
	ErrPending = errors.New("natsrevoke: not yet acknowledged by the stream; kept for publication")

	// ErrOutboxDamaged is wrapped by [New] when the outbox file (records
	// not yet acknowledged by the stream) does not verify beyond a torn
	// tail, or is of an unknown version. The message names the file.
	ErrOutboxDamaged = errors.New("natsrevoke: outbox damaged")

	// ErrStateDirLocked is wrapped by [New] when another Replicator of the
	// same stream, in this process or another, uses the StateDir: they
	// would overwrite each other's outbox and position. The message names
	// the directory.
	ErrStateDirLocked = errors.New("natsrevoke: state directory in use by another Replicator of this stream")
)
