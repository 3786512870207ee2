package revoke

// expiryWheel is a hierarchical timing wheel in power-of-two seconds that
// tells its shard which fingerprints to look at, and when.
//
// Level L has 64 buckets of 64^L seconds each: 64×1 s, 64×64 s, 64×4096 s
// and 64×2^18 s, so the wheel spans 2^24 s (194 days); anything later waits
// in an overflow bucket that is looked at every 2^18 s. A fingerprint due at
// second D goes to the lowest level whose span covers D-now, in the bucket
// numbered by D's bits at that level. When time enters a bucket's range the
// bucket is detached and its fingerprints examined: those due are evicted,
// the rest are placed again, one level lower (the "cascade").
//
// The wheel only says when to look. The shard's table is the truth: an
// examined fingerprint is evicted only if its record's deadline has passed,
// and otherwise rescheduled at that deadline. So a deadline extended after
// scheduling, or a duplicate entry, can delay a look but never hasten an
// eviction, and a wall clock that steps backwards (advance ignores time that
// does not move forward) delays eviction too.
//
// Buckets are singly linked lists of fixed-size chunks of fingerprints, linked
// by integer index into an arena of pages: nothing in the wheel is a pointer
// the garbage collector must follow per entry. Not safe for concurrent use:
// the shard's lock guards it.
type expiryWheel struct {
	// now is the wheel's time in Unix seconds: every fingerprint due at or
	// before it has been handed out for examination.
	now int64
	// buckets hold chunk references (index+1; 0 is an empty list).
	buckets  [wheelLevels][wheelBuckets]uint32
	overflow uint32
	// pending holds detached chunks whose fingerprints still await
	// examination, consumed in bounded batches by takeDue.
	pending uint32
	// pages is the chunk arena; chunk i lives at pages[i/pageChunks][i%pageChunks].
	pages [][]wheelChunk
	// free is the list of reusable chunks (linked through next).
	free uint32
	// usedChunks counts chunks in buckets, overflow and pending.
	usedChunks int
	// entries counts fingerprints held (duplicates included).
	entries int
}

const (
	wheelLevels     = 4
	wheelBucketBits = 6
	wheelBuckets    = 1 << wheelBucketBits
	wheelChunkLen   = 62 // 62×8 + 8 bytes = 504 bytes a chunk
	wheelPageChunks = 16 // 8 KiB pages
	wheelChunkBytes = wheelChunkLen*8 + 8
)

type wheelChunk struct {
	fps  [wheelChunkLen]uint64
	n    uint32
	next uint32 // index+1 of the next chunk in the list; 0 ends it
}

func newExpiryWheel(now int64) expiryWheel { return expiryWheel{now: now} }

func (w *expiryWheel) chunk(ref uint32) *wheelChunk {
	i := ref - 1
	return &w.pages[i/wheelPageChunks][i%wheelPageChunks]
}

// schedule arranges for fp to be examined at deadline (Unix seconds).
func (w *expiryWheel) schedule(fp uint64, deadline int64) {
	w.push(w.bucketFor(deadline), fp)
}

func (w *expiryWheel) bucketFor(deadline int64) *uint32 {
	delta := deadline - w.now
	if delta <= 0 {
		// Already due by the wheel's clock (possible after the wall clock
		// stepped back): look at it on the next advance.
		return &w.buckets[0][(w.now+1)&(wheelBuckets-1)]
	}
	for level := range wheelLevels {
		shift := uint(level * wheelBucketBits)
		if delta < 1<<(shift+wheelBucketBits) {
			return &w.buckets[level][(deadline>>shift)&(wheelBuckets-1)]
		}
	}
	return &w.overflow
}

func (w *expiryWheel) push(head *uint32, fp uint64) {
	w.entries++
	if *head != 0 {
		if c := w.chunk(*head); c.n < wheelChunkLen {
			c.fps[c.n] = fp
			c.n++
			return
		}
	}
	ref := w.allocChunk()
	c := w.chunk(ref)
	c.fps[0], c.n, c.next = fp, 1, *head
	*head = ref
}

func (w *expiryWheel) allocChunk() uint32 {
	w.usedChunks++
	if ref := w.free; ref != 0 {
		w.free = w.chunk(ref).next
		return ref
	}
	last := len(w.pages) - 1
	if last < 0 || len(w.pages[last]) == wheelPageChunks {
		w.pages = append(w.pages, make([]wheelChunk, 0, wheelPageChunks))
		last++
	}
	w.pages[last] = w.pages[last][:len(w.pages[last])+1]
	return uint32(last*wheelPageChunks + len(w.pages[last]))
}

func (w *expiryWheel) freeChunk(ref uint32) {
	w.usedChunks--
	c := w.chunk(ref)
	c.n, c.next = 0, w.free
	w.free = ref
}

// advance moves the wheel's time to now, detaching every bucket whose range
// time has entered into the pending list. It does no per-entry work, so it
// is cheap under the lock; takeDue hands the entries out in batches. Time
// that does not move forward is ignored.
func (w *expiryWheel) advance(now int64) {
	if now <= w.now {
		return
	}
	prev := w.now
	for level := range wheelLevels {
		shift := uint(level * wheelBucketBits)
		from, to := prev>>shift, now>>shift
		if from == to {
			break // higher levels have not moved either
		}
		first := max(from+1, to-wheelBuckets+1)
		for k := first; k <= to; k++ {
			w.detach(&w.buckets[level][k&(wheelBuckets-1)])
		}
		if level == wheelLevels-1 {
			w.detach(&w.overflow)
		}
	}
	w.now = now
}

// detach moves the list at head onto the pending list.
func (w *expiryWheel) detach(head *uint32) {
	ref := *head
	if ref == 0 {
		return
	}
	*head = 0
	tail := w.chunk(ref)
	for tail.next != 0 {
		tail = w.chunk(tail.next)
	}
	tail.next = w.pending
	w.pending = ref
}

// takeDue moves pending fingerprints into buf, whole chunks at a time, up to
// cap(buf), and returns it. The caller examines each one and evicts or
// reschedules it.
func (w *expiryWheel) takeDue(buf []uint64) []uint64 {
	buf = buf[:0]
	for w.pending != 0 {
		c := w.chunk(w.pending)
		if len(buf)+int(c.n) > cap(buf) {
			break
		}
		buf = append(buf, c.fps[:c.n]...)
		ref := w.pending
		w.pending = c.next
		w.freeChunk(ref)
	}
	w.entries -= len(buf)
	return buf
}

// hasPending reports whether takeDue has more to hand out.
func (w *expiryWheel) hasPending() bool { return w.pending != 0 }

// wasteful reports whether most of the arena is free chunks, after a mass
// expiry: the shard then rebuilds the wheel from its table with reset, so
// memory returns to what the live set needs.
func (w *expiryWheel) wasteful() bool {
	allocated := w.allocatedChunks()
	return allocated > 4*wheelPageChunks && w.usedChunks*4 < allocated
}

func (w *expiryWheel) allocatedChunks() int {
	if len(w.pages) == 0 {
		return 0
	}
	return (len(w.pages)-1)*wheelPageChunks + len(w.pages[len(w.pages)-1])
}

// reset empties the wheel and drops its arena, keeping its time.
func (w *expiryWheel) reset() { *w = expiryWheel{now: w.now} }

// sizeBytes is the memory held by the arena.
func (w *expiryWheel) sizeBytes() int { return len(w.pages) * wheelPageChunks * wheelChunkBytes }
