package natsrevoke

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/nats-io/nats.go/jetstream"
)

// subscribe creates the ordered consumer, starting at stream sequence seq,
// and its message iterator.
func (r *Replicator) subscribe(ctx context.Context, seq uint64) error {
	occ := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{r.cfg.SubjectPrefix + ".>"},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		// The ordered consumer's own recovery waits 1 s, 2 s, 4 s … up to
		// 10 s between attempts; after resetAttempts it gives up and feed
		// subscribes again with a backoff capped at retryMax, so recovery
		// follows the stream's return within about 2 s.
		MaxResetAttempts: resetAttempts,
		// Close deletes the consumer; this bounds how long the server
		// keeps one whose process died (nats.go's default is 5 minutes).
		InactiveThreshold: inactiveThreshold,
	}
	if seq > 1 {
		occ.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		occ.OptStartSeq = seq
	}
	cons, err := r.js.OrderedConsumer(ctx, r.stream, occ)
	if err != nil {
		return fmt.Errorf("natsrevoke: consumer on stream %s: %w", r.stream, err)
	}
	iter, err := cons.Messages(jetstream.PullHeartbeat(heartbeat))
	if err != nil {
		return fmt.Errorf("natsrevoke: consumer on stream %s: %w", r.stream, err)
	}
	r.iterMu.Lock()
	defer r.iterMu.Unlock()
	select {
	case <-r.stop:
		iter.Stop()
		return ErrClosed
	default:
	}
	r.iter, r.cons = iter, cons
	return nil
}

// Consumption runs in two goroutines: feed reads the ordered consumer into
// a channel, consume applies what it reads in batches. Records merge
// commutatively, so a batch is applied by up to applyWorkers goroutines at
// once when the engine fsyncs every Apply (SyncAlways): the engine's group
// commit then makes one fsync serve the whole batch instead of one per
// record. The last handled sequence moves only once a whole batch is
// applied.
const (
	// heartbeat is the idle heartbeat of the consumer: two missed ones
	// (the server holding the consumer died, the connection is half-open)
	// make the ordered consumer recreate itself elsewhere.
	heartbeat     = time.Second
	resetAttempts = 3
	feedBuffer    = 2048
	maxApplyBatch = 1024
	applyWorkers  = 64
	// inactiveThreshold is how long the server keeps an ordered consumer
	// nobody pulls from: a few heartbeats.
	inactiveThreshold = 10 * heartbeat
)

// consume applies the stream's messages until Close (or the engine's), and
// switches to a replaced stream when the watcher finds one: it stops
// reading the old one, applies what was already read of it (more revoked,
// never less), makes the new stream the one being read from sequence 1
// (the saved position then counts in the new stream, see setStream) and
// subscribes to it.
func (r *Replicator) consume() {
	batch := make([]jetstream.Msg, 0, maxApplyBatch)
	for {
		ch := make(chan jetstream.Msg, feedBuffer)
		quit := make(chan struct{})
		fed := make(chan struct{})
		go r.feed(ch, quit, fed)
		stopFeed := func() {
			close(quit)
			r.iterMu.Lock()
			r.iter.Stop()
			r.iterMu.Unlock()
			<-fed
		}
		var change streamChange
	read:
		for {
			var msg jetstream.Msg
			select {
			case msg = <-ch:
			case change = <-r.resets:
				gen, _, _ := r.position()
				if change.gen != gen {
					continue // found while an earlier stream was read
				}
				break read
			case <-r.stop:
				stopFeed()
				return
			}
			batch = append(batch[:0], msg)
		fill:
			for len(batch) < maxApplyBatch {
				select {
				case msg := <-ch:
					batch = append(batch, msg)
				default:
					break fill
				}
			}
			if !r.applyBatch(batch, true) {
				stopFeed()
				return
			}
		}
		stopFeed()
		for drained := false; !drained; {
			batch = batch[:0]
			for len(batch) < maxApplyBatch && !drained {
				select {
				case msg := <-ch:
					batch = append(batch, msg)
				default:
					drained = true
				}
			}
			if len(batch) > 0 && !r.applyBatch(batch, false) {
				return
			}
		}
		r.deleteConsumer() // the ordered consumer may have recreated itself on the new stream
		r.streamResets.Add(1)
		r.setStream(change.info, 0)
		if !r.resubscribe(1) {
			return
		}
	}
}

// resubscribe subscribes from seq, retrying with backoff until it
// succeeds (true) or Close.
func (r *Replicator) resubscribe(seq uint64) bool {
	for wait := retryMin; ; wait = min(2*wait, retryMax) {
		ctx, cancel := context.WithTimeout(r.stopCtx, r.cfg.PublishTimeout)
		err := r.subscribe(ctx, seq)
		cancel()
		if err == nil {
			return true
		}
		if errors.Is(err, ErrClosed) || !sleep(wait, r.stop) {
			return false
		}
	}
}

