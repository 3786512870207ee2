package natsrevoke

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/nats-io/nats.go/jetstream"
)

// Replicator attaches a [revoke.Engine] to a JetStream stream: it publishes
// every record the engine accepts locally (through the engine's observer)
// and applies, in stream order, every record the stream holds, its own
// included (applying is idempotent and never re-published, so there is no
// echo).
//
// Checks (IsRevoked, Verifier.Parse) never involve the Replicator: they
// keep answering from memory while the connection is down. nats.go
// reconnects by itself and the ordered consumer resumes after the last
// record applied.
//
// A Replicator owns the engine's observer slot: use one per engine, and do
// not call SetObserver yourself while it runs. All methods are safe for
// concurrent use.
type Replicator struct {
	e        *revoke.Engine
	js       jetstream.JetStream
	cfg      Config
	log      *slog.Logger
	subject  string
	stream   string
	posPath  string        // "" when no position is kept
	lock     io.Closer     // the StateDir lock of this stream; nil without a StateDir
	out      outbox        // nil without a StateDir
	mac      *macer        // nil without a SigningKey
	durable  bool          // the engine's Apply is durable on return (SyncAlways)
	parallel bool          // apply batches concurrently (Dir and SyncAlways: one fsync per Apply)
	horizon  int64         // seconds: the latest deadline accepted is now + horizon
	ahead    int64         // seconds: the latest cutoff second accepted is now + ahead
	keep     int64         // seconds: a cutoff's deadline is its second + 1 + keep
	replayed int           // records taken from the outbox file at New
	attached chan struct{} // closed once the stream is found (or created) and consumed

	// Of the stream being read; set by setStream (New, then the consume
	// goroutine when the stream was replaced), read by the publisher.
	useTTL atomic.Bool
	maxAge atomic.Int64 // the stream's MaxAge, 0 for unlimited

	// posMu makes a change of the stream being read (gen, created,
	// lastSeq reset) exclusive with the saver's promotion of a position,
	// so that no sequence of one stream is saved as a position in another.
	posMu     sync.Mutex
	gen       uint64       // guarded by posMu: counts the streams read since New
	created   int64        // guarded by posMu: the stream's creation time, Unix ns
	createdAt atomic.Int64 // created, for Stats

	// mu makes closing and observers in flight exclusive: observers hold
	// it for reading (a Synchronous one during its publication), Close
	// takes it to set closing.
	mu      sync.RWMutex
	closing bool // guarded by mu

	queue       chan item
	spillMu     sync.Mutex
	spilled     []item          // guarded by spillMu: outbox records a full queue refused (see enqueueOrSpill)
	pubStop     chan struct{}   // closed by Close: drain the queue, then exit
	abort       chan struct{}   // closed when Close's wait is over: give up retrying
	abortCtx    context.Context // cancelled with abort: bounds the publisher's requests
	abortCancel context.CancelFunc
	pubDone     chan struct{}

	// iterMu guards iter and cons, which subscribe replaces.
	iterMu    sync.Mutex
	iter      jetstream.MessagesContext
	cons      jetstream.Consumer
	stop      chan struct{}   // closed by Close: stop attaching, consuming, watching and saving
	stopCtx   context.Context // cancelled with stop: bounds the requests of those goroutines
	cancel    context.CancelFunc
	runDone   chan struct{}
	saveDone  chan struct{}
	watchDone chan struct{}
	check     chan struct{}     // buffered 1: ask the watcher to check the stream now
	resets    chan streamChange // buffered 1: watcher → consume goroutine

	startSeq atomic.Uint64

	// Counters and gauges for Stats.
	queued, published, duplicates, pubFailures, retries, queueFull  atomic.Int64
	applied, skipped, rejected, applyErrors, consumerErrors         atomic.Int64
	refusedDeadline, badMAC, unsigned, outboxErrors, attachFailures atomic.Int64
	badDuplicates                                                   atomic.Int64
	lastSeq, pending, savedSeq, resumes, streamResets               atomic.Uint64
	lastStamp, lastLag                                              atomic.Int64

	// onApply, if set (benchmarks only), hears of each record once
	// applied, on a consumer goroutine.
	onApply atomic.Pointer[func(revoke.Record)]

	closeOnce sync.Once
	closeErr  error
}

// item is a record waiting for publication and its outbox id (0: none);
// fresh when it must be published under a fresh message id (see
// verifyDuplicate).
type item struct {
	rec   revoke.Record
	id    uint64
	fresh bool
}

