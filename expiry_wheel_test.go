package revoke

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWheelHandsOutEveryDeadlineInTime schedules deadlines from a second to
// years ahead (every level and the overflow bucket), advances time in steps
// from one second to months, and checks after every step that each
// fingerprint due by then has been handed out and evicted, and that none has
// been evicted early or lost.
func TestWheelHandsOutEveryDeadlineInTime(t *testing.T) {
	steps := []struct {
		name    string
		maxStep int64
	}{
		{"seconds", 3},
		{"minutes", 300},
		{"days", 3 * 86400},
		{"months", 90 * 86400},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(st.maxStep), 7))
			start := int64(1_700_000_000) + rng.Int64N(1<<20)
			w := newExpiryWheel(start)
			deadlines := map[uint64]int64{} // the "table"
			horizons := []int64{64, 4096, 1 << 18, 1 << 24, 1 << 27}
			for i := range 5_000 {
				fp := uint64(i + 1)
				d := start + 1 + rng.Int64N(horizons[i%len(horizons)])
				deadlines[fp] = d
				w.schedule(fp, d)
			}
			// Some deadlines are extended after scheduling, as Revoke does.
			for fp := uint64(1); fp <= 500; fp++ {
				deadlines[fp] += rng.Int64N(1 << 20)
				w.schedule(fp, deadlines[fp])
			}
			buf := make([]uint64, 0, 256)
			now := start
			for step := 0; len(deadlines) > 0; step++ {
				now += 1 + rng.Int64N(st.maxStep)
				if step == 2000 {
					now = start + 1<<28 // drain: past every deadline
				}
				w.advance(now)
				for w.hasPending() {
					for _, fp := range w.takeDue(buf) {
						d, held := deadlines[fp]
						if !held {
							continue // duplicate of an extended entry
						}
						if d <= now {
							delete(deadlines, fp)
						} else {
							w.schedule(fp, d)
						}
					}
				}
				if step%50 != 0 && len(deadlines) > 100 {
					continue // a full check every 50 steps keeps the test fast
				}
				for fp, d := range deadlines {
					require.Greater(t, d, now, "fingerprint %d due at %d not handed out by %d", fp, d, now)
				}
				require.GreaterOrEqual(t, w.entries, len(deadlines), "a pending fingerprint was lost")
			}
			assert.Zero(t, w.entries)
			assert.Zero(t, w.usedChunks)
		})
	}
}

func TestWheelIgnoresTimeGoingBack(t *testing.T) {
	w := newExpiryWheel(1000)
	w.schedule(42, 1001)
	w.advance(999)
	w.advance(1000)
	assert.False(t, w.hasPending())
	assert.EqualValues(t, 1000, w.now)
	w.advance(1001)
	require.True(t, w.hasPending())
	assert.Equal(t, []uint64{42}, w.takeDue(make([]uint64, 0, 64)))
}

func TestWheelSchedulesOverdueOnNextAdvance(t *testing.T) {
	w := newExpiryWheel(1000)
	w.schedule(7, 900) // due by the wheel's clock already
	w.advance(1001)
	assert.Equal(t, []uint64{7}, w.takeDue(make([]uint64, 0, 64)))
}

func TestWheelTakeDueIsBounded(t *testing.T) {
	w := newExpiryWheel(0)
	for i := range 10_000 {
		w.schedule(uint64(i+1), 5)
	}
	w.advance(5)
	buf := make([]uint64, 0, 1000)
	seen := map[uint64]bool{}
	batches := 0
	for w.hasPending() {
		got := w.takeDue(buf)
		require.LessOrEqual(t, len(got), 1000)
		require.NotEmpty(t, got)
		for _, fp := range got {
			seen[fp] = true
		}
		batches++
	}
	assert.Len(t, seen, 10_000)
	assert.GreaterOrEqual(t, batches, 10)
}

func TestWheelArenaIsReused(t *testing.T) {
	w := newExpiryWheel(0)
	for round := range 5 {
		for i := range 5000 {
			w.schedule(uint64(i+1), int64(round+1))
		}
		w.advance(int64(round + 1))
		for w.hasPending() {
			w.takeDue(make([]uint64, 0, 4096))
		}
	}
	assert.LessOrEqual(t, w.allocatedChunks(), 5000/wheelChunkLen+2, "freed chunks are reused")
	assert.False(t, w.wasteful() && w.usedChunks > 0)
	w.reset()
	assert.Zero(t, w.sizeBytes())
}

func TestTableDeleteKeepsProbeRunsIntact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{16, 100, 1000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			tab := &table{}
			tab.init(size, &identityPlacement)
			ref := map[uint64]bool{}
			for range 8 * size {
				// Few distinct top bits force long probe runs and wrap-around.
				fp := rng.Uint64N(uint64(size)*4)<<50 | rng.Uint64N(1<<20) | 1
				if i := tab.find(fp); i >= 0 {
					require.True(t, ref[fp])
					if rng.IntN(2) == 0 {
						tab.deleteAt(i)
						delete(ref, fp)
					}
				} else {
					require.False(t, ref[fp])
					tab.insertNew(record{fp: fp, deadline: 1})
					ref[fp] = true
				}
				if rng.IntN(50) == 0 {
					tab.maybeShrink()
				}
			}
			require.Equal(t, len(ref), tab.count)
			for fp := range ref {
				require.GreaterOrEqual(t, tab.find(fp), 0)
			}
		})
	}
}
