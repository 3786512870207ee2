package natsrevoke

import (
	"context"
	"fmt"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Retry backoff of the Queued publisher: it doubles from retryMin to
// retryMax while the stream does not acknowledge.
const (
	retryMin = 50 * time.Millisecond
	retryMax = 2 * time.Second
	// maxBatch bounds the asynchronous publications in flight at once.
	maxBatch = 512
)

// observe is the engine's observer: it runs on the revoking goroutine once
// the record is in force (and durable) locally.
func (r *Replicator) observe(rec revoke.Record) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closing {
		return ErrClosed
	}
	if r.cfg.Publish == Synchronous {
		return r.publishSync(rec)
	}
	if r.queued.Add(1) > int64(r.cfg.QueueLength) {
		r.queued.Add(-1)
		r.queueFull.Add(1)
		return fmt.Errorf("%w (%d records)", ErrQueueFull, r.cfg.QueueLength)
	}
	r.queue <- rec // never blocks: queued bounds what the channel holds
	return nil
}

// message builds the stream message of rec.
func (r *Replicator) message(rec revoke.Record) *nats.Msg {
	payload := EncodeRecord(make([]byte, 0, RecordSize), rec)
	m := &nats.Msg{Subject: r.subject, Data: payload, Header: nats.Header{}}
	m.Header.Set(jetstream.MsgIDHeader, msgID(payload))
	if r.useTTL {
		ttl := time.Until(time.Unix(rec.Deadline, 0)) + ttlSkew
		ttl = (ttl + time.Second - 1).Truncate(time.Second)
		if r.maxAge > 0 && ttl > r.maxAge {
			ttl = r.maxAge
		}
		m.Header.Set(jetstream.MsgTTLHeader, fmt.Sprintf("%ds", int64(max(ttl, time.Second)/time.Second)))
	}
	return m
}

func (r *Replicator) acked(ack *jetstream.PubAck) {
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
		return fmt.Errorf("natsrevoke: publish to stream %s: %w", r.stream, err)
	}
	r.acked(ack)
	return nil
}

// publisher sends the queue in batches until Close, then drains it.
func (r *Replicator) publisher() {
	defer close(r.pubDone)
	batch := make([]revoke.Record, 0, maxBatch)
	for {
		select {
		case rec := <-r.queue:
			batch = append(batch, rec)
		case <-r.pubStop:
			select {
			case rec := <-r.queue:
				batch = append(batch, rec)
			default:
				return // closing and drained
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case rec := <-r.queue:
				batch = append(batch, rec)
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

// publishBatch publishes recs asynchronously and retries those not
// acknowledged, with backoff, until all are or Close gives up (false).
func (r *Replicator) publishBatch(recs []revoke.Record) bool {
	wait := retryMin
	for {
		recs = r.sendAsync(recs)
		if len(recs) == 0 {
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

// sendAsync publishes recs and waits for their acknowledgements; it returns
// (in place) those that failed.
func (r *Replicator) sendAsync(recs []revoke.Record) []revoke.Record {
	futs := make([]jetstream.PubAckFuture, len(recs))
	var firstErr error
	for i, rec := range recs {
		f, err := r.js.PublishMsgAsync(r.message(rec))
		if err != nil && firstErr == nil {
			firstErr = err
		}
		futs[i] = f // nil on error
	}
	timeout := time.NewTimer(r.cfg.PublishTimeout)
	defer timeout.Stop()
	failed := recs[:0]
	timedOut := false
	for i, f := range futs {
		ok := false
		if f != nil && !timedOut {
			select {
			case ack := <-f.Ok():
				r.acked(ack)
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
			r.queued.Add(-1)
		} else {
			r.pubFailures.Add(1)
			failed = append(failed, recs[i])
		}
	}
	if len(failed) > 0 {
		r.log.Warn("natsrevoke: publication failed; retrying", "records", len(failed), "err", firstErr)
	}
	return failed
}
