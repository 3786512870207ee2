package revoke

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestVerifierRevokeToken(t *testing.T) {
	for _, alg := range testAlgs() {
		for _, ck := range claimsKinds {
			t.Run(alg.name+"/"+ck.name, func(t *testing.T) {
				e := newTestEngine(t, Config{})
				v := alg.verifier(e)
				token := alg.sign(t, claims("auth", "alice", "jti-1", time.Hour))
				other := alg.sign(t, claims("auth", "alice", "jti-2", time.Hour))

				tok, err := v.ParseWithClaims(token, ck.new())
				require.NoError(t, err)
				require.True(t, tok.Valid)

				require.NoError(t, e.RevokeToken(tok))
				tok, err = v.ParseWithClaims(token, ck.new())
				assert.ErrorIs(t, err, ErrRevoked)
				require.NotNil(t, tok)
				assert.False(t, tok.Valid, "a revoked token must not be marked valid")

				_, err = v.ParseWithClaims(other, ck.new())
				assert.NoError(t, err, "another token of the same subject stays valid")
			})
		}
	}
}

// A token revoked through one claims type is refused through every other:
// the key does not depend on how the claims are decoded.
func TestTokenKeySameAcrossClaimsTypes(t *testing.T) {
	alg := algByName(t, "HS256")
	for _, withJTI := range []bool{true, false} {
		jti := ""
		if withJTI {
			jti = "jti-x"
		}
		token := alg.sign(t, claims("auth", "bob", jti, time.Hour))
		for _, revokedAs := range claimsKinds {
			t.Run(revokedAs.name+map[bool]string{true: "/jti", false: "/no-jti"}[withJTI], func(t *testing.T) {
				e := newTestEngine(t, Config{})
				v := alg.verifier(e)
				tok, err := v.ParseWithClaims(token, revokedAs.new())
				require.NoError(t, err)
				key, err := TokenKey(tok)
				require.NoError(t, err)
				require.NoError(t, e.RevokeToken(tok))
				assert.True(t, e.IsRevoked(key), "TokenKey must name the entry RevokeToken made")
				for _, parsedAs := range claimsKinds {
					tok, err := v.ParseWithClaims(token, parsedAs.new())
					assert.ErrorIs(t, err, ErrRevoked, "parsed as %s", parsedAs.name)
					k2, err := TokenKey(tok)
					require.NoError(t, err)
					assert.Equal(t, key, k2, "parsed as %s", parsedAs.name)
				}
			})
		}
	}
}

func TestTokenKey(t *testing.T) {
	alg := algByName(t, "HS256")
	withID := alg.sign(t, claims("auth", "alice", "id-1", time.Hour))
	noID := alg.sign(t, claims("auth", "alice", "", time.Hour))
	e := newTestEngine(t, Config{})
	v := alg.verifier(e)

	tok, err := v.Parse(withID)
	require.NoError(t, err)
	key, err := TokenKey(tok)
	require.NoError(t, err)
	assert.Equal(t, IDKey("auth", "id-1"), key)
	assert.NotContains(t, key, strings.Split(withID, ".")[2], "never the signature")

	tok, err = v.Parse(noID)
	require.NoError(t, err)
	key, err = TokenKey(tok)
	require.NoError(t, err)
	assert.Equal(t, noID[:strings.LastIndexByte(noID, '.')], key, "without jti: the signed part")

	t.Run("Engine.Revoke with TokenKey is seen by Parse", func(t *testing.T) {
		require.NoError(t, e.Revoke(key, time.Now().Add(time.Hour)))
		_, err := v.Parse(noID)
		assert.ErrorIs(t, err, ErrRevoked)
	})
	t.Run("IDKey revokes by id without the token", func(t *testing.T) {
		require.NoError(t, e.Revoke(IDKey("auth", "id-1"), time.Now().Add(time.Hour)))
		_, err := v.Parse(withID)
		assert.ErrorIs(t, err, ErrRevoked)
	})
	t.Run("errors", func(t *testing.T) {
		_, err := TokenKey(nil)
		assert.ErrorIs(t, err, ErrEmptyKey)
		unparsed := jwt.NewWithClaims(jwt.SigningMethodHS256, claims("auth", "a", "", time.Hour))
		_, err = TokenKey(unparsed)
		assert.ErrorIs(t, err, ErrEmptyKey, "no jti and no Raw: no key")
		assert.ErrorIs(t, e.RevokeToken(unparsed), ErrUnverifiedToken)
		bad := &jwt.Token{Raw: "e30." + base64.RawURLEncoding.EncodeToString([]byte(`{"jti":42}`)) + ".c"}
		_, err = TokenKey(bad)
		assert.ErrorIs(t, err, jwt.ErrInvalidType)
	})
}

