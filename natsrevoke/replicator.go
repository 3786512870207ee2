package natsrevoke

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
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
	useTTL   bool
	maxAge   time.Duration // the stream's MaxAge, 0 for unlimited
	created  int64         // the stream's creation time, Unix ns
	posPath  string        // "" when no position is kept
	durable  bool          // the engine's Apply is durable on return (SyncAlways)
	parallel bool          // apply batches concurrently (Dir and SyncAlways: one fsync per Apply)

	// mu makes closing and observers in flight exclusive: observers hold
	// it for reading (a Synchronous one during its publication), Close
	// takes it to set closing.
	mu      sync.RWMutex
	closing bool // guarded by mu

	queue   chan revoke.Record
	pubStop chan struct{} // closed by Close: drain the queue, then exit
	abort   chan struct{} // closed when Close's wait is over: give up retrying
	pubDone chan struct{}

	// iterMu guards iter, which the consumer goroutine replaces when the
	// ordered consumer cannot recover by itself.
	iterMu   sync.Mutex
	iter     jetstream.MessagesContext
	stop     chan struct{} // closed by Close: stop consuming and saving
	consDone chan struct{}
	saveDone chan struct{}

	startSeq uint64

	// Counters and gauges for Stats.
	queued, published, duplicates, pubFailures, retries, queueFull atomic.Int64
	applied, skipped, rejected, applyErrors, consumerErrors        atomic.Int64
	lastSeq, pending, savedSeq, resumes                            atomic.Uint64
	lastStamp, lastLag                                             atomic.Int64

	// onApply, if set (benchmarks only), hears of each record once
	// applied, on a consumer goroutine.
	onApply atomic.Pointer[func(revoke.Record)]

	closeOnce sync.Once
	closeErr  error
}

// Stats are the Replicator's figures, for metrics. All counts are since
// [New].
type Stats struct {
	// Queued is the number of records waiting to be published (Queued
	// mode), those being retried included; at Config.QueueLength the next
	// revocation fails with ErrQueueFull.
	Queued int
	// Published counts records the stream acknowledged, Duplicates the
	// part of them it recognised as already stored (same message id within
	// its duplicate window).
	Published, Duplicates int64
	// PublishFailures counts failed publication attempts: in Synchronous
	// mode each one was returned to the revoking call; in Queued mode each
	// one was retried (Retries counts the retry rounds).
	PublishFailures, Retries int64
	// QueueFull counts revocations refused with ErrQueueFull.
	QueueFull int64

	// Applied counts records from the stream merged into the engine (own
	// records included); SkippedExpired those whose deadline had passed
	// when they arrived; Rejected messages that did not decode (unknown
	// format version, wrong length), logged and not applied.
	Applied, SkippedExpired, Rejected int64
	// ApplyErrors counts failed Apply calls (ErrFull, a journal error):
	// the consumer retries the same record with backoff and does not move
	// past it. ConsumerErrors counts errors of the stream subscription,
	// Resubscribes the times the Replicator had to create a new ordered
	// consumer (after the last message handled) because the old one gave
	// up; the ordered consumer's own recoveries are not counted.
	ApplyErrors, ConsumerErrors int64
	Resubscribes                uint64

	// StartSeq is the stream sequence consumption started from: 1 for a
	// replica with no saved position, the saved position + 1 otherwise.
	StartSeq uint64
	// LastSeq is the stream sequence of the last message handled
	// (applied, skipped or rejected), 0 before the first.
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

// New checks or creates the stream, starts consuming it from the saved
// position (or from its first message), starts the publisher (Queued mode)
// and installs the engine's observer. ctx bounds the stream set-up only.
//
// With no stream of that name, New creates one from cfg: file storage,
// subjects "<SubjectPrefix>.>", Replicas, MaxAge, Duplicates, per-message
// TTLs (unless NoMsgTTL or the server predates 2.11), limits retention and
// no message or byte limits. An existing stream is not changed; New refuses
// it with an error wrapping [ErrStreamConfig] if it could drop live records
// or does not capture "<SubjectPrefix>.v1".
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
		e:        e,
		js:       js,
		cfg:      cfg,
		log:      cfg.Logger.With("stream", cfg.Stream),
		subject:  cfg.subject(),
		stream:   cfg.Stream,
		durable:  ecfg.Sync == revoke.SyncAlways,
		parallel: ecfg.Sync == revoke.SyncAlways && ecfg.Dir != "",
		pubStop:  make(chan struct{}),
		abort:    make(chan struct{}),
		pubDone:  make(chan struct{}),
		stop:     make(chan struct{}),
		consDone: make(chan struct{}),
		saveDone: make(chan struct{}),
	}
	info, err := r.ensureStream(ctx)
	if err != nil {
		return nil, err
	}
	r.created = info.Created.UnixNano()
	r.maxAge = info.Config.MaxAge
	r.useTTL = info.Config.AllowMsgTTL && !cfg.NoMsgTTL

	var from uint64
	if cfg.StateDir != "" {
		r.posPath = positionPath(cfg.StateDir, cfg.Stream)
		from = r.resumeFrom(info)
	}
	r.startSeq = from + 1
	r.lastSeq.Store(from)
	r.savedSeq.Store(from)
	if err := r.subscribe(ctx, r.startSeq); err != nil {
		return nil, err
	}
	go r.consume()
	if r.posPath != "" {
		go r.saver()
	} else {
		close(r.saveDone)
	}
	if cfg.Publish == Queued {
		r.queue = make(chan revoke.Record, cfg.QueueLength)
		go r.publisher()
	} else {
		close(r.pubDone)
	}
	e.SetObserver(r.observe)
	return r, nil
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
	case p.created != r.created:
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

