package revoke

import (
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