func TestCompositeKeys(t *testing.T) {
	long := strings.Repeat("x", 300)
	cases := []struct{ a, b string }{
		{"", "id"}, {"iss", "id"}, {long, "id"}, {"iss", long}, {long, long},
		{strings.Repeat("y", 250), "z"}, // straddles the stack buffer
	}
	for _, c := range cases {
		for k := range numKinds {
			assert.Equal(t, fingerprint(k, compositeKey(c.a, c.b)), compositeFingerprint(k, c.a, c.b),
				"len(a)=%d len(b)=%d kind %d", len(c.a), len(c.b), k)
		}
		assert.Zero(t, testing.AllocsPerRun(100, func() { compositeFingerprint(kindKey, c.a, c.b) }),
			"len(a)=%d len(b)=%d", len(c.a), len(c.b))
	}
	// The encoding is unambiguous: moving bytes between issuer and id
	// changes the key.
	assert.NotEqual(t, compositeKey("ab", "c"), compositeKey("a", "bc"))
	assert.NotEqual(t, compositeKey("", "ab"), compositeKey("a", "b"))
	assert.Equal(t, byte(idKeyPrefix), compositeKey("a", "b")[0])
	assert.False(t, strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", rune(idKeyPrefix)),
		"the prefix must not start a base64url signed part")
}

