package natsrevoke

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// maxRecordMsgSize is the MaxMsgSize of a stream New creates (headers and
// payload, as the server counts): a record message is about 200 bytes
// (16-byte payload; message id, MAC and TTL headers), and whoever may
// publish on the subject must not be able to store messages of up to
// max_payload that every replica then reads into memory by the thousand.
const maxRecordMsgSize = 1024

// ensureStream returns the stream's info, creating the stream if there is
// none, and checks that its configuration keeps every live record. An
// existing stream with fewer replicas than Config.Replicas is accepted with
// a warning: New never changes an existing stream.
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
			MaxMsgSize:  maxRecordMsgSize,
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
	info := s.CachedInfo()
	if err := checkStream(info.Config, r.subject, MinMaxAge(r.e.Config())); err != nil {
		return nil, err
	}
	if info.Config.MaxMsgSize <= 0 || info.Config.MaxMsgSize > 64<<10 {
		r.log.Warn("natsrevoke: the existing stream accepts large messages, which every replica reads into memory by the thousand; New does not change it (set it with `nats stream edit --max-msg-size 1024`)",
			"max_msg_size", info.Config.MaxMsgSize)
	}
	if info.Config.Replicas < r.cfg.Replicas {
		r.log.Warn("natsrevoke: the existing stream has fewer replicas than Config.Replicas; New does not change it (raise it with `nats stream edit`)",
			"stream_replicas", info.Config.Replicas, "config_replicas", r.cfg.Replicas)
	}
	return info, nil
}

// checkStream refuses a stream configuration that could lose live records,
// deliver records other than those published to subject, or not capture
// subject.
func checkStream(sc jetstream.StreamConfig, subject string, minAge time.Duration) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: stream %s: "+format, append([]any{ErrStreamConfig, sc.Name}, args...)...)
	}
	captured := false
	for _, f := range sc.Subjects {
		captured = captured || subjectMatches(f, subject)
	}
	switch {
	case sc.Mirror != nil:
		return bad("is a mirror of %q: it takes no publications and lags its origin; use the origin stream", sc.Mirror.Name)
	case !captured:
		return bad("subjects %q do not capture %q", sc.Subjects, subject)
	case sc.SubjectTransform != nil:
		return bad("has a subject transform (%q → %q): records would be stored on other subjects than they were published on; remove it",
			sc.SubjectTransform.Source, sc.SubjectTransform.Destination)
	case sc.AllowRollup:
		return bad("allows roll-ups (AllowRollup, switched on by message schedules and subject delete markers too): one message with a Nats-Rollup header, which a publish permission alone can send, would purge every record; use a stream without")
	case sc.Sealed:
		return bad("is sealed: it takes no publications")
	case sc.AllowMsgCounter:
		return bad("is a counter stream: it takes counter increments only, not records")
	case sc.NoAck:
		return bad("has NoAck set: publications would never be acknowledged, so no publisher could know a record is stored; remove it")
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

// A stream deleted and created again under running replicas (a lost
// single-replica server, an operator's mistake, a deploy that recreates it;
// or deleted only, in which case the watcher creates it again) starts its
// sequences over: a replica that goes on reading at its old
// sequence misses every record of the new stream. The watcher asks the
// server for the stream's info every StreamCheckInterval, after each
// consumer error and whenever CaughtUp finds another creation time, and
// hands a changed stream to the consume goroutine, which reads it from its
// start (see consume).
//
// A stream has changed when its creation time differs from the one being
// read, or when its last sequence lies below the last one this replica
// handled (a stream restored from an older backup keeps its creation
// time). The handled sequence is read before the info is asked for, so a
// record stored meanwhile cannot make a live stream look replaced.

// streamChange is a replaced stream, found while reading generation gen.
type streamChange struct {
	info *jetstream.StreamInfo
	gen  uint64
}

// watch checks the stream until Close.
func (r *Replicator) watch() {
	defer close(r.watchDone)
	tick := time.NewTicker(r.cfg.StreamCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-r.check:
		case <-r.stop:
			return
		}
		gen, created, handled := r.position()
		info, err := r.streamInfo()
		if err != nil {
			continue // unreachable; retried at the next tick
		}
		if info.Created.UnixNano() == created && info.State.LastSeq >= handled {
			continue
		}
		r.log.Warn("natsrevoke: the stream was replaced; reading the new one from its start",
			"old_created", time.Unix(0, created), "new_created", info.Created,
			"handled_seq", handled, "stream_last_seq", info.State.LastSeq)
		if err := checkStream(info.Config, r.subject, MinMaxAge(r.e.Config())); err != nil {
			r.log.Error("natsrevoke: the new stream could lose records; reading it all the same", "err", err)
		}
		select {
		case <-r.resets: // replace a change not yet taken
		default:
		}
		r.resets <- streamChange{info: info, gen: gen}
	}
}

// streamInfo asks for the stream's info. A stream that is gone (deleted,
// or lost with the only server that held it) is created again as New would
// create it, since no replica could publish or read until someone did; the
// caller then sees a stream with another creation time.
func (r *Replicator) streamInfo() (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(r.stopCtx, r.cfg.PublishTimeout)
	defer cancel()
	s, err := r.js.Stream(ctx, r.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		r.log.Warn("natsrevoke: the stream is gone; creating it again")
		return r.ensureStream(ctx)
	}
	if err != nil {
		return nil, err
	}
	return s.CachedInfo(), nil
}

// checkSoon asks the watcher to check the stream now.
func (r *Replicator) checkSoon() {
	select {
	case r.check <- struct{}{}:
	default:
	}
}

// position returns the generation and creation time of the stream being
// read and the last sequence handled in it.
func (r *Replicator) position() (gen uint64, created int64, handled uint64) {
	r.posMu.Lock()
	defer r.posMu.Unlock()
	return r.gen, r.created, r.lastSeq.Load()
}

// setStream makes info the stream being read, from sequence from + 1;
// called by the consume goroutine (or New) only.
func (r *Replicator) setStream(info *jetstream.StreamInfo, from uint64) {
	r.posMu.Lock()
	defer r.posMu.Unlock()
	r.gen++
	r.created = info.Created.UnixNano()
	r.createdAt.Store(r.created)
	r.maxAge.Store(int64(info.Config.MaxAge))
	r.useTTL.Store(info.Config.AllowMsgTTL && !r.cfg.NoMsgTTL)
	r.startSeq.Store(from + 1)
	r.lastSeq.Store(from)
	r.savedSeq.Store(from)
	r.pending.Store(0)
}
