package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jwtrevoke/revoke"
)

func init() {
	register(command{
		name:    "bench",
		summary: "load the engine alone with a deny-list workload: throughput, latency, memory",
		run:     runBench,
	})
}

// The load tool.
//
// It fills an engine with --entries revocations, then runs --goroutines
// workers for --duration (or exactly --ops operations) and reports what it
// measured. Everything but the timings is a function of --seed:
//
//   - Every key has a 64-bit id: domain<<40 | index, where the domain is 0
//     for the keys filled before the run, 1 for the pool of keys never
//     revoked, and 2+g for the keys that goroutine g revokes during the run.
//     A key's text is the hex of a bijective mix of its id with the seed, so
//     distinct ids give distinct keys; its lifetime (time from revocation to
//     the token's expiry) is --lifetime sampled at another mix of the id.
//   - Goroutine g draws its operations from math/rand/v2's PCG seeded with
//     (seed, g): for each operation, whether it revokes (--revokes), and for a
//     check, whether it is of a revoked key (--hits) and which key. The
//     digest in the report folds every goroutine's sequence of operations and
//     key indices: same --seed, --goroutines and --ops, same digest.
//
// A check of a revoked key is of a key revoked by the fill or by the same
// goroutine, drawn uniformly among them. It must answer true until the
// token's expiry: the tool knows every such expiry (the fill records when it
// revoked each chunk; a goroutine keeps the expiry of each key it revoked),
// and a false answer that came back before it is a missed revocation,
// reported as an ERROR with exit status 1.
//
// Keys never revoked come from a pool of distinct keys built up front
// (as many as --entries, at most benchPoolKeys and benchPoolBytes), which each
// goroutine walks in order from its own offset. A key just parsed from a
// token is in the CPU cache; walking the pool in order keeps it so (the
// hardware prefetcher streams it in), while the key's fingerprint, and so
// the filter block and table slot it touches, is random. The run measures
// the engine's memory accesses, not a cache miss on the key. Keys of revoked
// tokens are generated when they are checked (1% of checks by default),
// outside the timed call.
//
// Latency: time.Now (or time.Since) costs about as much as a check that the
// bloom filter answers (20–40 ns on a VM), so timing batches would hide the
// tail and timing every call would halve the throughput. The tool times one
// check of an unrevoked key in benchSampleEvery, and every check of a
// revoked key and every revocation (1% of operations each by default), each
// call alone between two monotonic clock reads; it subtracts the median cost
// of two clock reads around nothing, measured before the run, and says so.
// Histograms are log-linear (exact below 64 ns, then 32 buckets per power of
// two: about 3% resolution), one per goroutine, merged at the end.

const (
	// benchPoolKeys bounds the size of the pool of keys that are never
	// revoked, as does benchPoolBytes: enough distinct keys to touch every
	// block of the filter of 1M entries and most of that of 10M.
	benchPoolKeys  = 1 << 18
	benchPoolBytes = 16 << 20
	// benchChunk is the number of keys a fill worker generates and revokes
	// at a time; each chunk records when it was revoked, which with the
	// key's lifetime gives its expiry.
	benchChunk = 1024
	// benchBatch is how many operations a worker runs between two looks at
	// the stop flag and two updates of its progress counter.
	benchBatch = 1024
	// benchSampleEvery: one check of an unrevoked key in this many is
	// timed.
	benchSampleEvery = 16

	benchIDBits    = 40
	benchMaxTTL    = revoke.DefaultMaxTTL
	benchMaxWorker = 1 << 16
)

// Key domains (see the package-level description of the load tool).
const (
	domainFill = 0
	domainPool = 1
	domainRun  = 2 // + goroutine
)

// Operation kinds, folded into the digest.
const (
	opClean  = 1
	opHit    = 2
	opRevoke = 3
)

// benchConfig is the parsed command line of "revoke bench".
type benchConfig struct {
	entries    int
	capacity   int
	duration   time.Duration
	ops        int64 // when > 0, run exactly this many operations instead of duration
	goroutines int
	hits       float64
	revokes    float64
	lifetime   lifetimeDist
	seed       uint64
	keyBytes   int
}

func runBench(args []string, stdout, stderr io.Writer) int {
	cfg, code, ok := parseBenchFlags(args, stderr)
	if !ok {
		return code
	}
	res, err := benchRun(cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "revoke bench:", err)
		return 1
	}
	return printBenchReport(stdout, cfg, res)
}

