package bench

import (
	"errors"
	"fmt"
	"math/bits"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	StopRedis()
	os.Exit(code)
}

// benchSizes are the numbers of live entries to measure: REVOKE_BENCH_SIZES
// (for example "1M,10M"), or 10k by default so that CI's one-shot run of
// every benchmark stays fast.
func benchSizes(tb testing.TB) []int {
	env := os.Getenv("REVOKE_BENCH_SIZES")
	if env == "" {
		return []int{10_000}
	}
	var sizes []int
	for _, f := range strings.Split(env, ",") {
		n, err := parseSize(strings.TrimSpace(f))
		if err != nil {
			tb.Fatalf("REVOKE_BENCH_SIZES: %v", err)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1_000, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "M"):
		mult, s = 1_000_000, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q (want a count like 10000, 10k, 1M)", s)
	}
	return n * mult, nil
}

func sizeLabel(n int) string {
	switch {
	case n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n%1_000 == 0:
		return strconv.Itoa(n/1_000) + "k"
	}
	return strconv.Itoa(n)
}

// keySets are the keys of one size, shared by every implementation:
// revoked (filled before the workloads run), clean (never revoked) and
// fresh (revoked by the workloads).
type keySets struct {
	n                     int
	revoked, clean, fresh *KeySet
}

func newKeySets(n int) *keySets {
	return &keySets{n: n, revoked: NewKeySet(1, n), clean: NewKeySet(2, n), fresh: NewKeySet(3, n)}
}

// workloads, in the order they run on one filled deny list.
type workload struct {
	name string
	// per 10 000 operations: revocations, then checks of revoked keys;
	// the rest check keys never revoked.
	revokes, hits int
}

var workloads = []workload{
	{"hit", 0, 10_000},
	{"miss", 0, 0},
	{"mix", 100, 99}, // 1% revoke; 1% of the checks are on revoked tokens
	{"revoke", 10_000, 0},
}

// benchImpl is an implementation under benchmark: an in-process deny list
// or Redis (single calls, or pipelines of pipe commands).
type benchImpl struct {
	Impl
	redis bool
	pipe  int
	err   error // why it cannot run
}

func benchImpls() []benchImpl {
	var out []benchImpl
	for _, im := range Impls {
		out = append(out, benchImpl{Impl: im})
	}
	_, _, err := RedisServer()
	out = append(out,
		benchImpl{Impl: Impl{Name: "redis", Note: Notes["redis"]}, redis: true, err: err},
		benchImpl{Impl: Impl{Name: "redis-pipe", Note: Notes["redis-pipe"]}, redis: true, pipe: RedisPipe, err: err})
	return out
}

// BenchmarkDenyList fills each implementation once per size with the same
// n revoked keys (token lifetimes 15 min to 24 h), then runs on it:
//
//	case=memory  bytes per live entry (heap after GC; Redis: used_memory),
//	             the time of one forced GC with it live (gc-ms), the share
//	             of the n revocations it does not report right after the
//	             fill (lost-%), the fill time per entry
//	case=hit     checks of revoked keys
//	case=miss    checks of keys never revoked
//	case=mix     1% revocations, 99% checks of which 1% on revoked keys
//	case=revoke  revocations of new keys (after n of them, the same keys
//	             again with a later expiry)
//
// Checks report wrong-%: the share answered wrongly (a revoked key said
// not revoked, or the reverse). Run with -cpu 1,2; compare with
// `benchstat -col /impl`.
func BenchmarkDenyList(b *testing.B) {
	impls := benchImpls()
	for _, n := range benchSizes(b) {
		b.Run("size="+sizeLabel(n), func(b *testing.B) {
			ks := newKeySets(n)
			for _, im := range impls {
				b.Run("impl="+im.Name, func(b *testing.B) {
					if im.err != nil {
						b.Skip(im.err)
					}
					benchImplementation(b, im, ks)
				})
				release()
			}
		})
	}
}

func release() {
	runtime.GC()
	debug.FreeOSMemory()
}

// filled is a deny list holding the n revoked keys, with what its filling
// measured.
type filled struct {
	d        DenyList
	r        *Redis // when d is Redis
	pipe     int
	bytes    float64 // per entry
	gcMs     float64 // -1: not applicable
	lostPct  float64
	fillNs   float64 // per entry
	freshCtr atomic.Int64
}

