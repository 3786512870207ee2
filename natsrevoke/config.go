package natsrevoke

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jwtrevoke/revoke"
)

// PublishMode says when a revoking call returns relative to the stream's
// acknowledgement of its record. See Config.Publish.
type PublishMode int

const (
	// Queued (the default) hands the record to a bounded in-memory queue
	// (and, with a StateDir, to the outbox file) and returns at once; a
	// background publisher sends it and retries, with backoff, until the
	// stream acknowledges it. A full queue makes the revoking call fail
	// with [ErrQueueFull]. Records still queued when the process dies are
	// published by the next start from the outbox (without a StateDir they
	// are lost for the other replicas, and stay revoked locally).
	Queued PublishMode = iota
	// Synchronous publishes from the revoking goroutine and returns only
	// once the stream has acknowledged (stored, on a quorum of its
	// replicas) the record, or with an error wrapping [ErrPending]: a
	// logout confirmed to the user is then known to every replica that
	// can reach the stream. An error means the stream did not acknowledge
	// in time, not that the record is lost: it is kept (outbox, queue)
	// and retried in the background, and nats.go may also send it from
	// its reconnect buffer, which can only revoke more.
	Synchronous
)

// String returns the mode's name.
func (m PublishMode) String() string {
	switch m {
	case Queued:
		return "Queued"
	case Synchronous:
		return "Synchronous"
	}
	return fmt.Sprintf("PublishMode(%d)", int(m))
}

