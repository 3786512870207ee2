package revoke

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/golang-jwt/jwt/v5"
)

// Token keys. A token with a jti is known by (iss, jti); one without by its
// signed part, header.payload. The (iss, jti) form starts with idKeyPrefix,
// a byte that cannot begin a base64url string, followed by the issuer's
// length as a uvarint, the issuer and the jti: no two (iss, jti) pairs and no
// signed part share an encoding. iss and jti are the exact-case members of
// the signed payload (see token_payload.go), whatever claims type the token
// was parsed into.
const idKeyPrefix = 0x00

// compositeBufSize is the stack buffer for composite keys; longer keys are
// hashed in a streaming digest instead, to the same fingerprint.
const compositeBufSize = 256

// compositeFingerprint is fingerprint(k, compositeKey(a, b)) without
// building the key on the heap.
func compositeFingerprint[T string | []byte](k kind, a, b T) uint64 {
	var buf [compositeBufSize]byte
	if 1+binary.MaxVarintLen64+len(a)+len(b) <= len(buf) {
		p := append(buf[:0], idKeyPrefix)
		p = binary.AppendUvarint(p, uint64(len(a)))
		p = append(p, a...)
		p = append(p, b...)
		return fingerprintBytes(k, p)
	}
	var d xxhash.Digest
	d.Reset()
	p := append(buf[:0], idKeyPrefix)
	p = binary.AppendUvarint(p, uint64(len(a)))
	_, _ = d.Write(p)
	writeChunks(&d, buf[:], a)
	writeChunks(&d, buf[:], b)
	return nonZero(d.Sum64() ^ kindSeeds[k])
}

// writeChunks feeds s to d through buf, so that a string is hashed without
// being converted on the heap.
func writeChunks[T string | []byte](d *xxhash.Digest, buf []byte, s T) {
	for len(s) > 0 {
		n := copy(buf, s)
		_, _ = d.Write(buf[:n])
		s = s[n:]
	}
}

// compositeKey is the string form hashed by compositeFingerprint.
func compositeKey(a, b string) string {
	p := make([]byte, 0, 1+binary.MaxVarintLen64+len(a)+len(b))
	p = append(p, idKeyPrefix)
	p = binary.AppendUvarint(p, uint64(len(a)))
	p = append(p, a...)
	p = append(p, b...)
	return string(p)
}

// cutoffMillisFingerprint is the fingerprint of the millisecond record of a
// cutoff (k is kindSubjectCutoffMillis or kindGlobalCutoffMillis) in epoch
// (cutoff milliseconds >> 31): the composite key of (iss, sub) followed by
// the epoch as 8 little-endian bytes.
func cutoffMillisFingerprint[T string | []byte](k kind, iss, sub T, epoch int64) uint64 {
	var buf [64]byte
	var d xxhash.Digest
	d.Reset()
	p := append(buf[:0], idKeyPrefix)
	p = binary.AppendUvarint(p, uint64(len(iss)))
	_, _ = d.Write(p)
	writeChunks(&d, buf[:], iss)
	writeChunks(&d, buf[:], sub)
	_, _ = d.Write(binary.LittleEndian.AppendUint64(buf[:0], uint64(epoch)))
	return nonZero(d.Sum64() ^ kindSeeds[k])
}

// signedPart returns raw up to its last '.', or false.
func signedPart(raw string) (string, bool) {
	i := strings.LastIndexByte(raw, '.')
	if i <= 0 {
		return "", false
	}
	return raw[:i], true
}

var errNoKey = fmt.Errorf("%w: the token has no jti and no raw form to take its signed part from (parse it first)", ErrEmptyKey)

// tokenFingerprint is the fingerprint of a token's key in the domain of k;
// p is its decoded payload, read into f.
func tokenFingerprint(k kind, raw string, p []byte, f *tokenFacts) (uint64, bool) {
	if !f.jti.empty() {
		return compositeFingerprint(k, f.iss.of(p), f.jti.of(p)), true
	}
	sp, ok := signedPart(raw)
	if !ok {
		return 0, false
	}
	return fingerprint(k, sp), true
}

var globalCutoffFP = fingerprint(kindGlobalCutoff, "all")