// ensureStream returns the stream's info, creating the stream if there is
// none, and checks that its configuration keeps every live record.
func (r *Replicator) ensureStream(ctx context.Context) (*jetstream.StreamInfo, error) {
	s, err := r.js.Stream(ctx, r.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		sc := jetstream.StreamConfig{
			Name:        r.stream,
			Description: "revoke deny-list records (github.com/jwtrevoke/revoke/natsrevoke)",
			Subjects:    []string{r.cfg.SubjectPrefix + ".>"},
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardNew,
			Storage:     jetstream.FileStorage,
			Replicas:    r.cfg.Replicas,
			MaxAge:      r.cfg.MaxAge,
			Duplicates:  r.cfg.Duplicates,
			AllowMsgTTL: !r.cfg.NoMsgTTL && serverAtLeast(r.js.Conn().ConnectedServerVersion(), 2, 11),
		}
		s, err = r.js.CreateStream(ctx, sc)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = r.js.Stream(ctx, r.stream) // another replica created it first
		}
	}
	if err != nil {
		return nil, fmt.Errorf("natsrevoke: stream %s: %w", r.stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("natsrevoke: stream %s: %w", r.stream, err)
	}
	if err := checkStream(info.Config, r.subject, MinMaxAge(r.e.Config())); err != nil {
		return nil, err
	}
	return info, nil
}

// checkStream refuses a stream configuration that could lose live records
// or does not capture subject.
func checkStream(sc jetstream.StreamConfig, subject string, minAge time.Duration) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: stream %s: "+format, append([]any{ErrStreamConfig, sc.Name}, args...)...)
	}
	captured := false
	for _, f := range sc.Subjects {
		captured = captured || subjectMatches(f, subject)
	}
	switch {
	case !captured:
		return bad("subjects %q do not capture %q", sc.Subjects, subject)
	case sc.MaxAge != 0 && sc.MaxAge < minAge:
		return bad("MaxAge %v is shorter than the engine's longest deadline (MaxTTL + 2×Leeway + 1s = %v); raise it to at least that", sc.MaxAge, minAge)
	case sc.Storage != jetstream.FileStorage:
		return bad("storage is %v; records must survive a server restart: use file storage", sc.Storage)
	case sc.Retention != jetstream.LimitsPolicy:
		return bad("retention is %v; consumed records would be deleted: use limits retention", sc.Retention)
	case sc.Discard == jetstream.DiscardOld && (sc.MaxMsgs > 0 || sc.MaxBytes > 0):
		return bad("limits (MaxMsgs %d, MaxBytes %d) with DiscardOld would drop live records: remove the limits or use DiscardNew",
			sc.MaxMsgs, sc.MaxBytes)
	case sc.MaxMsgsPerSubject > 0 && !(sc.Discard == jetstream.DiscardNew && sc.DiscardNewPerSubject):
		// Every record goes to one subject, and the server enforces a
		// per-subject limit by deleting that subject's oldest message
		// unless DiscardNewPerSubject makes it refuse the new one instead.
		return bad("MaxMsgsPerSubject %d would delete the oldest live records (every record is on %q): remove it, or set DiscardNew with DiscardNewPerSubject so that publishing fails instead",
			sc.MaxMsgsPerSubject, subject)
	}
	return nil
}

