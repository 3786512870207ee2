package revoke

import "sync/atomic"

// oldBloomFilter is the filter the engine used before issue 13, kept as the
// baseline of BenchmarkFilter: one 512-bit block (a cache line) per
// fingerprint, seven bits in it, unkeyed (block from fp*0x9e37…, bits from the
// fingerprint's own top 32 bits) and 10 bits an entry.
type oldBloomFilter struct {
	blocks []oldBloomBlock
	added  atomic.Int64
}

type oldBloomBlock [8]uint64

func newOldBloomFilter(entries int) *oldBloomFilter {
	nblocks := (max(entries, 1)*10 + 511) / 512
	return &oldBloomFilter{blocks: make([]oldBloomBlock, nblocks)}
}

func (f *oldBloomFilter) locate(fp uint64) (*oldBloomBlock, uint32, uint32) {
	h := fp * 0x9e3779b97f4a7c15
	i := (uint64(uint32(h>>32)) * uint64(len(f.blocks))) >> 32
	return &f.blocks[i], uint32(h), uint32(fp>>32) | 1
}

func (f *oldBloomFilter) add(fp uint64) {
	b, a, step := f.locate(fp)
	for range 7 {
		a += step
		pos := a >> (32 - 9)
		w := &b[pos>>6]
		if bit := uint64(1) << (pos & 63); atomic.LoadUint64(w)&bit == 0 {
			atomic.OrUint64(w, bit)
		}
	}
	f.added.Add(1)
}

func (f *oldBloomFilter) mayContain(fp uint64) bool {
	b, a, step := f.locate(fp)
	ok := uint64(1)
	for range 7 {
		a += step
		pos := a >> (32 - 9)
		ok &= atomic.LoadUint64(&b[(pos>>6)&7]) >> (pos & 63)
	}
	return ok&1 != 0
}

func (f *oldBloomFilter) sizeBytes() int { return len(f.blocks) * 64 }