// parseBenchFlags parses and validates the flags. ok is false when the
// command must exit with code: 0 after --help, 2 on a usage error.
func parseBenchFlags(args []string, stderr io.Writer) (cfg benchConfig, code int, ok bool) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	entries := fs.Int("entries", 1_000_000, "live `n`umber of revocations to fill the engine with before the run")
	capacity := fs.Int("capacity", 0, "Config.Capacity of the engine (`n`); 0: --entries. Revocations during the run add entries: past it the tables grow")
	duration := fs.Duration("duration", 10*time.Second, "how long to run the mix after the fill")
	ops := fs.Int64("ops", 0, "run exactly this many operations (`n`, split evenly across goroutines) instead of --duration")
	goroutines := fs.Int("goroutines", runtime.GOMAXPROCS(0), "`n`umber of goroutines running the mix (default GOMAXPROCS)")
	hits := fs.Float64("hits", 0.01, "share of checks that are of revoked keys, in [0, 1]")
	revokes := fs.Float64("revokes", 0.01, "share of operations that revoke a new key (the rest check one), in [0, 1]")
	lifetime := fs.String("lifetime", "uniform:1s-1h", "time from revocation to the token's expiry, per key: fixed:D, uniform:MIN-MAX or exp:MEAN (`dist`)")
	seed := fs.Uint64("seed", 1, "seed of the keys, the lifetimes and every goroutine's operations")
	keyBytes := fs.Int("key-bytes", 36, "length of each key in bytes, 16 to 1024 (36: a UUID jti)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: revoke bench [flags]\n\n"+
			"Loads one in-memory engine, no peers, with a deny-list workload: fills it with\n"+
			"--entries revocations, then runs --goroutines goroutines for --duration (or\n"+
			"--ops operations) in which --revokes of the operations revoke a new token and\n"+
			"the rest check one, --hits of the checks being of revoked tokens. Progress goes\n"+
			"to stderr; the report (checks/s, revocations/s, latency percentiles, bytes per\n"+
			"entry, evictions, filter false-positive rate) to stdout.\n\n"+
			"Keys, lifetimes and each goroutine's sequence of operations derive from --seed;\n"+
			"the report's digest is the same for the same --seed, --goroutines and --ops.\n"+
			"Exit status 1 if any check of a revoked key that has not expired answers false\n"+
			"(a security bug), 2 on a usage error.\n\n"+
			"--lifetime: fixed:D (every token), uniform:MIN-MAX, exp:MEAN (exponential,\n"+
			"truncated to [1s, 10*MEAN]), with Go durations (90s, 15m, 24h); at least 1s and\n"+
			"at most 720h (the engine's default MaxTTL).\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, 0, false
		}
		return cfg, 2, false
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	fail := func(format string, args ...any) (benchConfig, int, bool) {
		fmt.Fprintf(stderr, "revoke bench: "+format+"\nRun \"revoke bench --help\" for the flags.\n", args...)
		return benchConfig{}, 2, false
	}
	cfg = benchConfig{
		entries: *entries, capacity: *capacity, duration: *duration, ops: *ops,
		goroutines: *goroutines, hits: *hits, revokes: *revokes, seed: *seed, keyBytes: *keyBytes,
	}
	switch {
	case fs.NArg() > 0:
		return fail("unexpected argument %q (bench takes flags only)", fs.Arg(0))
	case cfg.entries < 1 || cfg.entries > 1<<36:
		return fail("--entries must be in [1, %d], got %d", 1<<36, cfg.entries)
	case cfg.capacity < 0:
		return fail("--capacity must not be negative, got %d", cfg.capacity)
	case set["ops"] && set["duration"]:
		return fail("--ops and --duration exclude each other: give one")
	case cfg.ops < 0:
		return fail("--ops must not be negative, got %d", cfg.ops)
	case cfg.ops == 0 && cfg.duration <= 0:
		return fail("--duration must be positive, got %v", cfg.duration)
	case cfg.goroutines < 1 || cfg.goroutines > benchMaxWorker:
		return fail("--goroutines must be in [1, %d], got %d", benchMaxWorker, cfg.goroutines)
	case !(cfg.hits >= 0 && cfg.hits <= 1):
		return fail("--hits is a share of checks, in [0, 1]; got %v", cfg.hits)
	case !(cfg.revokes >= 0 && cfg.revokes <= 1):
		return fail("--revokes is a share of operations, in [0, 1]; got %v", cfg.revokes)
	case cfg.keyBytes < 16 || cfg.keyBytes > 1024:
		return fail("--key-bytes must be in [16, 1024], got %d", cfg.keyBytes)
	}
	lt, err := parseLifetime(*lifetime)
	if err != nil {
		return fail("--lifetime: %v", err)
	}
	cfg.lifetime = lt
	if cfg.capacity == 0 {
		cfg.capacity = cfg.entries
	}
	return cfg, 0, true
}

