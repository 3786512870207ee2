package revoke

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/golang-jwt/jwt/v5"
)

// DefaultMaxTokenSize is the largest token string a [Verifier] parses unless
// [WithMaxTokenSize] says otherwise: 8 KiB, far above any sane JWT and small
// enough that an attacker cannot make the parser decode megabytes.
const DefaultMaxTokenSize = 8 << 10

// Verifier parses and verifies JWTs with golang-jwt, then refuses those that
// have been revoked in its [Engine]: by token ([Engine.RevokeToken]), by
// subject ([Engine.RevokeSubject]) or all at once ([Engine.RevokeAll]).
//
// A Verifier is safe for concurrent use and is meant to be created once and
// shared. Its revocation check costs one bloom filter probe per kind of
// record (token, subject cutoff, global cutoff) and allocates nothing on a
// token that is not revoked.
type Verifier struct {
	e       *Engine
	parser  *jwt.Parser
	keyFunc jwt.Keyfunc
	// maxSize is the largest token string parsed, in bytes.
	maxSize int
	// expOptional accepts tokens without exp (see WithExpirationOptional).
	expOptional bool
	// ownExpiryCheck is set when the options given disable golang-jwt's
	// claims validation: the Verifier then checks exp itself.
	ownExpiryCheck bool
}

// verifierSettings collects the options of this package passed among the
// jwt.ParserOption values of NewVerifier.
type verifierSettings struct {
	maxSize     int
	expOptional bool
}

// optionSinks maps a probe parser that NewVerifier is applying options to
// onto the settings that the options of this package write into. Applied to
// any other parser, the options of this package do nothing.
var optionSinks sync.Map // *jwt.Parser → *verifierSettings

func settingsOf(p *jwt.Parser) *verifierSettings {
	if s, ok := optionSinks.Load(p); ok {
		return s.(*verifierSettings)
	}
	return nil
}

// WithMaxTokenSize sets the largest token string, in bytes, that a
// [Verifier] parses; longer ones are refused before any decoding with an
// error wrapping [jwt.ErrTokenMalformed]. n <= 0 selects
// [DefaultMaxTokenSize]. It is an option of [NewVerifier] only: given to
// golang-jwt directly it does nothing.
func WithMaxTokenSize(n int) jwt.ParserOption {
	return func(p *jwt.Parser) {
		if s := settingsOf(p); s != nil {
			s.maxSize = n
		}
	}
}

// WithExpirationOptional makes a [Verifier] accept tokens without an exp
// claim, which it refuses by default. Such a token must carry iat: it is then
// treated as expiring at iat + Config.MaxTTL (refused after that, and
// retained that long once revoked), so that a revoked token can never outlive
// its revocation. Tokens with neither exp nor iat are still refused. It is an
// option of [NewVerifier] only: given to golang-jwt directly it does nothing.
func WithExpirationOptional() jwt.ParserOption {
	return func(p *jwt.Parser) {
		if s := settingsOf(p); s != nil {
			s.expOptional = true
		}
	}
}