func benchImplementation(b *testing.B, im benchImpl, ks *keySets) {
	// Lifetimes start at this fill: every implementation runs its
	// workloads within minutes of it, well before the shortest token
	// (15 min) expires.
	ks.revoked.Rebase()
	ks.clean.Rebase()
	ks.fresh.Rebase()
	f := fill(b, im, ks)
	defer func() { _ = f.d.Close() }()
	b.Run("case=memory", func(b *testing.B) {
		// Figures of the fill: nothing runs per iteration.
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(f.bytes, "B/entry")
		if f.gcMs >= 0 {
			b.ReportMetric(f.gcMs, "gc-ms")
		}
		b.ReportMetric(f.lostPct, "lost-%")
		b.ReportMetric(f.fillNs, "fill-ns/entry")
	})
	for _, w := range workloads {
		b.Run("case="+w.name, func(b *testing.B) { runWorkload(b, f, ks, w) })
	}
}

func fill(b *testing.B, im benchImpl, ks *keySets) *filled {
	b.Helper()
	n := ks.n
	f := &filled{gcMs: -1, pipe: im.pipe}
	if im.redis {
		addr, db, err := RedisServer()
		if err != nil {
			b.Skip(err)
		}
		r := NewRedis(addr, db)
		f.d, f.r = r, r
		if err := r.FlushDB(); err != nil {
			b.Fatal(err)
		}
		before, err := r.UsedMemory()
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := r.Fill(ks.revoked, n); err != nil {
			b.Fatal(err)
		}
		f.fillNs = float64(time.Since(start).Nanoseconds()) / float64(n)
		after, err := r.UsedMemory()
		if err != nil {
			b.Fatal(err)
		}
		f.bytes = float64(after-before) / float64(n)
		present, err := r.Present(ks.revoked, n)
		if err != nil {
			b.Fatal(err)
		}
		f.lostPct = 100 * float64(n-present) / float64(n)
		return f
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	d, err := im.New(n)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		// A clone, as a key parsed from a request would be: what keeps
		// the key keeps its own copy.
		if err := d.Revoke(strings.Clone(ks.revoked.Key(i)), ks.revoked.ExpiresAt(i, 0)); err != nil && !errors.Is(err, ErrDropped) {
			b.Fatal(err)
		}
	}
	if fl, ok := d.(Flusher); ok {
		fl.Flush()
	}
	f.fillNs = float64(time.Since(start).Nanoseconds()) / float64(n)
	runtime.GC()
	runtime.ReadMemStats(&after)
	f.d = d
	f.bytes = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	var gcs []float64
	for range 3 {
		t := time.Now()
		runtime.GC()
		gcs = append(gcs, float64(time.Since(t).Microseconds())/1000)
	}
	slices.Sort(gcs)
	f.gcMs = gcs[1]
	lost := 0
	for i := range n {
		if !d.IsRevoked(ks.revoked.Key(i)) {
			lost++
		}
	}
	f.lostPct = 100 * float64(lost) / float64(n)
	return f
}

// gen is one goroutine's operation generator: a wyrand state for the
// operation mix and cursors walking the key sets (each goroutine from its
// own random start). Fresh keys are taken from a counter shared per deny
// list, 64 at a time.
type gen struct {
	s                  uint64
	n                  int
	rev, clean         int
	freshLo, freshHi   int64
	freshCtr           *atomic.Int64
	revokes, hitsLimit uint64
}

func newGen(seed uint64, n int, w workload, ctr *atomic.Int64) *gen {
	g := &gen{s: seed*0x9e3779b97f4a7c15 + 1, n: n, freshCtr: ctr,
		revokes: uint64(w.revokes), hitsLimit: uint64(w.revokes + w.hits)}
	g.rev = int(g.rand() % uint64(n))
	g.clean = int(g.rand() % uint64(n))
	return g
}