// lifetimeDist is a distribution of token lifetimes left at revocation: the
// TTL of each deny-list entry. The zero value is not valid; use
// [parseLifetime].
type lifetimeDist struct {
	spec string
	kind string        // "fixed", "uniform" or "exp"
	a, b time.Duration // fixed: a; uniform: [a, b); exp: mean a
}

// parseLifetime parses fixed:D, uniform:MIN-MAX or exp:MEAN, with Go
// durations. Every lifetime it can produce is within [1s, benchMaxTTL]: at
// least the engine's one-second resolution, at most its default MaxTTL.
func parseLifetime(s string) (lifetimeDist, error) {
	grammar := "want fixed:D, uniform:MIN-MAX or exp:MEAN with Go durations (90s, 15m, 24h)"
	kind, arg, ok := strings.Cut(s, ":")
	if !ok {
		return lifetimeDist{}, fmt.Errorf("%q: %s", s, grammar)
	}
	d := lifetimeDist{spec: s, kind: kind}
	parse := func(what, v string) (time.Duration, error) {
		x, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("%q: %s %q is not a Go duration (90s, 15m, 24h)", s, what, v)
		}
		if x < time.Second {
			return 0, fmt.Errorf("%q: %s %v is shorter than 1s, the engine's resolution", s, what, x)
		}
		return x, nil
	}
	var err error
	switch kind {
	case "fixed":
		d.a, err = parse("lifetime", arg)
	case "uniform":
		lo, hi, ok := strings.Cut(arg, "-")
		if !ok {
			return lifetimeDist{}, fmt.Errorf("%q: uniform wants MIN-MAX, such as uniform:15m-24h", s)
		}
		if d.a, err = parse("minimum", lo); err != nil {
			break
		}
		if d.b, err = parse("maximum", hi); err != nil {
			break
		}
		if d.a > d.b {
			err = fmt.Errorf("%q: minimum %v is above maximum %v", s, d.a, d.b)
		}
	case "exp":
		d.a, err = parse("mean", arg)
	default:
		return lifetimeDist{}, fmt.Errorf("%q: unknown distribution %q; %s", s, kind, grammar)
	}
	if err != nil {
		return lifetimeDist{}, err
	}
	if m := d.longest(); m > benchMaxTTL {
		what := "the longest lifetime"
		if kind == "exp" {
			what = "10*MEAN, where exp is truncated,"
		}
		return lifetimeDist{}, fmt.Errorf("%q: %s %v is longer than %v, the engine's default MaxTTL", s, what, m, benchMaxTTL)
	}
	return d, nil
}

// String returns the distribution as it was spelled on the command line.
func (d lifetimeDist) String() string { return d.spec }

// longest returns the longest lifetime d produces.
func (d lifetimeDist) longest() time.Duration {
	switch d.kind {
	case "uniform":
		return d.b
	case "exp":
		return 10 * d.a
	}
	return d.a
}

// at returns the lifetime for the uniform 64-bit value u: the quantile of d
// at u/2^64.
func (d lifetimeDist) at(u uint64) time.Duration {
	f := float64(u>>11) / (1 << 53) // [0, 1)
	switch d.kind {
	case "uniform":
		return d.a + time.Duration(f*float64(d.b-d.a))
	case "exp":
		x := time.Duration(-float64(d.a) * math.Log1p(-f))
		return min(max(x, time.Second), 10*d.a)
	}
	return d.a
}

// mix64 is splitmix64's finalizer: a bijection of uint64 that spreads every
// input bit over every output bit.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// keyGen makes the keys of a run from their ids. Distinct ids give distinct
// keys: the first 16 characters are the hex of a bijection of the id.
type keyGen struct {
	n        int    // bytes per key, at least 16
	keySalt  uint64 // from the seed, for the text
	lifeSalt uint64 // from the seed, for the lifetime
	life     lifetimeDist
}

func newKeyGen(cfg benchConfig) keyGen {
	return keyGen{
		n:        cfg.keyBytes,
		keySalt:  mix64(cfg.seed ^ 0x6b65797300000000),
		lifeSalt: mix64(cfg.seed ^ 0x6c69666500000000),
		life:     cfg.lifetime,
	}
}

func keyID(domain, index uint64) uint64 { return domain<<benchIDBits | index }

const hexDigits = "0123456789abcdef"

// appendKey appends the text of key id to dst.
func (k keyGen) appendKey(dst []byte, id uint64) []byte {
	w := mix64(id ^ k.keySalt)
	for i := 0; i < k.n; {
		for shift := 60; shift >= 0 && i < k.n; shift -= 4 {
			dst = append(dst, hexDigits[(w>>shift)&15])
			i++
		}
		w = mix64(w)
	}
	return dst
}

