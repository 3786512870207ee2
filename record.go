package revoke

import (
	crand "crypto/rand"
	"encoding/binary"
	"math"
	"math/bits"
	"time"

	"github.com/cespare/xxhash/v2"
)

// record is the one unit of state the engine keeps: the table, the expiry
// wheel and (later) the snapshot, the journal and replication all carry it.
// It holds no pointer, so the garbage collector never scans the tables.
type record struct {
	// fp is the fingerprint of the revoked thing; 0 marks an empty slot.
	fp uint64
	// deadline is the Unix second from which the record may be forgotten:
	// the token's expiry plus the leeway, rounded up.
	deadline uint32
	// value is kind-specific: 0 for a plain revocation, the cutoff second
	// for "every token issued at or before this second" records.
	value uint32
}

// recordSize is the in-memory size of a record (checked by a test).
const recordSize = 16

// kind separates the domains of what is hashed, so that the same string used
// as a token key and as, say, a subject name never yields the same
// fingerprint.
type kind uint8

const (
	kindKey           kind = iota // a revoked token key (Revoke, IsRevoked)
	kindSubjectCutoff             // per-(issuer, subject) issued-before cutoff
	kindGlobalCutoff              // engine-wide issued-before cutoff
	kindConsumed                  // a single-use key that has been used

	kindSubjectCutoffMillis // the milliseconds of a subject cutoff, per epoch (cutoff.go)
	kindGlobalCutoffMillis  // the milliseconds of the global cutoff, per epoch (cutoff.go)
	numKinds
)

// kindSeeds are fixed, arbitrary 64-bit constants, one per kind. They never
// change: restarts and replicas must compute the same fingerprints, and
// snapshots on disk hold fingerprints only.
var kindSeeds = [numKinds]uint64{
	kindKey:           0x9c4d_1f0a_6b5e_3a27,
	kindSubjectCutoff: 0x51f3_88c2_0de7_b419,
	kindGlobalCutoff:  0xe26a_7b93_c5d0_4f81,
	kindConsumed:      0x3b8e_f4d6_1279_ac5d,

	kindSubjectCutoffMillis: 0xa7d2_5c19_e83f_604b,
	kindGlobalCutoffMillis:  0x64b1_0f8e_3ad7_c295,
}

// fingerprint returns the 64-bit fingerprint of key in the domain of k:
// xxhash64 of the key, XORed with the kind's fixed seed. The XOR keeps the
// hot path at one xxhash call (a seeded streaming digest costs twice as much);
// since xxhash output is uniform, domains collide with probability 2^-64.
// The result is never 0, which marks an empty table slot.
func fingerprint(k kind, key string) uint64 {
	return nonZero(xxhash.Sum64String(key) ^ kindSeeds[k])
}

// fingerprintBytes is fingerprint for a key held in a byte slice, so callers
// can build composite keys in a stack buffer without allocating.
func fingerprintBytes(k kind, key []byte) uint64 {
	return nonZero(xxhash.Sum64(key) ^ kindSeeds[k])
}

func nonZero(fp uint64) uint64 {
	if fp == 0 {
		return 1
	}
	return fp
}

// maxDeadline is the last Unix second a record can hold (early 2106).
const maxDeadline = math.MaxUint32

// deadlineSeconds rounds t up to whole Unix seconds: a record must outlive
// the instant it stands for, never the other way round.
func deadlineSeconds(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// Placement.
//
// Fingerprints are public in the sense that anyone who can choose a key (a
// jti, a subject name) can compute them: xxhash64 is unkeyed, and its last
// 8-byte block is invertible, so an exact fingerprint can be forged in
// microseconds. Where a fingerprint lands in memory must therefore not be a
// function of the fingerprint alone, or keys crafted offline pile into one
// shard and one probe run (a quadratic insert cost under the shard lock and
// lookups that walk thousands of slots) or into one filter word (a false-
// positive rate near 100 % for those keys).
//
// So every placement decision — the shard, the home slot in the shard's
// table, the filter word and the bits within it — is taken from a keyed mix
// of the fingerprint with a secret drawn from crypto/rand when the engine is
// created. The secret lives in memory only and is never written: files and
// replication carry the fingerprints themselves, which stay what they are so
// that restarts and replicas agree. A restarted engine places everything
// afresh with a new secret.
//
// What placement keying does not change: two keys with the same fingerprint
// are the same entry. An attacker who knows a victim's key (a jti, a subject
// name) can forge a different key with the victim's fingerprint and revoke it
// if they may revoke anything; the victim's token then looks revoked. That
// fails closed (a denial of service for one token, never a revoked token
// accepted). Closing it would take a deployment-wide secret mixed into every
// fingerprint (a keyed hash such as xxhash with a secret seed, or SipHash):
// every replica and every file would need the same secret, losing it would
// make every snapshot and journal unreadable, and rotating it would mean
// rewriting them all.

// placement is an engine's secret placement key. Its mixes are two rounds of
// a keyed 64×64→128-bit multiply folded to 64 bits (the "mum" step of
// wyhash): each round's key is XORed in before a multiply by a secret odd
// constant, so input differences an attacker controls reach the output
// scrambled by secrets they never see. It is not a cryptographic PRF; it is
// what an attacker who cannot observe placement (other than through timing)
// has to defeat, at 4 multiplies per fingerprint.
type placement struct {
	// table keys the shard and the home slot; filter keys the filter word
	// and its bits, independently.
	table, filter [4]uint64
}

// newPlacement draws a placement key from crypto/rand.
func newPlacement() placement {
	var buf [64]byte
	// crypto/rand.Read never fails on supported platforms (it crashes the
	// program if the OS source does, since Go 1.24).
	_, _ = crand.Read(buf[:])
	var p placement
	for i := range 4 {
		p.table[i] = binary.LittleEndian.Uint64(buf[8*i:])
		p.filter[i] = binary.LittleEndian.Uint64(buf[32+8*i:])
	}
	p.table[1] |= 1
	p.table[3] |= 1
	p.filter[1] |= 1
	p.filter[3] |= 1
	return p
}

// keyedMix is the two-round keyed mix of placement.
func keyedMix(fp uint64, k *[4]uint64) uint64 {
	hi, lo := bits.Mul64(fp^k[0], k[1])
	hi, lo = bits.Mul64(hi^lo^k[2], k[3])
	return hi ^ lo
}

// tableHash returns the keyed hash that places fp in a shard (its low bits,
// see Engine.shardIndex) and in that shard's table (its top 32 bits, see
// home).
func (p *placement) tableHash(fp uint64) uint64 { return keyedMix(fp, &p.table) }