func (g *gen) rand() uint64 {
	g.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(g.s, g.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

const (
	opMiss = iota
	opHit
	opRevoke
)

// next returns the next operation and its key index; for a revocation, the
// extra seconds of expiry (one more per pass over the fresh keys).
func (g *gen) next() (op, i int, extra int64) {
	r := g.rand() % 10_000
	switch {
	case r < g.revokes:
		if g.freshLo == g.freshHi {
			g.freshHi = g.freshCtr.Add(64)
			g.freshLo = g.freshHi - 64
		}
		j := g.freshLo
		g.freshLo++
		return opRevoke, int(j % int64(g.n)), j / int64(g.n)
	case r < g.hitsLimit:
		if g.rev++; g.rev == g.n {
			g.rev = 0
		}
		return opHit, g.rev, 0
	default:
		if g.clean++; g.clean == g.n {
			g.clean = 0
		}
		return opMiss, g.clean, 0
	}
}

// counts are one goroutine's tallies, added up after the run.
type counts struct {
	checks, wrong, revokes, dropped, errs atomic.Int64
}

func runWorkload(b *testing.B, f *filled, ks *keySets, w workload) {
	b.ReportAllocs()
	var seeds atomic.Uint64
	var c counts
	var firstErr atomic.Value
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := newGen(seeds.Add(1)+uint64(time.Now().UnixNano()), ks.n, w, &f.freshCtr)
		var checks, wrong, revokes, dropped, errs int64
		if f.pipe > 0 {
			batch := f.r.NewBatch()
			for pb.Next() {
				switch op, i, extra := g.next(); op {
				case opRevoke:
					revokes++
					batch.Revoke(ks.fresh.Key(i), ks.fresh.ExpiresAt(i, extra))
				case opHit:
					checks++
					batch.Check(ks.revoked.Key(i), true)
				default:
					checks++
					batch.Check(ks.clean.Key(i), false)
				}
				if batch.Len() == f.pipe {
					bad, err := batch.Exec()
					wrong += int64(bad)
					if err != nil {
						errs++
						firstErr.CompareAndSwap(nil, err)
					}
				}
			}
			bad, err := batch.Exec()
			wrong += int64(bad)
			if err != nil {
				errs++
				firstErr.CompareAndSwap(nil, err)
			}
		} else {
			d := f.d
			for pb.Next() {
				switch op, i, extra := g.next(); op {
				case opRevoke:
					revokes++
					if err := d.Revoke(ks.fresh.Key(i), ks.fresh.ExpiresAt(i, extra)); err != nil {
						if errors.Is(err, ErrDropped) {
							dropped++
						} else {
							errs++
							firstErr.CompareAndSwap(nil, err)
						}
					}
				case opHit:
					checks++
					if !d.IsRevoked(ks.revoked.Key(i)) {
						wrong++
					}
				default:
					checks++
					if d.IsRevoked(ks.clean.Key(i)) {
						wrong++
					}
				}
			}
		}
		c.checks.Add(checks)
		c.wrong.Add(wrong)
		c.revokes.Add(revokes)
		c.dropped.Add(dropped)
		c.errs.Add(errs)
	})
	b.StopTimer()
	if c.errs.Load() > 0 {
		b.Fatalf("%d operations failed, first: %v", c.errs.Load(), firstErr.Load())
	}
	if f.r != nil && f.r.Errors() > 0 {
		b.Fatalf("%d Redis checks failed", f.r.Errors())
	}
	if n := c.checks.Load(); n > 0 {
		b.ReportMetric(100*float64(c.wrong.Load())/float64(n), "wrong-%")
	}
	if _, ok := f.d.(*Ristretto); ok && c.revokes.Load() > 0 {
		b.ReportMetric(100*float64(c.dropped.Load())/float64(c.revokes.Load()), "dropped-%")
	}
}

type atomicCounter struct{ v atomic.Int64 }

// noop is a deny list that does nothing: BenchmarkHarness measures what the
// workload loop itself costs (generator, key slicing, an interface call).
type noop struct{}

func (noop) Revoke(string, time.Time) error { return nil }
func (noop) IsRevoked(string) bool          { return false }
func (noop) Close() error                   { return nil }

// BenchmarkHarness runs the workloads of BenchmarkDenyList on a deny list
// that does nothing: its ns/op is included in every implementation's.
func BenchmarkHarness(b *testing.B) {
	for _, n := range benchSizes(b) {
		ks := newKeySets(n)
		f := &filled{d: noop{}}
		for _, w := range workloads {
			if w.name == "hit" {
				continue // noop answers wrongly by design
			}
			b.Run("size="+sizeLabel(n)+"/case="+w.name, func(b *testing.B) { runWorkload(b, f, ks, w) })
		}
	}
}