// lifetime returns the lifetime of key id.
func (k keyGen) lifetime(id uint64) time.Duration { return k.life.at(mix64(id ^ k.lifeSalt)) }

// histogram counts durations in log-linear buckets: exact nanoseconds below
// 64, then 32 buckets per power of two. Adding allocates nothing. The zero
// value is empty and ready; it is not safe for concurrent use.
type histogram struct {
	counts [64 + 58*32]uint64
}

func histBucket(v uint64) int {
	if v < 64 {
		return int(v)
	}
	e := bits.Len64(v) - 1 // 6..63
	return 64 + (e-6)*32 + int(v>>(e-5)&31)
}

// histValue returns the middle of bucket i, in nanoseconds.
func histValue(i int) float64 {
	if i < 64 {
		return float64(i)
	}
	j := i - 64
	shift := j/32 + 1
	low := uint64(32+j%32) << shift
	return float64(low) + float64(uint64(1)<<shift)/2
}

func (h *histogram) add(d time.Duration) { h.counts[histBucket(uint64(max(d, 0)))]++ }

// merge adds o to h, each of o's samples counting weight times.
func (h *histogram) merge(o *histogram, weight uint64) {
	for i, c := range o.counts {
		h.counts[i] += c * weight
	}
}

func (h *histogram) total() uint64 {
	var n uint64
	for _, c := range h.counts {
		n += c
	}
	return n
}

// quantile returns the q-quantile (0 < q ≤ 1) in nanoseconds, to the
// resolution of a bucket; ok is false when h is empty.
func (h *histogram) quantile(q float64) (ns float64, ok bool) {
	n := h.total()
	if n == 0 {
		return 0, false
	}
	target := max(uint64(math.Ceil(q*float64(n))), 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= target {
			return histValue(i), true
		}
	}
	return histValue(len(h.counts) - 1), true
}

// benchResult is what a run measured.
type benchResult struct {
	fillTime            time.Duration
	fillLen, fillBytes  int // entries held after the fill; Stats().Bytes then
	fillHeap            float64
	runTime             time.Duration
	ops, checks         uint64
	revocations         uint64
	hitChecks, hitsTrue uint64
	hitsExpired         uint64
	missed              uint64 // checks of revoked, unexpired keys that answered false
	firstMissed         string
	cleanTrue           uint64 // checks of never-revoked keys that answered true
	digest              uint64
	timerOverhead       float64 // ns, median of two clock reads around nothing
	clean, hit, rev     histogram
	endLen              int
	endHeap             float64
	stats               revoke.Stats
	gcCycles            uint32
	gcPause             time.Duration
	gomaxprocs          int
}

// benchShared is what every worker of a run reads and never writes.
type benchShared struct {
	e         *revoke.Engine
	keys      keyGen
	pool      string // poolKeys keys of n bytes, back to back
	poolKeys  uint64
	entries   uint64
	fillTimes []int64 // Unix ns at which chunk c of the fill was revoked
	revokeCut uint64  // an operation revokes when its draw is below
	hitCut    uint64  // a check is of a revoked key when its draw is below
	fixedOps  bool    // --ops: each worker runs its quota; otherwise until stop
	epoch     time.Time
	stop      atomic.Bool
}

// benchWorker is one goroutine of the run with its own generator, counters
// and histograms.
type benchWorker struct {
	done atomic.Uint64 // operations so far, for the progress line

	g, of   uint64 // this worker's number, and how many there are
	rng     *rand.PCG
	quota   uint64 // operations to run with --ops
	buf     []byte
	runExp  []int64 // Unix ns expiry of the keys this worker revoked
	ops     uint64
	checks  uint64
	clean   uint64
	hits    uint64
	hitTrue uint64
	expired uint64
	missed  uint64
	first   string
	cleanT  uint64
	digest  uint64
	err     error

	cleanH, hitH, revH histogram
}

// poolSize returns the number of keys in the pool of keys never revoked,
// for a run of entries keys of keyBytes bytes each.
func poolSize(entries, keyBytes int) uint64 {
	return uint64(min(max(entries, 1024), benchPoolKeys, benchPoolBytes/keyBytes))
}

// threshold returns the draw below which an event of probability p happens.
func threshold(p float64) uint64 {
	if p >= 1 {
		return math.MaxUint64
	}
	return uint64(p * (1 << 64))
}