// feed reads the ordered consumer into ch until quit. The ordered consumer
// recreates itself after a reconnect or a gap; if it gives up, feed
// subscribes again after the last message it passed on.
func (r *Replicator) feed(ch chan<- jetstream.Msg, quit <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	last := r.lastSeq.Load()
	errWait := time.Duration(0) // grows while Next keeps failing
	for {
		r.iterMu.Lock()
		iter := r.iter
		r.iterMu.Unlock()
		msg, err := iter.Next()
		if err == nil {
			errWait = 0
			if md, err := msg.Metadata(); err == nil {
				last = md.Sequence.Stream
			}
			select {
			case ch <- msg:
			case <-quit:
				return
			}
			continue
		}
		select {
		case <-quit:
			return
		case <-r.stop:
			return
		default:
		}
		r.consumerErrors.Add(1)
		r.checkSoon() // was the stream deleted, or replaced?
		if !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			// The ordered consumer recovers by itself; do not spin if the
			// error persists (a closed connection, say).
			r.log.Warn("natsrevoke: consumer error", "err", err)
			errWait = min(max(2*errWait, retryMin), retryMax)
			if !sleep(errWait, quit) {
				return
			}
			continue
		}
		r.log.Warn("natsrevoke: consumer stopped; subscribing again", "after_seq", last)
		for wait := retryMin; ; wait = min(2*wait, retryMax) {
			ctx, cancel := context.WithTimeout(r.stopCtx, r.cfg.PublishTimeout)
			err := r.subscribe(ctx, last+1)
			cancel()
			if err == nil {
				r.resumes.Add(1)
				break
			}
			if !sleep(wait, quit) {
				return
			}
		}
		select {
		case <-quit: // consume ended while we subscribed: stop the new iterator
			r.iterMu.Lock()
			r.iter.Stop()
			r.iterMu.Unlock()
			return
		default:
		}
	}
}

// macOK reports whether msg carries a valid MAC, or none while
// Config.AcceptUnsigned (counted in Stats.Unsigned).
func (r *Replicator) macOK(msg jetstream.Msg) bool {
	v := msg.Headers().Get(macHeader)
	if v == "" && r.cfg.AcceptUnsigned {
		r.unsigned.Add(1)
		return true
	}
	return r.mac.valid(v, msg.Data())
}

// logWorthy limits the logging of refused messages, which whoever may
// publish on the subject can send at will: the 1st, 2nd, 4th, 8th… are logged.
func logWorthy(n int64) bool { return n&(n-1) == 0 }

// sleep waits d; false if stop came first.
func sleep(d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}

// applyBatch handles msgs, in stream order, and then (if moveSeq) moves
// the last handled sequence to the last of them; false when consumption
// must end (Close, or the engine is closed).
func (r *Replicator) applyBatch(msgs []jetstream.Msg, moveSeq bool) bool {
	recs := make([]revoke.Record, 0, len(msgs))
	now := time.Now().Unix()
	var last *jetstream.MsgMetadata
	for _, msg := range msgs {
		md, err := msg.Metadata()
		if err != nil {
			r.rejected.Add(1)
			r.log.Error("natsrevoke: message without metadata; ignored", "subject", msg.Subject(), "err", err)
			continue
		}
		last = md
		rec, err := DecodeRecord(subjectVersion(msg.Subject()), msg.Data())
		switch {
		case err != nil:
			if n := r.rejected.Add(1); logWorthy(n) {
				r.log.Error("natsrevoke: message refused, not applied", "seq", md.Sequence.Stream, "subject", msg.Subject(), "err", err, "refused_so_far", n)
			}
		case r.mac != nil && !r.macOK(msg):
			if n := r.badMAC.Add(1); logWorthy(n) {
				r.log.Error("natsrevoke: record without a valid MAC refused, not applied (a publisher without the SigningKey, or a forgery)",
					"seq", md.Sequence.Stream, "refused_so_far", n)
			}
		case rec.Deadline <= now:
			r.skipped.Add(1)
		case r.tooFarAhead(rec, now):
			if n := r.refusedDeadline.Add(1); logWorthy(n) {
				r.log.Error("natsrevoke: record further in the future than this engine's MaxTTL, Leeway and MaxClockSkew allow refused, not applied",
					"seq", md.Sequence.Stream, "deadline", time.Unix(rec.Deadline, 0), "value", rec.Value, "refused_so_far", n)
			}
		default:
			recs = append(recs, rec)
		}
	}
	if r.parallel && len(recs) > 1 {
		var wg sync.WaitGroup
		var next atomic.Int64
		var stopped atomic.Bool
		for range min(len(recs), applyWorkers) {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= len(recs) || stopped.Load() {
						return
					}
					if !r.apply(recs[i]) {
						stopped.Store(true)
						return
					}
				}
			})
		}
		wg.Wait()
		if stopped.Load() {
			return false
		}
	} else {
		for _, rec := range recs {
			if !r.apply(rec) {
				return false
			}
		}
	}
	if last != nil && moveSeq {
		r.pending.Store(last.NumPending)
		r.lastStamp.Store(last.Timestamp.UnixNano())
		r.lastLag.Store(int64(time.Since(last.Timestamp)))
		r.lastSeq.Store(last.Sequence.Stream)
	}
	return true
}

