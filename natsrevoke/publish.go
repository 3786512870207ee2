package natsrevoke

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
		if !r.enqueueOrSpill(it) {
			return fmt.Errorf("natsrevoke: publish to stream %s: %w; %w", r.stream, err, r.fullError(it))
		}
		return errors.Join(fmt.Errorf("natsrevoke: publish to stream %s: %w (%w)", r.stream, err, ErrPending), outErr)
	}
	if !r.enqueueOrSpill(it) {
		return r.fullError(it)
	}
	return outErr
}

// enqueueOrSpill hands it to the publisher; false when the queue is full.
// A record refused by a full queue that the outbox holds is kept in
// r.spilled (under spillMu, so that refill cannot miss it) and queued again
// by the publisher once the queue has room: otherwise it would wait for
// the next start, which may come after the token expired.
func (r *Replicator) enqueueOrSpill(it item) bool {
	if r.enqueue(it) {
		return true
	}
	if it.id != 0 {
		r.spillMu.Lock()
		defer r.spillMu.Unlock()
		if r.enqueue(it) { // the publisher made room meanwhile
			return true
		}
		r.spilled = append(r.spilled, it)
	}
	r.queueFull.Add(1)
	return false
}

// refill queues records a full queue refused, as many as it has room for
// (enqueue, like the observers: the channel never holds more than its
// capacity, so no send blocks); it returns how many it queued and how many
// are left. Publisher only.
func (r *Replicator) refill() (moved, left int) {
	r.spillMu.Lock()
	defer r.spillMu.Unlock()
	for moved < len(r.spilled) && r.enqueue(r.spilled[moved]) {
		moved++
	}
	r.spilled = append(r.spilled[:0], r.spilled[moved:]...)
	return moved, len(r.spilled)
}

// unpublished is the number of records not yet acknowledged: queued (in
// flight included) or refused by a full queue and kept for later.
func (r *Replicator) unpublished() int64 {
	r.spillMu.Lock()
	defer r.spillMu.Unlock()
	return r.queued.Load() + int64(len(r.spilled))
}

// enqueue hands it to the publisher; false when the queue is full.
func (r *Replicator) enqueue(it item) bool {
	if r.queued.Add(1) > int64(r.cfg.QueueLength) {
		r.queued.Add(-1)
		return false
	}
	r.queue <- it // never blocks: queued bounds what the channel holds (see New)
	return true
}

func (r *Replicator) fullError(it item) error {
	if it.id != 0 {
		return fmt.Errorf("%w (%d records; this one is kept in the outbox and published once the queue has room, or by the next start)", ErrQueueFull, r.cfg.QueueLength)
	}
	return fmt.Errorf("%w (%d records)", ErrQueueFull, r.cfg.QueueLength)
}

// message builds the stream message of rec, under the record's message id.
func (r *Replicator) message(rec revoke.Record) *nats.Msg { return r.messageID(rec, false) }

// messageID builds the stream message of rec, under the record's message
// id, or under a fresh one (the record's id and a random suffix) when fresh
// is set: see verifyDuplicate.
func (r *Replicator) messageID(rec revoke.Record, fresh bool) *nats.Msg {
	payload := EncodeRecord(make([]byte, 0, RecordSize), rec)
	m := &nats.Msg{Subject: r.subject, Data: payload, Header: nats.Header{}}
	id := msgID(payload)
	if fresh {
		var b [8]byte
		_, _ = rand.Read(b[:]) // never fails (crypto/rand)
		id += "-" + hex.EncodeToString(b[:])
	}
	m.Header.Set(jetstream.MsgIDHeader, id)
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

// publishSync publishes rec and waits for the stream's acknowledgement
// (a duplicate one verified, see verifyDuplicate).
func (r *Replicator) publishSync(rec revoke.Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.PublishTimeout)
	defer cancel()
	for fresh := false; ; fresh = true {
		m := r.messageID(rec, fresh)
		ack, err := r.js.PublishMsg(ctx, m)
		if err == nil && ack.Duplicate {
			var stored bool
			if stored, err = r.verifyDuplicate(ctx, ack, m); err == nil && !stored {
				continue // published again under a fresh id
			}
		}
		if err != nil {
			r.pubFailures.Add(1)
			return err
		}
		r.countAck(ack)
		return nil
	}
}

