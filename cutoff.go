package revoke

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// RevokeToken revokes tok until its exp plus Config.Leeway: from the moment
// it returns nil, [Verifier.Parse] refuses tok with an error wrapping
// [ErrRevoked]. The token is known by [TokenKey]: (iss, jti) when it has a
// jti, so every encoding of it is revoked; otherwise its signed part. A token
// without exp is kept until iat + Config.MaxTTL, or MaxTTL from now without
// iat either.
//
// Pass a token returned by [Verifier.Parse]: whoever can make up the token
// can make up its (iss, jti). Revoking a token already expired is a no-op
// returning nil. Errors: [ErrEmptyKey] (a token without jti that was not
// parsed), [ErrTTLTooLong], [ErrFull], [ErrClosed], golang-jwt's for a
// claim of the wrong type. Safe for concurrent use; one hash and one shard
// lock.
func (e *Engine) RevokeToken(tok *jwt.Token) error {
	if tok == nil {
		return fmt.Errorf("%w: nil token", ErrEmptyKey)
	}
	var f tokenFacts
	if err := f.read(tok.Claims); err != nil {
		return err
	}
	fp, ok := tokenFingerprint(kindKey, tok.Raw, &f)
	if !ok {
		return errNoKey
	}
	if e.closed.Load() {
		return ErrClosed
	}
	deadline, err := e.deadlineFor(f.expiry(e.cfg.MaxTTL, time.Now()))
	if err != nil || deadline == 0 {
		return err
	}
	return e.put(fp, deadline, 0)
}

// expiry is the moment the token stops being accepted, leeway aside: its exp,
// or iat + maxTTL without exp, or now + maxTTL without either.
func (f *tokenFacts) expiry(maxTTL time.Duration, now time.Time) time.Time {
	switch {
	case f.hasExp:
		return f.exp
	case f.hasIat:
		return f.iat.Add(maxTTL)
	default:
		return now.Add(maxTTL)
	}
}

// RevokeSubject logs a subject out everywhere: every token of this issuer
// and subject issued at or before issuedBefore is refused by
// [Verifier.Parse] with an error wrapping [ErrRevoked]; tokens issued later
// are not affected.
//
// iat has whole-second precision, so the cutoff is issuedBefore truncated to
// the second, and a token whose iat falls in that same second is revoked
// too (fail safe: it may have been issued before the cutoff). A client that
// logs out everywhere and at once logs in again must therefore be issued a
// token at least in the next second. Tokens without iat are revoked whenever
// a cutoff applies to them. issuer may be empty (tokens without iss); tokens
// without sub are only reached by [Engine.RevokeAll].
//
// issuedBefore may not lie more than Config.Leeway in the future
// ([ErrFutureCutoff]): a cutoff is about tokens already issued. The cutoff
// is retained until issuedBefore + MaxTTL + Leeway (rounded up to the next
// second), since the Verifier refuses tokens living longer than MaxTTL, so
// every token it covers has expired by then; a cutoff that old already is a
// no-op. A second cutoff for the same subject merges with the first: the
// later cutoff and the later deadline win. Errors: [ErrEmptyKey] for an
// empty subject, [ErrFutureCutoff], [ErrFull], [ErrClosed]. Safe for
// concurrent use; one hash and one shard lock.
func (e *Engine) RevokeSubject(issuer, subject string, issuedBefore time.Time) error {
	if subject == "" {
		return fmt.Errorf("%w: empty subject", ErrEmptyKey)
	}
	return e.putCutoff(compositeFingerprint(kindSubjectCutoff, issuer, subject), issuedBefore)
}

// RevokeAll revokes every token issued at or before issuedBefore, whatever
// its issuer and subject: the answer to a leaked signing key. It follows the
// rules of [Engine.RevokeSubject] (same-second and missing-iat tokens are
// revoked; retained until issuedBefore + MaxTTL + Leeway). While it is
// retained, every Parse pays one lock-free table lookup more. Errors:
// [ErrFutureCutoff], [ErrFull], [ErrClosed].
func (e *Engine) RevokeAll(issuedBefore time.Time) error {
	return e.putCutoff(globalCutoffFP, issuedBefore)
}

// putCutoff stores a cutoff record: value = the cutoff second, deadline =
// the end of that second + MaxTTL + Leeway.
func (e *Engine) putCutoff(fp uint64, issuedBefore time.Time) error {
	if e.closed.Load() {
		return ErrClosed
	}
	now := time.Now()
	if ahead := issuedBefore.Sub(now); ahead > e.cfg.Leeway {
		return fmt.Errorf("%w: issuedBefore is %v ahead of now, Leeway is %v", ErrFutureCutoff, ahead, e.cfg.Leeway)
	}
	sec := issuedBefore.Unix()
	// Covered tokens have iat < sec+1 and, by the Verifier's lifetime
	// check, exp <= iat + MaxTTL: none is accepted after this moment.
	end := time.Unix(sec+1, 0).Add(e.cfg.MaxTTL + e.cfg.Leeway)
	if !now.Before(end) || sec < 0 {
		return nil
	}
	deadline := deadlineSeconds(end)
	if deadline > maxDeadline {
		return fmt.Errorf("%w: cutoff deadline %d is past 2106", ErrTTLTooLong, deadline)
	}
	return e.put(fp, uint32(deadline), uint32(sec))
}