// Stats are the Replicator's figures, for metrics. All counts are since
// [New].
type Stats struct {
	// Attached reports whether the Replicator has found its stream and
	// consumes it. New returns a detached Replicator when the stream could
	// not be reached; it attaches by itself once it can (AttachFailures
	// counts the attempts that failed).
	Attached       bool
	AttachFailures int64

	// Queued is the number of records waiting to be published (those
	// being retried included); at Config.QueueLength the next revocation
	// fails with ErrQueueFull. Outbox is the number of records kept in
	// the outbox file until the stream acknowledges them (Queued plus
	// those refused by a full queue, queued again once it has room);
	// Replayed of them were left by the previous run and published again
	// since New. OutboxErrors counts failed writes to it.
	Queued           int
	Outbox, Replayed int
	OutboxErrors     int64
	// Published counts records the stream acknowledged, Duplicates the
	// part of them it recognised as already stored (same message id within
	// its duplicate window). BadDuplicates counts duplicate
	// acknowledgements whose stored message was not the record (a message
	// forged under the record's predictable id, or one already deleted):
	// the record was published again under a fresh id. Anything but 0
	// deserves a look at who may publish on the subject.
	Published, Duplicates, BadDuplicates int64
	// PublishFailures counts failed publication attempts (each retried in
	// the background; in Synchronous mode the first is also returned to
	// the revoking call); Retries counts the retry rounds.
	PublishFailures, Retries int64
	// QueueFull counts revocations refused with ErrQueueFull.
	QueueFull int64

	// Applied counts records from the stream merged into the engine (own
	// records included); SkippedExpired those whose deadline had passed
	// when they arrived; Rejected messages that did not decode (unknown
	// format version, wrong length); RefusedDeadline records whose
	// deadline or cutoff lay further in the future than an engine like
	// this one can produce (see Config.MaxClockSkew); BadMAC records
	// without a valid MAC (Config.SigningKey). Refused messages are
	// logged and not applied. Unsigned counts records applied without a
	// MAC under Config.AcceptUnsigned.
	Applied, SkippedExpired, Rejected, RefusedDeadline, BadMAC, Unsigned int64
	// ApplyErrors counts failed Apply calls (ErrFull, a journal error):
	// the consumer retries the same record with backoff and does not move
	// past it. ConsumerErrors counts errors of the stream subscription,
	// Resubscribes the times the Replicator had to create a new ordered
	// consumer (after the last message handled) because the old one gave
	// up; the ordered consumer's own recoveries are not counted.
	ApplyErrors, ConsumerErrors int64
	Resubscribes                uint64
	// StreamResets counts the times the stream was found replaced (deleted
	// and created again) and read again from its start; StreamCreated is
	// the creation time of the stream being read (zero while detached).
	StreamResets  uint64
	StreamCreated time.Time

	// StartSeq is the stream sequence consumption started from: 1 for a
	// replica with no saved position (or after a stream reset), the saved
	// position + 1 otherwise.
	StartSeq uint64
	// LastSeq is the stream sequence of the last message handled
	// (applied, skipped or refused), 0 before the first.
	LastSeq uint64
	// SavedSeq is the last sequence written to the position file.
	SavedSeq uint64
	// Pending is the number of stream messages after LastSeq, as the
	// server counted when it delivered LastSeq: the lag in records.
	Pending uint64
	// LastTimestamp is when the stream stored the message LastSeq, and
	// Lag how long after that it was handled here: the end-to-end
	// replication delay of the latest record (across hosts, clock skew
	// between this one and the server's included).
	LastTimestamp time.Time
	Lag           time.Duration
}