// A duplicate acknowledgement says that the stream holds a message under
// the record's message id, not that it holds the record: the id (the
// payload in hex) can be computed by whoever holds the token, so someone
// with a publish permission alone could reserve it beforehand with a
// message every consumer refuses (another payload, a wrong MAC, another
// subject) or one the stream deletes at once (a short Nats-TTL), and the
// real revocation would be acknowledged, released from the outbox and
// never stored. verifyDuplicate reads the message the acknowledgement
// names and reports whether it is sent's record as consumers will apply
// it: same subject and payload, a valid MAC when sent carries one, and a
// TTL at least sent's (or none). If not, the caller publishes the record
// again under a fresh, unpredictable id (Stats.BadDuplicates). An error
// (the message could not be read) counts as a failed publication.
// Duplicates are rare (retries, the same revocation on two replicas), so
// the two requests this costs are too.
func (r *Replicator) verifyDuplicate(ctx context.Context, ack *jetstream.PubAck, sent *nats.Msg) (bool, error) {
	ok, err := r.storedAsSent(ctx, ack.Sequence, sent)
	if err != nil {
		return false, fmt.Errorf("natsrevoke: checking the message a duplicate acknowledgement names: %w", err)
	}
	if !ok {
		if n := r.badDuplicates.Add(1); logWorthy(n) {
			r.log.Warn("natsrevoke: the stream took a record for a duplicate of a message that is not that record (forged, or deleted); publishing it again under a fresh id",
				"seq", ack.Sequence, "msg_id", sent.Header.Get(jetstream.MsgIDHeader), "so_far", n)
		}
	}
	return ok, nil
}

func (r *Replicator) storedAsSent(ctx context.Context, seq uint64, sent *nats.Msg) (bool, error) {
	if seq == 0 {
		return false, nil
	}
	s, err := r.js.Stream(ctx, r.stream)
	if err != nil {
		return false, err
	}
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if m.Subject != sent.Subject || !bytes.Equal(m.Data, sent.Data) {
		return false, nil
	}
	if r.mac != nil && !r.mac.valid(m.Header.Get(macHeader), m.Data) {
		return false, nil
	}
	if want := sent.Header.Get(jetstream.MsgTTLHeader); want != "" {
		for _, v := range m.Header.Values(jetstream.MsgTTLHeader) {
			if ttlSeconds(v) < ttlSeconds(want) {
				return false, nil
			}
		}
	}
	return true, nil
}

// ttlSeconds parses a Nats-TTL value as the server does, in seconds: the
// largest int64 for "never", 0 for a value the server would refuse.
func ttlSeconds(v string) int64 {
	if strings.EqualFold(v, "never") {
		return 1<<63 - 1
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < time.Second {
			return 0
		}
		return int64(d / time.Second)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// publisher sends the queue in batches, once attached, until Close; then
// drains it.
func (r *Replicator) publisher() {
	defer close(r.pubDone)
	select {
	case <-r.attached:
	case <-r.pubStop:
		if r.unpublished() == 0 {
			return // closing while detached, nothing to publish
		}
		select {
		case <-r.attached:
		case <-r.abort:
			return // Close gave up waiting: what is queued stays in the outbox
		}
	}
	batch := make([]item, 0, maxBatch)
	r.refill()
	for {
		select {
		case it := <-r.queue:
			batch = append(batch, it)
		case <-r.pubStop:
			select {
			case it := <-r.queue:
				batch = append(batch, it)
			default:
				if moved, _ := r.refill(); moved > 0 {
					continue
				}
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
		r.refill()
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
		f, err := r.js.PublishMsgAsync(r.messageID(it.rec, it.fresh))
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
				ok = true
				if ack.Duplicate {
					ctx, cancel := context.WithTimeout(r.abortCtx, r.cfg.PublishTimeout)
					stored, err := r.verifyDuplicate(ctx, ack, f.Msg())
					cancel()
					switch {
					case err != nil:
						ok = false
						if firstErr == nil {
							firstErr = err
						}
					case !stored:
						ok = false
						its[i].fresh = true
					}
				}
				if ok {
					r.countAck(ack)
				}
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
