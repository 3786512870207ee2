package revoke

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultMaxTokenSize is the largest token string a [Verifier] parses unless
// VerifierConfig.MaxTokenSize says otherwise: 8 KiB, far above any sane JWT
// and small enough that an attacker cannot make the parser decode megabytes.
const DefaultMaxTokenSize = 8 << 10

// Verifier parses and verifies JWTs with golang-jwt, then refuses those that
// have been revoked in its [Engine]: by token ([Engine.RevokeToken],
// [Engine.RevokeID]), by subject ([Engine.RevokeSubject]) or all at once
// ([Engine.RevokeAll]).
//
// What the revocation checks need (iss, jti, sub, iat, exp) is read from the
// token's signed payload, the same bytes whatever claims type the caller
// parses into, so a token revoked through one claims type is refused
// through every other. A payload that repeats one of iss, sub, jti, iat,
// exp, nbf, or spells one in another case (which encoding/json would match
// case-insensitively into a struct field), is refused as malformed.
//
// A Verifier is safe for concurrent use and is meant to be created once and
// shared. On a token that is not revoked its check costs one decode and scan
// of the payload, one hash of the token key and one bloom filter probe
// (three once any cutoff was ever stored), a clock read only where
// golang-jwt did not check the payload's exp itself (see
// [NewVerifierWithConfig]), and allocates nothing unless the payload
// exceeds 1 KiB.
type Verifier struct {
	e       *Engine
	parser  *jwt.Parser
	keyFunc jwt.Keyfunc
	// maxSize is the largest token string parsed, in bytes.
	maxSize int
	// expOptional and iatOptional are VerifierConfig's.
	expOptional, iatOptional bool
	// jwtChecksTimes is set when golang-jwt validates claims (no
	// jwt.WithoutClaimsValidation among the options): it then checks exp,
	// required unless expOptional.
	jwtChecksTimes bool
	onRefuse       func(error)
	// leewayMs and maxTTLms are the engine's Leeway and MaxTTL in ms.
	leewayMs, maxTTLms int64
}

// VerifierConfig configures a [Verifier] made by [NewVerifierWithConfig].
// Engine and KeyFunc are required; every other zero field means its
// documented default.
type VerifierConfig struct {
	// Engine holds the revocations checked. Required.
	Engine *Engine

	// KeyFunc returns the key that verifies a token's signature (see
	// [jwt.Keyfunc]). Required. Its errors are returned wrapped in
	// [jwt.ErrTokenUnverifiable] as golang-jwt wraps them, together with
	// the KeyFunc's own error: errors.Is(err, jwt.ErrTokenUnverifiable)
	// means "no key could be found" (a JWKS outage, an unknown kid, an alg
	// golang-jwt does not know), not "the token is bad"; match your own
	// error with errors.Is to tell the first from the rest.
	KeyFunc jwt.Keyfunc

	// ParserOptions are passed straight to golang-jwt's parser. Always set
	// [jwt.WithValidMethods]. A [jwt.WithLeeway] larger than the engine's
	// Config.Leeway is refused (the parser would accept tokens whose
	// revocation the engine has already forgotten; raise Config.Leeway
	// instead), as is [jwt.WithTimeFunc] (the Verifier's checks use the
	// engine's clock; in tests, use testing/synctest). The parser's leeway
	// defaults to the engine's.
	ParserOptions []jwt.ParserOption

	// MaxTokenSize is the largest token string, in bytes, that is parsed;
	// longer ones are refused before any decoding with an error wrapping
	// [jwt.ErrTokenMalformed]. Default [DefaultMaxTokenSize]; must not be
	// negative.
	MaxTokenSize int

	// ExpirationOptional accepts tokens without exp, which are refused by
	// default. Such a token must carry iat: it is then treated as expiring
	// at iat + Config.MaxTTL (refused after that, retained that long once
	// revoked), so a revoked token never outlives its revocation. Tokens
	// with neither exp nor iat are refused.
	ExpirationOptional bool

	// IssuedAtOptional accepts tokens without iat, which are refused by
	// default since cutoffs ([Engine.RevokeSubject], [Engine.RevokeAll])
	// cannot place them in time. Such a token counts as issued at its exp -
	// Config.MaxTTL, the earliest moment at which the Verifier accepts it
	// (before that its expiry is more than MaxTTL away): a cutoff then
	// refuses it for good if exp <= cutoff + MaxTTL, and retention (cutoff
	// + MaxTTL + Leeway) outlasts every token it refuses. The cost: a
	// cutoff also refuses iat-less tokens issued up to MaxTTL - lifetime
	// after it (a subject logged out everywhere gets no iat-less token
	// accepted for that long), and issuers must not give iat-less tokens a
	// lifetime beyond MaxTTL, which the Verifier cannot check.
	IssuedAtOptional bool

	// OnRefuse, if set, is called once with the returned error for every
	// token that Parse or ParseWithClaims refuses, never for an accepted
	// one (metrics and logs add nothing to the accept path). It runs on the
	// parsing goroutine, so it must be fast and safe for concurrent use.
	OnRefuse func(err error)
}