func TestVerifierErrors(t *testing.T) {
	hs := algByName(t, "HS256")
	rs := algByName(t, "RS256")
	now := time.Now()
	pubDER, err := x509.MarshalPKIXPublicKey(rs.verifyKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	noneToken, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims("auth", "a", "n", time.Hour)).
		SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	valid := hs.sign(t, claims("auth", "a", "v", time.Hour))
	parts := strings.Split(valid, ".")

	cases := []struct {
		name    string
		token   string
		keyFn   jwt.Keyfunc // default hs.keyFunc()
		opts    []jwt.ParserOption
		maxSize int
		iatOpt  bool
		wantIs  []error
	}{
		{name: "expired", token: hs.sign(t, &jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(now.Add(-time.Minute))}),
			wantIs: []error{jwt.ErrTokenExpired}},
		{name: "bad signature", token: parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
			wantIs: []error{jwt.ErrTokenSignatureInvalid}},
		{name: "malformed", token: "not-a-jwt", wantIs: []error{jwt.ErrTokenMalformed}},
		{name: "empty", token: "", wantIs: []error{jwt.ErrTokenMalformed}},
		{name: "alg none", token: noneToken, keyFn: func(*jwt.Token) (any, error) { return hs.verifyKey, nil },
			wantIs: []error{jwt.ErrTokenUnverifiable}},
		{name: "alg none, even with a permissive keyfunc and no method list", token: noneToken,
			keyFn:  func(*jwt.Token) (any, error) { return []byte("x"), nil },
			wantIs: []error{jwt.ErrTokenSignatureInvalid}},
		{name: "unexpected algorithm", token: rs.sign(t, claims("auth", "a", "r", time.Hour)),
			wantIs: []error{jwt.ErrTokenSignatureInvalid}},
		{name: "HS256 signed with the RSA public key (algorithm confusion)",
			token:  signHS(t, pubPEM, claims("auth", "a", "c", time.Hour)),
			keyFn:  func(*jwt.Token) (any, error) { return rs.verifyKey, nil },
			wantIs: []error{jwt.ErrTokenSignatureInvalid}},
		{name: "too large", token: valid + strings.Repeat("A", DefaultMaxTokenSize), wantIs: []error{jwt.ErrTokenMalformed}},
		{name: "too large for MaxTokenSize", token: valid, maxSize: len(valid) - 1,
			wantIs: []error{jwt.ErrTokenMalformed}},
		{name: "no exp", token: hs.sign(t, &jwt.RegisteredClaims{IssuedAt: jwt.NewNumericDate(now)}),
			wantIs: []error{jwt.ErrTokenRequiredClaimMissing}},
		{name: "lifetime beyond MaxTTL", token: hs.sign(t, &jwt.RegisteredClaims{
			IssuedAt: jwt.NewNumericDate(now.Add(-2 * time.Hour)), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}),
			wantIs: []error{ErrTTLTooLong}},
		{name: "exp beyond MaxTTL without iat", token: hs.sign(t, &jwt.RegisteredClaims{
			ExpiresAt: jwt.NewNumericDate(now.Add(3 * time.Hour))}), iatOpt: true,
			wantIs: []error{ErrTTLTooLong}},
		{name: "no iat", token: hs.sign(t, &jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}),
			wantIs: []error{jwt.ErrTokenRequiredClaimMissing}},
		{name: "iat in the future", token: hs.sign(t, &jwt.RegisteredClaims{IssuedAt: jwt.NewNumericDate(now.Add(time.Minute)),
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}),
			wantIs: []error{jwt.ErrTokenUsedBeforeIssued}},
		{name: "iat in the future, even without claims validation", token: hs.sign(t, &jwt.RegisteredClaims{IssuedAt: jwt.NewNumericDate(now.Add(time.Minute)),
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}), opts: []jwt.ParserOption{jwt.WithoutClaimsValidation()},
			wantIs: []error{jwt.ErrTokenUsedBeforeIssued}},
		{name: "jti twice", token: hs.sign(t, rawClaims(`{"jti":"a","jti":"b","iat":%d,"exp":%d}`, now.Unix(), now.Add(time.Hour).Unix())),
			wantIs: []error{jwt.ErrTokenMalformed}},
		{name: "jti in another case", token: hs.sign(t, rawClaims(`{"jti":"a","JTI":"b","iat":%d,"exp":%d}`, now.Unix(), now.Add(time.Hour).Unix())),
			wantIs: []error{jwt.ErrTokenMalformed}},
		{name: "iat of the wrong type", token: hs.sign(t, jwt.MapClaims{"exp": float64(now.Add(time.Hour).Unix()), "iat": "yesterday"}),
			wantIs: []error{jwt.ErrInvalidType}},
		{name: "jti of the wrong type", token: hs.sign(t, jwt.MapClaims{"exp": float64(now.Add(time.Hour).Unix()), "jti": 7}),
			wantIs: []error{jwt.ErrInvalidType}},
	}
	e := newTestEngine(t, Config{MaxTTL: 2 * time.Hour})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kf := c.keyFn
			opts := c.opts
			if kf == nil {
				kf = hs.keyFunc()
				opts = append([]jwt.ParserOption{jwt.WithValidMethods([]string{"HS256"})}, opts...)
			}
			var refusedWith []error
			v, err := NewVerifierWithConfig(VerifierConfig{Engine: e, KeyFunc: kf, ParserOptions: opts, MaxTokenSize: c.maxSize, IssuedAtOptional: c.iatOpt,
				OnRefuse: func(err error) { refusedWith = append(refusedWith, err) }})
			require.NoError(t, err)
			tok, err := v.Parse(c.token)
			require.Error(t, err)
			for _, want := range c.wantIs {
				assert.ErrorIs(t, err, want)
			}
			assert.NotErrorIs(t, err, ErrRevoked)
			if tok != nil {
				assert.False(t, tok.Valid)
			}
			assert.True(t, strings.HasPrefix(err.Error(), "revoke: ") || !errors.Is(err, ErrTTLTooLong))
			assert.Equal(t, []error{err}, refusedWith, "OnRefuse hears of every refusal once, with the error returned")
		})
	}
	t.Run("valid control", func(t *testing.T) {
		called := false
		v := hs.verifierWith(VerifierConfig{Engine: e, OnRefuse: func(error) { called = true }})
		_, err := v.Parse(valid)
		require.NoError(t, err)
		assert.False(t, called, "OnRefuse is not called for an accepted token")
	})
}

func signHS(t *testing.T, secret []byte, c jwt.Claims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	require.NoError(t, err)
	return s
}