// NewVerifier returns a Verifier that parses tokens with golang-jwt using
// keyFunc and opts (passed straight through, e.g. [jwt.WithValidMethods],
// which you should always set), and checks them against e.
//
// The parser is given [jwt.WithLeeway] set to e's Config.Leeway and
// [jwt.WithExpirationRequired] (see [WithExpirationOptional]) before opts,
// and [jwt.WithTimeFunc](time.Now) after them: the parser's leeway and clock
// are the engine's, so a token the parser accepts is never one whose
// revocation e has already forgotten. A smaller leeway in opts is honoured; a
// larger one is a programmer error and NewVerifier panics, as it does when e
// or keyFunc is nil. A WithTimeFunc in opts is overridden (in tests, use
// testing/synctest to control time). With [jwt.WithoutClaimsValidation] the
// Verifier checks exp + Config.Leeway itself. It also refuses tokens whose
// lifetime exceeds Config.MaxTTL (exp more than MaxTTL after iat, or after
// now): those could not be revoked reliably.
//
// NewVerifier validates opts once by applying them to a probe parser; it is
// meant to run at start-up.
func NewVerifier(e *Engine, keyFunc jwt.Keyfunc, opts ...jwt.ParserOption) *Verifier {
	if e == nil {
		panic("revoke: NewVerifier: nil Engine")
	}
	if keyFunc == nil {
		panic("revoke: NewVerifier: nil jwt.Keyfunc")
	}
	s := collectSettings(opts)
	if leewayExceeds(opts, e.cfg.Leeway) {
		panic(fmt.Sprintf("revoke: NewVerifier: a jwt.WithLeeway option is larger than the engine's Config.Leeway (%v): "+
			"the parser would accept tokens whose revocation the engine has already forgotten; raise Config.Leeway instead", e.cfg.Leeway))
	}
	all := make([]jwt.ParserOption, 0, len(opts)+3)
	all = append(all, jwt.WithLeeway(e.cfg.Leeway))
	if !s.expOptional {
		all = append(all, jwt.WithExpirationRequired())
	}
	all = append(all, opts...)
	all = append(all, jwt.WithTimeFunc(time.Now)) // the engine's clock, whatever opts say
	v := &Verifier{
		e:              e,
		parser:         jwt.NewParser(all...),
		keyFunc:        keyFunc,
		maxSize:        s.maxSize,
		expOptional:    s.expOptional,
		ownExpiryCheck: skipsClaimsValidation(opts),
	}
	if v.maxSize <= 0 {
		v.maxSize = DefaultMaxTokenSize
	}
	return v
}

// collectSettings applies opts to a probe parser registered in optionSinks,
// so that the options of this package among them record their settings.
func collectSettings(opts []jwt.ParserOption) verifierSettings {
	s := &verifierSettings{}
	var probe *jwt.Parser
	open := func(p *jwt.Parser) { probe = p; optionSinks.Store(p, s) }
	jwt.NewParser(append([]jwt.ParserOption{open}, opts...)...)
	optionSinks.Delete(probe)
	return *s
}

// leewayProbe is a claims value whose exp lies exactly limit before the
// probe clock: a validator accepts it only if its leeway exceeds limit.
type leewayProbe struct{ exp *jwt.NumericDate }

func (c leewayProbe) GetExpirationTime() (*jwt.NumericDate, error) { return c.exp, nil }
func (leewayProbe) GetIssuedAt() (*jwt.NumericDate, error)         { return nil, nil }
func (leewayProbe) GetNotBefore() (*jwt.NumericDate, error)        { return nil, nil }
func (leewayProbe) GetIssuer() (string, error)                     { return "", nil }
func (leewayProbe) GetSubject() (string, error)                    { return "", nil }
func (leewayProbe) GetAudience() (jwt.ClaimStrings, error)         { return nil, nil }

// leewayExceeds reports whether opts set a validation leeway larger than
// limit. golang-jwt's options are opaque functions, so it observes their
// effect: a validator built from opts (on a fixed clock) judges a token that
// expired exactly limit ago, which only a larger leeway accepts. Errors
// other than expiry (audience, issuer...) are irrelevant here and ignored.
func leewayExceeds(opts []jwt.ParserOption, limit time.Duration) bool {
	now := time.Unix(1_000_000_000, 0)
	probeOpts := append(append(make([]jwt.ParserOption, 0, len(opts)+1), opts...),
		jwt.WithTimeFunc(func() time.Time { return now }))
	err := jwt.NewValidator(probeOpts...).Validate(leewayProbe{exp: &jwt.NumericDate{Time: now.Add(-limit)}})
	return !errors.Is(err, jwt.ErrTokenExpired)
}

// probeToken is an HS256 token that expired in 1970, signed with a random
// key known only to skipsClaimsValidation.
var probeToken = sync.OnceValues(func() (string, []byte) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		ExpiresAt: jwt.NewNumericDate(time.Unix(1, 0)),
	}).SignedString(key)
	if err != nil {
		panic("revoke: signing the probe token: " + err.Error())
	}
	return tok, key
})

