package revoke

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// identityPlacement places a fingerprint by its own bits (both rounds of
// keyedMix multiply by 1 and XOR 0), as the engine did before placement was
// keyed: tests of the table's structure use it to build probe runs at will.
var identityPlacement = placement{table: [4]uint64{0, 1, 0, 1}, filter: [4]uint64{0, 1, 0, 1}}

// fpWithHome returns a fingerprint whose home slot in a table of n slots
// placed by identityPlacement is h, distinct for each tag.
func fpWithHome(h, n int, tag uint32) uint64 {
	hi := (uint64(h)<<32 + uint64(n) - 1) / uint64(n) // smallest top half with home h
	return hi<<32 | uint64(tag)
}

// TestLockFreeLookupSurvivesBackwardShifts races lock-free lookups of one
// record against a writer that keeps moving it: every record of a cluster
// shares one home slot; the writer deletes the record at the head of the
// cluster (backward-shifting the rest, the watched record included) and
// re-inserts it at the tail, and now and then sends the watched record back
// to the tail. A probe without the sequence check can then run past the
// watched record's old slot just before it moves behind the probe; lookup must
// never miss it.
//
// The window for a torn view is a few nanoseconds, so the test logs how many
// the unchecked probe saw (typically a handful under -race, often none
// without); it also runs the race detector over every slot access of both
// sides. The protocol's argument is in shard.lookup's doc comment.
func TestLockFreeLookupSurvivesBackwardShifts(t *testing.T) {
	const n, home, cluster = 64, 8, 24
	s := &shard{}
	s.tab.init(51, &identityPlacement) // 51/0.8+1 = 64 slots
	require.Equal(t, n, len(s.tab.slots), "the crafted homes assume this size")
	watched := fpWithHome(home, n, 1000)
	fps := []uint64{watched}
	for i := range cluster - 1 {
		fps = append(fps, fpWithHome(home, n, uint32(i+1)))
	}
	for _, fp := range fps {
		s.tab.insertNew(record{fp: fp, deadline: 1})
	}

	// absent is odd while the writer has removed the watched record itself.
	var absent atomic.Int64
	stop := make(chan struct{})
	var checked, misses, tornWithoutSeq atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			a := absent.Load()
			_, ok := s.lookup(watched, watched)
			_, okRaw := s.tab.findShared(watched, watched)
			if a%2 == 0 && absent.Load() == a {
				checked.Add(1)
				if !ok {
					misses.Add(1)
				}
				if !okRaw {
					tornWithoutSeq.Add(1)
				}
			}
		}
	})
	deadline := time.Now().Add(time.Second)
	for round := 0; time.Now().Before(deadline) || checked.Load() < 1000; round++ {
		s.lockWrite()
		head := s.tab.slots[home]
		if head.fp == watched || round%cluster == 0 {
			// Send the watched record to the tail so that it has far to
			// shift back again; readers do not count meanwhile.
			absent.Add(1)
			s.tab.deleteAt(s.tab.find(watched))
			s.tab.insertNew(record{fp: watched, deadline: 1})
			absent.Add(1)
		} else {
			s.tab.deleteAt(home)
			s.tab.insertNew(head)
		}
		s.unlockWrite()
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, misses.Load(), "lock-free lookup missed a record that was present (%d checks)", checked.Load())
	t.Logf("%d checks; a probe without the sequence check missed %d times", checked.Load(), tornWithoutSeq.Load())
	assert.Equal(t, cluster, s.tab.count)
}

// probeStats returns the longest distance of a record from its home slot
// over every table of e, and the sum of those distances: the slots that
// inserts walked past to place them, and that lookups walk again.
func probeStats(e *Engine) (longest, total int) {
	for i := range e.shards {
		t := &e.shards[i].tab
		n := len(t.slots)
		for j, r := range t.slots {
			if r.fp == 0 {
				continue
			}
			d := (j - t.homeOf(r.fp, n) + n) % n
			longest = max(longest, d)
			total += d
		}
	}
	return longest, total
}