// Configuration mistakes are errors wrapping ErrInvalidConfig, never a panic
// and never a silent override.
func TestNewVerifierConfigErrors(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{Leeway: 30 * time.Second})
	cases := []struct {
		name    string
		cfg     VerifierConfig
		wantErr string // substring of the error; "" for no error
	}{
		{"none", VerifierConfig{}, ""},
		{"smaller leeway", VerifierConfig{ParserOptions: []jwt.ParserOption{jwt.WithLeeway(10 * time.Second)}}, ""},
		{"equal leeway", VerifierConfig{ParserOptions: []jwt.ParserOption{jwt.WithLeeway(30 * time.Second)}}, ""},
		{"leeway larger by a nanosecond", VerifierConfig{ParserOptions: []jwt.ParserOption{jwt.WithLeeway(30*time.Second + 1)}}, "larger than the engine's Config.Leeway (30s)"},
		{"larger leeway among other options", VerifierConfig{ParserOptions: []jwt.ParserOption{jwt.WithAudience("api"), jwt.WithLeeway(time.Hour)}}, "WithLeeway"},
		{"larger leeway then overridden by a smaller one", VerifierConfig{ParserOptions: []jwt.ParserOption{jwt.WithLeeway(time.Hour), jwt.WithLeeway(time.Second)}}, ""},
		{"WithTimeFunc", VerifierConfig{ParserOptions: []jwt.ParserOption{jwt.WithTimeFunc(time.Now)}}, "WithTimeFunc"},
		{"WithTimeFunc among others", VerifierConfig{ParserOptions: []jwt.ParserOption{jwt.WithIssuer("x"), jwt.WithTimeFunc(time.Now), jwt.WithJSONNumber()}}, "WithTimeFunc"},
		{"other options pass", VerifierConfig{ParserOptions: []jwt.ParserOption{jwt.WithIssuer("x"), jwt.WithAudience("y"), jwt.WithJSONNumber(),
			jwt.WithStrictDecoding(), jwt.WithPaddingAllowed(), jwt.WithIssuedAt(), jwt.WithoutClaimsValidation()}}, ""},
		{"nil option", VerifierConfig{ParserOptions: []jwt.ParserOption{nil}}, "ParserOptions[1] is nil"},
		{"negative MaxTokenSize", VerifierConfig{MaxTokenSize: -1}, "MaxTokenSize"},
		{"nil engine", VerifierConfig{Engine: (*Engine)(nil)}, "Engine is nil"},
		{"nil key func", VerifierConfig{KeyFunc: jwt.Keyfunc(nil)}, "KeyFunc is nil"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			if c.name != "nil engine" {
				cfg.Engine = e
			}
			if c.name != "nil key func" {
				cfg.KeyFunc = hs.keyFunc()
			}
			cfg.ParserOptions = append([]jwt.ParserOption{jwt.WithValidMethods([]string{"HS256"})}, cfg.ParserOptions...)
			var v *Verifier
			var err error
			require.NotPanics(t, func() { v, err = NewVerifierWithConfig(cfg) })
			if c.wantErr == "" {
				require.NoError(t, err)
				assert.NotNil(t, v)
				return
			}
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), c.wantErr)
			assert.True(t, strings.HasPrefix(err.Error(), "revoke: "))
			assert.Nil(t, v)
		})
	}
	_, err := NewVerifier(nil, hs.keyFunc())
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = NewVerifier(e, nil)
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

// A token expired less than Leeway ago is still accepted by the parser, so
// its revocation must still hold; past exp + Leeway it is refused as expired
// even after the engine has forgotten it.
func TestVerifierLeewayWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs := algByName(t, "HS256")
		e, err := New(Config{Leeway: 30 * time.Second})
		require.NoError(t, err)
		defer e.Close()
		v := hs.verifier(e)
		token := hs.sign(t, claims("auth", "alice", "", 10*time.Second))
		spare := hs.sign(t, claims("auth", "alice", "spare", 10*time.Second))
		tok, err := v.Parse(token)
		require.NoError(t, err)
		require.NoError(t, e.RevokeToken(tok))

		time.Sleep(25 * time.Second) // expired 15 s ago, inside the leeway
		_, err = v.Parse(spare)
		require.NoError(t, err, "the parser still accepts tokens inside the leeway")
		_, err = v.Parse(token)
		assert.ErrorIs(t, err, ErrRevoked)

		time.Sleep(20 * time.Second) // past exp + leeway: forgotten and refused
		synctest.Wait()
		assert.Zero(t, e.Len(), "the entry is evicted after exp + leeway")
		_, err = v.Parse(token)
		assert.ErrorIs(t, err, jwt.ErrTokenExpired)
	})
}

// Parser options that loosen golang-jwt's own expiry check cannot make the
// Verifier accept a token past exp + Leeway.
func TestVerifierOwnExpiryCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs := algByName(t, "HS256")
		e, err := New(Config{Leeway: 5 * time.Second})
		require.NoError(t, err)
		defer e.Close()
		token := hs.sign(t, claims("auth", "alice", "", time.Minute))
		for name, opt := range map[string]jwt.ParserOption{
			"WithoutClaimsValidation": jwt.WithoutClaimsValidation(),
			"WithLeeway(0)":           jwt.WithLeeway(0),
		} {
			v := hs.verifier(e, opt)
			tok, err := v.Parse(token)
			require.NoError(t, err, name)
			require.NoError(t, e.RevokeToken(tok))
			time.Sleep(time.Minute + 10*time.Second)
			synctest.Wait()
			_, err = v.Parse(token)
			assert.ErrorIs(t, err, jwt.ErrTokenExpired, name)
			token = hs.sign(t, claims("auth", "alice", "", time.Minute))
		}
	})
}