// skipsClaimsValidation reports whether opts keep golang-jwt from
// validating claims (jwt.WithoutClaimsValidation): it parses a token that
// expired long ago with them, method restrictions lifted, and looks for the
// expiry error. Any other outcome counts as "skips", which only costs the
// Verifier a clock read per parse.
func skipsClaimsValidation(opts []jwt.ParserOption) bool {
	token, key := probeToken()
	probeOpts := append(append(make([]jwt.ParserOption, 0, len(opts)+3), opts...),
		jwt.WithValidMethods(nil), jwt.WithLeeway(0), jwt.WithTimeFunc(time.Now))
	_, err := jwt.NewParser(probeOpts...).ParseWithClaims(token, jwt.MapClaims{},
		func(*jwt.Token) (any, error) { return key, nil })
	return !errors.Is(err, jwt.ErrTokenExpired)
}

// Parse parses and verifies token like [jwt.Parse] with [jwt.MapClaims],
// then checks it against the engine. See [Verifier.ParseWithClaims].
func (v *Verifier) Parse(token string) (*jwt.Token, error) {
	return v.ParseWithClaims(token, jwt.MapClaims{})
}

// ParseWithClaims parses and verifies token into claims with golang-jwt,
// then checks that it is not revoked. It returns golang-jwt's errors as they
// are (match them with errors.Is: [jwt.ErrTokenExpired],
// [jwt.ErrTokenSignatureInvalid], [jwt.ErrTokenMalformed]...); a revoked
// token gives an error wrapping [ErrRevoked]; a token longer than the size
// limit one wrapping [jwt.ErrTokenMalformed]; a token whose lifetime is
// beyond Config.MaxTTL one wrapping [ErrTTLTooLong]. On any error from the
// revocation checks the token is returned with Valid set to false.
//
// claims may be [jwt.MapClaims], *[jwt.RegisteredClaims], a pointer to a
// struct embedding [jwt.RegisteredClaims], or any [jwt.Claims]; the token's
// jti is read from RegisteredClaims.ID, MapClaims["jti"] or a
// GetID() (string, error) method. Use one claims type per token family: a
// type that hides the jti gives a different key (see [TokenKey]).
//
// It is safe for concurrent use. On a token that is not revoked it adds no
// allocation to golang-jwt's, one hash of the token key and three bloom
// filter probes.
func (v *Verifier) ParseWithClaims(token string, claims jwt.Claims) (*jwt.Token, error) {
	if len(token) > v.maxSize {
		return nil, fmt.Errorf("revoke: token is %d bytes, more than the %d allowed: %w", len(token), v.maxSize, jwt.ErrTokenMalformed)
	}
	tok, err := v.parser.ParseWithClaims(token, claims, v.keyFunc)
	if err != nil {
		return tok, err
	}
	if err := v.check(tok); err != nil {
		tok.Valid = false
		return tok, err
	}
	return tok, nil
}

var (
	errExpired = fmt.Errorf("revoke: %w: %w", jwt.ErrTokenInvalidClaims, jwt.ErrTokenExpired)
	errNoExp   = fmt.Errorf("revoke: %w: %w: exp", jwt.ErrTokenInvalidClaims, jwt.ErrTokenRequiredClaimMissing)
	errNoTime  = fmt.Errorf("revoke: token has neither exp nor iat: %w: %w", jwt.ErrTokenInvalidClaims, jwt.ErrTokenRequiredClaimMissing)
	errNoKey   = fmt.Errorf("%w: the token has no jti and no raw form to take its signed part from (parse it first)", ErrEmptyKey)

	errRevokedToken   = fmt.Errorf("%w: this token was revoked", ErrRevoked)
	errRevokedSubject = fmt.Errorf("%w: its subject was logged out everywhere", ErrRevoked)
	errRevokedAll     = fmt.Errorf("%w: every token issued before a cutoff was revoked", ErrRevoked)
)

