package revoke

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// testAlg is one signing algorithm with its keys.
type testAlg struct {
	name      string
	method    jwt.SigningMethod
	signKey   any
	verifyKey any
}

var testAlgs = sync.OnceValue(func() []testAlg {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	// Random per process: tokens signed by an earlier run (the fuzzer's
	// cached corpus holds some) must not verify.
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		panic(err)
	}
	return []testAlg{
		{"HS256", jwt.SigningMethodHS256, secret, secret},
		{"ES256", jwt.SigningMethodES256, ecKey, &ecKey.PublicKey},
		{"RS256", jwt.SigningMethodRS256, rsaKey, &rsaKey.PublicKey},
		{"EdDSA", jwt.SigningMethodEdDSA, edPriv, edPub},
	}
})

func algByName(t testing.TB, name string) testAlg {
	t.Helper()
	for _, a := range testAlgs() {
		if a.name == name {
			return a
		}
	}
	t.Fatalf("no test algorithm %q", name)
	return testAlg{}
}

// keyFunc returns a Keyfunc that accepts only a's algorithm.
func (a testAlg) keyFunc() jwt.Keyfunc {
	return func(tok *jwt.Token) (any, error) {
		if tok.Method.Alg() != a.method.Alg() {
			return nil, errors.New("unexpected signing method")
		}
		return a.verifyKey, nil
	}
}

func (a testAlg) sign(t testing.TB, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(a.method, claims).SignedString(a.signKey)
	require.NoError(t, err)
	return s
}

// verifier returns a Verifier of a's algorithm on e; opts follow
// jwt.WithValidMethods. A configuration error is a bug of the test.
func (a testAlg) verifier(e *Engine, opts ...jwt.ParserOption) *Verifier {
	return a.verifierWith(VerifierConfig{Engine: e, ParserOptions: opts})
}

// verifierWith completes cfg with a's key function and method list.
func (a testAlg) verifierWith(cfg VerifierConfig) *Verifier {
	cfg.KeyFunc = a.keyFunc()
	cfg.ParserOptions = append([]jwt.ParserOption{jwt.WithValidMethods([]string{a.method.Alg()})}, cfg.ParserOptions...)
	v, err := NewVerifierWithConfig(cfg)
	if err != nil {
		panic(err)
	}
	return v
}

// claims builds registered claims issued now and expiring in ttl.
func claims(iss, sub, jti string, ttl time.Duration) *jwt.RegisteredClaims {
	now := time.Now()
	return &jwt.RegisteredClaims{
		Issuer:    iss,
		Subject:   sub,
		ID:        jti,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
}

// embeddedClaims is an application claims type embedding RegisteredClaims.
type embeddedClaims struct {
	jwt.RegisteredClaims
	Role string `json:"role,omitempty"`
}

// deepClaims embeds RegisteredClaims through a pointer, one level down.
type deepClaims struct {
	*inner
	Scope string `json:"scope,omitempty"`
}

type inner struct {
	jwt.RegisteredClaims
}

// idClaims is a claims type of its own that exposes its jti with GetID.
type idClaims struct {
	Iss string           `json:"iss,omitempty"`
	Sub string           `json:"sub,omitempty"`
	Exp *jwt.NumericDate `json:"exp,omitempty"`
	Iat *jwt.NumericDate `json:"iat,omitempty"`
	JTI string           `json:"jti,omitempty"`
}

func (c *idClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Exp, nil }
func (c *idClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.Iat, nil }
func (c *idClaims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (c *idClaims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c *idClaims) GetSubject() (string, error)                  { return c.Sub, nil }
func (c *idClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }
func (c *idClaims) GetID() (string, error)                       { return c.JTI, nil }

// fieldClaims is a claims type of its own with a jti field and no GetID:
// the claims value gives no way to find the jti.
type fieldClaims struct {
	Iss string           `json:"iss,omitempty"`
	Sub string           `json:"sub,omitempty"`
	Exp *jwt.NumericDate `json:"exp,omitempty"`
	Iat *jwt.NumericDate `json:"iat,omitempty"`
	JTI string           `json:"jti,omitempty"`
}

func (c *fieldClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Exp, nil }
func (c *fieldClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.Iat, nil }
func (c *fieldClaims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (c *fieldClaims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c *fieldClaims) GetSubject() (string, error)                  { return c.Sub, nil }
func (c *fieldClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// shadowClaims embeds RegisteredClaims and shadows its jti with a field of
// its own: encoding/json fills the outer field, RegisteredClaims.ID stays
// empty.
type shadowClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"jti,omitempty"`
}

// claimsKinds are the claims types a Verifier reads, each a fresh value.
var claimsKinds = []struct {
	name string
	new  func() jwt.Claims
}{
	{"MapClaims", func() jwt.Claims { return jwt.MapClaims{} }},
	{"RegisteredClaims", func() jwt.Claims { return &jwt.RegisteredClaims{} }},
	{"embedded", func() jwt.Claims { return &embeddedClaims{} }},
	{"embedded-pointer", func() jwt.Claims { return &deepClaims{inner: &inner{}} }},
	{"GetID", func() jwt.Claims { return &idClaims{} }},
	{"own-jti-field", func() jwt.Claims { return &fieldClaims{} }},
	{"shadowed-jti", func() jwt.Claims { return &shadowClaims{} }},
}

// fuzzClaimsKinds are the claims types FuzzVerifierParse parses into.
var fuzzClaimsKinds = claimsKinds

// rawClaims is a claims value that marshals to exactly the JSON given
// (format and args as fmt.Sprintf), so tests can sign payloads that no
// claims type would write: duplicates, other cases, escapes.
type rawClaimsJSON struct {
	jwt.MapClaims
	raw string
}

func (c rawClaimsJSON) MarshalJSON() ([]byte, error) { return []byte(c.raw), nil }

func rawClaims(format string, args ...any) jwt.Claims {
	return rawClaimsJSON{MapClaims: jwt.MapClaims{}, raw: fmt.Sprintf(format, args...)}
}
