package bench

import (
	"fmt"
	"sync"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/jellydator/ttlcache/v3"
	"github.com/jwtrevoke/revoke"
	"github.com/maypok86/otter/v2"
	gocache "github.com/patrickmn/go-cache"
)

// DenyList is what the benchmarks drive: remember a revoked token's key
// until its expiry, and answer whether a key is revoked. Implementations
// are safe for concurrent use.
type DenyList interface {
	// Revoke remembers key until expiresAt.
	Revoke(key string, expiresAt time.Time) error
	// IsRevoked reports whether key was revoked and its token has not
	// expired.
	IsRevoked(key string) bool
	// Close stops the goroutines the implementation started, if it can.
	Close() error
}

// Flusher is implemented by deny lists whose writes are applied
// asynchronously: Flush waits until every accepted write is visible.
type Flusher interface{ Flush() }

// Impl describes one deny-list implementation of the comparison.
type Impl struct {
	// Name is the impl= value of the benchmark names.
	Name string
	// Note says what the implementation cannot do safely as a deny list
	// ("" when nothing); the results table prints it beside its figures.
	Note string
	// New returns an empty deny list expecting about n live entries.
	New func(n int) (DenyList, error)
}

// LRUTTL is the one TTL of the expirable LRU: it has no per-entry expiry,
// so it must keep every entry as long as the longest-lived token.
const LRUTTL = MaxLifetime

// Impls are the in-process implementations, revoke's first and the
// expirable LRU last: an LRU is never freed (its sweeper goroutine holds it),
// and what it leaves would add to the GC figures of the implementations
// measured after it in the same process. Redis is added by the benchmarks
// when a server is available (see redis.go).
var Impls = []Impl{
	{Name: "revoke", New: func(n int) (DenyList, error) { return revoke.New(revoke.Config{Capacity: n}) }},
	{Name: "otter", New: func(n int) (DenyList, error) { return NewOtter(n) }},
	{Name: "ristretto", Note: "drops Sets under load (Set returns false; lost-%); at MaxCost it evicts or rejects live entries",
		New: func(n int) (DenyList, error) { return NewRistretto(n, int64(2*n)+1024) }},
	{Name: "ttlcache", Note: "one global lock; ~3 heap objects per entry",
		New: func(n int) (DenyList, error) { return NewTTLCache(), nil }},
	{Name: "gocache", Note: "the janitor sweeps the whole map under the write lock every interval (1 min here)",
		New: func(n int) (DenyList, error) { return NewGoCache(time.Minute), nil }},
	{Name: "mutexmap", Note: "baseline: expired entries are never removed (no sweep written)",
		New: func(n int) (DenyList, error) { return NewMutexMap(n), nil }},
	{Name: "syncmap", Note: "baseline: expired entries are never removed (no sweep written)",
		New: func(n int) (DenyList, error) { return new(SyncMap), nil }},
	{Name: "lru", Note: "one TTL for the whole cache (24 h); at its size cap (n) it evicts live entries; never freed (sweeper goroutine never exits)",
		New: func(n int) (DenyList, error) { return NewLRU(n, LRUTTL), nil }},
}

// RedisPipe is the number of commands the redis-pipe benchmarks send per
// round trip.
const RedisPipe = 100

// ImplNames are the impl= values of the benchmarks, in table order.
var ImplNames = func() []string {
	var names []string
	for _, im := range Impls {
		names = append(names, im.Name)
	}
	return append(names, "redis", "redis-pipe")
}()

// Notes holds, by impl= value, what the implementation cannot do safely
// as a deny list, or what its figures assume.
var Notes = func() map[string]string {
	m := map[string]string{
		"redis":      "one loopback round trip per call; a server to run",
		"redis-pipe": fmt.Sprintf("%d commands per round trip: only for callers that can batch; a server to run", RedisPipe),
	}
	for _, im := range Impls {
		m[im.Name] = im.Note
	}
	return m
}()

// Otter is github.com/maypok86/otter/v2 with per-entry expiry: the value is
// the token's expiry (Unix ns) and ExpiryWritingFunc turns it into the
// entry's lifetime. No MaximumSize: the cache never evicts a live entry.
type Otter struct{ c *otter.Cache[string, int64] }

// NewOtter returns an unbounded otter cache sized for n entries.
func NewOtter(n int) (*Otter, error) {
	c, err := otter.New(&otter.Options[string, int64]{
		InitialCapacity: n,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, int64]) time.Duration {
			return time.Until(time.Unix(0, e.Value))
		}),
	})
	if err != nil {
		return nil, err
	}
	return &Otter{c: c}, nil
}

func (o *Otter) Revoke(key string, exp time.Time) error {
	o.c.Set(key, exp.UnixNano())
	return nil
}

func (o *Otter) IsRevoked(key string) bool {
	_, ok := o.c.GetIfPresent(key)
	return ok
}

func (o *Otter) Close() error { o.c.StopAllGoroutines(); return nil }

// Ristretto is github.com/dgraph-io/ristretto/v2 with SetWithTTL, cost 1
// per entry. Sets pass through a buffer that drops them when the policy
// goroutine falls behind (SetWithTTL returns false): Revoke reports that as
// ErrDropped, but a deny list whose caller ignores the bool loses the
// revocation. Dropped counts the drops.
type Ristretto struct {
	c       *ristretto.Cache[string, struct{}]
	mu      sync.Mutex
	dropped int
}

