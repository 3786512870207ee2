package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/require"
)

// verifySize is the number of revocations the engine holds while tokens
// are verified: 1M when REVOKE_BENCH_SIZES reaches it, else the largest
// size asked for (10k by default).
func verifySize(tb testing.TB) int {
	sizes := benchSizes(tb)
	for _, n := range sizes {
		if n >= 1_000_000 {
			return 1_000_000
		}
	}
	return slices.Max(sizes)
}

type signer struct {
	name    string
	method  jwt.SigningMethod
	signKey any
	keyFunc jwt.Keyfunc
}

func signers(tb testing.TB) []signer {
	secret := make([]byte, 32)
	_, err := rand.Read(secret)
	require.NoError(tb, err)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
	return []signer{
		{"HS256", jwt.SigningMethodHS256, secret, func(*jwt.Token) (any, error) { return secret, nil }},
		{"ES256", jwt.SigningMethodES256, ec, func(*jwt.Token) (any, error) { return &ec.PublicKey, nil }},
	}
}

// verifyEngine returns an engine holding n revocations (none of them the
// token's).
func verifyEngine(tb testing.TB, n int) *revoke.Engine {
	e, err := revoke.New(revoke.Config{Capacity: n})
	require.NoError(tb, err)
	ks := NewKeySet(4, n)
	for i := range n {
		require.NoError(tb, e.Revoke(ks.Key(i), ks.ExpiresAt(i, 0)))
	}
	return e
}

func signedToken(tb testing.TB, s signer) string {
	now := time.Now()
	tok, err := jwt.NewWithClaims(s.method, jwt.MapClaims{
		"iss": "auth", "sub": "alice", "jti": "0f1e2d3c-4b5a-6978-8796-" + s.name + "-a5b4c3",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}).SignedString(s.signKey)
	require.NoError(tb, err)
	return tok
}

// parsers returns golang-jwt's parser and revoke's Verifier configured
// alike, for a token that is not revoked.
func parsers(e *revoke.Engine, s signer) (base func(string) error, ours func(string) error) {
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{s.method.Alg()}), jwt.WithExpirationRequired()}
	p := jwt.NewParser(opts...)
	v, err := revoke.NewVerifier(e, s.keyFunc, opts...)
	if err != nil {
		panic(err) // the options above are valid
	}
	return func(tok string) error { _, err := p.Parse(tok, s.keyFunc); return err },
		func(tok string) error { _, err := v.Parse(tok); return err }
}

// BenchmarkVerify compares revoke's Verifier.Parse with golang-jwt's
// Parser.Parse alone on a token that is not revoked, with the engine
// holding verifySize revocations: the difference is the revocation check.
// Compare with `benchstat -col /impl`.
func BenchmarkVerify(b *testing.B) {
	n := verifySize(b)
	e := verifyEngine(b, n)
	defer func() { _ = e.Close() }()
	for _, s := range signers(b) {
		tok := signedToken(b, s)
		base, ours := parsers(e, s)
		for _, c := range []struct {
			impl  string
			parse func(string) error
		}{{"golang-jwt", base}, {"verifier", ours}} {
			b.Run("size="+sizeLabel(n)+"/alg="+s.name+"/impl="+c.impl, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := c.parse(tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkVerifyOverhead measures the same as BenchmarkVerify paired, so
// that load from other processes falls on both sides alike: each iteration
// times a block of golang-jwt parses and a block of Verifier parses back to
// back, in alternating order, and overhead-% is the median of the ratios.
func BenchmarkVerifyOverhead(b *testing.B) {
	n := verifySize(b)
	e := verifyEngine(b, n)
	defer func() { _ = e.Close() }()
	for _, s := range signers(b) {
		tok := signedToken(b, s)
		base, ours := parsers(e, s)
		b.Run("size="+sizeLabel(n)+"/alg="+s.name, func(b *testing.B) {
			const block = 4
			timeBlock := func(parse func(string) error) float64 {
				start := time.Now()
				for range block {
					if err := parse(tok); err != nil {
						b.Fatal(err)
					}
				}
				return float64(time.Since(start).Nanoseconds()) / block
			}
			var ratios, bases, ourss []float64
			i := 0
			for b.Loop() {
				var tb, to float64
				if i++; i%2 == 0 {
					tb, to = timeBlock(base), timeBlock(ours)
				} else {
					to, tb = timeBlock(ours), timeBlock(base)
				}
				ratios, bases, ourss = append(ratios, to/tb), append(bases, tb), append(ourss, to)
			}
			b.ReportMetric(median(bases), "jwt-ns/parse")
			b.ReportMetric(median(ourss), "verifier-ns/parse")
			b.ReportMetric(100*(median(ratios)-1), "overhead-%")
		})
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func TestVerifierAndParserAgree(t *testing.T) {
	e := verifyEngine(t, 100)
	defer func() { _ = e.Close() }()
	for _, s := range signers(t) {
		tok := signedToken(t, s)
		base, ours := parsers(e, s)
		require.NoError(t, base(tok), s.name)
		require.NoError(t, ours(tok), s.name)
		parsed, err := jwt.Parse(tok, s.keyFunc)
		require.NoError(t, err)
		require.NoError(t, e.RevokeToken(parsed))
		require.ErrorIs(t, ours(tok), revoke.ErrRevoked, "the Verifier refuses the token once revoked")
		require.NoError(t, base(tok), "golang-jwt alone does not know")
	}
}