// TestCraftedKeysCostWhatRandomKeysCost crafts keys the way a hash-flooding
// attacker would against unkeyed placement (identityPlacement, the engine's
// placement before issue 13: shard from the fingerprint's low bits, home slot
// from its top 32 bits): every key lands in shard 0, within the first 64
// slots of its table. Inserting 20,000 of them took 312 ms against 2.7 ms for
// random keys, and a lookup walked up to 20,000 slots. With placement keyed
// by the engine's secret they must probe as random keys do.
func TestCraftedKeysCostWhatRandomKeysCost(t *testing.T) {
	const shards, capacity = 16, 32_000
	n := 3000
	if testing.Short() {
		n = 1000
	}
	slots := tableSlotsFor(capacity / shards)
	var crafted []string
	for i := 0; len(crafted) < n; i++ {
		k := "crafted-" + strconv.Itoa(i)
		h := identityPlacement.tableHash(fingerprint(kindKey, k))
		if h&(shards-1) == 0 && home(h, slots) < 64 {
			crafted = append(crafted, k)
		}
	}
	random := make([]string, n)
	for i := range random {
		random[i] = "random-" + strconv.Itoa(i)
	}
	measure := func(keys []string) (longest, total int) {
		e := newTestEngine(t, Config{Capacity: capacity, Shards: shards})
		for _, k := range keys {
			require.NoError(t, e.Revoke(k, time.Now().Add(time.Hour)))
		}
		for _, k := range keys {
			require.True(t, e.IsRevoked(k))
		}
		return probeStats(e)
	}
	// Against unkeyed placement the crafted keys form one probe run.
	ref := &shard{}
	ref.tab.init(capacity/shards, &identityPlacement)
	for _, k := range crafted {
		ref.tab.insertNew(record{fp: fingerprint(kindKey, k), deadline: 1})
	}
	refLongest := 0
	for j, r := range ref.tab.slots {
		if r.fp != 0 {
			refLongest = max(refLongest, (j-ref.tab.homeOf(r.fp, len(ref.tab.slots))+len(ref.tab.slots))%len(ref.tab.slots))
		}
	}
	require.Greater(t, refLongest, n-64, "the crafted keys pile up under unkeyed placement")

	cLongest, cTotal := measure(crafted)
	rLongest, rTotal := measure(random)
	t.Logf("%d keys: longest probe run crafted %d, random %d; slots walked crafted %d, random %d (unkeyed: %d)",
		n, cLongest, rLongest, cTotal, rTotal, refLongest)
	assert.LessOrEqual(t, cLongest, 3*rLongest+8, "longest probe run of crafted keys")
	assert.LessOrEqual(t, cTotal, 3*rTotal+64, "slots walked by the inserts of crafted keys")
}

// TestShardPlacementIsOneFunction: the recovery loader buckets records by
// shardIndex and inserts them into that shard; Revoke, lookups and the
// loader must agree on it, or a replayed revocation would sit in a shard
// where no lookup looks for it.
func TestShardPlacementIsOneFunction(t *testing.T) {
	e := newTestEngine(t, Config{Shards: 64})
	for i := range 2000 {
		fp := fingerprint(kindKey, strconv.Itoa(i))
		s := e.shardOf(fp)
		require.Same(t, &e.shards[e.shardIndex(fp)], s)
		if i%2 == 0 {
			s.lockWrite()
			require.NoError(t, e.applyLocked(s, record{fp: fp, deadline: maxDeadline}, true))
			s.unlockWrite()
		} else {
			require.NoError(t, e.apply(record{fp: fp, deadline: maxDeadline}, true))
		}
		i, found := s.tab.slotOf(fp, e.place.tableHash(fp))
		require.True(t, found)
		require.Equal(t, fp, s.tab.slots[i].fp)
		_, ok := e.lookup(fp)
		require.True(t, ok)
	}
	other := newTestEngine(t, Config{Shards: 64})
	assert.NotEqual(t, e.place, other.place, "every engine draws its own secret")
}