// ErrDropped is returned by Ristretto.Revoke when ristretto dropped the Set.
var ErrDropped = fmt.Errorf("bench: ristretto dropped the Set")

// NewRistretto returns a ristretto cache with 10 counters per expected
// entry (its documentation's advice) and room for maxCost entries.
func NewRistretto(n int, maxCost int64) (*Ristretto, error) {
	c, err := ristretto.NewCache(&ristretto.Config[string, struct{}]{
		NumCounters:        int64(10*n) + 1024,
		MaxCost:            maxCost,
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, err
	}
	return &Ristretto{c: c}, nil
}

func (r *Ristretto) Revoke(key string, exp time.Time) error {
	if !r.c.SetWithTTL(key, struct{}{}, 1, time.Until(exp)) {
		r.mu.Lock()
		r.dropped++
		r.mu.Unlock()
		return ErrDropped
	}
	return nil
}

func (r *Ristretto) IsRevoked(key string) bool {
	_, ok := r.c.Get(key)
	return ok
}

// Flush waits until the buffered Sets are applied.
func (r *Ristretto) Flush() { r.c.Wait() }

// Dropped returns the number of Sets ristretto refused so far.
func (r *Ristretto) Dropped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

func (r *Ristretto) Close() error { r.c.Close(); return nil }

// TTLCache is github.com/jellydator/ttlcache/v3 with a per-item TTL, touch
// on hit disabled (a read must not extend a revocation) and its expiry
// goroutine started.
type TTLCache struct {
	c *ttlcache.Cache[string, struct{}]
}

// NewTTLCache returns an unbounded ttlcache with its cleaner running.
func NewTTLCache() *TTLCache {
	c := ttlcache.New(ttlcache.WithDisableTouchOnHit[string, struct{}]())
	go c.Start()
	return &TTLCache{c: c}
}

func (t *TTLCache) Revoke(key string, exp time.Time) error {
	t.c.Set(key, struct{}{}, time.Until(exp))
	return nil
}

func (t *TTLCache) IsRevoked(key string) bool { return t.c.Has(key) }

func (t *TTLCache) Close() error { t.c.Stop(); return nil }

// GoCache is github.com/patrickmn/go-cache with a per-item duration and
// one cleanup interval (0: no janitor; Get still refuses expired items).
type GoCache struct{ c *gocache.Cache }

// NewGoCache returns a go-cache whose janitor runs every cleanup.
func NewGoCache(cleanup time.Duration) *GoCache {
	return &GoCache{c: gocache.New(gocache.NoExpiration, cleanup)}
}

func (g *GoCache) Revoke(key string, exp time.Time) error {
	g.c.Set(key, nil, time.Until(exp))
	return nil
}

func (g *GoCache) IsRevoked(key string) bool {
	_, ok := g.c.Get(key)
	return ok
}

// Close does nothing: go-cache's janitor stops when the cache is garbage.
func (g *GoCache) Close() error { return nil }

// LRU is github.com/hashicorp/golang-lru/v2/expirable: one TTL for every
// entry and a size cap. Revoke ignores the token's expiry (the API has no
// per-entry TTL): an entry lives ttl from its last Add, however long its
// token lives, and adding beyond the cap evicts the oldest entry even if
// its token is still valid.
type LRU struct {
	c *expirable.LRU[string, struct{}]
}

// NewLRU returns an expirable LRU of at most size entries, each kept ttl.
func NewLRU(size int, ttl time.Duration) *LRU {
	return &LRU{c: expirable.NewLRU[string, struct{}](size, nil, ttl)}
}

func (l *LRU) Revoke(key string, _ time.Time) error {
	l.c.Add(key, struct{}{})
	return nil
}

// IsRevoked uses Get, which checks the expiry (Contains does not).
func (l *LRU) IsRevoked(key string) bool {
	_, ok := l.c.Get(key)
	return ok
}

// Close empties the cache: v2.0.7 offers no way to stop its sweeper
// goroutine, which keeps the cache reachable forever.
func (l *LRU) Close() error { l.c.Purge(); return nil }

// MutexMap is the baseline a Go developer writes first: key to deadline
// (Unix s) behind a sync.RWMutex. It never removes expired entries (a sweep
// would be the next thing to write).
type MutexMap struct {
	mu sync.RWMutex
	m  map[string]int64 // guarded by mu
}

// NewMutexMap returns a map sized for n entries.
func NewMutexMap(n int) *MutexMap { return &MutexMap{m: make(map[string]int64, n)} }

func (d *MutexMap) Revoke(key string, exp time.Time) error {
	d.mu.Lock()
	if exp.Unix() > d.m[key] {
		d.m[key] = exp.Unix()
	}
	d.mu.Unlock()
	return nil
}

func (d *MutexMap) IsRevoked(key string) bool {
	d.mu.RLock()
	exp, ok := d.m[key]
	d.mu.RUnlock()
	return ok && exp > time.Now().Unix()
}

func (d *MutexMap) Close() error { return nil }

// SyncMap is the other baseline: a sync.Map of key to deadline (Unix s),
// without removal of expired entries.
type SyncMap struct{ m sync.Map }

func (d *SyncMap) Revoke(key string, exp time.Time) error {
	d.m.Store(key, exp.Unix())
	return nil
}

func (d *SyncMap) IsRevoked(key string) bool {
	v, ok := d.m.Load(key)
	return ok && v.(int64) > time.Now().Unix()
}

func (d *SyncMap) Close() error { return nil }
