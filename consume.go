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
//	case err != nil:
//		// refuse: expired, engine full or closed
//	case !first:
//		e.RevokeSubject(iss, sub, time.Now()) // reuse: log out everywhere
//		// refuse
//	default:
//		// issue the next pair
//	}
//
// Consumed keys live apart from revoked ones: Consume does not revoke key,
// and a revoked key can still be consumed once. An expiry already past
// (leeway included) is an error wrapping [jwt.ErrTokenExpired], not a reuse.
// Other errors: [ErrEmptyKey], [ErrTTLTooLong], [ErrFull], [ErrClosed].
// Safe for concurrent use; one hash and one shard lock.
func (e *Engine) Consume(key string, expiresAt time.Time) (first bool, err error) {
	if key == "" {
		return false, ErrEmptyKey
	}
	return e.consume(fingerprint(kindConsumed, key), expiresAt)
}

// ConsumeToken is [Engine.Consume] for a token: its key is [TokenKey](tok)
// and its expiry the token's exp (iat + MaxTTL without exp, now + MaxTTL
// without either). Pass a token returned by [Verifier.Parse]. See
// [Engine.Consume] for the reuse-detection pattern; errors are Consume's,
// plus golang-jwt's for a claim of the wrong type.
func (e *Engine) ConsumeToken(tok *jwt.Token) (first bool, err error) {
	if tok == nil {
		return false, fmt.Errorf("%w: nil token", ErrEmptyKey)
	}
	var f tokenFacts
	if err := f.read(tok.Claims); err != nil {
		return false, err
	}
	fp, ok := tokenFingerprint(kindConsumed, tok.Raw, &f)
	if !ok {
		return false, errNoKey
	}
	return e.consume(fp, f.expiry(e.cfg.MaxTTL, time.Now()))
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
