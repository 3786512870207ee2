package bench

import (
	"errors"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// perEntryTTL are the implementations with a per-entry expiry, built so
// that every goroutine they start stops at Close (go-cache without its
// janitor: Get refuses expired items by itself), as synctest requires.
func perEntryTTL() []Impl {
	var out []Impl
	for _, im := range Impls {
		switch im.Name {
		case "lru": // one TTL for the cache: TestLRU*
		case "gocache":
			out = append(out, Impl{Name: im.Name, New: func(int) (DenyList, error) { return NewGoCache(0), nil }})
		default:
			out = append(out, im)
		}
	}
	return out
}

func flush(d DenyList) {
	if f, ok := d.(Flusher); ok {
		f.Flush()
	}
}

func TestImplsAnswerRevokedAndUnknown(t *testing.T) {
	for _, im := range Impls {
		t.Run(im.Name, func(t *testing.T) {
			d, err := im.New(16)
			require.NoError(t, err)
			defer func() { assert.NoError(t, d.Close()) }()
			exp := time.Now().Add(time.Hour)
			require.NoError(t, d.Revoke("revoked-token", exp))
			flush(d)
			assert.True(t, d.IsRevoked("revoked-token"), "a revoked key is reported")
			assert.False(t, d.IsRevoked("other-token"), "an unknown key is not")
		})
	}
}

// TestPerEntryExpiry: a revocation lasts until its own token's expiry, not
// a second less, and is forgotten after it.
func TestPerEntryExpiry(t *testing.T) {
	for _, im := range perEntryTTL() {
		t.Run(im.Name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				d, err := im.New(16)
				require.NoError(t, err)
				now := time.Now()
				require.NoError(t, d.Revoke("short", now.Add(10*time.Minute)))
				require.NoError(t, d.Revoke("long", now.Add(24*time.Hour)))
				flush(d)
				time.Sleep(10*time.Minute - 2*time.Second)
				assert.True(t, d.IsRevoked("short"), "kept until its token expires")
				time.Sleep(4 * time.Second)
				assert.False(t, d.IsRevoked("short"), "forgotten once its token has expired")
				assert.True(t, d.IsRevoked("long"), "the other entry keeps its own expiry")
				require.NoError(t, d.Close())
			})
		})
	}
}

// TestLRUEvictsLiveEntriesAtCap: at its size cap the expirable LRU evicts
// the oldest entry, although its token is valid for another hour: the
// revoked token is accepted again.
func TestLRUEvictsLiveEntriesAtCap(t *testing.T) {
	d := NewLRU(2, time.Hour)
	defer d.Close()
	exp := time.Now().Add(time.Hour)
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, d.Revoke(k, exp))
	}
	assert.False(t, d.IsRevoked("a"), "expected the LRU to evict a live revocation at its cap")
	assert.True(t, d.IsRevoked("c"))
}

// TestLRUOneTTLForgetsLongTokens: the expirable LRU has one TTL for the
// whole cache and ignores the token's expiry: a token that lives longer
// than that TTL is forgotten while it is still valid. (Real time: the LRU's
// sweeper goroutine never exits, which synctest does not allow.)
func TestLRUOneTTLForgetsLongTokens(t *testing.T) {
	t.Parallel()
	d := NewLRU(10, 50*time.Millisecond)
	defer d.Close()
	require.NoError(t, d.Revoke("a", time.Now().Add(time.Hour)))
	assert.True(t, d.IsRevoked("a"))
	time.Sleep(150 * time.Millisecond)
	assert.False(t, d.IsRevoked("a"), "expected the LRU to forget a token valid for another hour")
}

// TestRistrettoDropsSets: ristretto's Sets go through a buffer; when its
// goroutine falls behind, SetWithTTL returns false and the revocation is
// not stored. A deny list that ignores the bool loses revocations.
func TestRistrettoDropsSets(t *testing.T) {
	const n = 300_000
	ks := NewKeySet(7, n)
	// A burst of n Sets from one goroutine; a machine busy elsewhere may
	// let ristretto's goroutine keep up with one burst, rarely with three.
	for attempt := 1; ; attempt++ {
		dropped := ristrettoBurst(t, ks)
		if dropped > 0 || attempt == 3 {
			assert.Positive(t, dropped, "expected ristretto to drop some of %d Sets made in a burst", n)
			return
		}
	}
}