// benchRun fills an engine and runs the mix, writing progress to progress.
func benchRun(cfg benchConfig, progress io.Writer) (*benchResult, error) {
	res := &benchResult{gomaxprocs: runtime.GOMAXPROCS(0)}
	sh := &benchShared{
		keys:      newKeyGen(cfg),
		entries:   uint64(cfg.entries),
		fillTimes: make([]int64, (cfg.entries+benchChunk-1)/benchChunk),
		revokeCut: threshold(cfg.revokes),
		hitCut:    threshold(cfg.hits),
		fixedOps:  cfg.ops > 0,
	}
	sh.poolKeys = poolSize(cfg.entries, cfg.keyBytes)
	buf := make([]byte, 0, sh.poolKeys*uint64(cfg.keyBytes))
	for i := range sh.poolKeys {
		buf = sh.keys.appendKey(buf, keyID(domainPool, i))
	}
	sh.pool = string(buf)
	buf = nil
	res.timerOverhead = timerOverhead()
	// The workers (their histograms) exist before the first heap reading,
	// so that the memory figures count the engine alone.
	workers := make([]*benchWorker, cfg.goroutines)
	for g := range workers {
		w := &benchWorker{g: uint64(g), of: uint64(cfg.goroutines), rng: rand.NewPCG(cfg.seed, uint64(g))}
		if cfg.ops > 0 {
			w.quota = uint64(cfg.ops) / uint64(cfg.goroutines)
			if uint64(g) < uint64(cfg.ops)%uint64(cfg.goroutines) {
				w.quota++
			}
		}
		workers[g] = w
	}

	heap0 := heapAfterGC()
	e, err := revoke.New(revoke.Config{Capacity: cfg.capacity})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	sh.e = e

	// Fill: goroutine w revokes chunks w, w+G, w+2G, ... of the entries.
	var filled atomic.Int64
	start := time.Now()
	p := startProgress(progress, func() string {
		n := filled.Load()
		return fmt.Sprintf("fill  %d/%d entries  %s/s", n, cfg.entries, si(float64(n)/time.Since(start).Seconds()))
	})
	errs := make([]error, cfg.goroutines)
	var wg sync.WaitGroup
	for w := range cfg.goroutines {
		wg.Go(func() {
			buf := make([]byte, 0, benchChunk*cfg.keyBytes)
			for c := w; c < len(sh.fillTimes); c += cfg.goroutines {
				lo, hi := c*benchChunk, min((c+1)*benchChunk, cfg.entries)
				buf = buf[:0]
				for i := lo; i < hi; i++ {
					buf = sh.keys.appendKey(buf, keyID(domainFill, uint64(i)))
				}
				keys := string(buf)
				now := time.Now()
				sh.fillTimes[c] = now.UnixNano()
				for i := lo; i < hi; i++ {
					j := (i - lo) * cfg.keyBytes
					if err := e.Revoke(keys[j:j+cfg.keyBytes], now.Add(sh.keys.lifetime(keyID(domainFill, uint64(i))))); err != nil {
						errs[w] = fmt.Errorf("fill: %w", err)
						return
					}
				}
				filled.Add(int64(hi - lo))
			}
		})
	}
	wg.Wait()
	res.fillTime = time.Since(start)
	p.finish(fmt.Sprintf("fill  %d entries in %v  %s/s", cfg.entries, res.fillTime.Round(time.Millisecond),
		si(float64(cfg.entries)/res.fillTime.Seconds())))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	res.fillLen = e.Len()
	res.fillBytes = e.Stats().Bytes
	res.fillHeap = float64(heapAfterGC()-heap0) / float64(max(res.fillLen, 1))

	// Run.
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	sh.epoch = time.Now()
	opsDone := func() uint64 {
		var n uint64
		for _, w := range workers {
			n += w.done.Load()
		}
		return n
	}
	p = startProgress(progress, func() string {
		el := time.Since(sh.epoch)
		n := opsDone()
		if cfg.ops > 0 {
			return fmt.Sprintf("run   %d/%d ops  %s ops/s", n, cfg.ops, si(float64(n)/el.Seconds()))
		}
		return fmt.Sprintf("run   %.1fs/%v  %d ops  %s ops/s", el.Seconds(), cfg.duration, n, si(float64(n)/el.Seconds()))
	})
	if cfg.ops == 0 {
		t := time.AfterFunc(cfg.duration, func() { sh.stop.Store(true) })
		defer t.Stop()
	}
	for _, w := range workers {
		wg.Go(func() { w.run(sh) })
	}
	wg.Wait()
	res.runTime = time.Since(sh.epoch)
	runtime.ReadMemStats(&ms1)
	p.finish(fmt.Sprintf("run   %d ops in %v  %s ops/s", opsDone(), res.runTime.Round(time.Millisecond),
		si(float64(opsDone())/res.runTime.Seconds())))
	res.gcCycles = ms1.NumGC - ms0.NumGC
	res.gcPause = time.Duration(ms1.PauseTotalNs - ms0.PauseTotalNs)

	for _, w := range workers {
		if w.err != nil {
			return nil, w.err
		}
		res.digest = mix64(res.digest ^ w.digest)
		res.ops += w.ops
		res.checks += w.checks
		res.revocations += uint64(len(w.runExp))
		res.hitChecks += w.hits
		res.hitsTrue += w.hitTrue
		res.hitsExpired += w.expired
		res.missed += w.missed
		if res.firstMissed == "" {
			res.firstMissed = w.first
		}
		res.cleanTrue += w.cleanT
		res.clean.merge(&w.cleanH, 1)
		res.hit.merge(&w.hitH, 1)
		res.rev.merge(&w.revH, 1)
		w.runExp = nil // not the engine's memory
	}
	res.stats = e.Stats()
	res.endLen = e.Len()
	res.endHeap = float64(heapAfterGC()-heap0) / float64(max(res.endLen, 1))
	runtime.KeepAlive(sh) // the pool stays live up to the last heap reading, as at the first
	runtime.KeepAlive(workers)
	return res, nil
}

