package natsrevoke

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Retry backoff of the publisher: it doubles from retryMin to retryMax
// while the stream does not acknowledge.
const (
	retryMin = 50 * time.Millisecond
	retryMax = 2 * time.Second
	// maxBatch bounds the asynchronous publications in flight at once.
	maxBatch = 512
)

// errDetached is the publication error of a record made while the
// Replicator is not attached to its stream.
var errDetached = errors.New("natsrevoke: not attached to the stream yet")

// observe is the engine's observer: it runs on the revoking goroutine once
// the record is in force (and durable) locally. The record goes to the
// outbox first (when there is one), so that it is published even if this
// process dies before the stream acknowledges it.
func (r *Replicator) observe(rec revoke.Record) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closing {
		return ErrClosed
	}
	it := item{rec: rec}
	var outErr error
	if r.out != nil {
		if it.id, outErr = r.out.add(rec); outErr != nil {
			r.outboxErrors.Add(1)
			r.log.Error("natsrevoke: outbox write failed; the record is published from memory only", "err", outErr)
		}
	}
	if r.cfg.Publish == Synchronous {
		err := errDetached
		if r.isAttached() {
			if err = r.publishSync(rec); err == nil {
				r.acked(it)
				return outErr
			}
		}
		// Not acknowledged: keep it for the background publisher.
		if !r.enqueue(it) {
			return fmt.Errorf("natsrevoke: publish to stream %s: %w; %w", r.stream, err, r.fullError(it))
		}
		return errors.Join(fmt.Errorf("natsrevoke: publish to stream %s: %w (%w)", r.stream, err, ErrPending), outErr)
	}
	if !r.enqueue(it) {
		return r.fullError(it)
	}
	return outErr
}

// enqueue hands it to the publisher; false when the queue is full.
func (r *Replicator) enqueue(it item) bool {
	if r.queued.Add(1) > int64(r.cfg.QueueLength) {
		r.queued.Add(-1)
		r.queueFull.Add(1)
		return false
	}
	r.queue <- it // never blocks: queued bounds what the channel holds (see New)
	return true
}

func (r *Replicator) fullError(it item) error {
	if it.id != 0 {
		return fmt.Errorf("%w (%d records; this one is kept in the outbox and published at the next start)", ErrQueueFull, r.cfg.QueueLength)
	}
	return fmt.Errorf("%w (%d records)", ErrQueueFull, r.cfg.QueueLength)
}

// message builds the stream message of rec.
func (r *Replicator) message(rec revoke.Record) *nats.Msg {
	payload := EncodeRecord(make([]byte, 0, RecordSize), rec)
	m := &nats.Msg{Subject: r.subject, Data: payload, Header: nats.Header{}}
	m.Header.Set(jetstream.MsgIDHeader, msgID(payload))
	if r.mac != nil {
		m.Header.Set(macHeader, r.mac.header(payload))
	}
	if r.useTTL.Load() {
		m.Header.Set(jetstream.MsgTTLHeader, msgTTL(rec.Deadline, time.Now(), r.cfg.TTLMargin, time.Duration(r.maxAge.Load())))
	}
	return m
}

// msgTTL is the Nats-TTL header value of a record with deadline (Unix
// seconds) published at now: its remaining lifetime plus margin, in whole
// seconds, at least 1s, at most maxAge (0: unlimited).
func msgTTL(deadline int64, now time.Time, margin, maxAge time.Duration) string {
	ttl := time.Unix(deadline, 0).Sub(now) + margin
	ttl = (ttl + time.Second - 1).Truncate(time.Second)
	if maxAge > 0 && ttl > maxAge {
		ttl = maxAge
	}
	return fmt.Sprintf("%ds", int64(max(ttl, time.Second)/time.Second))
}

// acked counts an acknowledged publication and releases its outbox entry.
func (r *Replicator) acked(it item) {
	if it.id != 0 {
		if err := r.out.ack(it.id); err != nil {
			r.outboxErrors.Add(1)
			r.log.Error("natsrevoke: outbox trim failed; the record may be published again at the next start", "err", err)
		}
	}
}

func (r *Replicator) countAck(ack *jetstream.PubAck) {
	r.published.Add(1)
	if ack.Duplicate {
		r.duplicates.Add(1)
	}
}

// publishSync publishes rec and waits for the stream's acknowledgement.
func (r *Replicator) publishSync(rec revoke.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.PublishTimeout)
	defer cancel()
	ack, err := r.js.PublishMsg(ctx, r.message(rec))
	if err != nil {
		r.pubFailures.Add(1)
		return err
	}
	r.countAck(ack)
	return nil
}

// publisher sends the queue in batches, once attached, until Close; then
// drains it.
func (r *Replicator) publisher() {
	defer close(r.pubDone)
	select {
	case <-r.attached:
	case <-r.pubStop:
		if r.queued.Load() == 0 {
			return // closing while detached, nothing to publish
		}
		select {
		case <-r.attached:
		case <-r.abort:
			return // Close gave up waiting: what is queued stays in the outbox
		}
	}
	batch := make([]item, 0, maxBatch)
	for {
		select {
		case it := <-r.queue:
			batch = append(batch, it)
		case <-r.pubStop:
			select {
			case it := <-r.queue:
				batch = append(batch, it)
			default:
				return // closing and drained
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case it := <-r.queue:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		if !r.publishBatch(batch) {
			return // Close gave up waiting
		}
		batch = batch[:0]
	}
}

// publishBatch publishes its asynchronously and retries those not
// acknowledged, with backoff, until all are or Close gives up (false).
func (r *Replicator) publishBatch(its []item) bool {
	wait := retryMin
	for {
		its = r.sendAsync(its)
		if len(its) == 0 {
			return true
		}
		r.retries.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-r.abort:
			t.Stop()
			return false
		}
		wait = min(2*wait, retryMax)
	}
}

// sendAsync publishes its and waits for their acknowledgements; it returns
// (in place) those that failed.
func (r *Replicator) sendAsync(its []item) []item {
	futs := make([]jetstream.PubAckFuture, len(its))
	var firstErr error
	for i, it := range its {
		f, err := r.js.PublishMsgAsync(r.message(it.rec))
		if err != nil && firstErr == nil {
			firstErr = err
		}
		futs[i] = f // nil on error
	}
	timeout := time.NewTimer(r.cfg.PublishTimeout)
	defer timeout.Stop()
	failed := its[:0]
	timedOut := false
	for i, f := range futs {
		ok := false
		if f != nil && !timedOut {
			select {
			case ack := <-f.Ok():
				r.countAck(ack)
				ok = true
			case err := <-f.Err():
				if firstErr == nil {
					firstErr = err
				}
			case <-timeout.C:
				timedOut = true
				if firstErr == nil {
					firstErr = context.DeadlineExceeded
				}
			}
		}
		if ok {
			r.acked(its[i])
			r.queued.Add(-1)
		} else {
			r.pubFailures.Add(1)
			failed = append(failed, its[i])
		}
	}
	if len(failed) > 0 {
		r.log.Warn("natsrevoke: publication failed; retrying", "records", len(failed), "err", firstErr)
	}
	return failed
}
