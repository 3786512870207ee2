package revoke

import (
	"math"
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