// run executes the worker's share of the mix.
func (w *benchWorker) run(sh *benchShared) {
	kb := uint64(sh.keys.n)
	next := w.g * sh.poolKeys / w.of // this worker's place in the pool
	for {
		n := uint64(benchBatch)
		if sh.fixedOps {
			n = min(n, w.quota-w.ops)
		} else if sh.stop.Load() {
			n = 0
		}
		if n == 0 {
			return
		}
		for range n {
			if w.rng.Uint64() < sh.revokeCut {
				if w.err = w.revoke(sh); w.err != nil {
					sh.stop.Store(true)
					return
				}
				continue
			}
			w.checks++
			r := w.rng.Uint64()
			if r < sh.hitCut {
				w.checkRevoked(sh)
				continue
			}
			i := next
			if next++; next == sh.poolKeys {
				next = 0
			}
			key := sh.pool[i*kb : i*kb+kb]
			w.digest = (w.digest ^ (i<<2 | opClean)) * 0x100000001b3
			w.clean++
			var revoked bool
			if w.clean%benchSampleEvery == 0 {
				t0 := time.Since(sh.epoch)
				revoked = sh.e.IsRevoked(key)
				w.cleanH.add(time.Since(sh.epoch) - t0)
			} else {
				revoked = sh.e.IsRevoked(key)
			}
			if revoked {
				w.cleanT++
			}
		}
		w.ops += n
		w.done.Store(w.ops)
		if !sh.fixedOps && sh.stop.Load() {
			return
		}
	}
}

// revoke revokes the worker's next key of its own domain until now plus
// the key's lifetime.
func (w *benchWorker) revoke(sh *benchShared) error {
	k := uint64(len(w.runExp))
	id := keyID(domainRun+w.g, k)
	w.buf = sh.keys.appendKey(w.buf[:0], id)
	key := string(w.buf)
	exp := time.Now().Add(sh.keys.lifetime(id))
	w.digest = (w.digest ^ (k<<2 | opRevoke)) * 0x100000001b3
	t0 := time.Since(sh.epoch)
	err := sh.e.Revoke(key, exp)
	w.revH.add(time.Since(sh.epoch) - t0)
	if err != nil {
		return fmt.Errorf("run: revoke: %w", err)
	}
	w.runExp = append(w.runExp, exp.UnixNano())
	return nil
}

// checkRevoked checks a key revoked by the fill or by this worker, drawn
// uniformly among them, and classifies a false answer: allowed once the
// token has expired, a missed revocation before.
func (w *benchWorker) checkRevoked(sh *benchShared) {
	w.hits++
	r, _ := bits.Mul64(w.rng.Uint64(), sh.entries+uint64(len(w.runExp)))
	w.digest = (w.digest ^ (r<<2 | opHit)) * 0x100000001b3
	id := keyID(domainFill, r)
	if r >= sh.entries {
		id = keyID(domainRun+w.g, r-sh.entries)
	}
	w.buf = sh.keys.appendKey(w.buf[:0], id)
	key := string(w.buf)
	t0 := time.Since(sh.epoch)
	revoked := sh.e.IsRevoked(key)
	w.hitH.add(time.Since(sh.epoch) - t0)
	if revoked {
		w.hitTrue++
		return
	}
	now := time.Now().UnixNano() // after the answer: if before expiry now, before it then
	var expiry int64
	if r < sh.entries {
		expiry = sh.fillTimes[r/benchChunk] + int64(sh.keys.lifetime(id))
	} else {
		expiry = w.runExp[r-sh.entries]
	}
	if !missedRevocation(now, expiry) {
		w.expired++
		return
	}
	w.missed++
	if w.first == "" {
		w.first = fmt.Sprintf("key %s, expiry %s, checked at %s", key,
			time.Unix(0, expiry).UTC().Format(time.RFC3339Nano), time.Unix(0, now).UTC().Format(time.RFC3339Nano))
	}
}

