package revoke

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var errConsumeExpired = fmt.Errorf("revoke: cannot consume: %w", jwt.ErrTokenExpired)

// Consume marks key as used, atomically, and reports whether this call was
// the first to do so: of any number of concurrent callers with the same key,
// exactly one gets first == true. The mark is kept until expiresAt plus
// Config.Leeway, after which the key could be consumed again, so expiresAt
// must be the expiry of what key stands for.
//
// It is the building block of refresh-token rotation with reuse detection:
// the first use of a refresh token gets a new pair; a second use means the
// token was stolen (or replayed), and the usual answer is to revoke the
// whole session or subject, the thief's tokens with the victim's:
//
//	first, err := e.Consume(key, exp)
//	switch {
//	case !first && err != nil:
//		// refuse: expired, engine full or closed; nothing was marked
//	case !first:
//		e.RevokeSubject(iss, sub, time.Now()) // reuse: log out everywhere
//		// refuse
//	default:
//		// issue the next pair; err may wrap ErrNotPropagated (log it)
//	}
//
// first == true with an error wrapping [ErrNotPropagated] means: you won,
// the mark is stored (and durable with Config.Dir), only the observer
// (replication) failed to pass it on and replicas learn of it late. Do not
// retry such a call: the retry would find your own mark and look like
// reuse. With first == false, an error means nothing was marked and the
// call may be retried.
//
// Consumed keys live apart from revoked ones: Consume does not revoke key,
// and a revoked key can still be consumed once. An expiry already past
// (leeway included) is an error wrapping [jwt.ErrTokenExpired], not a reuse.
// Other errors: [ErrEmptyKey], [ErrTTLTooLong], [ErrFull], [ErrClosed], the
// journal's. Safe for concurrent use; one hash and one shard lock.
func (e *Engine) Consume(key string, expiresAt time.Time) (first bool, err error) {
	if key == "" {
		return false, ErrEmptyKey
	}
	return e.consume(fingerprint(kindConsumed, key), expiresAt)
}

// ConsumeToken is [Engine.Consume] for a token: its key is [TokenKey](tok)
// and its expiry the token's exp (iat + MaxTTL without exp), read from its
// signed payload. A token with neither exp nor iat is refused with an error
// wrapping [ErrTTLTooLong] and [jwt.ErrTokenRequiredClaimMissing]: a plain
// golang-jwt parser accepts it forever, so a mark kept for a bounded time
// would let it be used again. tok must be one a
// [Verifier] (or another golang-jwt parser) verified: a token that is not
// Valid or has no signature (ParseUnverified, a failed parse, alg none) is
// refused with [ErrUnverifiedToken], since anyone can write its claims. See
// [Engine.Consume] for the reuse-detection pattern and the meaning of
// first == true with [ErrNotPropagated]; other errors are Consume's, plus
// one wrapping [jwt.ErrTokenMalformed] for a payload the Verifier refuses.
func (e *Engine) ConsumeToken(tok *jwt.Token) (first bool, err error) {
	var f tokenFacts
	var buf [payloadBufSize]byte
	fp, err := verifiedTokenKey(kindConsumed, tok, &f, buf[:])
	if err != nil {
		return false, err
	}
	return e.consume(fp, f.expiry(e.cfg.MaxTTL))
}

func (e *Engine) consume(fp uint64, expiresAt time.Time) (bool, error) {
	if e.closed.Load() {
		return false, ErrClosed
	}
	deadline, err := e.deadlineFor(expiresAt)
	if err != nil {
		return false, err
	}
	if deadline == 0 {
		return false, errConsumeExpired
	}
	return e.putIfAbsent(fp, deadline, 0)
}

// errTimeless refuses to revoke or consume a token with neither exp nor
// iat. A plain golang-jwt parser accepts it forever (exp is optional
// there), so no record, kept for a bounded time, could outlive it: a
// revocation would lapse and a single use could be repeated. (No Verifier
// accepts such a token.)
var errTimeless = fmt.Errorf("revoke: token has neither exp nor iat, so it never expires and cannot be held: %w: %w", ErrTTLTooLong, jwt.ErrTokenRequiredClaimMissing)

// verifiedTokenKey reads the facts of a verified token into f and returns
// the fingerprint of its key in the domain of k. A token with neither exp
// nor iat is refused (errTimeless).
func verifiedTokenKey(k kind, tok *jwt.Token, f *tokenFacts, buf []byte) (uint64, error) {
	if tok == nil {
		return 0, fmt.Errorf("%w: nil token", ErrEmptyKey)
	}
	if !tok.Valid || len(tok.Signature) == 0 {
		return 0, ErrUnverifiedToken
	}
	p, err := f.readToken(tok.Raw, buf)
	if err != nil {
		return 0, err
	}
	if !f.hasExp && !f.hasIat {
		return 0, errTimeless
	}
	fp, ok := tokenFingerprint(k, tok.Raw, p, f)
	if !ok {
		return 0, errNoKey
	}
	return fp, nil
}

// expiry is the moment the token stops being accepted, leeway aside: its
// exp, or iat + maxTTL without exp (as a Verifier with ExpirationOptional
// treats it). Callers refuse tokens with neither (errTimeless).
func (f *tokenFacts) expiry(maxTTL time.Duration) time.Time {
	if f.hasExp {
		return time.UnixMilli(f.expMs)
	}
	return time.UnixMilli(f.iatMs).Add(maxTTL)
}
