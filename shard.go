package revoke

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// A shard owns one slice of the fingerprint space (see Engine.shardIndex): an
// open-addressing table of records and the expiry wheel of those records.
// Shards share nothing, so growing or expiring one never blocks readers or
// writers of another.
//
// Writers (insert, merge, eviction, resize) hold mu exclusively and bracket
// their changes with seq (lockWrite/unlockWrite), a sequence lock: seq is odd
// while a writer may be changing the table. Lookups take no lock: they read
// seq, probe the table with atomic loads and read seq again, and retry if a
// writer came in between (see lookup). Table scans that must see a stable
// table (filter rebuilds, Stats) take mu for reading.
type shard struct {
	mu  sync.RWMutex
	seq atomic.Uint64
	// tab holds the records of this shard. Written under mu (exclusive)
	// within a seq-bracketed section; read lock-free by lookup.
	tab table
	// wheel schedules the eviction of every record in tab. Guarded by mu.
	wheel expiryWheel
	// count is the number of records in tab: written under mu, read
	// lock-free by Engine.Len.
	count atomic.Int64
	// pad keeps neighbouring shards' hot words on different cache lines.
	_ [64]byte
}

// shardBytes is the fixed size of a shard (its lock, counters and the
// wheel's bucket heads), which Stats counts with the tables and wheels.
// unsafe.Sizeof is a compile-time constant: no pointer is converted.
const shardBytes = int(unsafe.Sizeof(shard{}))

func (s *shard) lockWrite() {
	s.mu.Lock()
	s.seq.Add(1)
}

func (s *shard) unlockWrite() {
	s.seq.Add(1)
	s.mu.Unlock()
}

// lookupRetries is how many lock-free attempts a lookup makes before it
// waits for the writer on the read lock.
const lookupRetries = 4