// missedRevocation reports whether a check of a revoked key that answered
// false at or before now breaks the engine's guarantee: the token (expiring
// at expiry, Unix ns) had not expired yet, so it would have been accepted.
func missedRevocation(now, expiry int64) bool { return now < expiry }

// timerOverhead returns the median, in ns, of two monotonic clock reads
// around nothing: what each timed call's figure includes besides the call.
func timerOverhead() float64 {
	var h histogram
	epoch := time.Now()
	for range 20_000 {
		t0 := time.Since(epoch)
		h.add(time.Since(epoch) - t0)
	}
	v, _ := h.quantile(0.5)
	return v
}

func heapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// progressLine shows a phase's progress on a writer: on a terminal, one line
// rewritten every 500 ms; elsewhere (a log, a pipe, a test) one line a
// second.
type progressLine struct {
	w    io.Writer
	tty  bool
	stop chan struct{}
	done chan struct{}
	last int
}

func startProgress(w io.Writer, line func() string) *progressLine {
	p := &progressLine{w: w, tty: isTerminal(w), stop: make(chan struct{}), done: make(chan struct{})}
	every := time.Second
	if p.tty {
		every = 500 * time.Millisecond
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.print(line(), false)
			}
		}
	}()
	return p
}

// print writes s as the current line, or as a final one.
func (p *progressLine) print(s string, final bool) {
	if p.tty {
		pad := strings.Repeat(" ", max(p.last-len(s), 0))
		p.last = len(s)
		fmt.Fprint(p.w, "\r"+s+pad)
		if final {
			fmt.Fprintln(p.w)
		}
		return
	}
	fmt.Fprintln(p.w, s)
}

