package bench

import (
	"encoding/hex"
	"math/rand/v2"
	"time"
)

// KeyLen is the length of every key: a UUID-shaped jti, as in the root
// module's benchmarks.
const KeyLen = 36

// Token lifetimes of the key sets are spread uniformly over
// [MinLifetime, MaxLifetime): access tokens of 15 minutes to day-long
// sessions.
const (
	MinLifetime = 15 * time.Minute
	MaxLifetime = 24 * time.Hour
)

// KeySet is n distinct keys with the expiry of the token each stands for.
// The keys share one backing string and the lifetimes are one pointer-free
// slice, so a key set adds nothing to the garbage collector's work and a
// benchmark that walks it sequentially finds the key's bytes in cache (as a
// token just parsed would be), measuring the deny list rather than a cache
// miss on scattered key strings.
type KeySet struct {
	all  string
	life []uint32 // seconds after base
	base int64    // Unix seconds when the set was made
}

// NewKeySet returns n keys drawn from a generator seeded with seed: the
// same seed gives the same keys. Key sets of different seeds are disjoint
// in practice (128 random bits per key).
func NewKeySet(seed uint64, n int) *KeySet {
	r := rand.New(rand.NewPCG(seed, 0x6a7774726576))
	buf := make([]byte, n*KeyLen)
	life := make([]uint32, n)
	var raw [16]byte
	var hx [32]byte
	span := uint64((MaxLifetime - MinLifetime) / time.Second)
	for i := range n {
		putUint64(raw[:8], r.Uint64())
		putUint64(raw[8:], r.Uint64())
		hex.Encode(hx[:], raw[:])
		k := buf[i*KeyLen : (i+1)*KeyLen]
		copy(k[0:8], hx[0:8])
		k[8] = '-'
		copy(k[9:13], hx[8:12])
		k[13] = '-'
		copy(k[14:18], hx[12:16])
		k[18] = '-'
		copy(k[19:23], hx[16:20])
		k[23] = '-'
		copy(k[24:36], hx[20:32])
		life[i] = uint32(MinLifetime/time.Second) + uint32(r.Uint64N(span))
	}
	return &KeySet{all: string(buf), life: life, base: time.Now().Unix()}
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}

// Rebase makes every token's lifetime start now: the benchmarks call it
// before each fill, so that no token of a set made long before has expired
// (the shortest lifetime is MinLifetime).
func (k *KeySet) Rebase() { k.base = time.Now().Unix() }

// Len is the number of keys.
func (k *KeySet) Len() int { return len(k.life) }

// Key returns key i, a substring of the shared backing string (no
// allocation).
func (k *KeySet) Key(i int) string { return k.all[i*KeyLen : (i+1)*KeyLen] }

// ExpiresAt returns the expiry of the token of key i, plus extra seconds.
func (k *KeySet) ExpiresAt(i int, extra int64) time.Time {
	return time.Unix(k.base+int64(k.life[i])+extra, 0)
}
