// Package revoke is an embeddable, in-memory deny list for JWT revocation.
//
// A JWT stays valid until its exp even after the client deletes it. To log a
// user out for real, a server keeps the revoked tokens in a deny list until
// they would have expired anyway, and checks every authorised request against
// it. An [Engine] is that list, in process: it answers "is this token
// revoked?" in nanoseconds, keeps memory bounded by the live revocations, and
// forgets each entry at its deadline.
//
// # Quick start
//
//	e, err := revoke.New(revoke.Config{Leeway: 30 * time.Second})
//	if err != nil { ... }
//	defer e.Close()
//	v, err := revoke.NewVerifier(e, keyFunc, jwt.WithValidMethods([]string{"ES256"}))
//	if err != nil { ... } // a configuration mistake, wrapping ErrInvalidConfig
//
//	tok, err := v.Parse(tokenString)                 // every request; errors.Is(err, revoke.ErrRevoked)
//	err = e.RevokeToken(tok)                         // logout: this token
//	err = e.RevokeID(iss, jti, exp)                  // the same without the token: (iss, jti), never the bare jti
//	err = e.RevokeSubject(iss, sub, time.Now())      // logout everywhere
//	first, err := e.ConsumeToken(refreshTok)         // refresh-token rotation with reuse detection
//	mux.Handle("GET /me", revoke.Middleware(v)(me)) // net/http
//
// The engine alone works with keys of your own: e.Revoke(sessionID, exp)
// and e.IsRevoked(sessionID). A [Verifier] never looks up a bare jti: it
// knows a token by (iss, jti), see [IDKey] and [TokenKey].
//
// # Guarantees
//
//   - No false negatives: once Revoke returns nil, every goroutine sees the
//     key as revoked until its deadline (expiry plus Config.Leeway), while
//     tables grow, entries expire and the filter is rebuilt.
//   - Never early: an entry is evicted only after the wall clock has passed
//     its deadline; a clock that steps backwards delays eviction.
//   - Nothing dropped silently: at Config.MaxEntries, Revoke fails with
//     [ErrFull]; live entries are never evicted to make room.
//   - Acknowledged means durable: with Config.Dir and the default
//     SyncAlways, a revocation returns nil only after its record is
//     fsynced; New recovers from the snapshot and journal in Dir and fails
//     closed (ErrCorrupt, with file and offset) on anything that does not
//     verify, trimming only a torn journal tail.
//   - No secrets kept: only 64-bit fingerprints (xxhash64) of keys are
//     stored, never the keys themselves.
//   - Keys that cannot be forged around: the [Verifier] reads iss, jti,
//     sub, iat and exp from the token's signed payload, whatever claims
//     type the caller parses into, and refuses payloads that would give
//     two readers two answers. Only verified tokens revoke and consume
//     ([ErrUnverifiedToken]).
//   - Cutoffs without holes: iat is required (see
//     VerifierConfig.IssuedAtOptional), an iat in the future is refused,
//     and cutoffs hold to the millisecond for issuers that write
//     millisecond iats.
//
// # How it works
//
// Keys are hashed to fingerprints and routed to one of Config.Shards shards,
// each an open-addressing table of 16-byte, pointer-free records with its own
// lock and its own hierarchical timing wheel that evicts each record at its
// deadline. A lock-free blocked bloom filter answers most "not revoked"
// lookups without touching a shard; it is rebuilt from the live set as
// entries expire.
package revoke