// New starts a Replicator for engine e: it opens the outbox (records a
// previous run kept for publication, queued again), checks or creates the
// stream, starts consuming it from the saved position (or from its first
// message), starts the publisher and installs the engine's observer. ctx
// bounds the first attempt to reach the stream only.
//
// New does not need NATS: when the stream cannot be reached (the
// connection is down, the request times out), New returns a detached
// Replicator, logs it, and keeps trying in the background; meanwhile
// checks are served, revocations are kept for publication (in the outbox
// when there is a StateDir), and [Replicator.CaughtUp] waits. Stats tells
// whether it is attached. Errors that waiting cannot cure are returned:
// an invalid Config ([ErrInvalidConfig]), a stream that could lose records
// ([ErrStreamConfig]), a damaged outbox ([ErrOutboxDamaged]), a StateDir
// another Replicator of the stream uses ([ErrStateDirLocked]).
//
// With no stream of that name, New creates one from cfg: file storage,
// subjects "<SubjectPrefix>.>", Replicas, MaxAge, Duplicates, per-message
// TTLs (unless NoMsgTTL or the server predates 2.11), limits retention, no
// message or byte limits, and a MaxMsgSize of 1 KiB (a record message is
// about 200 bytes; larger ones would only cost every replica memory). An existing stream is not changed; New refuses
// it with an error wrapping [ErrStreamConfig] if it could drop live records,
// is a mirror, has NoAck or a subject transform, or does not capture
// "<SubjectPrefix>.v1", and logs a warning if it has fewer replicas than
// cfg.Replicas or no MaxMsgSize of at most 64 KiB.
//
// Records the engine accepted before New are not published. New returns
// before the stream has been read: call [Replicator.CaughtUp] before
// serving requests if tokens revoked elsewhere while this replica was down
// must be refused from its first request.
func New(ctx context.Context, e *revoke.Engine, js jetstream.JetStream, cfg Config) (*Replicator, error) {
	if e == nil || js == nil {
		return nil, fmt.Errorf("%w: nil engine or JetStream", ErrInvalidConfig)
	}
	ecfg := e.Config()
	cfg, err := cfg.normalized(ecfg)
	if err != nil {
		return nil, err
	}
	r := &Replicator{
		e:         e,
		js:        js,
		cfg:       cfg,
		log:       cfg.Logger.With("stream", cfg.Stream),
		subject:   cfg.subject(),
		stream:    cfg.Stream,
		mac:       newMacer(cfg.SubjectPrefix, cfg.SigningKey, cfg.VerifyKeys),
		durable:   ecfg.Sync == revoke.SyncAlways,
		parallel:  ecfg.Sync == revoke.SyncAlways && ecfg.Dir != "",
		attached:  make(chan struct{}),
		pubStop:   make(chan struct{}),
		abort:     make(chan struct{}),
		pubDone:   make(chan struct{}),
		stop:      make(chan struct{}),
		runDone:   make(chan struct{}),
		saveDone:  make(chan struct{}),
		watchDone: make(chan struct{}),
		check:     make(chan struct{}, 1),
		resets:    make(chan streamChange, 1),
	}
	r.setLimits(ecfg)
	r.stopCtx, r.cancel = context.WithCancel(context.Background())
	r.abortCtx, r.abortCancel = context.WithCancel(context.Background())
	var kept []outboxEntry
	if cfg.StateDir != "" {
		r.lock, err = lockState(lockPath(cfg.StateDir, cfg.Stream), cfg.StateDir)
		if err != nil {
			return nil, err
		}
		r.posPath = positionPath(cfg.StateDir, cfg.Stream)
		out, entries, torn, err := openOutbox(outboxPath(cfg.StateDir, cfg.Stream), r.durable, time.Now().Unix())
		if err != nil {
			_ = r.lock.Close()
			return nil, err
		}
		if torn > 0 {
			r.log.Warn("natsrevoke: dropped the torn tail of the outbox (a crash during an append)", "bytes", torn)
		}
		r.out, kept, r.replayed = out, entries, len(entries)
	}
	r.queue = make(chan item, max(cfg.QueueLength, len(kept)))
	for _, k := range kept {
		r.queue <- item{rec: k.rec, id: k.id}
	}
	r.queued.Store(int64(len(kept)))
	if len(kept) > 0 {
		r.log.Info("natsrevoke: publishing records a previous run kept in the outbox", "records", len(kept))
	}

	actx, cancel := context.WithTimeout(ctx, cfg.PublishTimeout)
	err = r.attach(actx)
	cancel()
	switch {
	case err == nil:
		close(r.attached)
	case errors.Is(err, ErrStreamConfig):
		r.cancel()
		r.abortCancel()
		if r.out != nil {
			_ = r.out.close()
		}
		if r.lock != nil {
			_ = r.lock.Close()
		}
		return nil, err
	default:
		r.attachFailures.Add(1)
		r.log.Warn("natsrevoke: stream unreachable; starting detached (checks are served, revocations kept for publication, attaching in the background)", "err", err)
	}
	go r.run()
	if r.posPath != "" {
		go r.saver()
	} else {
		close(r.saveDone)
	}
	go r.publisher()
	e.SetObserver(r.observe)
	return r, nil
}

// attach finds or creates the stream and subscribes from the saved position.
func (r *Replicator) attach(ctx context.Context) error {
	info, err := r.ensureStream(ctx)
	if err != nil {
		return err
	}
	var from uint64
	if r.posPath != "" {
		from = r.resumeFrom(info)
	}
	if err := r.subscribe(ctx, from+1); err != nil {
		return err
	}
	r.setStream(info, from)
	return nil
}

