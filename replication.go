package revoke

import (
	"fmt"
	"time"
)

// Record is the unit of state the engine stores, journals and replicates:
// the fingerprint of a revoked key (or of a cutoff), the second from which it
// may be forgotten, and a kind-specific value (0 for a revoked key, the
// cutoff second for a cutoff). What kind of record it is, is part of what was
// hashed into the fingerprint, so records need no kind field to be merged.
//
// Records form a grow-only set with deadlines: merging two is a union that
// keeps the later deadline and the larger value, so applying records is
// idempotent and commutative and replicas converge whatever the order.
type Record struct {
	// Fingerprint is the 64-bit fingerprint; never 0.
	Fingerprint uint64
	// Deadline is the Unix second from which the record may be forgotten.
	Deadline int64
	// Value is kind-specific: 0, or a cutoff second.
	Value uint32
}

func (r record) export() Record {
	return Record{Fingerprint: r.fp, Deadline: int64(r.deadline), Value: r.value}
}

// SetObserver installs fn to hear of every record the engine accepts from its
// own revocations (Revoke, the JWT layer's cutoffs and Consume), after the
// record is applied in memory and, when the engine persists, made durable.
// Records applied with [Engine.Apply] are not passed on, so replicas do not
// echo each other. fn runs on the revoking goroutine, outside every engine
// lock; if it returns an error, the revoking call returns an error wrapping
// [ErrNotPropagated] and fn's error (the record stays revoked locally: more
// revoked, never less; Consume still reports first == true). A nil fn removes
// the observer. Safe for concurrent use.
func (e *Engine) SetObserver(fn func(Record) error) {
	if fn == nil {
		e.observer.Store(nil)
		return
	}
	e.observer.Store(&fn)
}

func (e *Engine) notify(r record) error {
	if fn := e.observer.Load(); fn != nil {
		if err := (*fn)(r.export()); err != nil {
			return fmt.Errorf("%w: observer: %w", ErrNotPropagated, err)
		}
	}
	return nil
}

// Apply merges a record that comes from elsewhere (another replica, a
// message stream) into the engine: idempotent and commutative, journaled
// like a local revocation when the engine persists (so a restart keeps it),
// never passed to the observer, and a no-op for a record whose deadline, as
// this engine holds it (see below), has passed. It fails with
// [ErrInvalidRecord] for a zero fingerprint or a deadline out of range, and
// with [ErrFull] or [ErrClosed] like Revoke.
//
// The sender computed the deadline with its own Leeway and MaxTTL; this
// engine's Verifier accepts a token up to its own Leeway after exp, and a
// token living up to its own MaxTTL. So that a revocation is never forgotten
// here while this engine's Verifier would still accept what it covers, Apply
// holds the record until its deadline plus this engine's Leeway, and a
// cutoff until at least its second + 1 + this engine's MaxTTL + Leeway (as
// RevokeSubject here would). That keeps some records up to one Leeway longer
// than on the sender: more revoked, never less. Records whose deadline lies
// beyond this engine's MaxTTL are accepted: the sender's configuration
// decided them.
func (e *Engine) Apply(r Record) error {
	if r.Fingerprint == 0 || r.Deadline <= 0 || r.Deadline > maxDeadline {
		return fmt.Errorf("%w: fingerprint %#x, deadline %d", ErrInvalidRecord, r.Fingerprint, r.Deadline)
	}
	deadline := e.heldLocally(r.Deadline, r.Value)
	if deadline <= time.Now().Unix() {
		if e.closed.Load() {
			return ErrClosed
		}
		return nil
	}
	return e.applyDurably(record{fp: r.Fingerprint, deadline: uint32(deadline), value: r.Value})
}

// heldLocally returns how long this engine holds a record from elsewhere
// whose sender set deadline: see Apply. A value above maxMillisValue is a
// cutoff's second (a millis record's value never exceeds it; a plain
// revocation's is 0). Only a cutoff second no later than now + Leeway, as
// RevokeSubject itself accepts, extends the record: a forged value far in
// the future must not pin a record in memory until 2106. The result never
// exceeds maxDeadline.
func (e *Engine) heldLocally(deadline int64, value uint32) int64 {
	leeway := int64((e.cfg.Leeway + time.Second - 1) / time.Second)
	held := deadline + leeway
	if v := int64(value); v > maxMillisValue && v <= time.Now().Unix()+leeway {
		retention := int64((e.cfg.MaxTTL + e.cfg.Leeway + time.Second - 1) / time.Second)
		held = max(held, int64(value)+1+retention)
	}
	return min(held, maxDeadline)
}