// subjectMatches reports whether the subject filter f (with '*' and '>'
// wildcards) matches the literal subject s.
func subjectMatches(f, s string) bool {
	ft, st := strings.Split(f, "."), strings.Split(s, ".")
	for i, tok := range ft {
		if tok == ">" {
			return len(st) > i
		}
		if i >= len(st) || (tok != "*" && tok != st[i]) {
			return false
		}
	}
	return len(ft) == len(st)
}

// serverAtLeast reports whether the version string v ("2.11.3") is at
// least major.minor.
func serverAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// Stats returns the current figures. Cost: a few atomic loads.
func (r *Replicator) Stats() Stats {
	st := Stats{
		Queued:          int(r.queued.Load()),
		Published:       r.published.Load(),
		Duplicates:      r.duplicates.Load(),
		PublishFailures: r.pubFailures.Load(),
		Retries:         r.retries.Load(),
		QueueFull:       r.queueFull.Load(),
		Applied:         r.applied.Load(),
		SkippedExpired:  r.skipped.Load(),
		Rejected:        r.rejected.Load(),
		ApplyErrors:     r.applyErrors.Load(),
		ConsumerErrors:  r.consumerErrors.Load(),
		Resubscribes:    r.resumes.Load(),
		StartSeq:        r.startSeq,
		LastSeq:         r.lastSeq.Load(),
		SavedSeq:        r.savedSeq.Load(),
		Pending:         r.pending.Load(),
		Lag:             time.Duration(r.lastLag.Load()),
	}
	if ts := r.lastStamp.Load(); ts != 0 {
		st.LastTimestamp = time.Unix(0, ts)
	}
	return st
}

// Close removes the engine's observer (later revocations are local only),
// waits up to Config.CloseTimeout for the queue to be published, stops
// consuming, saves the position and stops every goroutine the Replicator
// started. It returns an error wrapping [ErrNotDrained] if records were
// left unpublished (they stay revoked locally). It neither closes the
// engine nor the connection. Idempotent: a later call returns the same
// error.
func (r *Replicator) Close() error {
	r.closeOnce.Do(func() {
		r.e.SetObserver(nil)
		r.mu.Lock() // waits out observers in flight
		r.closing = true
		r.mu.Unlock()

		close(r.pubStop)
		t := time.AfterFunc(r.cfg.CloseTimeout, func() { close(r.abort) })
		<-r.pubDone
		t.Stop()
		if n := r.queued.Load(); n > 0 {
			r.closeErr = fmt.Errorf("%w: %d records not published within %v (they stay revoked locally)", ErrNotDrained, n, r.cfg.CloseTimeout)
		}

		close(r.stop)
		r.iterMu.Lock()
		r.iter.Stop()
		r.iterMu.Unlock()
		<-r.consDone
		<-r.saveDone
	})
	return r.closeErr
}

// CaughtUp waits until every record the stream held when it was called has
// been handled (applied, or skipped as expired): call it after New and
// before serving requests. Records still in this replica's own queue are not
// in the stream yet, so it does not wait for them (Stats().Queued). It returns ctx's error when ctx ends first, and
// [ErrClosed] after Close. Cost: a stream lookup, then one "last message of
// the records' subjects" request to the server every 20 ms while it waits.
//
// The target is the stream sequence of the last record message at the call,
// asked of the stream itself: a consumer's own pending count can read 0 for
// a moment while the ordered consumer recreates itself, which would end the
// wait early. If that message is deleted before it is delivered (its
// per-message TTL ran out), the wait ends once every record message the
// stream still holds has been handled.
func (r *Replicator) CaughtUp(ctx context.Context) error {
	filter := r.cfg.SubjectPrefix + ".>"
	var stream jetstream.Stream
	target, haveTarget := uint64(0), false
	for {
		if r.stopping() {
			return ErrClosed
		}
		if stream == nil {
			stream, _ = r.js.Stream(ctx, r.stream)
		}
		if stream != nil {
			last, err := lastSeqOf(ctx, stream, filter)
			if err == nil {
				if !haveTarget {
					target, haveTarget = last, true
				}
				if handled := r.lastSeq.Load(); handled >= target || handled >= last {
					return nil
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
