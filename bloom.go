package revoke

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// Register-blocked bloom filter: the fast path for the common "not revoked"
// answer.
//
// Each fingerprint maps to one 64-bit word and sets up to bloomHashes bits
// in it, all taken from one keyed mix of the fingerprint (see placement): the
// word from the top bits, the bit positions from six-bit fields of the low
// bits, so the two never share bits. A lookup is one mix, one load and one
// compare: no loop, no branch per bit, and no bounds check (the word count
// is a power of two and the index a mask of it). Bits are read with atomic
// loads and set with atomic ORs: lookups take no lock and race with inserts
// safely. A bloom filter cannot delete, so the engine rebuilds it from the
// live set when too much of what it holds has expired (see
// Engine.maybeRebuildFilter).
//
// A 64-bit block needs more bits per entry than a 512-bit one for the same
// false-positive rate (its load varies more from block to block): 12 bits
// and 5 hashes give 1 % where a 512-bit block needs 10 and 7. The word count
// is rounded up to a power of two, so a filter has 12 to 24 bits per entry
// at the size it was made for: 0.2–1 % false positives.

const (
	// bloomBitsPerEntry is the least number of bits a filter gives each of
	// the entries it is sized for; rounding up to a power of two gives
	// up to twice as many.
	bloomBitsPerEntry = 12
	// bloomHashes is the number of bits an entry sets in its word.
	bloomHashes = 5
	// bloomIndexShift is where the word index starts in the keyed mix:
	// bits 0..29 are the five six-bit bit positions.
	bloomIndexShift = 6 * bloomHashes
	// bloomMaxWords bounds a filter at 2 GiB (2^28 words): enough for
	// MaxCapacity entries at bloomBitsPerEntry.
	bloomMaxWords = 1 << 28
)

type bloomFilter struct {
	// words are the filter's bits; len(words) is a power of two.
	words []uint64
	// key is the engine's filter placement key (placement.filter).
	key [4]uint64
	// sizedFor is the number of entries the filter was sized for.
	sizedFor int
	// added is on a cache line of its own: revocations bump it on every
	// insert, and a line shared with words and key would be taken away
	// from every core's lookups each time (false sharing).
	_ [64]byte
	// added counts insertions (re-insertions of a present key included), the
	// input of the false-positive estimate.
	added atomic.Int64
	_     [56]byte
}

// newBloomFilter returns a filter sized for entries (at least 1, at most
// MaxCapacity) at bloomBitsPerEntry, placed by key.
func newBloomFilter(entries int, key *placement) *bloomFilter {
	entries = min(max(entries, 1), MaxCapacity)
	return &bloomFilter{words: make([]uint64, bloomWordsFor(entries)), key: key.filter, sizedFor: entries}
}

// bloomWordsFor is the word count of a filter sized for entries (1 to
// MaxCapacity): a power of two, at least bloomBitsPerEntry bits an entry.
func bloomWordsFor(entries int) int {
	need := (uint64(entries)*bloomBitsPerEntry + 63) / 64
	return int(min(uint64(1)<<bits.Len64(need-1), bloomMaxWords))
}

// bloomMask returns the bits of the word an entry with keyed mix h sets.
func bloomMask(h uint64) uint64 {
	return 1<<(h&63) | 1<<(h>>6&63) | 1<<(h>>12&63) | 1<<(h>>18&63) | 1<<(h>>24&63)
}

// add sets the bits of fp. Safe for concurrent use with add and mayContain.
func (f *bloomFilter) add(fp uint64) {
	h := keyedMix(fp, &f.key)
	m := bloomMask(h)
	w := &f.words[(h>>bloomIndexShift)&uint64(len(f.words)-1)]
	if atomic.LoadUint64(w)&m != m {
		atomic.OrUint64(w, m)
	}
	f.added.Add(1)
}

// mayContain reports whether fp may have been added. A false answer is
// certain. It allocates nothing and takes no lock: one keyed mix, one atomic
// load, one compare.
func (f *bloomFilter) mayContain(fp uint64) bool {
	h := keyedMix(fp, &f.key)
	words := f.words
	if len(words) == 0 {
		return true // never: a filter has a word; this proves the index in range
	}
	m := bloomMask(h)
	return atomic.LoadUint64(&words[(h>>bloomIndexShift)&uint64(len(words)-1)])&m == m
}

// region returns which of regions equal, consecutive ranges of words fp's
// word lies in: bulk loads add fingerprints region by region so that the
// words they touch stay in cache (see Engine.buildFilter).
func (f *bloomFilter) region(fp uint64, regions int) int {
	i := (keyedMix(fp, &f.key) >> bloomIndexShift) & uint64(len(f.words)-1)
	return int(i * uint64(regions) / uint64(len(f.words)))
}

// sizeBytes is the memory held by the filter's bits.
func (f *bloomFilter) sizeBytes() int { return len(f.words) * 8 }