// check applies the expiry, lifetime and revocation checks to a token that
// golang-jwt has verified.
func (v *Verifier) check(tok *jwt.Token) error {
	var f tokenFacts
	if err := f.read(tok.Claims); err != nil {
		return err
	}
	e := v.e
	exp := f.exp
	if !f.hasExp {
		switch {
		case !v.expOptional:
			return errNoExp
		case !f.hasIat:
			return errNoTime
		}
		exp = f.iat.Add(e.cfg.MaxTTL)
	}
	// golang-jwt has checked exp against the engine's clock and leeway,
	// unless its claims validation is off or the token has no exp.
	if v.ownExpiryCheck || !f.hasExp {
		if !time.Now().Before(exp.Add(e.cfg.Leeway)) {
			return errExpired
		}
	}
	// Lifetime: a token living longer than MaxTTL could not be revoked
	// (ErrTTLTooLong) nor be covered by a cutoff for its whole life. The
	// coarse clock lags the wall clock, which only makes the first test
	// stricter; time.Now settles the cases it flags.
	if exp.Unix()-e.clock.Load() >= int64(e.cfg.MaxTTL/time.Second) {
		if ahead := time.Until(exp); ahead > e.cfg.MaxTTL {
			return fmt.Errorf("%w: the token expires %v from now", ErrTTLTooLong, ahead.Round(time.Second))
		}
	}
	if f.hasIat && exp.Sub(f.iat) > e.cfg.MaxTTL {
		return fmt.Errorf("%w: the token's lifetime (exp - iat) is %v", ErrTTLTooLong, exp.Sub(f.iat))
	}

	fp, ok := tokenFingerprint(kindKey, tok.Raw, &f)
	if !ok {
		return errNoKey
	}
	filter := e.filter.Load()
	if filter.mayContain(fp) {
		if _, hit := e.lookup(fp); hit {
			return errRevokedToken
		}
	}
	if filter.mayContain(globalCutoffFP) {
		if r, hit := e.lookup(globalCutoffFP); hit && f.coveredBy(r.value) {
			return errRevokedAll
		}
	}
	if f.sub != "" {
		sfp := compositeFingerprint(kindSubjectCutoff, f.iss, f.sub)
		if filter.mayContain(sfp) {
			if r, hit := e.lookup(sfp); hit && f.coveredBy(r.value) {
				return errRevokedSubject
			}
		}
	}
	return nil
}

// tokenFacts are the claims the revocation checks need, read from any claims
// type; for the common types without allocating.
type tokenFacts struct {
	iss, sub, jti  string
	exp, iat       time.Time
	hasExp, hasIat bool
}

// coveredBy reports whether a cutoff at Unix second cutoff applies to the
// token: it was issued at or before that second, or its issue time is
// unknown (fail safe).
func (f *tokenFacts) coveredBy(cutoff uint32) bool {
	return !f.hasIat || f.iat.Unix() <= int64(cutoff)
}

// idGetter is implemented by claims types that expose their jti.
type idGetter interface {
	GetID() (string, error)
}

func (f *tokenFacts) read(c jwt.Claims) error {
	switch c := c.(type) {
	case jwt.MapClaims:
		return f.readMap(c)
	case *jwt.MapClaims:
		if c == nil {
			return fmt.Errorf("revoke: nil *jwt.MapClaims: %w", jwt.ErrTokenMalformed)
		}
		return f.readMap(*c)
	case *jwt.RegisteredClaims:
		if c == nil {
			return fmt.Errorf("revoke: nil *jwt.RegisteredClaims: %w", jwt.ErrTokenMalformed)
		}
		f.readRegistered(c)
		return nil
	case jwt.RegisteredClaims:
		f.readRegistered(&c)
		return nil
	}
	var err error
	if f.iss, err = c.GetIssuer(); err != nil {
		return err
	}
	if f.sub, err = c.GetSubject(); err != nil {
		return err
	}
	if f.exp, f.hasExp, err = numericDate(c.GetExpirationTime()); err != nil {
		return err
	}
	if f.iat, f.hasIat, err = numericDate(c.GetIssuedAt()); err != nil {
		return err
	}
	if g, ok := c.(idGetter); ok {
		f.jti, err = g.GetID()
		return err
	}
	f.jti = embeddedID(c)
	return nil
}