// setLimits sets what tooFarAhead judges by, for an engine configured
// like ecfg and r.cfg.MaxClockSkew.
func (r *Replicator) setLimits(ecfg revoke.Config) {
	ceilSec := func(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }
	r.horizon = ceilSec(MinMaxAge(ecfg) + r.cfg.MaxClockSkew)
	r.ahead = ceilSec(ecfg.Leeway + r.cfg.MaxClockSkew)
	r.keep = ceilSec(ecfg.MaxTTL + ecfg.Leeway)
}

// tooFarAhead reports whether rec lies further in the future than an
// engine configured like this one can produce (at now, Unix seconds): a
// deadline beyond now + horizon, or a value beyond now + ahead.
//
// The record does not say its kind (it is hashed into the fingerprint), so
// the value is judged as a cutoff second, the one reading under which a
// forged value can harm: a seconds cutoff in the future would refuse every
// token issued before it until its deadline. The other records' values pass
// whatever their kind: a plain revocation's is 0, and a cutoff's millis
// record carries its millisecond within a 2^30-ms epoch, plus one, at most
// 2^30, which is below every Unix second since 2004.
func (r *Replicator) tooFarAhead(rec revoke.Record, now int64) bool {
	return rec.Deadline > now+r.horizon || int64(rec.Value) > now+r.ahead
}

// apply merges one record, retrying with backoff on ErrFull or a journal
// error: the consumer never moves past a record that is not applied. False
// when consumption must end.
func (r *Replicator) apply(rec revoke.Record) bool {
	for wait := retryMin; ; wait = min(2*wait, retryMax) {
		err := r.e.Apply(rec)
		if err == nil {
			r.applied.Add(1)
			if fn := r.onApply.Load(); fn != nil {
				(*fn)(rec)
			}
			return true
		}
		if errors.Is(err, revoke.ErrClosed) {
			r.log.Warn("natsrevoke: engine closed; consumption stopped")
			return false
		}
		r.applyErrors.Add(1)
		r.log.Error("natsrevoke: apply failed; retrying", "fingerprint", rec.Fingerprint, "err", err)
		if !sleep(wait, r.stop) {
			return false
		}
	}
}

// saver writes the position every SaveInterval once the records up to it
// are durable in the engine, and a last time at Close.
//
// Under SyncAlways, Apply returns once the record is fsynced, so the last
// handled sequence is durable as soon as it is read. Under SyncEvery and
// SyncNever, Apply returns once the record is written to the operating
// system; the journal's fsyncs are serialized with its writes, so a record
// is durable once the engine's fsync count has moved past the count read
// after the record was applied (a snapshot's rotation counts too).
func (r *Replicator) saver() {
	defer close(r.saveDone)
	var marks []saveMark
	var gen uint64
	tick := time.NewTicker(r.cfg.SaveInterval)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-tick.C:
		case <-r.stop:
			<-r.runDone // nothing is applied any more
			done = true
		}
		if r.out != nil && !r.durable {
			if err := r.out.flush(); err != nil {
				r.outboxErrors.Add(1)
				r.log.Error("natsrevoke: outbox fsync failed", "err", err)
			}
		}
		r.savePosition(&gen, &marks)
	}
}

// saveMark is a handled sequence and the engine's fsync count read after it
// was applied: it is durable once the count has moved on.
type saveMark struct{ seq, fsyncs uint64 }

// savePosition writes the position once durable; gen and marks are the
// saver's state. Holding posMu, so that a stream change cannot slip in.
func (r *Replicator) savePosition(gen *uint64, marks *[]saveMark) {
	r.posMu.Lock()
	defer r.posMu.Unlock()
	if r.created == 0 {
		return // detached: nothing read yet
	}
	if r.gen != *gen {
		*gen, *marks = r.gen, nil // another stream: its sequences start over
	}
	seq := r.lastSeq.Load()
	durable := r.savedSeq.Load()
	if r.durable {
		durable = max(durable, seq)
	} else if st := r.e.Stats(); st.JournalErr == nil {
		// A broken journal may have lost what it wrote: promote no
		// mark then (the engine refuses every Apply until reopened).
		fsyncs := st.JournalFsyncs
		ms := *marks
		i := 0
		for ; i < len(ms) && ms[i].fsyncs < fsyncs; i++ {
			durable = max(durable, ms[i].seq)
		}
		ms = ms[i:]
		if seq > durable && (len(ms) == 0 || ms[len(ms)-1].seq < seq) {
			ms = append(ms, saveMark{seq, fsyncs})
		}
		*marks = ms
	}
	if durable > r.savedSeq.Load() {
		if err := savePosition(r.posPath, position{seq: durable, created: r.created}); err != nil {
			r.log.Error("natsrevoke: saving position failed", "err", err)
			return
		}
		r.savedSeq.Store(durable)
	}
}