// run attaches (if New could not), then watches the stream and consumes it
// until Close.
func (r *Replicator) run() {
	defer close(r.runDone)
	select {
	case <-r.attached:
	default:
		if !r.attachLoop() {
			close(r.watchDone)
			return
		}
		close(r.attached)
		r.log.Info("natsrevoke: attached to the stream")
	}
	go r.watch()
	r.consume()
}

// attachLoop retries attach with backoff until it succeeds (true) or Close.
func (r *Replicator) attachLoop() bool {
	for wait := retryMin; ; wait = min(2*wait, retryMax) {
		if !sleep(wait, r.stop) {
			return false
		}
		ctx, cancel := context.WithTimeout(r.stopCtx, r.cfg.PublishTimeout)
		err := r.attach(ctx)
		cancel()
		if err == nil {
			return true
		}
		if n := r.attachFailures.Add(1); n&(n-1) == 0 || errors.Is(err, ErrStreamConfig) {
			r.log.Warn("natsrevoke: still detached", "attempts", n, "err", err)
		}
		if errors.Is(err, ErrStreamConfig) {
			wait = retryMax // an operator has to fix the stream: no hurry
		}
	}
}

// resumeFrom returns the last applied sequence of the saved position, or 0
// to read the stream from the start.
func (r *Replicator) resumeFrom(info *jetstream.StreamInfo) uint64 {
	p, ok, err := loadPosition(r.posPath)
	switch {
	case err != nil:
		r.log.Warn("natsrevoke: position file unreadable; reading the stream from the start", "err", err)
		return 0
	case !ok:
		return 0
	case p.created != info.Created.UnixNano():
		r.log.Warn("natsrevoke: saved position belongs to an earlier stream of that name; reading the stream from the start",
			"saved_created", time.Unix(0, p.created), "stream_created", info.Created)
		return 0
	case p.seq > info.State.LastSeq:
		r.log.Warn("natsrevoke: saved position is past the end of the stream; reading the stream from the start",
			"saved_seq", p.seq, "last_seq", info.State.LastSeq)
		return 0
	}
	return p.seq
}

// isAttached reports whether the stream has been attached.
func (r *Replicator) isAttached() bool {
	select {
	case <-r.attached:
		return true
	default:
		return false
	}
}

// Stats returns the current figures. Cost: a few atomic loads, and the
// outbox's mutex.
func (r *Replicator) Stats() Stats {
	st := Stats{
		Attached:        r.isAttached(),
		AttachFailures:  r.attachFailures.Load(),
		Queued:          int(r.queued.Load()),
		Replayed:        r.replayed,
		OutboxErrors:    r.outboxErrors.Load(),
		Published:       r.published.Load(),
		Duplicates:      r.duplicates.Load(),
		BadDuplicates:   r.badDuplicates.Load(),
		PublishFailures: r.pubFailures.Load(),
		Retries:         r.retries.Load(),
		QueueFull:       r.queueFull.Load(),
		Applied:         r.applied.Load(),
		SkippedExpired:  r.skipped.Load(),
		Rejected:        r.rejected.Load(),
		RefusedDeadline: r.refusedDeadline.Load(),
		BadMAC:          r.badMAC.Load(),
		Unsigned:        r.unsigned.Load(),
		ApplyErrors:     r.applyErrors.Load(),
		ConsumerErrors:  r.consumerErrors.Load(),
		Resubscribes:    r.resumes.Load(),
		StreamResets:    r.streamResets.Load(),
		StartSeq:        r.startSeq.Load(),
		LastSeq:         r.lastSeq.Load(),
		SavedSeq:        r.savedSeq.Load(),
		Pending:         r.pending.Load(),
		Lag:             time.Duration(r.lastLag.Load()),
	}
	if r.out != nil {
		st.Outbox = r.out.len()
	}
	if c := r.createdAt.Load(); c != 0 {
		st.StreamCreated = time.Unix(0, c)
	}
	if ts := r.lastStamp.Load(); ts != 0 {
		st.LastTimestamp = time.Unix(0, ts)
	}
	return st
}

