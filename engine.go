package revoke

import (
	"fmt"
	"io"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures an [Engine]. The zero value is a working configuration:
// a zero field means its documented default, and [New] rejects values out of
// range with an error wrapping [ErrInvalidConfig] that names the field.
type Config struct {
	// Capacity is the number of live entries expected. It sizes the tables
	// and the bloom filter up front (about 22 bytes an entry, allocated by
	// New), so an engine that stays within it never grows. Exceeding it is
	// allowed: the tables grow and the filter is rebuilt larger. Default
	// [DefaultCapacity]; must be in [0, [MaxCapacity]], and on 32-bit
	// platforms small enough that its tables and filter fit in the address
	// space.
	Capacity int

	// MaxEntries is a hard cap on entries held. At the cap a new revocation
	// fails with [ErrFull]; nothing already stored is ever evicted to make
	// room. Entries past their deadline count until the expiry wheel evicts
	// them (within a second or so). Default 0: no cap; must be in
	// [0, [MaxCapacity]].
	MaxEntries int

	// Leeway is added to every expiry: an entry is kept until its token's
	// expiry plus Leeway, matching a JWT parser that accepts tokens up to
	// Leeway after their exp (see [NewVerifier]). Default 0; must be in
	// [0, 24h].
	Leeway time.Duration

	// MaxTTL bounds how far ahead an expiry may lie: a revocation whose
	// expiry is more than MaxTTL from now fails with [ErrTTLTooLong], so a
	// bogus expiry cannot pin memory for years. Default [DefaultMaxTTL];
	// at most 50 years.
	MaxTTL time.Duration

	// Shards is the number of independently locked partitions. Default: 16
	// per GOMAXPROCS rounded up to a power of two, between 16 and 1024.
	// Otherwise it must be a power of two up to 65536.
	Shards int

	// Dir, when set, makes the engine durable: New recovers it from the
	// snapshot and journal in Dir (created if missing), skipping what has
	// expired, and every revocation is appended to the journal before it is
	// acknowledged (see Sync). One engine at a time may use a directory: New
	// fails with [ErrDirLocked] while another holds it (an flock on
	// Dir/LOCK on Linux, macOS and the BSDs, released if the process dies).
	// Only fingerprints and deadlines are written, never keys. Default "":
	// memory only.
	Dir string

	// Sync says when journal appends reach stable storage. Default
	// [SyncAlways]: a revocation returns only after its record is fsynced,
	// concurrent revocations sharing one fsync.
	Sync SyncPolicy

	// SyncInterval is the fsync period under [SyncEvery], and so the
	// window of revocations a machine crash can lose. Default 1s; must not
	// be negative.
	SyncInterval time.Duration

	// SnapshotInterval is how often the engine snapshots Dir by itself and
	// starts a fresh journal. Default 1h; negative: never on a timer.
	SnapshotInterval time.Duration

	// SnapshotJournalBytes is the journal size past which the engine
	// snapshots Dir by itself, so that restarts replay little (after a
	// failed snapshot, logged through log/slog, it waits 10s before
	// trying again for size). Default 64 MiB; negative: never for size.
	SnapshotJournalBytes int64

	// AllowReadOnly lets New start an engine that cannot write to Dir (a
	// full disk, a read-only file system) once it has verified and loaded
	// everything Dir holds: New then returns the engine together with an
	// error wrapping [ErrReadOnly] and the disk's error, so that a caller
	// that stops at any error never runs it by mistake. Such an engine
	// answers every check from what it recovered, refuses every revocation
	// with that error (it cannot be made durable), says so in
	// [Stats].JournalErr, and retries opening its journal every 5s; once
	// it succeeds it works as any other. Damage to Dir is never a reason to
	// start read-only: New still fails with [ErrCorrupt] or
	// [ErrUnsupportedVersion]. Default false: New fails when it cannot
	// write.
	AllowReadOnly bool

	// fs is the file system of Dir; tests substitute one that fails.
	fs fileSystem
}

// Defaults of [Config].
const (
	DefaultCapacity = 1 << 16
	DefaultMaxTTL   = 30 * 24 * time.Hour

	DefaultSyncInterval         = time.Second
	DefaultSnapshotInterval     = time.Hour
	DefaultSnapshotJournalBytes = 64 << 20

	// MaxCapacity is the largest Config.Capacity and Config.MaxEntries
	// (2^30, about a billion entries: some 22 GiB of tables and filter,
	// allocated by New, and 8 bytes an entry of expiry wheel).
	MaxCapacity = 1 << 30

	maxLeeway = 24 * time.Hour
	maxMaxTTL = 50 * 365 * 24 * time.Hour
	maxShards = 1 << 16
)

// expireBatch bounds how many fingerprints one tick examines per shard while
// holding its lock: a million tokens expiring in the same second are evicted
// in batches with the lock released between them.
const expireBatch = 2048

// normalized returns cfg with defaults filled in, or an error naming the
// first invalid field.
func (cfg Config) normalized() (Config, error) {
	invalid := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case cfg.Capacity < 0 || cfg.Capacity > MaxCapacity:
		return invalid("Capacity must be in [0, %d], got %d", MaxCapacity, cfg.Capacity)
	case cfg.MaxEntries < 0 || cfg.MaxEntries > MaxCapacity:
		return invalid("MaxEntries must be in [0, %d], got %d", MaxCapacity, cfg.MaxEntries)
	case cfg.Leeway < 0 || cfg.Leeway > maxLeeway:
		return invalid("Leeway must be in [0, %v], got %v", maxLeeway, cfg.Leeway)
	case cfg.MaxTTL < 0 || cfg.MaxTTL > maxMaxTTL:
		return invalid("MaxTTL must be in [0, %v], got %v", maxMaxTTL, cfg.MaxTTL)
	case cfg.Shards < 0 || cfg.Shards > maxShards || cfg.Shards&(cfg.Shards-1) != 0:
		return invalid("Shards must be a power of two up to %d, got %d", maxShards, cfg.Shards)
	case cfg.Sync < SyncAlways || cfg.Sync > SyncNever:
		return invalid("Sync must be SyncAlways, SyncEvery or SyncNever, got %v", cfg.Sync)
	case cfg.SyncInterval < 0:
		return invalid("SyncInterval must not be negative, got %v", cfg.SyncInterval)
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = DefaultSyncInterval
	}
	if cfg.SnapshotInterval == 0 {
		cfg.SnapshotInterval = DefaultSnapshotInterval
	}
	if cfg.SnapshotJournalBytes == 0 {
		cfg.SnapshotJournalBytes = DefaultSnapshotJournalBytes
	}
	if cfg.fs == nil {
		cfg.fs = osFS{}
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = DefaultCapacity
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	if cfg.Shards == 0 {
		cfg.Shards = defaultShards(runtime.GOMAXPROCS(0))
	}
	if need, ok := initialBytes(cfg.Capacity, cfg.Shards); !ok {
		return invalid("Capacity %d needs %d bytes of tables and filter, more than this platform can address", cfg.Capacity, need)
	}
	return cfg, nil
}

// initialBytes is what newEngine allocates for capacity entries in shards
// tables (slots and filter; the wheels start empty), computed in 64 bits
// with every step checked, and whether it fits in an int (the address space
// of a 32-bit platform). capacity is at most MaxCapacity and shards at most
// maxShards, so no step overflows 64 bits.
func initialBytes(capacity, shards int) (uint64, bool) {
	slots := uint64(tableSlotsFor((capacity + shards - 1) / shards))
	tables := slots * recordSize * uint64(shards)
	filter := uint64(bloomWordsFor(max(capacity, 1))) * 8
	total := tables + filter
	fits := slots*recordSize <= math.MaxInt && filter <= math.MaxInt && total <= math.MaxInt
	return total, fits
}
func defaultShards(procs int) int {
	n := 1 << bits.Len(uint(procs*16-1))
	return min(max(n, 16), 1024)
}

// Engine is an in-memory deny list of revoked keys, each kept until its
// deadline (expiry plus Config.Leeway) and then forgotten.
//
// All methods are safe for concurrent use. [Engine.IsRevoked] on a key that
// is not revoked takes no lock and allocates nothing; writers lock one shard.
// An Engine must be created with [New] and released with [Engine.Close],
// which stops its background goroutine.
type Engine struct {
	cfg       Config
	shards    []shard
	shardMask uint64
	// place is the secret that keys where fingerprints land in shards,
	// tables and filters, drawn at New and never changed or written out.
	place placement

	// filter answers "certainly not present" for most lookups. Every
	// record in a table is in it (invariant kept across rebuilds by
	// nextFilter: see rebuildFilter).
	filter atomic.Pointer[bloomFilter]
	// nextFilter is the filter being rebuilt, or nil; inserts go to both.
	nextFilter atomic.Pointer[bloomFilter]
	// filterDead counts evictions since the current filter was built.
	filterDead atomic.Int64
	rebuilding atomic.Bool

	// clock is the Unix second of the last tick: a coarse clock that lets
	// hits skip time.Now. It may lag the wall clock by a second (a hit then
	// stays revoked up to a second longer) or lead it after the wall clock
	// steps back (live then falls back to time.Now).
	clock atomic.Int64

	// reserved counts entries against MaxEntries (only when it is set):
	// inserts reserve before they store, so concurrent inserts into
	// different shards cannot overshoot the cap.
	reserved  atomic.Int64
	evictions atomic.Uint64
	rebuilds  atomic.Uint64

	// observer, if set, hears of every record accepted locally (see
	// SetObserver).
	observer atomic.Pointer[func(Record) error]

	// cutoffsHeld is set once a record with a non-zero value (a cutoff)
	// enters memory, by any path (putCutoff, Apply, recovery); never
	// cleared. While it is false the Verifier probes the token key only.
	cutoffsHeld atomic.Bool

	closed    atomic.Bool
	closeOnce sync.Once
	stop      chan struct{}
	// workers counts the ticker, the durability loop and any filter
	// rebuild in flight.
	workers sync.WaitGroup

	// jnl is the journal of Config.Dir, or nil for a memory-only engine.
	jnl *journal
	// dirLock holds Config.Dir for this engine until Close.
	dirLock io.Closer
	// bulkLoading is set only while New recovers from Config.Dir, before
	// the engine is shared: inserts then skip the filter, which recovery
	// builds afterwards in one cache-friendly pass (see buildFilter).
	bulkLoading bool
	// dirPlan is what recovery must still change in Config.Dir and the
	// journal generation to start; used by New, then only by the
	// durability goroutine while the journal is read-only.
	dirPlan dirPlan
	// snapMu serializes snapshots, and Close takes it before releasing
	// dirLock so that no snapshot in flight writes to a directory that
	// another engine may already hold.
	snapMu   sync.Mutex
	snapKick chan struct{}
	// snapshots, snapshotFailures and lastSnapshot (Unix ns) feed Stats.
	snapshots        atomic.Uint64
	snapshotFailures atomic.Uint64
	lastSnapshot     atomic.Int64
}

// New validates cfg and returns a running Engine. It starts one background
// goroutine that evicts expired entries once a second, and with Config.Dir a
// second one for snapshots and periodic fsyncs; call [Engine.Close] to stop
// them.
//
// With Config.Dir, New first recovers the engine from the directory: it
// loads the snapshot, replays the journals after it and starts a new
// journal. It fails closed: a file that does not verify, or one that must
// be there and is not (a journal generation, the snapshot), stops it with
// an error wrapping [ErrCorrupt] that names the file (and the offset); a
// file written by a newer release stops it with [ErrUnsupportedVersion].
// The one exception is the torn tail of the newest journal, what one
// interrupted write leaves (never acknowledged), which is trimmed and
// logged through log/slog. Nothing in the directory changes unless all of
// it verifies.
//
// With Config.AllowReadOnly, when everything verified but Dir cannot be
// written, New returns a working engine together with an error wrapping
// [ErrReadOnly]: check for it with errors.Is before using the engine.
func New(cfg Config) (*Engine, error) {
	e, err := newEngine(cfg)
	if err != nil {
		return nil, err
	}
	var readOnly error
	if e.cfg.Dir != "" {
		if readOnly, err = e.openDir(); err != nil {
			return nil, err
		}
	}
	e.workers.Add(1)
	go e.run()
	if e.jnl != nil {
		e.workers.Add(1)
		go e.durabilityLoop()
	}
	return e, readOnly
}

// newEngine returns an engine with empty tables and no goroutine.
func newEngine(cfg Config) (*Engine, error) {
	cfg, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	now := time.Now().Unix()
	e := &Engine{
		cfg:       cfg,
		shards:    make([]shard, cfg.Shards),
		shardMask: uint64(cfg.Shards - 1),
		place:     newPlacement(),
		stop:      make(chan struct{}),
		snapKick:  make(chan struct{}, 1),
	}
	perShard := (cfg.Capacity + cfg.Shards - 1) / cfg.Shards
	for i := range e.shards {
		e.shards[i].tab.init(perShard, &e.place)
		e.shards[i].wheel = newExpiryWheel(now)
	}
	e.filter.Store(newBloomFilter(cfg.Capacity, &e.place))
	e.clock.Store(now)
	return e, nil
}

// Config returns the configuration in force, defaults filled in.
func (e *Engine) Config() Config { return e.cfg }

// Revoke remembers key as revoked until expiresAt plus Config.Leeway.
//
// It is idempotent: revoking a key again with a later expiry extends its
// entry, an earlier one never shortens it. An expiry that has already passed
// (leeway included) is a no-op returning nil, since such a token is refused
// anyway. Errors: [ErrEmptyKey], [ErrTTLTooLong], [ErrFull], [ErrClosed],
// and with Config.Dir the journal's write or fsync error. Only a fingerprint
// of key is kept. Cost: one hash and one shard lock; with Config.Dir and
// SyncAlways, also a share of one write and one fsync (group commit), since
// it returns only once the revocation is on stable storage.
func (e *Engine) Revoke(key string, expiresAt time.Time) error {
	if key == "" {
		return ErrEmptyKey
	}
	if e.closed.Load() {
		return ErrClosed
	}
	deadline, err := e.deadlineFor(expiresAt)
	if err != nil || deadline == 0 {
		return err
	}
	return e.put(fingerprint(kindKey, key), deadline, 0)
}

// IsRevoked reports whether key is revoked: true from the moment a Revoke of
// it returned nil until its deadline, false again at most a second after.
// When the key is not revoked (the common case) it is answered by the bloom
// filter alone: no lock, no allocation. It keeps answering after Close.
func (e *Engine) IsRevoked(key string) bool {
	return e.contains(fingerprint(kindKey, key))
}

// Len returns the number of entries held, including those past their
// deadline that the expiry wheel has not evicted yet (at most a second or
// so). It sums one counter per shard, without locking.
func (e *Engine) Len() int {
	n := int64(0)
	for i := range e.shards {
		n += e.shards[i].count.Load()
	}
	return int(n)
}

// Stats describes an engine's state at one moment.
type Stats struct {
	// Entries is the number of entries held, as [Engine.Len].
	Entries int
	// Evictions counts entries evicted at their deadline since New.
	Evictions uint64
	// FilterBytes is the size of the bloom filter's bits.
	FilterBytes int
	// FilterFalsePositiveRate is the filter's estimated false-positive
	// rate: the share of keys not revoked that pass the filter and need a
	// table lookup.
	FilterFalsePositiveRate float64
	// FilterRebuilds counts filter rebuilds since New.
	FilterRebuilds uint64
	// Bytes is the memory held by the tables, the expiry wheels and the
	// filter, and by the shards themselves (their locks and the wheels'
	// bucket heads: about 1.2 KiB a shard, allocated by New).
	Bytes int
	// Shards is the number of shards.
	Shards int
	// JournalBytes is the size of the current journal file (0 without
	// Config.Dir).
	JournalBytes int64
	// JournalRecords and JournalFsyncs count the records appended to the
	// journal and its successful fsyncs since New: a count that moves on
	// means every record written before that fsync is durable. Under
	// SyncAlways their ratio is the number of revocations that group
	// commit makes share an fsync.
	JournalRecords, JournalFsyncs uint64
	// Snapshots and SnapshotFailures count the snapshots written to
	// Config.Dir and those that failed, since New.
	Snapshots, SnapshotFailures uint64
	// LastSnapshot is when the last snapshot was written; zero if none.
	LastSnapshot time.Time
	// JournalErr is the write or fsync error that stopped the journal: while
	// it is set, every revocation fails with it until the engine is
	// reopened. For an engine started read-only (Config.AllowReadOnly) it
	// wraps [ErrReadOnly] and the disk's error until the journal opens.
	// Nil when all is well.
	JournalErr error
}

// Stats returns counters and sizes. It read-locks each shard in turn, so it
// costs O(Shards); it is meant for metrics, not for the request path.
func (e *Engine) Stats() Stats {
	f := e.filter.Load()
	st := Stats{
		Entries:                 e.Len(),
		Evictions:               e.evictions.Load(),
		FilterBytes:             f.sizeBytes(),
		FilterFalsePositiveRate: f.estimatedFPRate(),
		FilterRebuilds:          e.rebuilds.Load(),
		Shards:                  len(e.shards),
		Snapshots:               e.snapshots.Load(),
		SnapshotFailures:        e.snapshotFailures.Load(),
	}
	if ns := e.lastSnapshot.Load(); ns != 0 {
		st.LastSnapshot = time.Unix(0, ns)
	}
	if e.jnl != nil {
		st.JournalBytes = e.jnl.size.Load()
		st.JournalRecords = e.jnl.records.Load()
		st.JournalFsyncs = e.jnl.fsyncs.Load()
		st.JournalErr = e.jnl.failure()
	}
	st.Bytes = st.FilterBytes + len(e.shards)*shardBytes
	for i := range e.shards {
		s := &e.shards[i]
		s.mu.RLock()
		st.Bytes += s.tab.sizeBytes() + s.wheel.sizeBytes()
		s.mu.RUnlock()
	}
	return st
}

// Close stops the background goroutines and refuses later revocations with
// [ErrClosed]; IsRevoked keeps answering from memory. It waits for
// revocations in flight to finish; with Config.Dir, a revocation racing with
// Close either is journaled or returns an error. It then writes, fsyncs and
// closes the journal, and returns the journal's error if there is one
// (a later call returns nil). A [Engine.Snapshot] in flight finishes before
// Close releases Config.Dir. Close is idempotent.
func (e *Engine) Close() error {
	var err error
	e.closeOnce.Do(func() {
		e.closed.Store(true)
		// Revocations check closed under their shard lock: once every
		// lock has been taken once, none is in flight.
		for i := range e.shards {
			e.shards[i].mu.Lock()
			//lint:ignore SA2001 an empty critical section is the point: it waits out writers.
			e.shards[i].mu.Unlock()
		}
		close(e.stop)
		e.workers.Wait()
		// A Snapshot in flight (called by the user) writes to the
		// directory: wait for it before releasing the lock; later ones
		// see closed under snapMu.
		e.snapMu.Lock()
		defer e.snapMu.Unlock()
		if e.jnl != nil {
			err = e.jnl.close()
		}
		if e.dirLock != nil {
			_ = e.dirLock.Close()
		}
	})
	return err
}

// deadlineFor turns an expiry into the record deadline: expiresAt+Leeway in
// whole seconds, rounded up. It returns 0 when that moment has passed, and
// ErrTTLTooLong when expiresAt is more than MaxTTL ahead or the deadline
// lies past what a record can hold (maxDeadline, early 2106), which it
// would otherwise wrap around to 1970.
//
// Reading the wall clock costs about 50 ns on a VM, a third of a Revoke. The
// coarse clock (the last tick's second) settles the common case: an expiry
// that is more than two seconds ahead of it, and more than two seconds within
// MaxTTL of it, is within both limits whatever the fraction of the current
// second. Only expiries near a limit read the wall clock, which then decides.
func (e *Engine) deadlineFor(expiresAt time.Time) (uint32, error) {
	end := expiresAt.Add(e.cfg.Leeway)
	endSec := deadlineSeconds(end)
	if endSec > maxDeadline {
		return 0, fmt.Errorf("%w: deadline %v is past the last second a record can hold (%v)",
			ErrTTLTooLong, end.UTC().Format(time.RFC3339), time.Unix(maxDeadline, 0).UTC().Format(time.RFC3339))
	}
	coarse := e.clock.Load()
	if endSec > coarse+2 && expiresAt.Unix() < coarse+int64(e.cfg.MaxTTL/time.Second)-2 {
		return uint32(endSec), nil
	}
	now := time.Now()
	if ahead := expiresAt.Sub(now); ahead > e.cfg.MaxTTL {
		return 0, fmt.Errorf("%w: expiry is %v ahead, MaxTTL is %v", ErrTTLTooLong, ahead.Round(time.Second), e.cfg.MaxTTL)
	}
	if !now.Before(end) {
		return 0, nil
	}
	return uint32(endSec), nil
}

// shardIndex returns the index of fp's shard: the low bits of its keyed
// table hash (see placement). The recovery loader buckets records by it.
func (e *Engine) shardIndex(fp uint64) uint64 { return e.place.tableHash(fp) & e.shardMask }

// shardOf returns fp's shard.
func (e *Engine) shardOf(fp uint64) *shard { return &e.shards[e.shardIndex(fp)] }

// contains reports whether fp is held and live. The filter answers most
// misses without a lock.
func (e *Engine) contains(fp uint64) bool {
	if !e.filter.Load().mayContain(fp) {
		return false
	}
	_, ok := e.lookup(fp)
	return ok
}

// lookup returns fp's record if it is held and live. It skips the filter:
// callers that expect misses call contains, or probe the filter first. It
// takes no lock (see shard.lookup).
func (e *Engine) lookup(fp uint64) (record, bool) {
	h := e.place.tableHash(fp)
	r, ok := e.shards[h&e.shardMask].lookup(fp, h)
	return r, ok && e.live(r.deadline)
}

// live reports whether a record with this deadline must still be honoured:
// its deadline is after the current second. The coarse clock answers for
// records well within their lifetime; time.Now settles the rest, so a clock
// that stepped back never makes a live record look dead.
func (e *Engine) live(deadline uint32) bool {
	d := int64(deadline)
	return d > e.clock.Load() || d > time.Now().Unix()
}

// put stores fp until deadline, merging with a record already held: the
// later deadline and the larger value win, so applying the same record twice,
// or two records in either order, gives the same state.
//
// With Config.Dir it then journals the record and returns once the journal
// holds it as Config.Sync says, or with the journal's error. The record is
// applied in memory first (under the shard lock, where ErrFull is decided)
// and journaled after, outside the lock, so that concurrent callers share
// one fsync. It is journaled even when memory already held it: an equal
// record applied by a caller still waiting for its fsync is not durable
// yet. After a journal failure the record may stay in memory without being
// durable, which can only make more tokens revoked, never fewer; the caller
// gets the error, never an acknowledgement.
//
// Last, once the record is durable, the observer hears of it (see
// SetObserver); its failure is returned wrapping ErrNotPropagated.
func (e *Engine) put(fp uint64, deadline, value uint32) error {
	r := record{fp: fp, deadline: deadline, value: value}
	if err := e.applyDurably(r); err != nil {
		return err
	}
	return e.notify(r)
}

// applyDurably is put without the observer: Apply uses it for records that
// come from elsewhere.
func (e *Engine) applyDurably(r record) error {
	if e.jnl != nil {
		if err := e.jnl.failure(); err != nil {
			return err
		}
	}
	if err := e.apply(r, true); err != nil {
		return err
	}
	return e.commit1(r)
}

// apply merges r into memory as put does; capped applies MaxEntries.
func (e *Engine) apply(r record, capped bool) error {
	h := e.place.tableHash(r.fp)
	s := &e.shards[h&e.shardMask]
	s.lockWrite()
	defer s.unlockWrite()
	if e.closed.Load() {
		return ErrClosed
	}
	return e.applyHashed(s, r, h, capped)
}

// applyLocked is apply with s, the shard of r, write-locked. The recovery
// loader calls it too, so that replayed records merge as live ones do.
//
// A merge that extends a record's deadline adds nothing to the wheel: the
// record's wheel entry, at an earlier second, is examined then and finds the
// later deadline in the table, which reschedules it (see shard.expire). So
// the wheel holds one entry per record however often its deadline is
// extended, and memory stays bounded by the live records.
func (e *Engine) applyLocked(s *shard, r record, capped bool) error {
	return e.applyHashed(s, r, e.place.tableHash(r.fp), capped)
}

// applyHashed is applyLocked given r's table hash h.
func (e *Engine) applyHashed(s *shard, r record, h uint64, capped bool) error {
	i, found := s.tab.slotOf(r.fp, h)
	if found {
		if r.value != 0 {
			e.cutoffsHeld.Store(true)
		}
		s.tab.merge(i, r.deadline, r.value)
		return nil
	}
	return e.insertLocked(s, r, h, i, capped)
}

// putIfAbsent stores fp unless a live record of it is held, and reports
// whether it stored it: the atomic step of single use. With Config.Dir a
// stored record is journaled as put journals it, and true is returned only
// once it is durable; a refusal (false) is not journaled. The observer hears
// of the records it stores, once they are durable; if it fails, the record
// stays stored and putIfAbsent returns true with an error wrapping
// ErrNotPropagated: the caller won, and must not retry (a retry would find
// its own record and look like reuse).
func (e *Engine) putIfAbsent(fp uint64, deadline, value uint32) (bool, error) {
	if e.jnl != nil {
		if err := e.jnl.failure(); err != nil {
			return false, err
		}
	}
	r := record{fp: fp, deadline: deadline, value: value}
	stored, err := e.applyIfAbsent(r)
	if !stored || err != nil {
		return false, err
	}
	if err := e.commit1(r); err != nil {
		return false, err
	}
	if err := e.notify(r); err != nil {
		return true, err
	}
	return true, nil
}

// applyIfAbsent is the in-memory step of putIfAbsent.
func (e *Engine) applyIfAbsent(r record) (bool, error) {
	h := e.place.tableHash(r.fp)
	s := &e.shards[h&e.shardMask]
	s.lockWrite()
	defer s.unlockWrite()
	if e.closed.Load() {
		return false, ErrClosed
	}
	i, found := s.tab.slotOf(r.fp, h)
	if found {
		if e.live(s.tab.slots[i].deadline) {
			return false, nil
		}
		// Past its deadline but not evicted yet: it counts as absent. Its
		// wheel entry is due no later than its old deadline and reschedules
		// it then at the new one (see applyLocked), so none is added.
		s.tab.store(i, r)
		return true, nil
	}
	if err := e.insertLocked(s, r, h, i, true); err != nil {
		return false, err
	}
	return true, nil
}

// commit1 journals one record applied in memory; see put.
func (e *Engine) commit1(r record) error {
	if e.jnl == nil {
		return nil
	}
	rs := [1]record{r}
	return e.jnl.commit(rs[:])
}

// commit journals records applied in memory as one batch.
func (e *Engine) commit(recs []record) error {
	if e.jnl == nil {
		return nil
	}
	return e.jnl.commit(recs)
}

// insertLocked adds a record whose fingerprint s does not hold, unless
// capped and the engine is at MaxEntries; h is its table hash and free the
// empty slot that ended the probe for it (table.slotOf). Uncapped inserts
// (recovery) still count against the cap, so that the reservation stays
// exact. Called with s write-locked.
func (e *Engine) insertLocked(s *shard, r record, h uint64, free int, capped bool) error {
	if e.cfg.MaxEntries > 0 && e.reserved.Add(1) > int64(e.cfg.MaxEntries) && capped {
		e.reserved.Add(-1)
		return fmt.Errorf("%w: %d entries", ErrFull, e.cfg.MaxEntries)
	}
	if r.value != 0 {
		e.cutoffsHeld.Store(true)
	}
	s.tab.insertAt(r, h, free)
	s.count.Add(1)
	s.wheel.schedule(r.fp, int64(r.deadline))
	if e.bulkLoading {
		return nil
	}
	// The rebuild protocol needs nextFilter read before filter: see
	// rebuildFilter.
	if f := e.nextFilter.Load(); f != nil {
		f.add(r.fp)
	}
	e.filter.Load().add(r.fp)
	return nil
}

// run is the engine's background goroutine: once a second, on the second,
// it advances the clock and the expiry wheels.
func (e *Engine) run() {
	defer e.workers.Done()
	buf := make([]uint64, 0, expireBatch)
	t := time.NewTimer(untilNextSecond(time.Now()))
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		e.tick(time.Now(), buf)
		t.Reset(untilNextSecond(time.Now()))
	}
}

func untilNextSecond(now time.Time) time.Duration {
	return time.Second - time.Duration(now.Nanosecond())
}

// tick evicts what is due at now and starts a filter rebuild if needed.
func (e *Engine) tick(now time.Time, buf []uint64) {
	sec := now.Unix()
	e.clock.Store(sec)
	for i := range e.shards {
		var reserved *atomic.Int64
		if e.cfg.MaxEntries > 0 {
			reserved = &e.reserved
		}
		if n := e.shards[i].expire(sec, buf, reserved); n > 0 {
			e.evictions.Add(uint64(n))
			e.filterDead.Add(int64(n))
		}
	}
	e.maybeRebuildFilter()
}
