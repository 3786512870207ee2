package revoke

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the package returns wraps one of these (or one
// of golang-jwt's), so callers match them with [errors.Is].
var (
	// ErrInvalidConfig is wrapped by [New] when a [Config] field is out of
	// range; the message names the field.
	ErrInvalidConfig = errors.New("revoke: invalid config")

	// ErrEmptyKey is returned when a revocation is asked for an empty key.
	ErrEmptyKey = errors.New("revoke: empty key")

	// ErrTTLTooLong is returned when an expiry lies further ahead than
	// Config.MaxTTL, or when a deadline would fall after early 2106, the last
	// second a record can hold. Refusing it keeps a bogus or hostile expiry
	// from pinning an entry in memory for years.
	ErrTTLTooLong = errors.New("revoke: expiry is beyond MaxTTL")

	// ErrFull is returned when the engine holds Config.MaxEntries entries.
	// Nothing already stored is evicted to make room: a deny list that forgot
	// live revocations under pressure would let revoked tokens back in.
	ErrFull = errors.New("revoke: engine is full (MaxEntries reached)")

	// ErrClosed is returned by revocations after [Engine.Close].
	ErrClosed = errors.New("revoke: engine is closed")

	// ErrRevoked is wrapped by the Verifier when a token parses and
	// verifies but has been revoked.
	ErrRevoked = errors.New("revoke: token is revoked")

	// ErrInvalidRecord is wrapped by [Engine.Apply] for a record that no
	// engine could have produced.
	ErrInvalidRecord = errors.New("revoke: invalid record")

	// ErrFutureCutoff is returned by [Engine.RevokeSubject] and
	// [Engine.RevokeAll] when issuedBefore lies further in the future than
	// Config.Leeway: a cutoff is about tokens already issued, and one in the
	// future would also revoke tokens not yet issued.
	ErrFutureCutoff = errors.New("revoke: cutoff is in the future")

	// ErrCorrupt is wrapped when a snapshot or journal does not verify, or
	// when a file that must be there is missing (a journal generation, the
	// snapshot); the message says which file and at what offset, or which
	// file is missing.
	ErrCorrupt = errors.New("revoke: corrupt state")

	// ErrUnsupportedVersion is wrapped by [New], [Engine.ReadFrom] and
	// [InspectDir] when a snapshot or journal carries a format version this
	// build does not read: it was written by a newer release. Such a file is
	// never trimmed or deleted; run the release that wrote it.
	ErrUnsupportedVersion = errors.New("revoke: unsupported file version (written by a newer release)")

	// ErrReadOnly is wrapped by [New] with Config.AllowReadOnly when the
	// engine recovered every acknowledged revocation from Config.Dir but
	// cannot write there (a full disk, a read-only file system): New then
	// returns a working engine together with this error. Such an engine
	// answers checks, refuses new revocations with an error wrapping
	// ErrReadOnly and the disk's error, and retries opening its journal
	// periodically; [Stats].JournalErr says so until it can write again.
	ErrReadOnly = errors.New("revoke: read-only: cannot write to Config.Dir")

	// ErrDirLocked is wrapped by [New] when another engine, in this process
	// or another, holds Config.Dir.
	ErrDirLocked = errors.New("revoke: directory is in use by another engine")

	// ErrNotPropagated is wrapped, together with the observer's error, when
	// a revocation or a Consume was stored (and, with Config.Dir, made
	// durable) locally but the observer installed with
	// [Engine.SetObserver] failed to pass it on: the engine refuses the
	// token, other replicas may not yet. For Consume and ConsumeToken it
	// comes with first == true: the call won.
	ErrNotPropagated = errors.New("revoke: stored locally, not yet propagated")

	// ErrUnverifiedToken is returned by [Engine.RevokeToken] and
	// [Engine.ConsumeToken] for a token that no parser verified: not Valid
	// (from ParseUnverified or a failed parse) or without a signature (alg
	// none). Its claims are whatever its sender wrote.
	ErrUnverifiedToken = errors.New("revoke: token was not verified")

	// ErrMissingToken is passed to the error handler of [Middleware] when a
	// request carries no bearer token.
	ErrMissingToken = errors.New("revoke: no bearer token")

	// ErrMalformedCredentials is passed to the error handler of
	// [Middleware] when the request's credentials cannot be read: several
	// Authorization headers, "Bearer" without a token, characters outside
	// RFC 6750's token syntax, or an error of the [WithTokenExtractor]
	// function (wrapped too). The default answer is 400 invalid_request.
	ErrMalformedCredentials = errors.New("revoke: malformed bearer credentials")
)

// Refusals of the [Verifier], each wrapping [ErrRevoked] so that
// errors.Is(err, ErrRevoked) matches all three.
var (
	// ErrTokenRevoked: the token itself was revoked ([Engine.RevokeToken],
	// [Engine.RevokeID]).
	ErrTokenRevoked = fmt.Errorf("%w: this token was revoked", ErrRevoked)

	// ErrSubjectRevoked: the token was issued at or before a cutoff of its
	// subject ([Engine.RevokeSubject]).
	ErrSubjectRevoked = fmt.Errorf("%w: its subject was logged out everywhere", ErrRevoked)

	// ErrAllRevoked: the token was issued at or before the global cutoff
	// ([Engine.RevokeAll]).
	ErrAllRevoked = fmt.Errorf("%w: every token issued before a cutoff was revoked", ErrRevoked)
)

// Errors of the OAuth endpoints ([RevocationHandler], [IntrospectionHandler]).
var (
	// ErrClientAuth is returned by the [ClientAuthFunc] of
	// [ClientSecretBasic] when the request carries no valid client
	// credentials; the endpoints then answer 401 invalid_client.
	ErrClientAuth = errors.New("revoke: client authentication failed")
)
