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
// never passed to the observer, and a no-op for a record whose deadline has
// passed. It
// fails with [ErrInvalidRecord] for a zero fingerprint or a deadline out of
// range, and with [ErrFull] or [ErrClosed] like Revoke. Records whose
// deadline lies beyond this engine's MaxTTL are accepted: the sender's
// configuration decided them.
func (e *Engine) Apply(r Record) error {
	if r.Fingerprint == 0 || r.Deadline <= 0 || r.Deadline > maxDeadline {
		return fmt.Errorf("%w: fingerprint %#x, deadline %d", ErrInvalidRecord, r.Fingerprint, r.Deadline)
	}
	if r.Deadline <= time.Now().Unix() {
		if e.closed.Load() {
			return ErrClosed
		}
		return nil
	}
	return e.applyDurably(record{fp: r.Fingerprint, deadline: uint32(r.Deadline), value: r.Value})
}
