package revoke

import (
	"sync"
	"sync/atomic"
)

// A shard owns one slice of the fingerprint space (fp & shardMask): an
// open-addressing table of records and the expiry wheel of those records,
// both guarded by mu. Shards share nothing, so growing or expiring one never
// blocks readers or writers of another.
type shard struct {
	mu sync.RWMutex
	// tab holds the records of this shard. Guarded by mu.
	tab table
	// wheel schedules the eviction of every record in tab. Guarded by mu.
	wheel expiryWheel
	// pad keeps neighbouring shards' locks on different cache lines.
	_ [64]byte
}

// expire evicts the records due at now (Unix seconds) and returns how many it
// evicted, decrementing count as it goes. It examines at most cap(buf)
// fingerprints per hold of the lock. A record is evicted only if its deadline
// is at or before now, read from the table under the lock: a deadline
// extended meanwhile is rescheduled instead.
func (s *shard) expire(now int64, buf []uint64, count *atomic.Int64) int {
	evicted := 0
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wheel.advance(now)
	for {
		n := 0
		for _, fp := range s.wheel.takeDue(buf) {
			i := s.tab.find(fp)
			if i < 0 {
				continue // a duplicate wheel entry of a record already gone
			}
			if d := int64(s.tab.slots[i].deadline); d > s.wheel.now {
				s.wheel.schedule(fp, d)
				continue
			}
			s.tab.deleteAt(i)
			n++
		}
		count.Add(int64(-n))
		evicted += n
		if !s.wheel.hasPending() {
			break
		}
		// Let readers and writers of this shard in between batches.
		s.mu.Unlock()
		s.mu.Lock()
	}
	if evicted > 0 && (s.tab.maybeShrink() || s.wheel.wasteful()) {
		s.rebuildWheelLocked()
	}
	return evicted
}

// rebuildWheelLocked schedules every record of the table in a fresh wheel,
// dropping the old arena (and any duplicate entries) so that memory follows
// the live set down after a mass expiry.
func (s *shard) rebuildWheelLocked() {
	s.wheel.reset()
	for _, r := range s.tab.slots {
		if r.fp != 0 {
			s.wheel.schedule(r.fp, int64(r.deadline))
		}
	}
}

// Load factors of the table. A table is sized so that its expected share of
// Config.Capacity fills it to tableSizeLoad, grows past tableMaxLoad and
// shrinks below tableMinLoad: linear probing stays short, and memory per
// entry stays near 16/tableSizeLoad bytes.
const (
	tableSizeLoad = 0.80
	tableMaxLoad  = 0.85
	tableMinLoad  = 0.10
	tableMinSlots = 16
)

// table is an open-addressing hash set of records with linear probing and
// backward-shift deletion (no tombstones). Slot 0-fingerprints are empty.
// The home slot of a fingerprint is chosen by multiply-shift ("fastrange") on
// its top 32 bits, so the table size need not be a power of two and can be
// sized close to the expected load. Not safe for concurrent use: the shard's
// lock guards it.
type table struct {
	slots []record
	count int
	// minSlots is the size the table was created with; it never shrinks
	// below it.
	minSlots int
}

func newTable(expected int) table {
	n := max(int(float64(expected)/tableSizeLoad)+1, tableMinSlots)
	return table{slots: make([]record, n), minSlots: n}
}

func (t *table) home(fp uint64) int {
	return int(((fp >> 32) * uint64(len(t.slots))) >> 32)
}

// find returns the index of fp's slot, or -1.
func (t *table) find(fp uint64) int {
	n := len(t.slots)
	for i := t.home(fp); ; {
		switch t.slots[i].fp {
		case fp:
			return i
		case 0:
			return -1
		}
		if i++; i == n {
			i = 0
		}
	}
}

// insertNew stores r, whose fingerprint must not be present, growing the
// table first if it would pass tableMaxLoad.
func (t *table) insertNew(r record) {
	if float64(t.count+1) > tableMaxLoad*float64(len(t.slots)) {
		t.resize(2 * len(t.slots))
	}
	t.place(r)
	t.count++
}

// place puts r in the first free slot from its home. The caller keeps count.
func (t *table) place(r record) {
	n := len(t.slots)
	i := t.home(r.fp)
	for t.slots[i].fp != 0 {
		if i++; i == n {
			i = 0
		}
	}
	t.slots[i] = r
}

// deleteAt empties slot i and shifts later members of its probe run back, so
// that no lookup ever stops early at a hole.
func (t *table) deleteAt(i int) {
	n := len(t.slots)
	for j := i; ; {
		if j++; j == n {
			j = 0
		}
		r := t.slots[j]
		if r.fp == 0 {
			break
		}
		// r may move to the hole at i unless its home lies cyclically in
		// (i, j]: then a probe for r starts after i and must not find i.
		h := t.home(r.fp)
		if (i <= j && (h <= i || h > j)) || (i > j && h <= i && h > j) {
			t.slots[i] = r
			i = j
		}
	}
	t.slots[i] = record{}
	t.count--
}

// maybeShrink halves the table (or more) when it has become mostly empty,
// so that memory returns after a mass expiry. It reports whether it resized.
func (t *table) maybeShrink() bool {
	if len(t.slots) <= t.minSlots || float64(t.count) >= tableMinLoad*float64(len(t.slots)) {
		return false
	}
	t.resize(max(int(float64(t.count)/tableSizeLoad)+1, t.minSlots))
	return true
}

func (t *table) resize(n int) {
	old := t.slots
	t.slots = make([]record, n)
	for _, r := range old {
		if r.fp != 0 {
			t.place(r)
		}
	}
}

// sizeBytes is the memory held by the slots.
func (t *table) sizeBytes() int { return len(t.slots) * recordSize }