// Close replaces the engine's observer with one that refuses: a revocation
// made on the engine afterwards is in force locally (and in its journal) but
// returns an error wrapping revoke.ErrNotPropagated and [ErrClosed], never a
// silent nil, since no other replica will hear of it. (To go on with the
// engine alone on purpose, call its SetObserver(nil) after Close.) Close then
// waits up to Config.CloseTimeout for the queue to be published, stops
// consuming, saves the position, deletes its consumer on the server and
// stops every goroutine the Replicator started. It returns an error
// wrapping [ErrNotDrained] if records were left unpublished: they stay
// revoked locally and, with a StateDir, in the outbox, published by the
// next Replicator on this StateDir. It neither closes the engine nor the
// connection. Idempotent: a later call returns the same error.
func (r *Replicator) Close() error {
	r.closeOnce.Do(func() {
		r.e.SetObserver(refuseAfterClose)
		r.mu.Lock() // waits out observers in flight
		r.closing = true
		r.mu.Unlock()

		close(r.pubStop)
		t := time.AfterFunc(r.cfg.CloseTimeout, func() { close(r.abort); r.abortCancel() })
		<-r.pubDone
		t.Stop()
		r.abortCancel()
		if n := r.unpublished(); n > 0 {
			where := "they stay revoked locally"
			if r.out != nil {
				where = "they stay revoked locally and in the outbox, published at the next start"
			}
			r.closeErr = fmt.Errorf("%w: %d records not published within %v (%s)", ErrNotDrained, n, r.cfg.CloseTimeout, where)
		}

		close(r.stop)
		r.cancel() // an attach or subscribe attempt in flight ends now, not after PublishTimeout
		r.iterMu.Lock()
		if r.iter != nil {
			r.iter.Stop()
		}
		r.iterMu.Unlock()
		<-r.runDone
		<-r.watchDone
		<-r.saveDone
		r.deleteConsumer()
		if r.out != nil {
			if err := r.out.close(); err != nil {
				r.closeErr = errors.Join(r.closeErr, err)
			}
		}
		if r.lock != nil {
			_ = r.lock.Close()
		}
	})
	return r.closeErr
}

// deleteConsumer removes the ordered consumer from the server rather than
// leave it to its inactivity threshold.
func (r *Replicator) deleteConsumer() {
	r.iterMu.Lock()
	cons := r.cons
	r.iterMu.Unlock()
	if cons == nil {
		return
	}
	ci := cons.CachedInfo()
	if ci == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(r.cfg.PublishTimeout, 2*time.Second))
	defer cancel()
	if err := r.js.DeleteConsumer(ctx, r.stream, ci.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		r.log.Debug("natsrevoke: could not delete the consumer; the server drops it after its inactivity threshold",
			"consumer", ci.Name, "err", err)
	}
}

// CaughtUp waits until every record the stream held when it was called has
// been handled (applied, skipped as expired, or refused): call it after New
// and before serving requests. While the Replicator is detached it waits
// for the stream. Records still in this replica's own queue are not in the
// stream yet, so it does not wait for them (Stats().Queued). It returns
// ctx's error when ctx ends first, and [ErrClosed] after Close. Cost: two
// requests to the server (the stream's info, the last record message)
// every 20 ms while it waits.
//
// The target is the stream sequence of the last record message at the call,
// asked of the stream itself: a consumer's own pending count can read 0 for
// a moment while the ordered consumer recreates itself, which would end the
// wait early. Sequences are compared within one stream only: if the stream
// has another creation time than the one being read (it was replaced),
// CaughtUp has the stream checked at once and waits until the new one is
// being read and caught up. If the target message is deleted before it is
// delivered (its per-message TTL ran out), the wait ends once every record
// message the stream still holds has been handled.
func (r *Replicator) CaughtUp(ctx context.Context) error {
	filter := r.cfg.SubjectPrefix + ".>"
	target, targetGen, haveTarget := uint64(0), uint64(0), false
	for {
		if r.stopping() {
			return ErrClosed
		}
		if r.isAttached() {
			if s, err := r.js.Stream(ctx, r.stream); err == nil {
				gen, created, handled := r.position()
				if s.CachedInfo().Created.UnixNano() != created {
					r.checkSoon() // another stream than the one being read
				} else if last, err := lastSeqOf(ctx, s, filter); err == nil {
					if !haveTarget || targetGen != gen {
						target, targetGen, haveTarget = last, gen, true
					}
					if handled >= target || handled >= last {
						return nil
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.stop:
			return ErrClosed
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lastSeqOf returns the stream sequence of the last message on a subject
// matching filter, or 0 if the stream holds none.
func lastSeqOf(ctx context.Context, s jetstream.Stream, filter string) (uint64, error) {
	m, err := s.GetLastMsgForSubject(ctx, filter)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return m.Sequence, nil
}

// stopping reports whether Close has begun stopping consumption.
func (r *Replicator) stopping() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// refuseAfterClose is the engine's observer once its Replicator is closed:
// a revocation made then cannot reach the other replicas, and says so.
func refuseAfterClose(revoke.Record) error { return ErrClosed }