// finish stops the ticker, waits for it and prints the phase's last line.
func (p *progressLine) finish(s string) {
	close(p.stop)
	<-p.done
	p.print(s, true)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// si formats x with three significant digits and a k, M or G suffix.
func si(x float64) string {
	for _, u := range []struct {
		f float64
		s string
	}{{1e9, " G"}, {1e6, " M"}, {1e3, " k"}} {
		if x >= u.f {
			return sig3(x/u.f) + u.s
		}
	}
	return sig3(x)
}

func sig3(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// nsString formats a latency given in ns.
func nsString(ns float64) string {
	switch {
	case ns < 1:
		return "<1 ns"
	case ns < 1e3:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 1e6:
		return sig3(ns/1e3) + " µs"
	case ns < 1e9:
		return sig3(ns/1e6) + " ms"
	}
	return sig3(ns/1e9) + " s"
}

// printBenchReport writes the report and returns the exit status: 1 if a
// revocation was missed.
func printBenchReport(w io.Writer, cfg benchConfig, r *benchResult) int {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "%-15s "+format+"\n", append([]any{label}, args...)...)
	}
	pct := func(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) }
	fmt.Fprintln(w, "revoke bench: one in-memory engine, no peers, under a deny-list load")
	fmt.Fprintln(w)
	line("entries", "%d filled before the run (Config.Capacity %d)", cfg.entries, cfg.capacity)
	if cfg.ops > 0 {
		line("run", "%d operations on %s", cfg.ops, plural(cfg.goroutines, "goroutine"))
	} else {
		line("run", "%v on %s", cfg.duration, plural(cfg.goroutines, "goroutine"))
	}
	line("mix", "%s of operations revoke a new key, the rest check one; %s of checks are of revoked keys",
		pct(cfg.revokes), pct(cfg.hits))
	line("lifetime", "%s (time from revocation to the token's expiry)", cfg.lifetime)
	line("keys", "%d bytes; unrevoked ones walked in order through a pool of %d, revoked ones generated when checked",
		cfg.keyBytes, poolSize(cfg.entries, cfg.keyBytes))
	line("seed", "%d", cfg.seed)
	line("go", "%s %s/%s, GOMAXPROCS %d, %d CPUs", runtime.Version(), runtime.GOOS, runtime.GOARCH, r.gomaxprocs, runtime.NumCPU())
	fmt.Fprintln(w)

	line("fill", "%d revocations in %v: %s/s (key generation included)", cfg.entries,
		r.fillTime.Round(time.Millisecond), si(float64(cfg.entries)/r.fillTime.Seconds()))
	if lost := cfg.entries - r.fillLen; lost > 0 {
		line("", "%d held after the fill: %d expired while it ran", r.fillLen, lost)
	}
	fmt.Fprintln(w)

	secs := r.runTime.Seconds()
	line("run", "%v, %d operations", r.runTime.Round(time.Millisecond), r.ops)
	line("checks/s", "%-10s (%d checks)", si(float64(r.checks)/secs), r.checks)
	line("revocations/s", "%-10s (%d revocations)", si(float64(r.revocations)/secs), r.revocations)
	line("", "(rates include the tool's own work: two PCG draws per operation, and making the key\n"+
		"%16sof each revocation and each check of a revoked key)", "")
	expected := r.hitChecks - r.hitsExpired
	line("hits", "%d of %d expected (%d checks of revoked keys; %d of them had expired, allowed to answer false)",
		r.hitsTrue, expected, r.hitChecks, r.hitsExpired)
	line("false hits", "%d checks of keys never revoked answered true (a 64-bit fingerprint collision; expect 0)", r.cleanTrue)
	line("digest", "%016x (the operation sequences: same --seed, --goroutines and --ops, same digest)", r.digest)
	fmt.Fprintln(w)

	fmt.Fprintf(w, "latency          %-9s %-9s %-9s samples\n", "p50", "p99", "p999")
	var all histogram
	all.merge(&r.clean, benchSampleEvery)
	all.merge(&r.hit, 1)
	row := func(label string, h *histogram, samples string) {
		q := func(p float64) string {
			v, ok := h.quantile(p)
			if !ok {
				return "-"
			}
			return nsString(v - r.timerOverhead)
		}
		fmt.Fprintf(w, "  %-14s %-9s %-9s %-9s %s\n", label, q(0.5), q(0.99), q(0.999), samples)
	}
	row("check", &all, fmt.Sprintf("weighted: unrevoked ×%d + revoked", benchSampleEvery))
	row("  unrevoked", &r.clean, fmt.Sprintf("%d (1 in %d timed)", r.clean.total(), benchSampleEvery))
	row("  revoked", &r.hit, fmt.Sprintf("%d (all timed)", r.hit.total()))
	row("revoke", &r.rev, fmt.Sprintf("%d (all timed)", r.rev.total()))
	fmt.Fprintf(w, "  each call timed alone between two monotonic clock reads, minus their median cost\n"+
		"  around nothing (%s here); resolution about 3%%\n", nsString(r.timerOverhead))
	fmt.Fprintln(w)

	fmt.Fprintf(w, "memory           %-12s %s\n", "after fill", "at end")
	fmt.Fprintf(w, "  %-14s %-12d %d\n", "entries", r.fillLen, r.endLen)
	perEntry := func(b, n int) string { return fmt.Sprintf("%.1f B", float64(b)/float64(max(n, 1))) }
	fmt.Fprintf(w, "  %-14s %-12s %s   (heap after GC, the engine's share / entries)\n", "heap/entry",
		fmt.Sprintf("%.1f B", r.fillHeap), fmt.Sprintf("%.1f B", r.endHeap))
	fmt.Fprintf(w, "  %-14s %-12s %s   (Stats().Bytes / Len())\n", "bytes/entry",
		perEntry(r.fillBytes, r.fillLen), perEntry(r.stats.Bytes, r.endLen))
	if r.endLen > cfg.capacity {
		fmt.Fprintf(w, "  the run's revocations took the engine past Config.Capacity %d: its tables grew\n"+
			"  during the run (--capacity sizes them up front)\n", cfg.capacity)
	}
	fmt.Fprintln(w)
	line("evictions", "%d (entries past their deadline, evicted by the engine's 1 s tick)", r.stats.Evictions)
	line("filter", "%s estimated false-positive rate, %d rebuilds, %.1f MiB",
		pct(r.stats.FilterFalsePositiveRate), r.stats.FilterRebuilds, float64(r.stats.FilterBytes)/(1<<20))
	line("gc", "%d cycles during the run, %v total pause", r.gcCycles, r.gcPause.Round(time.Microsecond))
	fmt.Fprintln(w)

	if r.missed > 0 {
		fmt.Fprintf(w, "ERROR: %d checks of revoked keys answered false before the token expired: a revoked\n"+
			"token would have been accepted. This is a security bug in the engine. First: %s\n", r.missed, r.firstMissed)
		return 1
	}
	fmt.Fprintln(w, "OK: every check of a revoked, unexpired key answered true")
	return 0
}