// Config configures a [Replicator]. The zero value is a working
// configuration: a zero field means its documented default, and [New]
// rejects values out of range with an error wrapping [ErrInvalidConfig]
// that names the field.
type Config struct {
	// Stream is the JetStream stream name. Default "REVOKE". Use one
	// stream (and one SubjectPrefix) per token issuer whose replicas share
	// a deny list. Must not contain whitespace, '.', '*', '>', '/' or '\'.
	Stream string

	// SubjectPrefix is the subject prefix of the records: they are
	// published on "<SubjectPrefix>.v1" (see [FormatVersion]) and a stream
	// created by New captures "<SubjectPrefix>.>". Default "revoke". Must be
	// dot-separated tokens without whitespace or wildcards.
	SubjectPrefix string

	// Replicas is the replication factor of a stream that New creates (use
	// 3 in production; see the README). An existing stream is never
	// updated: its configuration is the operator's, New only checks it.
	// Default 1; at most 5.
	Replicas int

	// MaxAge is the MaxAge of a stream that New creates, and the least one
	// New accepts on an existing stream (0 there means unlimited, which is
	// fine). It must cover the longest deadline the engine can give a
	// record: MaxTTL + 2×Leeway + 1s (a cutoff may lie Leeway in the future
	// and is kept MaxTTL + Leeway after its second), else a replica catching
	// up from the stream would miss live records. Default that minimum
	// plus one hour, for clock skew between the engine and the servers.
	MaxAge time.Duration

	// Duplicates is the duplicate window of a stream that New creates:
	// publications of the same record within it are stored once. Default
	// 2 minutes; at most MaxAge.
	Duplicates time.Duration

	// NoMsgTTL turns off per-message TTLs. By default a stream that New
	// creates allows them (nats-server 2.11 or later) and each message
	// carries a Nats-TTL header of its record's remaining lifetime plus
	// TTLMargin, so the stream holds live records only and a new replica
	// catches up on those alone. On an existing stream, TTLs are used when
	// it allows them. MaxAge bounds the stream either way.
	NoMsgTTL bool

	// TTLMargin is added to each message's TTL (the record's remaining
	// lifetime on the publisher's clock) for clock skew between the
	// publisher and the servers: a publisher whose clock runs ahead by more
	// than the margin would have live records deleted early. Default
	// MaxAgeMargin (1 h), the margin the default MaxAge keeps too; the TTL
	// never exceeds the stream's MaxAge.
	TTLMargin time.Duration

	// MaxClockSkew is how far a record's deadline may lie beyond this
	// replica's now + MaxTTL + 2×Leeway + 1s (the longest deadline an
	// engine configured like this one gives) before the consumer refuses
	// it (Stats.RefusedDeadline, logged): one bad or forged message must
	// not lock users out for decades. A cutoff second more than Leeway +
	// MaxClockSkew in the future is refused likewise. Every replica of a
	// stream must share MaxTTL and Leeway (one stream per issuer). Default
	// 5 minutes.
	MaxClockSkew time.Duration

	// SigningKey, when set, authenticates records: publishers add an
	// HMAC-SHA256 of each record (header Revoke-Mac, see [FormatVersion])
	// and consumers refuse, count (Stats.BadMAC) and log records without a
	// valid one, so that a publish permission on the subject alone cannot
	// revoke everyone. Every replica of the stream needs the key. At least
	// 32 bytes. NATS permissions stay the first line of defence.
	SigningKey []byte

	// VerifyKeys are further keys whose MACs consumers accept, for a key
	// rotation: add the new key here everywhere, then make it the
	// SigningKey everywhere, then drop the old one. Requires SigningKey.
	VerifyKeys [][]byte

	// AcceptUnsigned makes a consumer with a SigningKey apply records
	// that carry no MAC at all (counted in Stats.Unsigned), for the
	// rollout of a first key: deploy SigningKey with AcceptUnsigned on
	// every replica, then drop AcceptUnsigned everywhere. Without it, a
	// replica given the key first would refuse the records of replicas
	// not yet given it, and tokens they revoke would stay valid there. A
	// MAC that is present and wrong is refused either way.
	AcceptUnsigned bool

	// StreamCheckInterval is how often the Replicator asks the server
	// whether the stream it reads is still the same one (creation time,
	// last sequence), besides after each consumer error: a stream deleted
	// and created again is then read from its start. Each check is one
	// stream-info request (a fleet of 1 000 replicas at the default makes
	// 200 a second). Default 5s.
	StreamCheckInterval time.Duration

	// Publish is the publication mode: [Queued] (default) or
	// [Synchronous].
	Publish PublishMode

	// QueueLength bounds the records waiting to be published (in
	// Synchronous mode, those whose publication failed and is retried in
	// the background), those being retried included: at the bound the
	// revoking call fails with [ErrQueueFull]. The buffer is allocated by
	// New: 32 bytes a slot, 2 MiB at the default. Default 65 536.
	QueueLength int

	// PublishTimeout bounds one publication: in Synchronous mode the wait
	// of the revoking call, in Queued mode one attempt before it is
	// retried. Default 5s.
	PublishTimeout time.Duration

	// StateDir is where the stream sequence of the last applied record is
	// kept, in the file "natsrevoke-<Stream>.pos", so that a restart
	// resumes after it instead of reading the stream from the start.
	// Default: the engine's Config().Dir. It requires an engine with a
	// Dir: a memory-only engine starts empty, so skipping what it applied
	// before a restart would lose records; without a Dir, a Replicator
	// always reads the stream from its first message. The outbox file
	// lives there too, and a lock file ("natsrevoke-<Stream>.lock", flock
	// on Unix) keeps a second Replicator of the stream from sharing them
	// ([ErrStateDirLocked]).
	StateDir string

	// SaveInterval is how often the position is written (temp file,
	// fsync, rename), once the records up to it are durable in the engine:
	// a crash re-applies at most that much of the stream (idempotently).
	// Default 1s.
	SaveInterval time.Duration

	// CloseTimeout bounds how long [Replicator.Close] waits for the queue
	// to drain. Default 5s.
	CloseTimeout time.Duration

	// Logger receives what the Replicator cannot return to a caller:
	// rejected messages, failed attempts, consumer errors. Default
	// slog.Default().
	Logger *slog.Logger
}

// Defaults of [Config].
const (
	DefaultStream         = "REVOKE"
	DefaultSubjectPrefix  = "revoke"
	DefaultDuplicates     = 2 * time.Minute
	DefaultQueueLength    = 1 << 16
	DefaultPublishTimeout = 5 * time.Second
	DefaultSaveInterval   = time.Second
	DefaultCloseTimeout   = 5 * time.Second
	DefaultMaxClockSkew   = 5 * time.Minute
	DefaultStreamCheck    = 5 * time.Second

	// MinSigningKey is the shortest SigningKey or VerifyKeys entry
	// accepted, in bytes.
	MinSigningKey = 32

	// MaxAgeMargin is what the default MaxAge adds to the minimum.
	MaxAgeMargin = time.Hour

	maxReplicas = 5
)

// MinMaxAge is the shortest stream MaxAge that keeps every record an engine
// with this configuration can produce until its deadline: MaxTTL + 2×Leeway
// + 1s. cfg is the engine's Config() (defaults filled in).
func MinMaxAge(cfg revoke.Config) time.Duration {
	return cfg.MaxTTL + 2*cfg.Leeway + time.Second
}