func ristrettoBurst(t *testing.T, ks *KeySet) int {
	n := ks.Len()
	d, err := NewRistretto(n, int64(2*n))
	require.NoError(t, err)
	defer d.Close()
	var dropped []int
	for i := range n {
		if err := d.Revoke(ks.Key(i), ks.ExpiresAt(i, 0)); err != nil {
			require.ErrorIs(t, err, ErrDropped)
			dropped = append(dropped, i)
		}
	}
	d.Flush()
	for _, i := range dropped {
		require.False(t, d.IsRevoked(ks.Key(i)), "a dropped Set is not stored")
	}
	present := 0
	for i := range n {
		if d.IsRevoked(ks.Key(i)) {
			present++
		}
	}
	t.Logf("ristretto: %d of %d Sets dropped, %d revocations present after Wait", len(dropped), n, present)
	assert.Equal(t, len(dropped), d.Dropped())
	assert.Equal(t, n-len(dropped), present, "every accepted Set is present")
	return len(dropped)
}

// TestRistrettoLosesLiveEntriesAtMaxCost: past MaxCost ristretto evicts or
// refuses (TinyLFU admission) entries whose tokens are still valid.
func TestRistrettoLosesLiveEntriesAtMaxCost(t *testing.T) {
	const maxCost, n = 100, 1_000
	d, err := NewRistretto(maxCost, maxCost)
	require.NoError(t, err)
	defer d.Close()
	exp := time.Now().Add(time.Hour)
	for i := range n {
		err := d.Revoke("k"+strconv.Itoa(i), exp)
		require.True(t, err == nil || errors.Is(err, ErrDropped))
		if i%50 == 0 {
			d.Flush()
		}
	}
	d.Flush()
	present := 0
	for i := range n {
		if d.IsRevoked("k" + strconv.Itoa(i)) {
			present++
		}
	}
	assert.LessOrEqual(t, present, maxCost, "at most MaxCost revocations kept out of %d live ones", n)
}

func TestKeySet(t *testing.T) {
	a, b := NewKeySet(1, 1000), NewKeySet(1, 1000)
	other := NewKeySet(2, 1000)
	seen := map[string]bool{}
	for i := range a.Len() {
		k := a.Key(i)
		require.Len(t, k, KeyLen)
		assert.Equal(t, k, b.Key(i), "same seed, same keys")
		assert.NotEqual(t, k, other.Key(i))
		assert.False(t, seen[k], "distinct keys")
		seen[k] = true
		life := time.Until(a.ExpiresAt(i, 0))
		assert.True(t, life > MinLifetime-time.Minute && life <= MaxLifetime, "lifetime %v", life)
	}
}

func TestGenMix(t *testing.T) {
	var ctr atomicCounter
	g := newGen(1, 1000, workloads[2], &ctr.v)
	var ops [3]int
	const total = 1_000_000
	for range total {
		op, i, _ := g.next()
		require.True(t, i >= 0 && i < 1000)
		ops[op]++
	}
	assert.InDelta(t, 0.01, float64(ops[opRevoke])/total, 0.001, "1% revocations")
	assert.InDelta(t, 0.01, float64(ops[opHit])/float64(ops[opHit]+ops[opMiss]), 0.001, "1% of checks on revoked keys")
	assert.Equal(t, int64(ops[opRevoke]+63)/64*64, ctr.v.Load(), "fresh keys taken 64 at a time")
}

func TestParseSize(t *testing.T) {
	for s, want := range map[string]int{"10k": 10_000, "1M": 1_000_000, "10M": 10_000_000, "1500": 1500} {
		n, err := parseSize(s)
		require.NoError(t, err)
		assert.Equal(t, want, n)
		assert.Equal(t, s, sizeLabel(n))
	}
	_, err := parseSize("lots")
	assert.Error(t, err)
}

func TestRedis(t *testing.T) {
	addr, db, err := RedisServer()
	if err != nil {
		t.Skip(err)
	}
	t.Parallel()
	r := NewRedis(addr, db)
	defer r.Close()
	require.NoError(t, r.FlushDB())
	require.NoError(t, r.Revoke("revoked-token", time.Now().Add(time.Hour)))
	assert.True(t, r.IsRevoked("revoked-token"))
	assert.False(t, r.IsRevoked("other-token"))

	ks := NewKeySet(9, 2500)
	require.NoError(t, r.Fill(ks, ks.Len()))
	present, err := r.Present(ks, ks.Len())
	require.NoError(t, err)
	assert.Equal(t, ks.Len(), present)
	b := r.NewBatch()
	b.Check(ks.Key(0), true)
	b.Check("other-token", true) // wrong on purpose
	wrong, err := b.Exec()
	require.NoError(t, err)
	assert.Equal(t, 1, wrong)

	require.NoError(t, r.Revoke("short", time.Now().Add(time.Second)))
	assert.True(t, r.IsRevoked("short"))
	time.Sleep(2100 * time.Millisecond)
	assert.False(t, r.IsRevoked("short"), "EXAT expires the key")
	assert.Zero(t, r.Errors())
	used, err := r.UsedMemory()
	require.NoError(t, err)
	assert.Positive(t, used)
}