func TestVerifierExpirationOptional(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs := algByName(t, "HS256")
		e, err := New(Config{MaxTTL: time.Hour})
		require.NoError(t, err)
		defer e.Close()
		now := time.Now()
		noExp := hs.sign(t, &jwt.RegisteredClaims{Subject: "a", IssuedAt: jwt.NewNumericDate(now)})
		noTimes := hs.sign(t, &jwt.RegisteredClaims{Subject: "a"})

		strict := hs.verifier(e)
		_, err = strict.Parse(noExp)
		assert.ErrorIs(t, err, jwt.ErrTokenRequiredClaimMissing)

		lenient := hs.verifierWith(VerifierConfig{Engine: e, ExpirationOptional: true})
		tok, err := lenient.Parse(noExp)
		require.NoError(t, err)
		_, err = lenient.Parse(noTimes)
		assert.ErrorIs(t, err, jwt.ErrTokenRequiredClaimMissing, "neither exp nor iat: cannot be revoked reliably")

		require.NoError(t, e.RevokeToken(tok))
		_, err = lenient.Parse(noExp)
		assert.ErrorIs(t, err, ErrRevoked)

		time.Sleep(time.Hour + time.Second) // iat + MaxTTL: expired, forgotten
		synctest.Wait()
		assert.Zero(t, e.Len())
		_, err = lenient.Parse(noExp)
		assert.ErrorIs(t, err, jwt.ErrTokenExpired, "a revoked token never comes back")
	})
}

// ES256 signatures and lenient base64 are malleable: the same signature can
// be spelled differently. A revoked token must stay revoked in every
// spelling; the key never includes the signature.
func TestRevokedTokenReencoded(t *testing.T) {
	for _, alg := range testAlgs() {
		t.Run(alg.name, func(t *testing.T) {
			e := newTestEngine(t, Config{})
			v := alg.verifier(e)
			token := alg.sign(t, claims("auth", "alice", "", time.Hour))
			tok, err := v.Parse(token)
			require.NoError(t, err)
			require.NoError(t, e.RevokeToken(tok))
			accepted := 0
			for _, variant := range signatureVariants(token) {
				_, err := v.Parse(variant)
				require.Error(t, err, "a re-encoded revoked token must never be accepted")
				if errors.Is(err, ErrRevoked) {
					accepted++ // the parser took the spelling; the revocation held
				}
			}
			assert.Positive(t, accepted, "some variant should decode to the same signature")
		})
	}
}

// signatureVariants returns token with its last base64url character changed
// in the bits that RawURLEncoding ignores (non-strict decoding).
func signatureVariants(token string) []string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var out []string
	last := strings.IndexByte(alphabet, token[len(token)-1])
	for i := range len(alphabet) {
		if i != last {
			out = append(out, token[:len(token)-1]+alphabet[i:i+1])
		}
	}
	return out
}

func TestVerifierAfterClose(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	v := hs.verifier(e)
	revoked := hs.sign(t, claims("auth", "a", "1", time.Hour))
	fresh := hs.sign(t, claims("auth", "a", "2", time.Hour))
	tok, err := v.Parse(revoked)
	require.NoError(t, err)
	require.NoError(t, e.RevokeToken(tok))
	require.NoError(t, e.Close())

	_, err = v.Parse(revoked)
	assert.ErrorIs(t, err, ErrRevoked, "revocations keep answering after Close")
	tok, err = v.Parse(fresh)
	require.NoError(t, err)
	assert.ErrorIs(t, e.RevokeToken(tok), ErrClosed)
	assert.ErrorIs(t, e.RevokeSubject("auth", "a", time.Now()), ErrClosed)
	assert.ErrorIs(t, e.RevokeAll(time.Now()), ErrClosed)
}

