package revoke

import (
	"errors"
	"fmt"
	"time"
)

// Cutoffs. A cutoff refuses every token of a subject (or of all subjects)
// issued at or before a moment. It is kept as two records, so that engines
// and files from before millisecond cutoffs keep working unchanged:
//
//   - the seconds record, fingerprint H(kindSubjectCutoff, iss, sub) (global:
//     H(kindGlobalCutoff, "all")), value = the cutoff's Unix second s;
//   - the millis record, fingerprint H(kindSubjectCutoffMillis, iss, sub,
//     epoch) (global: H(kindGlobalCutoffMillis, "", "", epoch)) with epoch =
//     cutoffMs >> 30 (cutoffMs = the cutoff in Unix milliseconds, rounded
//     down), value = cutoffMs & (1<<30 - 1) + 1 (never 0); its deadline is
//     the seconds record's.
//
// Records merge by keeping the larger value, so within one epoch (12.4
// days) the millis record holds the latest cutoff exactly, and a subject
// holds at most one live millis record per 12.4 days of retention (four
// with the default MaxTTL). Epochs are 30 bits wide, not 31, so that a
// millis record's value (at most 2^30) is below every Unix second since
// 2004: a replica that refuses records whose value is a cutoff second in
// the future (natsrevoke does) never mistakes a millis record for one. The millis record is written
// before the seconds record. A reader takes s from the seconds record and
// looks for a millis record of s's epoch whose milliseconds lie within s; if
// there is none (an older writer, a replica that has the seconds record
// first), the cutoff is the last millisecond of s: the whole second is
// refused, which is safe.
//
// A token is refused iff its iat, in milliseconds rounded down, is at or
// before the cutoff. A token without iat (see
// VerifierConfig.IssuedAtOptional) counts as issued at exp - MaxTTL.

// millisEpochBits is the width of the milliseconds kept in a millis record.
const millisEpochBits = 30

// maxMillisValue is the largest value a millis record carries; every
// seconds record's value (a Unix second after 2004) is larger.
const maxMillisValue = 1 << millisEpochBits

// RevokeSubject logs a subject out everywhere: every token of this issuer
// and subject issued at or before issuedBefore is refused by
// [Verifier.Parse] with an error wrapping [ErrSubjectRevoked] (and
// [ErrRevoked]); tokens issued later are accepted.
//
// The cutoff holds to the millisecond: a token whose iat is a fractional
// NumericDate (issuers that set jwt.TimePrecision = time.Millisecond) is
// refused iff its iat is at or before issuedBefore's millisecond. A
// whole-second iat in issuedBefore's second is refused (fail safe: it may
// have been written for any moment of that second). So "sign out my other
// devices, keep me signed in here" is: t := time.Now(); RevokeSubject(iss,
// sub, t); then issue the new token with an iat after t's millisecond and
// millisecond precision. issuer may be empty (tokens without iss); tokens
// without sub are only reached by [Engine.RevokeAll].
//
// Refreshes in flight: a refresh whose check of the old token ran after
// the caller read t but before the cutoff was stored passes, and a token it
// issues with an iat after t escapes the cutoff (a thief who keeps
// refreshing stays signed in). To log a subject out for good, refresh
// handlers issue their token with an iat read before they check the old
// one, and the logout calls RevokeSubject a second time with a t read after
// the first call returned: every refresh that passed its check did so
// before the first cutoff was stored, so its iat lies before the second
// (TestAttackRefreshInFlightAgainstLogoutEverywhere).
//
// issuedBefore may not lie more than Config.Leeway in the future
// ([ErrFutureCutoff]): a cutoff is about tokens already issued. The cutoff
// is retained until issuedBefore + MaxTTL + Leeway (rounded up to the next
// second), since the Verifier refuses tokens living longer than MaxTTL, so
// every token it covers has expired by then; a cutoff that old already is a
// no-op. A second cutoff for the same subject merges with the first: the
// later cutoff and the later deadline win. Errors: [ErrEmptyKey] for an
// empty subject, [ErrFutureCutoff], [ErrFull], [ErrClosed], the journal's,
// and [ErrNotPropagated] when the observer failed (the cutoff holds
// locally). Safe for concurrent use; two hashes and two shard locks (two
// journal records).
func (e *Engine) RevokeSubject(issuer, subject string, issuedBefore time.Time) error {
	if subject == "" {
		return fmt.Errorf("%w: empty subject", ErrEmptyKey)
	}
	return e.putCutoff(compositeFingerprint(kindSubjectCutoff, issuer, subject), kindSubjectCutoffMillis, issuer, subject, issuedBefore)
}