// NewVerifier returns a Verifier that checks tokens against e, verifying
// them with keyFunc and the golang-jwt options opts (passed straight
// through; always set [jwt.WithValidMethods]). It is
// [NewVerifierWithConfig] with the other fields of [VerifierConfig] at
// their defaults; see there for the rules. Configuration mistakes (nil e
// or keyFunc, a leeway larger than the engine's, a [jwt.WithTimeFunc])
// return an error wrapping [ErrInvalidConfig].
func NewVerifier(e *Engine, keyFunc jwt.Keyfunc, opts ...jwt.ParserOption) (*Verifier, error) {
	return NewVerifierWithConfig(VerifierConfig{Engine: e, KeyFunc: keyFunc, ParserOptions: opts})
}

// NewVerifierWithConfig validates cfg and returns a Verifier. Mistakes
// return an error wrapping [ErrInvalidConfig] that names the field.
//
// The parser is given [jwt.WithLeeway] set to the engine's Config.Leeway
// before cfg.ParserOptions (a smaller one there is honoured), and
// [jwt.WithExpirationRequired] unless ExpirationOptional. Whatever the
// options say (even [jwt.WithoutClaimsValidation]), the Verifier enforces,
// on the signed payload and the wall clock: exp required (see
// ExpirationOptional) and not past exp + Leeway; iat required (see
// IssuedAtOptional) and not later than now + Leeway
// ([jwt.ErrTokenUsedBeforeIssued]); a lifetime within Config.MaxTTL (exp -
// iat and exp - now, else [ErrTTLTooLong]): a token living longer could not
// be revoked reliably nor be covered by a cutoff for its whole life. The exp
// check is golang-jwt's where it validates claims and reads exp from the
// same payload member ([jwt.MapClaims], *[jwt.RegisteredClaims]); the
// Verifier reads the clock itself otherwise. The iat and lifetime bounds
// start on the engine's coarse clock (the last tick's second), which lags
// the wall clock and so only flags more tokens, settled by time.Now; a wall
// clock stepped back by D after the last tick can let an iat up to D in the
// future through for up to a second.
//
// golang-jwt's options are opaque functions, so two settings are learned by
// their effect, once, here: whether a time function is set (two parsers
// built from the options compare unequal with reflect.DeepEqual only when a
// function-valued setting, which in golang-jwt is only the time function, is
// present) and the leeway (one call of golang-jwt's own Validator, built
// from the options on a fixed clock, on a claims value whose exp lies the
// engine's leeway before that clock: only a larger leeway accepts it). No
// token is signed or parsed for this.
func NewVerifierWithConfig(cfg VerifierConfig) (*Verifier, error) {
	invalid := func(format string, args ...any) (*Verifier, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	e := cfg.Engine
	switch {
	case e == nil:
		return invalid("VerifierConfig.Engine is nil")
	case cfg.KeyFunc == nil:
		return invalid("VerifierConfig.KeyFunc is nil")
	case cfg.MaxTokenSize < 0:
		return invalid("VerifierConfig.MaxTokenSize must not be negative, got %d", cfg.MaxTokenSize)
	}
	for i, o := range cfg.ParserOptions {
		if o == nil {
			return invalid("VerifierConfig.ParserOptions[%d] is nil", i)
		}
	}
	opts := cfg.ParserOptions
	if !reflect.DeepEqual(jwt.NewParser(opts...), jwt.NewParser(opts...)) {
		return invalid("a jwt.WithTimeFunc in ParserOptions: the Verifier's checks use the engine's clock (use testing/synctest to control time in tests)")
	}
	if leewayExceeds(opts, e.cfg.Leeway) {
		return invalid("a jwt.WithLeeway in ParserOptions is larger than the engine's Config.Leeway (%v): "+
			"the parser would accept tokens whose revocation the engine has already forgotten; raise Config.Leeway instead", e.cfg.Leeway)
	}
	all := make([]jwt.ParserOption, 0, len(opts)+3)
	all = append(all, jwt.WithLeeway(e.cfg.Leeway))
	if !cfg.ExpirationOptional {
		all = append(all, jwt.WithExpirationRequired())
	}
	all = append(all, opts...)
	// Claims validation is on unless the options turn it off: adding
	// jwt.WithoutClaimsValidation then changes nothing in the parser.
	skips := reflect.DeepEqual(jwt.NewParser(all...), jwt.NewParser(append(all, jwt.WithoutClaimsValidation())...))
	v := &Verifier{
		e:              e,
		parser:         jwt.NewParser(all...),
		keyFunc:        cfg.KeyFunc,
		maxSize:        cfg.MaxTokenSize,
		expOptional:    cfg.ExpirationOptional,
		iatOptional:    cfg.IssuedAtOptional,
		onRefuse:       cfg.OnRefuse,
		jwtChecksTimes: !skips,
		leewayMs:       e.cfg.Leeway.Milliseconds(),
		maxTTLms:       e.cfg.MaxTTL.Milliseconds(),
	}
	if v.maxSize == 0 {
		v.maxSize = DefaultMaxTokenSize
	}
	return v, nil
}

// leewayProbe is a claims value whose exp lies exactly limit before the
// probe clock: golang-jwt's Validator accepts it only if its leeway exceeds
// limit.
type leewayProbe struct{ exp *jwt.NumericDate }

func (c leewayProbe) GetExpirationTime() (*jwt.NumericDate, error) { return c.exp, nil }
func (leewayProbe) GetIssuedAt() (*jwt.NumericDate, error)         { return nil, nil }
func (leewayProbe) GetNotBefore() (*jwt.NumericDate, error)        { return nil, nil }
func (leewayProbe) GetIssuer() (string, error)                     { return "", nil }
func (leewayProbe) GetSubject() (string, error)                    { return "", nil }
func (leewayProbe) GetAudience() (jwt.ClaimStrings, error)         { return nil, nil }

// leewayExceeds reports whether opts set a validation leeway larger than
// limit (see NewVerifierWithConfig). Errors other than expiry (audience,
// issuer...) are irrelevant here and ignored.
func leewayExceeds(opts []jwt.ParserOption, limit time.Duration) bool {
	now := time.Unix(1_000_000_000, 0)
	probeOpts := append(append(make([]jwt.ParserOption, 0, len(opts)+1), opts...),
		jwt.WithTimeFunc(func() time.Time { return now }))
	err := jwt.NewValidator(probeOpts...).Validate(leewayProbe{exp: &jwt.NumericDate{Time: now.Add(-limit)}})
	return !errors.Is(err, jwt.ErrTokenExpired)
}

// Parse parses and verifies token like [jwt.Parse] with [jwt.MapClaims],
// then checks it against the engine. See [Verifier.ParseWithClaims].
func (v *Verifier) Parse(token string) (*jwt.Token, error) {
	return v.ParseWithClaims(token, jwt.MapClaims{})
}

// ParseWithClaims parses and verifies token into claims with golang-jwt,
// then checks it (see [NewVerifierWithConfig]) and that it is not revoked.
// It returns golang-jwt's errors as they are (match them with errors.Is:
// [jwt.ErrTokenExpired], [jwt.ErrTokenSignatureInvalid],
// [jwt.ErrTokenMalformed], [jwt.ErrTokenUnverifiable] for a KeyFunc
// failure...). A revoked token gives an error wrapping [ErrTokenRevoked],
// [ErrSubjectRevoked] or [ErrAllRevoked], each wrapping [ErrRevoked]; a
// token longer than the size limit, or whose payload repeats a registered
// claim, one wrapping [jwt.ErrTokenMalformed]; a missing exp or iat one
// wrapping [jwt.ErrTokenRequiredClaimMissing]; an iat in the future one
// wrapping [jwt.ErrTokenUsedBeforeIssued]; a lifetime beyond Config.MaxTTL
// one wrapping [ErrTTLTooLong]; a token whose header or payload nests
// arrays or objects more than 32 deep one wrapping
// [jwt.ErrTokenMalformed] (when header.payload is longer than 512 bytes,
// before golang-jwt decodes it). A token refused before golang-jwt parses
// it (too long, too deep) is returned as nil; on any other error from these
// checks the token is returned with Valid set to false.
//
// claims may be any [jwt.Claims]: the revocation checks do not read it. A
// nil [jwt.MapClaims] is replaced by an empty one (golang-jwt would decode
// into a map of its own and validate the nil one, checking no exp, nbf or
// aud); the decoded claims are then in the token's Claims.
// It is safe for concurrent use. On a token that is not revoked it adds no
// allocation to golang-jwt's (payloads up to 1 KiB).
func (v *Verifier) ParseWithClaims(token string, claims jwt.Claims) (*jwt.Token, error) {
	if len(token) > v.maxSize {
		return nil, v.refused(fmt.Errorf("revoke: token is %d bytes, more than the %d allowed: %w", len(token), v.maxSize, jwt.ErrTokenMalformed))
	}
	if m, ok := claims.(jwt.MapClaims); ok && m == nil {
		claims = jwt.MapClaims{}
	}
	// golang-jwt decodes the header and the claims before it checks the
	// signature: a long token is scanned for deep nesting first (see
	// prescan), so that unsigned input cannot make its decoder work hard.
	if len(token) > prescanMin && strings.LastIndexByte(token, '.') > prescanMin {
		if err := prescan(token); err != nil {
			return nil, v.refused(err)
		}
	}
	tok, err := v.parser.ParseWithClaims(token, claims, v.keyFunc)
	if err != nil {
		return tok, v.refused(err)
	}
	if err := v.check(token, claims); err != nil {
		tok.Valid = false
		return tok, v.refused(err)
	}
	return tok, nil
}

func (v *Verifier) refused(err error) error {
	if v.onRefuse != nil {
		v.onRefuse(err)
	}
	return err
}

var (
	errExpired   = fmt.Errorf("revoke: %w: %w", jwt.ErrTokenInvalidClaims, jwt.ErrTokenExpired)
	errNoExp     = fmt.Errorf("revoke: %w: %w: exp", jwt.ErrTokenInvalidClaims, jwt.ErrTokenRequiredClaimMissing)
	errNoIat     = fmt.Errorf("revoke: %w: %w: iat (cutoffs need it; see VerifierConfig.IssuedAtOptional)", jwt.ErrTokenInvalidClaims, jwt.ErrTokenRequiredClaimMissing)
	errNoTime    = fmt.Errorf("revoke: token has neither exp nor iat: %w: %w", jwt.ErrTokenInvalidClaims, jwt.ErrTokenRequiredClaimMissing)
	errFutureIat = fmt.Errorf("revoke: iat is later than now + Leeway: %w: %w", jwt.ErrTokenInvalidClaims, jwt.ErrTokenUsedBeforeIssued)
	errLifetime  = fmt.Errorf("%w: the token's lifetime (exp - iat) exceeds MaxTTL", ErrTTLTooLong)
	errExpAhead  = fmt.Errorf("%w: the token expires more than MaxTTL from now", ErrTTLTooLong)
)

// prescanMin is the length of the signed part (header.payload) above which
// ParseWithClaims scans the header and the payload for nesting before
// golang-jwt decodes them. A shorter one nests at most about 150 levels,
// which costs golang-jwt some tens of microseconds at worst
// (BenchmarkAttackAdversarialPayload); typical tokens stay under it and
// pay nothing.
const prescanMin = 512

// prescan refuses a token whose header or payload nests arrays or objects
// more than maxPayloadDepth deep (or whose payload the reader refuses),
// before golang-jwt decodes them: an unsigned 8 KiB payload of nested
// arrays cost golang-jwt's decoder about 80 times a typical parse.
func prescan(token string) error {
	var buf [payloadBufSize]byte
	if err := checkHeaderDepth(token, buf[:]); err != nil {
		return err
	}
	var f tokenFacts
	_, err := f.readToken(token, buf[:])
	return err
}

// sameReading reports whether golang-jwt reads exp and iat of claims from
// the exact-case payload members, as the payload reader does. A nil
// MapClaims is not decoded into (golang-jwt fills a map of its own and
// validates the empty one): ParseWithClaims replaces it, and it is refused
// here too, so that its exp is never taken as checked.
func sameReading(claims jwt.Claims) bool {
	switch c := claims.(type) {
	case jwt.MapClaims:
		return c != nil
	case *jwt.RegisteredClaims:
		return c != nil
	}
	return false
}

// check applies the time, lifetime and revocation checks to a token that
// golang-jwt has verified into claims, reading its facts from the signed
// payload.
func (v *Verifier) check(raw string, claims jwt.Claims) error {
	var buf [payloadBufSize]byte
	var f tokenFacts
	p, err := f.readToken(raw, buf[:])
	if err != nil {
		return err
	}
	e := v.e
	if !f.hasIat && !v.iatOptional {
		return errNoIat
	}
	if !f.hasExp {
		switch {
		case !v.expOptional:
			return errNoExp
		case !f.hasIat:
			return errNoTime
		}
		f.expMs = f.iatMs + v.maxTTLms
	}
	if f.hasIat && f.expMs-f.iatMs > v.maxTTLms {
		return errLifetime
	}
	// golang-jwt has checked exp against the wall clock and a leeway no
	// larger than the engine's when it validates claims and reads exp from
	// the same payload member as this reader (MapClaims and
	// *RegisteredClaims: the exact name, no duplicate, no other case, all
	// refused above); its value is this one truncated to jwt.TimePrecision,
	// never later. Otherwise the Verifier reads the clock itself. The other
	// bounds (iat not in the future, exp within MaxTTL of now) start on the
	// coarse clock, which lags the wall clock by up to a second and so only
	// flags more tokens; time.Now settles those.
	// (MapClaims reads an exp of exactly 0 as absent: golang-jwt checks
	// nothing then, so an exp <= 0 is never left to it.)
	if !f.hasExp || f.expMs <= 0 || !v.jwtChecksTimes || !sameReading(claims) {
		now := time.Now().UnixMilli()
		switch {
		case now >= f.expMs+v.leewayMs:
			return errExpired
		case f.hasIat && f.iatMs-v.leewayMs > now:
			return errFutureIat
		case f.expMs-now > v.maxTTLms:
			return errExpAhead
		}
	} else if coarse := e.clock.Load() * 1000; (f.hasIat && f.iatMs-v.leewayMs > coarse) || f.expMs-coarse > v.maxTTLms {
		now := time.Now().UnixMilli()
		switch {
		case f.hasIat && f.iatMs-v.leewayMs > now:
			return errFutureIat
		case f.expMs-now > v.maxTTLms:
			return errExpAhead
		}
	}

	fp, ok := tokenFingerprint(kindKey, raw, p, &f)
	if !ok {
		return errNoKey
	}
	filter := e.filter.Load()
	if filter.mayContain(fp) {
		if _, hit := e.lookup(fp); hit {
			return ErrTokenRevoked
		}
	}
	if !e.cutoffsHeld.Load() {
		return nil
	}
	iat := f.iatMs
	if !f.hasIat {
		iat = f.expMs - v.maxTTLms // see VerifierConfig.IssuedAtOptional
	}
	if filter.mayContain(globalCutoffFP) {
		if r, hit := e.lookup(globalCutoffFP); hit && cutoffCovers(e, r.value, kindGlobalCutoffMillis, "", "", iat) {
			return ErrAllRevoked
		}
	}
	if !f.sub.empty() {
		iss, sub := f.iss.of(p), f.sub.of(p)
		sfp := compositeFingerprint(kindSubjectCutoff, iss, sub)
		if filter.mayContain(sfp) {
			if r, hit := e.lookup(sfp); hit && cutoffCovers(e, r.value, kindSubjectCutoffMillis, iss, sub, iat) {
				return ErrSubjectRevoked
			}
		}
	}
	return nil
}