func (f *tokenFacts) readRegistered(c *jwt.RegisteredClaims) {
	f.iss, f.sub, f.jti = c.Issuer, c.Subject, c.ID
	f.exp, f.hasExp, _ = numericDate(c.ExpiresAt, nil)
	f.iat, f.hasIat, _ = numericDate(c.IssuedAt, nil)
}

func numericDate(d *jwt.NumericDate, err error) (time.Time, bool, error) {
	if err != nil || d == nil {
		return time.Time{}, false, err
	}
	return d.Time, true, nil
}

// readMap reads MapClaims the way golang-jwt does (same types, same zero
// handling, same truncation to jwt.TimePrecision), without allocating.
func (f *tokenFacts) readMap(m jwt.MapClaims) error {
	var err error
	if f.iss, err = mapString(m, "iss"); err != nil {
		return err
	}
	if f.sub, err = mapString(m, "sub"); err != nil {
		return err
	}
	if f.jti, err = mapString(m, "jti"); err != nil {
		return err
	}
	if f.exp, f.hasExp, err = mapTime(m, "exp"); err != nil {
		return err
	}
	f.iat, f.hasIat, err = mapTime(m, "iat")
	return err
}

func mapString(m jwt.MapClaims, key string) (string, error) {
	v, ok := m[key]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("revoke: claim %s is not a string: %w", key, jwt.ErrInvalidType)
	}
	return s, nil
}

// maxClaimSeconds bounds the numeric dates accepted (about year 33658), so
// that conversions to time.Time cannot overflow.
const maxClaimSeconds = 1e12

func mapTime(m jwt.MapClaims, key string) (time.Time, bool, error) {
	v, ok := m[key]
	if !ok {
		return time.Time{}, false, nil
	}
	var x float64
	switch n := v.(type) {
	case float64:
		if n == 0 { // as golang-jwt: 0 means absent
			return time.Time{}, false, nil
		}
		x = n
	case json.Number:
		var err error
		if x, err = n.Float64(); err != nil {
			return time.Time{}, false, fmt.Errorf("revoke: claim %s: %w", key, jwt.ErrInvalidType)
		}
	default:
		return time.Time{}, false, fmt.Errorf("revoke: claim %s is not a number: %w", key, jwt.ErrInvalidType)
	}
	if math.IsNaN(x) || math.Abs(x) > maxClaimSeconds {
		return time.Time{}, false, fmt.Errorf("revoke: claim %s is out of range: %w", key, jwt.ErrInvalidType)
	}
	sec, frac := math.Modf(x)
	if jwt.TimePrecision == time.Second && x >= 0 {
		return time.Unix(int64(sec), 0), true, nil // the common case, cheaper
	}
	return time.Unix(int64(sec), int64(frac*1e9)).Truncate(jwt.TimePrecision), true, nil
}

// idFieldPaths caches, per claims type, the field index path of the ID field
// of an embedded jwt.RegisteredClaims (nil when there is none).
var idFieldPaths sync.Map // reflect.Type → []int

var registeredType = reflect.TypeFor[jwt.RegisteredClaims]()

// embeddedID returns the jti of a claims value that is (a pointer to) a
// struct embedding jwt.RegisteredClaims, directly or through other embedded
// structs (the shallowest wins), or "" if it has none. The type's layout is
// looked up once and cached; a lookup after that allocates nothing.
func embeddedID(c jwt.Claims) string {
	v := reflect.ValueOf(c)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	t := v.Type()
	path, ok := idFieldPaths.Load(t)
	if !ok {
		path, _ = idFieldPaths.LoadOrStore(t, findEmbeddedID(t))
	}
	p := path.([]int)
	if p == nil {
		return ""
	}
	fv, err := v.FieldByIndexErr(p)
	if err != nil { // a nil embedded pointer on the way
		return ""
	}
	return fv.String()
}