// RevokeAll revokes every token issued at or before issuedBefore, whatever
// its issuer and subject: the answer to a leaked signing key. Refusals wrap
// [ErrAllRevoked]. It follows the rules of [Engine.RevokeSubject]
// (millisecond cutoffs, whole-second iats in the cutoff's second refused;
// retained until issuedBefore + MaxTTL + Leeway). While it is retained,
// every Parse pays one lock-free table lookup more. Errors: those of
// RevokeSubject but ErrEmptyKey.
func (e *Engine) RevokeAll(issuedBefore time.Time) error {
	return e.putCutoff(globalCutoffFP, kindGlobalCutoffMillis, "", "", issuedBefore)
}

// putCutoff stores the two records of a cutoff, the millis record first:
// deadline = the end of the cutoff's second + MaxTTL + Leeway.
func (e *Engine) putCutoff(fp uint64, millisKind kind, iss, sub string, issuedBefore time.Time) error {
	if e.closed.Load() {
		return ErrClosed
	}
	now := time.Now()
	if ahead := issuedBefore.Sub(now); ahead > e.cfg.Leeway {
		return fmt.Errorf("%w: issuedBefore is %v ahead of now, Leeway is %v", ErrFutureCutoff, ahead, e.cfg.Leeway)
	}
	ms := issuedBefore.UnixMilli()
	if ms < 0 {
		return nil
	}
	sec := ms / 1000
	// Covered tokens have iat < sec+1 and, by the Verifier's lifetime
	// check, exp <= iat + MaxTTL: none is accepted after this moment.
	end := time.Unix(sec+1, 0).Add(e.cfg.MaxTTL + e.cfg.Leeway)
	if !now.Before(end) {
		return nil
	}
	deadline := deadlineSeconds(end)
	if deadline > maxDeadline {
		return fmt.Errorf("%w: cutoff deadline %d is past 2106", ErrTTLTooLong, deadline)
	}
	e.cutoffsHeld.Store(true)
	mfp := cutoffMillisFingerprint(millisKind, iss, sub, ms>>millisEpochBits)
	errMillis := e.put(mfp, uint32(deadline), uint32(ms&(1<<millisEpochBits-1))+1)
	if errMillis != nil && !errors.Is(errMillis, ErrNotPropagated) {
		return errMillis
	}
	// Stored locally: the seconds record follows even when the observer
	// failed on the millis record.
	if err := e.put(fp, uint32(deadline), uint32(sec)); err != nil {
		return err
	}
	return errMillis
}

// cutoffCovers reports whether the cutoff whose seconds record holds sec
// covers a token issued at iatMs (Unix milliseconds). Only an iat within
// sec's own second needs the millis record.
func cutoffCovers[T string | []byte](e *Engine, sec uint32, millisKind kind, iss, sub T, iatMs int64) bool {
	lo := int64(sec) * 1000
	switch {
	case iatMs < lo:
		return true
	case iatMs > lo+999:
		return false
	}
	return iatMs <= cutoffMillis(e, lo, millisKind, iss, sub)
}

// cutoffMillis returns the cutoff, in Unix milliseconds, of the second
// starting at lo: the millis record's when one lies in that second, else
// the second's last millisecond.
func cutoffMillis[T string | []byte](e *Engine, lo int64, millisKind kind, iss, sub T) int64 {
	cutoff := lo + 999
	found := int64(-1)
	for epoch := lo >> millisEpochBits; epoch <= (lo+999)>>millisEpochBits; epoch++ {
		r, ok := e.lookup(cutoffMillisFingerprint(millisKind, iss, sub, epoch))
		if !ok || r.value == 0 {
			continue
		}
		ms := epoch<<millisEpochBits | int64(r.value-1)
		if lo <= ms && ms <= lo+999 && ms > found {
			found = ms
		}
	}
	if found >= 0 {
		cutoff = found
	}
	return cutoff
}