// estimatedFPRate estimates the false-positive rate of the filter after n
// insertions: a word receives Poisson(n/words) keys, and a word holding j
// keys answers a random probe "maybe" with probability
// (1-(1-1/64)^(k·j))^k.
func (f *bloomFilter) estimatedFPRate() float64 {
	return blockedBloomFPRate(float64(f.added.Load()), float64(len(f.words)))
}

func blockedBloomFPRate(n, blocks float64) float64 {
	if n <= 0 || blocks <= 0 {
		return 0
	}
	lambda := n / blocks
	if lambda > 1000 {
		// Saturated: a word of 64 bits with a thousand keys in it has
		// every bit set (1-(1-1/64)^5000 rounds to 1). The sum below would
		// also cancel catastrophically at such loads.
		return 1
	}
	spread := 10*math.Sqrt(lambda) + 10
	lo, hi := max(0, int(lambda-spread)), int(lambda+spread)
	var rate float64
	for j := lo; j <= hi; j++ {
		// Poisson(j; lambda) in log space: exp(-lambda) underflows for
		// overfull filters.
		lg, _ := math.Lgamma(float64(j + 1))
		p := math.Exp(float64(j)*math.Log(lambda) - lambda - lg)
		setFrac := 1 - math.Pow(1-1.0/64, float64(bloomHashes*j))
		rate += p * math.Pow(setFrac, bloomHashes)
	}
	return min(rate, 1)
}

// Filter rebuilds.
//
// Entries expire but a bloom filter cannot forget them, so the engine builds a
// fresh filter from the live set and swaps it in when half of what the filter
// holds has been evicted (once it holds at least half of what it was sized
// for), when its estimated false-positive rate passes bloomRebuildFPRate, or
// when the live set outgrows what it was sized for.
//
// A rebuild costs a scan of every table slot and a filter of at least
// Config.Capacity entries, whatever the live set, so each rule waits for a
// number of insertions proportional to that size: the half-expired rule
// waits for the filter to hold half of what it was sized for (below that
// its false-positive rate is a fraction of the target, dead bits or not).
// Without that floor, a thousand short-lived revocations a second made an
// engine sized for ten million entries scan 12.5M slots and allocate 16 MiB
// every second.
//
// No revocation may be missed while a rebuild runs. The protocol:
//  1. nextFilter is published before any shard is scanned, and every insert
//     adds its fingerprint to nextFilter (if set) and then to filter, under
//     its shard's lock.
//  2. Each shard is scanned under its read lock. An insert into a shard
//     either happened before the scan (the scan sees it in the table) or
//     after it, when nextFilter was already published (the insert added it).
//  3. filter is swapped to the new one before nextFilter is cleared. An
//     insert reads nextFilter first: if it reads nil, the swap is done and it
//     reads the new filter; if it reads the new filter, it adds to it.
const (
	bloomRebuildFPRate = 0.02
	// bloomMinRebuild keeps tiny filters from being rebuilt over and over
	// for the "half expired" rule.
	bloomMinRebuild = 1024
)

// maybeRebuildFilter starts a rebuild in the background if one is due and
// none is running.
func (e *Engine) maybeRebuildFilter() {
	f := e.filter.Load()
	added, dead, live := f.added.Load(), e.filterDead.Load(), int64(e.Len())
	// A filter already sized for MaxCapacity cannot be rebuilt larger:
	// past it only the half-expired rule applies, or an engine grown past
	// MaxCapacity entries would start a rebuild of all of them every tick.
	canGrow := f.sizedFor < MaxCapacity
	due := (added >= max(bloomMinRebuild, int64(f.sizedFor/2)) && 2*dead >= added) ||
		(canGrow && live > int64(f.sizedFor)) ||
		(canGrow && f.estimatedFPRate() > bloomRebuildFPRate)
	if !due || e.rebuilding.Load() {
		return
	}
	e.workers.Add(1)
	go func() {
		defer e.workers.Done()
		e.rebuildFilter()
	}()
}

// rebuildFilter builds a filter from the live set and swaps it in, and
// reports whether it did. Rebuilds are exclusive: two at once would each
// publish their own nextFilter, and the loser's filter would miss inserts.
// It gives up, leaving the current filter (which holds everything) in place,
// when the engine closes.
func (e *Engine) rebuildFilter() bool {
	if !e.rebuilding.CompareAndSwap(false, true) {
		return false
	}
	defer e.rebuilding.Store(false)
	live := e.Len()
	nf := newBloomFilter(max(e.cfg.Capacity, live+live/2), &e.place)
	e.nextFilter.Store(nf)
	defer e.nextFilter.Store(nil)
	for i := range e.shards {
		select {
		case <-e.stop:
			return false
		default:
		}
		s := &e.shards[i]
		s.mu.RLock()
		for _, r := range s.tab.slots {
			if r.fp != 0 {
				nf.add(r.fp)
			}
		}
		s.mu.RUnlock()
	}
	e.filter.Store(nf)
	e.filterDead.Store(0)
	e.rebuilds.Add(1)
	return true
}