// The revocation check adds no allocation to golang-jwt's on a token that
// is not revoked, whatever the algorithm and claims type, with cutoffs of
// other subjects present.
func TestVerifierParseAllocs(t *testing.T) {
	for _, alg := range testAlgs() {
		for _, ck := range claimsKinds {
			t.Run(alg.name+"/"+ck.name, func(t *testing.T) {
				e := newTestEngine(t, Config{})
				require.NoError(t, e.RevokeSubject("auth", "mallory", time.Now()))
				for _, jti := range []string{"id-1", ""} {
					token := alg.sign(t, claims("auth", "alice", jti, time.Hour))
					opts := []jwt.ParserOption{jwt.WithValidMethods([]string{alg.method.Alg()}),
						jwt.WithLeeway(0), jwt.WithExpirationRequired()}
					v, err := NewVerifier(e, alg.keyFunc(), opts...)
					require.NoError(t, err)
					p := jwt.NewParser(opts...)
					c := ck.new()
					_, err = v.ParseWithClaims(token, c)
					require.NoError(t, err)
					base := testing.AllocsPerRun(50, func() {
						if _, err := p.ParseWithClaims(token, c, alg.keyFunc()); err != nil {
							panic(err)
						}
					})
					ours := testing.AllocsPerRun(50, func() {
						if _, err := v.ParseWithClaims(token, c); err != nil {
							panic(err)
						}
					})
					assert.Equal(t, base, ours, "jti %q: golang-jwt alone %v allocs, Verifier %v", jti, base, ours)
				}
			})
		}
	}
}

// Once RevokeToken has returned, no Parse that starts afterwards, in any
// goroutine, accepts the token.
func TestRevokeVisibleToConcurrentParsers(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{Capacity: 64}) // small: tables grow and the filter is rebuilt meanwhile
	v := hs.verifier(e)
	const tokens = 200
	raw := make([]string, tokens)
	toks := make([]*jwt.Token, tokens)
	for i := range raw {
		raw[i] = hs.sign(t, claims("auth", "u", fmt.Sprint("jti-", i), time.Hour))
		tok, err := v.Parse(raw[i])
		require.NoError(t, err)
		toks[i] = tok
	}
	var revoked [tokens]atomic.Bool
	var wg sync.WaitGroup
	var violations atomic.Int32
	stop := make(chan struct{})
	for w := range 2 {
		wg.Go(func() {
			for i := w; ; i = (i + 1) % tokens {
				select {
				case <-stop:
					return
				default:
				}
				was := revoked[i].Load()
				_, err := v.Parse(raw[i])
				if was && !errors.Is(err, ErrRevoked) {
					violations.Add(1)
				}
			}
		})
	}
	for i := range toks {
		require.NoError(t, e.RevokeToken(toks[i]))
		revoked[i].Store(true)
		if i%50 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, violations.Load(), "a revocation that had returned was missed")
}

// Finding (issue 10): the token key came from the claims value, so a claims
// type with a jti field of its own, or one shadowing RegisteredClaims' jti,
// read an empty jti and a revoked token passed. Revoked through every path,
// it is now refused through every claims type and through the middleware.
func TestRevokedThroughEveryPathRefusedThroughEveryClaimsType(t *testing.T) {
	hs := algByName(t, "HS256")
	paths := []struct {
		name   string
		revoke func(t *testing.T, e *Engine, v *Verifier, token string)
	}{
		{"RevokeToken of a MapClaims parse", func(t *testing.T, e *Engine, v *Verifier, token string) {
			tok, err := v.Parse(token)
			require.NoError(t, err)
			require.NoError(t, e.RevokeToken(tok))
		}},
		{"RevokeToken of a shadowing parse", func(t *testing.T, e *Engine, v *Verifier, token string) {
			tok, err := v.ParseWithClaims(token, &shadowClaims{})
			require.NoError(t, err)
			require.NoError(t, e.RevokeToken(tok))
		}},
		{"IDKey and Revoke", func(t *testing.T, e *Engine, _ *Verifier, _ string) {
			require.NoError(t, e.Revoke(IDKey("auth", "sess-42"), time.Now().Add(time.Hour)))
		}},
		{"RevokeID", func(t *testing.T, e *Engine, _ *Verifier, _ string) {
			require.NoError(t, e.RevokeID("auth", "sess-42", time.Now().Add(time.Hour)))
		}},
		{"TokenKey of a custom-field parse and Revoke", func(t *testing.T, e *Engine, v *Verifier, token string) {
			tok, err := v.ParseWithClaims(token, &fieldClaims{})
			require.NoError(t, err)
			key, err := TokenKey(tok)
			require.NoError(t, err)
			require.Equal(t, IDKey("auth", "sess-42"), key)
			require.NoError(t, e.Revoke(key, time.Now().Add(time.Hour)))
		}},
	}
	token := hs.sign(t, claims("auth", "alice", "sess-42", time.Hour))
	for _, path := range paths {
		t.Run(path.name, func(t *testing.T) {
			e := newTestEngine(t, Config{})
			v := hs.verifier(e)
			path.revoke(t, e, v, token)
			for _, ck := range claimsKinds {
				tok, err := v.ParseWithClaims(token, ck.new())
				assert.ErrorIs(t, err, ErrTokenRevoked, "parsed as %s", ck.name)
				assert.ErrorIs(t, err, ErrRevoked, "parsed as %s", ck.name)
				if tok != nil {
					assert.False(t, tok.Valid, "parsed as %s", ck.name)
				}
				h := Middleware(v, WithClaims(ck.new))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					t.Errorf("the handler ran for a revoked token parsed as %s", ck.name)
				}))
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				assert.Equal(t, http.StatusUnauthorized, rec.Code, "middleware with %s", ck.name)
			}
		})
	}
	t.Run("Consume through one type is seen through every other", func(t *testing.T) {
		e := newTestEngine(t, Config{})
		v := hs.verifier(e)
		tok, err := v.ParseWithClaims(token, &fieldClaims{})
		require.NoError(t, err)
		first, err := e.ConsumeToken(tok)
		require.NoError(t, err)
		require.True(t, first)
		for _, ck := range claimsKinds {
			tok, err := v.ParseWithClaims(token, ck.new())
			require.NoError(t, err)
			first, err := e.ConsumeToken(tok)
			require.NoError(t, err)
			assert.False(t, first, "consumed again as %s: a reuse", ck.name)
		}
		first, err = e.Consume(IDKey("auth", "sess-42"), time.Now().Add(time.Hour))
		require.NoError(t, err)
		assert.False(t, first)
	})
}