// findEmbeddedID searches t's embedded fields breadth first for a
// jwt.RegisteredClaims (or a pointer to one) and returns the index path of
// its ID field.
func findEmbeddedID(t reflect.Type) []int {
	idField, _ := registeredType.FieldByName("ID")
	type node struct {
		t    reflect.Type
		path []int
	}
	level := []node{{t: t}}
	for depth := 0; depth < 8 && len(level) > 0; depth++ {
		var next []node
		for _, n := range level {
			for i := range n.t.NumField() {
				sf := n.t.Field(i)
				if !sf.Anonymous {
					continue
				}
				ft := sf.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				path := append(append([]int(nil), n.path...), i)
				if ft == registeredType {
					return append(path, idField.Index...)
				}
				if ft.Kind() == reflect.Struct {
					next = append(next, node{t: ft, path: path})
				}
			}
		}
		level = next
	}
	return nil
}

// Token keys. A token with a jti is known by (iss, jti); one without by its
// signed part, header.payload. The (iss, jti) form starts with idKeyPrefix,
// a byte that cannot begin a base64url string, followed by the issuer's
// length as a uvarint, the issuer and the jti: no two (iss, jti) pairs and no
// signed part share an encoding.
const idKeyPrefix = 0x00

// compositeBufSize is the stack buffer for composite keys; longer keys are
// hashed in a streaming digest instead, to the same fingerprint.
const compositeBufSize = 256

// compositeFingerprint is fingerprint(k, compositeKey(a, b)) without
// building the key on the heap.
func compositeFingerprint(k kind, a, b string) uint64 {
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
	_, _ = d.WriteString(a)
	_, _ = d.WriteString(b)
	return nonZero(d.Sum64() ^ kindSeeds[k])
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

// signedPart returns raw up to its last '.', or false.
func signedPart(raw string) (string, bool) {
	i := strings.LastIndexByte(raw, '.')
	if i <= 0 {
		return "", false
	}
	return raw[:i], true
}

// tokenFingerprint is the fingerprint of a token's key in the domain of k.
func tokenFingerprint(k kind, raw string, f *tokenFacts) (uint64, bool) {
	if f.jti != "" {
		return compositeFingerprint(k, f.iss, f.jti), true
	}
	sp, ok := signedPart(raw)
	if !ok {
		return 0, false
	}
	return fingerprint(k, sp), true
}

var globalCutoffFP = fingerprint(kindGlobalCutoff, "all")

// TokenKey returns the key under which the revocation layer knows tok:
// [IDKey](iss, jti) when it has a jti, otherwise its signed part
// (header.payload, never the signature, which is malleable). [Engine.Revoke]
// and [Engine.IsRevoked] with this key act on the same entry as
// [Engine.RevokeToken] and [Verifier.Parse]. tok must come from a parser (its
// Raw form is needed when it has no jti); the error then wraps [ErrEmptyKey],
// or golang-jwt's error for a claim of the wrong type. It allocates the key.
func TokenKey(tok *jwt.Token) (string, error) {
	if tok == nil {
		return "", fmt.Errorf("%w: nil token", ErrEmptyKey)
	}
	var f tokenFacts
	if err := f.read(tok.Claims); err != nil {
		return "", err
	}
	if f.jti != "" {
		return compositeKey(f.iss, f.jti), nil
	}
	sp, ok := signedPart(tok.Raw)
	if !ok {
		return "", errNoKey
	}
	return sp, nil
}

// IDKey returns the key of the token with this issuer and jti, as
// [TokenKey] would: revoke a token by id without holding it with
// e.Revoke(revoke.IDKey(iss, jti), exp). It allocates the key.
func IDKey(issuer, id string) string { return compositeKey(issuer, id) }
