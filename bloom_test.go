package revoke

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
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