// TokenKey returns the key under which the revocation layer knows tok:
// [IDKey](iss, jti) when its signed payload has a jti, otherwise its signed
// part (header.payload, never the signature, which is malleable). iss and
// jti are read from the signed payload (tok.Raw), whatever tok.Claims is.
// [Engine.Revoke] and [Engine.IsRevoked] with this key act on the same entry
// as [Engine.RevokeToken] and [Verifier.Parse]. tok must come from a parser:
// without Raw the error wraps [ErrEmptyKey]; a payload the Verifier would
// refuse gives an error wrapping [jwt.ErrTokenMalformed]. It allocates the
// key; it does not check the signature, so do not revoke on the word of a
// token that no Verifier accepted. With a plain golang-jwt parser in place
// of a Verifier, note that a token without exp never expires there, while
// a revocation of it is kept until iat + Config.MaxTTL + Leeway only (as a
// Verifier with ExpirationOptional treats it): require exp
// (jwt.WithExpirationRequired) or check with a Verifier.
func TokenKey(tok *jwt.Token) (string, error) {
	if tok == nil {
		return "", fmt.Errorf("%w: nil token", ErrEmptyKey)
	}
	if tok.Raw == "" {
		return "", errNoKey
	}
	var buf [payloadBufSize]byte
	var f tokenFacts
	p, err := f.readToken(tok.Raw, buf[:])
	if err != nil {
		return "", err
	}
	if !f.jti.empty() {
		return compositeKey(string(f.iss.of(p)), string(f.jti.of(p))), nil
	}
	sp, ok := signedPart(tok.Raw)
	if !ok {
		return "", errNoKey
	}
	return sp, nil
}

// IDKey returns the key of the token with this issuer and jti, as
// [TokenKey] would: e.Revoke(revoke.IDKey(iss, jti), exp) is
// [Engine.RevokeID]. It allocates the key.
func IDKey(issuer, id string) string { return compositeKey(issuer, id) }

// RevokeID revokes the token of this issuer and jti until expiresAt plus
// Config.Leeway, without holding the token: it is
// e.Revoke([IDKey](issuer, id), expiresAt), the entry that [Verifier.Parse]
// looks up for a token whose signed payload carries these iss and jti
// (issuer "" for tokens without iss). Use it, not [Engine.Revoke] with the
// bare jti, which no Verifier ever looks up. Errors and cost are Revoke's
// ([ErrEmptyKey] for an empty id); it does not allocate.
func (e *Engine) RevokeID(issuer, id string, expiresAt time.Time) error {
	if id == "" {
		return fmt.Errorf("%w: empty jti", ErrEmptyKey)
	}
	if e.closed.Load() {
		return ErrClosed
	}
	deadline, err := e.deadlineFor(expiresAt)
	if err != nil || deadline == 0 {
		return err
	}
	return e.put(compositeFingerprint(kindKey, issuer, id), deadline, 0)
}

// RevokeToken revokes tok until its exp plus Config.Leeway: from the moment
// it returns nil, [Verifier.Parse] refuses tok with an error wrapping
// [ErrTokenRevoked] (and [ErrRevoked]), whatever claims type it is parsed
// into. The token is known by [TokenKey], read from its signed payload:
// (iss, jti) when it has a jti, so every encoding of it is revoked;
// otherwise its signed part. A token without exp is kept until iat +
// Config.MaxTTL (as a Verifier with ExpirationOptional treats it); one with
// neither exp nor iat is refused with an error wrapping [ErrTTLTooLong] and
// [jwt.ErrTokenRequiredClaimMissing], since a plain golang-jwt parser
// accepts it forever and a revocation held for a bounded time would lapse
// while it is still accepted (no Verifier accepts it).
//
// tok must be one a [Verifier] (or another golang-jwt parser) verified: a
// token that is not Valid or has no signature (from ParseUnverified, a
// failed parse, alg none) is refused with [ErrUnverifiedToken], since anyone
// can write another user's (iss, jti) into one. Revoking a token already
// expired is a no-op returning nil. Other errors: [ErrEmptyKey] (a token
// without jti that has no Raw form), [ErrTTLTooLong], [ErrFull],
// [ErrClosed], the journal's, [ErrNotPropagated] (stored locally, the
// observer failed), one wrapping [jwt.ErrTokenMalformed] for a payload the
// Verifier refuses. Safe for concurrent use; one decode of the payload, one
// hash and one shard lock.
func (e *Engine) RevokeToken(tok *jwt.Token) error {
	var f tokenFacts
	var buf [payloadBufSize]byte
	fp, err := verifiedTokenKey(kindKey, tok, &f, buf[:])
	if err != nil {
		return err
	}
	if e.closed.Load() {
		return ErrClosed
	}
	deadline, err := e.deadlineFor(f.expiry(e.cfg.MaxTTL))
	if err != nil || deadline == 0 {
		return err
	}
	return e.put(fp, deadline, 0)
}