// lookup returns the record of fp, whose table hash is h, if held. It takes
// no lock unless writers keep changing the shard under it: the sequence-lock
// read succeeds only if seq was even and unchanged around the probe, which
// means no writer touched the table meanwhile, so the probe saw a consistent
// table at least as new as every write that had completed when lookup
// started.
func (s *shard) lookup(fp, h uint64) (record, bool) {
	for range lookupRetries {
		v := s.seq.Load()
		if v&1 != 0 {
			continue
		}
		r, ok := s.tab.findShared(fp, h)
		if s.seq.Load() == v {
			return r, ok
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if i := s.tab.find(fp); i >= 0 {
		return s.tab.slots[i], true
	}
	return record{}, false
}

// expire evicts the records due at now (Unix seconds) and returns how many it
// evicted. It examines at most cap(buf) fingerprints per hold of the lock. A
// record is evicted only if its deadline is at or before now, read from the
// table under the lock: a deadline extended meanwhile is rescheduled instead.
// reserved, if not nil, is the engine's MaxEntries reservation count, which
// evictions give back.
func (s *shard) expire(now int64, buf []uint64, reserved *atomic.Int64) int {
	evicted := 0
	s.lockWrite()
	defer s.unlockWrite()
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
		if n > 0 {
			s.count.Add(int64(-n))
			if reserved != nil {
				reserved.Add(int64(-n))
			}
		}
		evicted += n
		if !s.wheel.hasPending() {
			break
		}
		// Let readers and writers of this shard in between batches.
		s.unlockWrite()
		s.lockWrite()
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
// backward-shift deletion (no tombstones). A zero fingerprint marks an empty
// slot. The home slot of a fingerprint is chosen by multiply-shift
// ("fastrange") on the top 32 bits of its keyed table hash (see placement),
// so the table size need not be a power of two and can be sized close to the
// expected load, and no key set crafted offline shares a probe run.
//
// Writers call every method but findShared with the shard's lock held; they
// store into slots atomically, and publish a resized slice through shared,
// because findShared reads slots concurrently with them.
type table struct {
	// place keys the home slots; the engine's, shared by its shards.
	place  *placement
	slots  []record
	shared atomic.Pointer[[]record]
	count  int
	// minSlots is the size the table was created with; it never shrinks
	// below it.
	minSlots int
}

// init sizes an empty table for expected records, placed by place.
func (t *table) init(expected int, place *placement) {
	t.place = place
	t.minSlots = tableSlotsFor(expected)
	t.setSlots(make([]record, t.minSlots))
}

// tableSlotsFor is the size of a new table for expected records.
func tableSlotsFor(expected int) int {
	return max(int(float64(expected)/tableSizeLoad)+1, tableMinSlots)
}

func (t *table) setSlots(slots []record) {
	t.slots = slots
	t.shared.Store(&slots)
}

// home returns the home slot, in a table of n slots, of the fingerprint whose
// table hash is h.
func home(h uint64, n int) int {
	return int(((h >> 32) * uint64(n)) >> 32)
}

// homeOf returns fp's home slot in a table of n slots.
func (t *table) homeOf(fp uint64, n int) int { return home(t.place.tableHash(fp), n) }

// find returns the index of fp's slot, or -1. Called with the lock held.
func (t *table) find(fp uint64) int {
	if i, found := t.slotOf(fp, t.place.tableHash(fp)); found {
		return i
	}
	return -1
}

// slotOf returns the index of fp's slot and true, or, if fp is not held,
// the index of the empty slot where its probe ended and false (where
// insertAt will store it). h is fp's table hash. Called with the lock held.
func (t *table) slotOf(fp, h uint64) (int, bool) {
	n := len(t.slots)
	for i := home(h, n); ; {
		switch t.slots[i].fp {
		case fp:
			return i, true
		case 0:
			return i, false
		}
		if i++; i == n {
			i = 0
		}
	}
}

// findShared is find for lock-free readers, given fp's table hash h: atomic
// loads only, and at most one pass over the slots, since a view torn by a
// concurrent writer may lack the empty slot that ends a probe (the caller's
// sequence check then discards the answer).
func (t *table) findShared(fp, h uint64) (record, bool) {
	slots := *t.shared.Load()
	n := len(slots)
	i := home(h, n)
	for range n {
		r := &slots[i]
		switch atomic.LoadUint64(&r.fp) {
		case fp:
			return record{fp: fp, deadline: atomic.LoadUint32(&r.deadline), value: atomic.LoadUint32(&r.value)}, true
		case 0:
			return record{}, false
		}
		if i++; i == n {
			i = 0
		}
	}
	return record{}, false
}

// store writes r into slot i for concurrent findShared readers.
func (t *table) store(i int, r record) {
	s := &t.slots[i]
	atomic.StoreUint64(&s.fp, r.fp)
	atomic.StoreUint32(&s.deadline, r.deadline)
	atomic.StoreUint32(&s.value, r.value)
}

// merge raises slot i's deadline and value to at least those given.
func (t *table) merge(i int, deadline, value uint32) {
	s := &t.slots[i]
	if value > s.value {
		atomic.StoreUint32(&s.value, value)
	}
	if deadline > s.deadline {
		atomic.StoreUint32(&s.deadline, deadline)
	}
}

// insertNew stores r, whose fingerprint must not be present, growing the
// table first if it would pass tableMaxLoad.
func (t *table) insertNew(r record) {
	h := t.place.tableHash(r.fp)
	t.insertAt(r, h, t.freeSlot(h))
}

// insertAt is insertNew given r's table hash h and free, the empty slot
// that ended a probe for r (slotOf) since the table last changed.
func (t *table) insertAt(r record, h uint64, free int) {
	if float64(t.count+1) > tableMaxLoad*float64(len(t.slots)) {
		t.resize(2 * len(t.slots))
		free = t.freeSlot(h)
	}
	t.store(free, r)
	t.count++
}

// freeSlot returns the first free slot from the home of the fingerprint
// whose table hash is h.
func (t *table) freeSlot(h uint64) int {
	n := len(t.slots)
	i := home(h, n)
	for t.slots[i].fp != 0 {
		if i++; i == n {
			i = 0
		}
	}
	return i
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
		h := t.homeOf(r.fp, n)
		if (i <= j && (h <= i || h > j)) || (i > j && h <= i && h > j) {
			t.store(i, r)
			i = j
		}
	}
	t.store(i, record{})
	t.count--
}

// maybeShrink shrinks the table when it has become mostly empty, so that
// memory returns after a mass expiry. It reports whether it resized.
func (t *table) maybeShrink() bool {
	if len(t.slots) <= t.minSlots || float64(t.count) >= tableMinLoad*float64(len(t.slots)) {
		return false
	}
	t.resize(max(int(float64(t.count)/tableSizeLoad)+1, t.minSlots))
	return true
}

// resize rehashes into n slots. The new slice is filled before it is
// published, so readers see either the old table or the complete new one.
func (t *table) resize(n int) {
	old := t.slots
	slots := make([]record, n)
	for _, r := range old {
		if r.fp != 0 {
			i := t.homeOf(r.fp, n)
			for slots[i].fp != 0 {
				if i++; i == n {
					i = 0
				}
			}
			slots[i] = r
		}
	}
	t.setSlots(slots)
}

// sizeBytes is the memory held by the slots.
func (t *table) sizeBytes() int { return len(t.slots) * recordSize }