// Finding (issue 10): RevokeToken and ConsumeToken took any *jwt.Token, so
// careless code could revoke (or use up) another user's token from claims
// nobody verified.
func TestOnlyVerifiedTokensRevokeAndConsume(t *testing.T) {
	hs := algByName(t, "HS256")
	victim := hs.sign(t, claims("auth", "alice", "victim-jti", time.Hour))
	// The attacker writes the victim's (iss, jti) into a token of its own.
	forged := signHS(t, []byte("not the server's key, 32 bytes.."), claims("auth", "alice", "victim-jti", time.Hour))
	unverified, _, err := jwt.NewParser().ParseUnverified(forged, jwt.MapClaims{})
	require.NoError(t, err)
	e := newTestEngine(t, Config{})
	v := hs.verifier(e)
	failed, err := v.Parse(forged)
	require.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
	require.NotNil(t, failed)
	noneTok, err := jwt.NewParser(jwt.WithValidMethods([]string{"none"})).Parse(
		mustNone(t, claims("auth", "alice", "victim-jti", time.Hour)),
		func(*jwt.Token) (any, error) { return jwt.UnsafeAllowNoneSignatureType, nil })
	require.NoError(t, err)
	require.True(t, noneTok.Valid, "golang-jwt accepts alg none when told to")
	for name, tok := range map[string]*jwt.Token{
		"ParseUnverified": unverified,
		"failed parse":    failed,
		"alg none":        noneTok,
		"built, unsigned": jwt.NewWithClaims(jwt.SigningMethodHS256, claims("auth", "alice", "victim-jti", time.Hour)),
	} {
		assert.ErrorIs(t, e.RevokeToken(tok), ErrUnverifiedToken, name)
		first, err := e.ConsumeToken(tok)
		assert.ErrorIs(t, err, ErrUnverifiedToken, name)
		assert.False(t, first, name)
	}
	_, err = v.Parse(victim)
	assert.NoError(t, err, "the victim's token is untouched")
	tok, err := v.Parse(victim)
	require.NoError(t, err)
	first, err := e.ConsumeToken(tok)
	require.NoError(t, err)
	assert.True(t, first, "and its single use is still the victim's")
}

func mustNone(t *testing.T, c jwt.Claims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	return s
}

