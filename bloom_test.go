package revoke

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBloomHasNoFalseNegatives(t *testing.T) {
	p := newPlacement()
	f := newBloomFilter(10_000, &p)
	rng := rand.New(rand.NewPCG(3, 4))
	fps := make([]uint64, 30_000) // three times what it was sized for
	for i := range fps {
		fps[i] = rng.Uint64()
		f.add(fps[i])
	}
	for _, fp := range fps {
		if !f.mayContain(fp) {
			t.Fatalf("fingerprint %x added but not found", fp)
		}
	}
}

// TestBloomFalsePositiveRate checks the filter at its sized capacity against
// the 1% design point and against its own estimate.
func TestBloomFalsePositiveRate(t *testing.T) {
	for _, n := range []int{10_000, 200_000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			p := newPlacement()
			f := newBloomFilter(n, &p)
			for i := range n {
				f.add(fingerprint(kindKey, fmt.Sprint("revoked-", i)))
			}
			const probes = 100_000
			hits := 0
			for i := range probes {
				if f.mayContain(fingerprint(kindKey, fmt.Sprint("clean-", i))) {
					hits++
				}
			}
			rate := float64(hits) / probes
			assert.Less(t, rate, 0.0125, "measured false-positive rate")
			est := f.estimatedFPRate()
			assert.InDelta(t, rate, est, 0.3*est, "estimate %.4f vs measured %.4f", est, rate)
		})
	}
}

func TestBloomEstimateGrowsWithLoad(t *testing.T) {
	assert.Zero(t, blockedBloomFPRate(0, 10))
	prev := 0.0
	for _, n := range []float64{10, 100, 1000, 10_000} {
		r := blockedBloomFPRate(n, 20)
		assert.Greater(t, r, prev)
		assert.LessOrEqual(t, r, 1.0)
		prev = r
	}
	assert.InDelta(t, 1.0, blockedBloomFPRate(1e9, 1), 1e-9, "saturated filter")
}

// TestBloomFalsePositiveRateOnAdversarialKeys: the filter used to take its
// in-block bit positions from the fingerprint's top 32 bits, the bits that
// also picked the home slot, so fingerprints with zero top bits saw a 12-50 %
// false-positive rate. Word and bits now come from disjoint bits of a keyed
// mix: structured fingerprint sets, added and probed, must see the rate of
// random ones (1 % at 12 bits an entry; the bound leaves room for the
// sampling error of 200,000 probes).
func TestBloomFalsePositiveRateOnAdversarialKeys(t *testing.T) {
	const n, probes = 87_000, 200_000 // 12.05 bits an entry: the 1 % design point
	rng := rand.New(rand.NewPCG(5, 6))
	sets := []struct {
		name string
		gen  func(i int) uint64
	}{
		{"random", func(int) uint64 { return rng.Uint64() }},
		{"top 32 bits zero", func(int) uint64 { return uint64(rng.Uint32()) | 1 }},
		{"low 32 bits zero", func(int) uint64 { return uint64(rng.Uint32()|1) << 32 }},
		{"consecutive", func(i int) uint64 { return uint64(i) + 1 }},
		{"one bit each", func(i int) uint64 { return 1<<(i%64) | uint64(i/64)<<1 }},
		{"top 40 bits of the old block mixer equal", func(i int) uint64 { return (uint64(i) + 1) * 0x9e3779b97f4a7c15 >> 24 }},
	}
	for _, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			p := newPlacement()
			f := newBloomFilter(n, &p)
			added := make(map[uint64]bool, n)
			for i := 0; len(added) < n; i++ {
				fp := set.gen(i)
				added[fp] = true
				f.add(fp)
			}
			hits, probed := 0, 0
			for i := n; probed < probes; i++ {
				fp := set.gen(i)
				if added[fp] {
					continue
				}
				probed++
				if f.mayContain(fp) {
					hits++
				}
			}
			rate := float64(hits) / probes
			t.Logf("false-positive rate %.4f (estimate %.4f)", rate, f.estimatedFPRate())
			assert.Less(t, rate, 0.0125)
		})
	}
}

// TestBloomWordsArePowersOfTwo: the word index is a mask, so every size
// must be a power of two with at least bloomBitsPerEntry bits an entry.
func TestBloomWordsArePowersOfTwo(t *testing.T) {
	for _, entries := range []int{1, 5, 6, 1000, 1 << 20, 1<<20 + 1, 10_000_000, MaxCapacity} {
		w := bloomWordsFor(entries)
		assert.Equal(t, 0, w&(w-1), "%d entries: %d words", entries, w)
		assert.GreaterOrEqual(t, w*64, entries*bloomBitsPerEntry, "%d entries", entries)
		assert.Less(t, w*64, 2*entries*bloomBitsPerEntry+64, "%d entries", entries)
	}
}

// TestNoRebuildStormAtMaxCapacity: a filter sized for MaxCapacity cannot be
// rebuilt any larger, so an overfull one must not start a rebuild every tick
// (each a scan of every entry); a smaller overfull one is rebuilt.
func TestNoRebuildStormAtMaxCapacity(t *testing.T) {
	for _, tt := range []struct {
		name     string
		sizedFor int
		rebuilds uint64
	}{
		{"overfull below MaxCapacity", 1 << 10, 1},
		{"overfull at MaxCapacity", MaxCapacity, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := newEngine(Config{Shards: 16})
			require.NoError(t, err)
			f := &bloomFilter{words: make([]uint64, 1), key: e.place.filter, sizedFor: tt.sizedFor}
			for i := range 200 {
				f.add(uint64(i) + 1)
			}
			require.Greater(t, f.estimatedFPRate(), bloomRebuildFPRate)
			e.filter.Store(f)
			e.maybeRebuildFilter()
			e.workers.Wait()
			assert.Equal(t, tt.rebuilds, e.rebuilds.Load())
		})
	}
}