// normalized returns cfg with defaults filled in for engine configuration
// ecfg, or an error naming the first invalid field.
func (cfg Config) normalized(ecfg revoke.Config) (Config, error) {
	invalid := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if cfg.Stream == "" {
		cfg.Stream = DefaultStream
	}
	if cfg.SubjectPrefix == "" {
		cfg.SubjectPrefix = DefaultSubjectPrefix
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	minAge := MinMaxAge(ecfg)
	if cfg.MaxAge == 0 {
		cfg.MaxAge = minAge + MaxAgeMargin
	}
	if cfg.Duplicates == 0 {
		cfg.Duplicates = DefaultDuplicates
	}
	if cfg.QueueLength == 0 {
		cfg.QueueLength = DefaultQueueLength
	}
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = DefaultPublishTimeout
	}
	if cfg.StateDir == "" {
		cfg.StateDir = ecfg.Dir
	}
	if cfg.SaveInterval == 0 {
		cfg.SaveInterval = DefaultSaveInterval
	}
	if cfg.CloseTimeout == 0 {
		cfg.CloseTimeout = DefaultCloseTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TTLMargin == 0 {
		cfg.TTLMargin = MaxAgeMargin
	}
	if cfg.MaxClockSkew == 0 {
		cfg.MaxClockSkew = DefaultMaxClockSkew
	}
	if cfg.StreamCheckInterval == 0 {
		cfg.StreamCheckInterval = DefaultStreamCheck
	}
	badKey := len(cfg.SigningKey) > 0 && len(cfg.SigningKey) < MinSigningKey
	for _, k := range cfg.VerifyKeys {
		badKey = badKey || len(k) < MinSigningKey
	}
	switch {
	case strings.ContainsAny(cfg.Stream, " \t\r\n.*>/\\"):
		return invalid("Stream %q must not contain whitespace, '.', '*', '>', '/' or '\\'", cfg.Stream)
	case !validPrefix(cfg.SubjectPrefix):
		return invalid("SubjectPrefix %q must be dot-separated tokens without whitespace or wildcards", cfg.SubjectPrefix)
	case cfg.Replicas < 1 || cfg.Replicas > maxReplicas:
		return invalid("Replicas must be in [1, %d], got %d", maxReplicas, cfg.Replicas)
	case cfg.MaxAge < minAge:
		return invalid("MaxAge %v is shorter than the engine's longest deadline, MaxTTL + 2×Leeway + 1s = %v", cfg.MaxAge, minAge)
	case cfg.Duplicates < 0 || cfg.Duplicates > cfg.MaxAge:
		return invalid("Duplicates must be in [0, MaxAge], got %v", cfg.Duplicates)
	case cfg.Publish != Queued && cfg.Publish != Synchronous:
		return invalid("Publish must be Queued or Synchronous, got %v", cfg.Publish)
	case cfg.QueueLength < 0:
		return invalid("QueueLength must not be negative, got %d", cfg.QueueLength)
	case cfg.PublishTimeout < 0:
		return invalid("PublishTimeout must not be negative, got %v", cfg.PublishTimeout)
	case cfg.SaveInterval < 0:
		return invalid("SaveInterval must not be negative, got %v", cfg.SaveInterval)
	case cfg.CloseTimeout < 0:
		return invalid("CloseTimeout must not be negative, got %v", cfg.CloseTimeout)
	case cfg.TTLMargin < 0:
		return invalid("TTLMargin must not be negative, got %v", cfg.TTLMargin)
	case cfg.MaxClockSkew < 0:
		return invalid("MaxClockSkew must not be negative, got %v", cfg.MaxClockSkew)
	case cfg.StreamCheckInterval < 0:
		return invalid("StreamCheckInterval must not be negative, got %v", cfg.StreamCheckInterval)
	case badKey:
		return invalid("SigningKey and VerifyKeys must be at least %d bytes", MinSigningKey)
	case len(cfg.VerifyKeys) > 0 && len(cfg.SigningKey) == 0:
		return invalid("VerifyKeys needs a SigningKey")
	case cfg.AcceptUnsigned && len(cfg.SigningKey) == 0:
		return invalid("AcceptUnsigned needs a SigningKey")
	case cfg.StateDir != "" && ecfg.Dir == "":
		return invalid("StateDir %q needs an engine with Config.Dir: a memory-only engine starts empty, so resuming after its last position would lose records", cfg.StateDir)
	}
	return cfg, nil
}

func validPrefix(p string) bool {
	if strings.ContainsAny(p, " \t\r\n*>") {
		return false
	}
	for tok := range strings.SplitSeq(p, ".") {
		if tok == "" {
			return false
		}
	}
	return true
}

// subject is the subject records are published on.
func (cfg Config) subject() string { return cfg.SubjectPrefix + "." + FormatVersion }