// A payload that names a registered claim twice, or in another case, would
// give MapClaims and a struct two answers (encoding/json matches struct
// fields case-insensitively, the last one winning): refused whatever the
// claims type. Escaped spellings of the exact name are the name.
func TestAmbiguousPayloadsRefused(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	v := hs.verifier(e)
	now := time.Now()
	times := fmt.Sprintf(`"iat":%d,"exp":%d`, now.Unix(), now.Add(time.Hour).Unix())
	cases := []struct {
		name, payload string
		ok            bool
	}{
		{"plain", `{"iss":"auth","sub":"alice","jti":"a",` + times + `}`, true},
		{"escaped exact name", `{"iss":"auth","sub":"alice","\u006a\u0074\u0069":"a",` + times + `}`, true},
		{"jti nested in another member", `{"iss":"auth","sub":"alice","ext":{"jti":"b","JTI":"c"},"jti":"a",` + times + `}`, true},
		{"unrelated upper-case member", `{"iss":"auth","sub":"alice","JTIX":"b","Role":"x",` + times + `}`, true},
		{"jti twice", `{"iss":"auth","sub":"alice","jti":"a","jti":"b",` + times + `}`, false},
		{"JTI", `{"iss":"auth","sub":"alice","JTI":"b",` + times + `}`, false},
		{"jti and Jti", `{"iss":"auth","sub":"alice","jti":"a","Jti":"b",` + times + `}`, false},
		{"escaped upper case", `{"iss":"auth","sub":"alice","jti":"a","\u004aTI":"b",` + times + `}`, false},
		{"sub with a long s (folds to S)", `{"iss":"auth","sub":"alice","ſub":"mallory",` + times + `}`, false},
		{"escaped long s", `{"iss":"auth","sub":"alice","\u017fub":"mallory",` + times + `}`, false},
		{"ISS", `{"iss":"auth","ISS":"other","sub":"alice",` + times + `}`, false},
		{"iat twice", `{"iss":"auth","sub":"alice",` + times + `,"iat":1}`, false},
		{"EXP", `{"iss":"auth","sub":"alice",` + times + `,"EXP":1}`, false},
		{"nbf twice", `{"iss":"auth","sub":"alice","nbf":1,"nbf":2,` + times + `}`, false},
		{"jti not a string", `{"iss":"auth","sub":"alice","jti":7,` + times + `}`, false},
		{"iat a string", fmt.Sprintf(`{"iss":"auth","sub":"alice","iat":"%d","exp":%d}`, now.Unix(), now.Add(time.Hour).Unix()), false},
	}
	for _, c := range cases {
		token := hs.sign(t, rawClaims("%s", c.payload))
		for _, ck := range claimsKinds {
			_, err := v.ParseWithClaims(token, ck.new())
			if c.ok {
				assert.NoError(t, err, "%s as %s", c.name, ck.name)
				continue
			}
			// golang-jwt may refuse some first (a string iat); otherwise
			// the payload reader does, as malformed.
			assert.Error(t, err, "%s as %s", c.name, ck.name)
		}
		_, err := v.Parse(token)
		if !c.ok {
			assert.ErrorIs(t, err, jwt.ErrTokenMalformed, c.name)
		}
	}
}

// expiresClaims reads its expiry from another member than exp: golang-jwt
// then checks that one, so the Verifier checks the payload's exp itself.
type expiresClaims struct {
	jwt.RegisteredClaims
	Expires *jwt.NumericDate `json:"expires"`
}

func (c *expiresClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Expires, nil }

// The clock read is skipped only where golang-jwt checked the very exp the
// revocation layer retains: a claims type reading another member, or
// jwt.WithoutClaimsValidation, leaves the check to the Verifier.
func TestVerifierChecksExpWhereGolangJWTDidNot(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	now := time.Now()
	token := hs.sign(t, &expiresClaims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: "auth", Subject: "alice", ID: "x",
			IssuedAt: jwt.NewNumericDate(now.Add(-time.Hour)), ExpiresAt: jwt.NewNumericDate(now.Add(-time.Minute))},
		Expires: jwt.NewNumericDate(now.Add(time.Hour)),
	})
	for name, v := range map[string]*Verifier{
		"default":                 hs.verifier(e),
		"WithoutClaimsValidation": hs.verifier(e, jwt.WithoutClaimsValidation()),
	} {
		_, err := v.ParseWithClaims(token, &expiresClaims{})
		assert.ErrorIs(t, err, jwt.ErrTokenExpired, name)
		_, err = v.Parse(token)
		assert.ErrorIs(t, err, jwt.ErrTokenExpired, name)
	}
	assert.True(t, hs.verifier(e).jwtChecksTimes)
	assert.False(t, hs.verifier(e, jwt.WithJSONNumber(), jwt.WithoutClaimsValidation(), jwt.WithIssuer("x")).jwtChecksTimes)
}

// MapClaims reads "exp": 0 as no exp at all, so golang-jwt checks nothing:
// with ExpirationOptional such a token must still be refused as expired,
// never accepted forever (RevokeToken could not hold it: its expiry is
// 1970).
func TestExpZeroIsExpired(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	lenient := hs.verifierWith(VerifierConfig{Engine: e, ExpirationOptional: true})
	token := hs.sign(t, jwt.MapClaims{"iss": "auth", "sub": "alice", "jti": "z", "iat": float64(time.Now().Unix()), "exp": 0})
	for _, ck := range claimsKinds {
		_, err := lenient.ParseWithClaims(token, ck.new())
		assert.ErrorIs(t, err, jwt.ErrTokenExpired, ck.name)
	}
}
