package promrevoke

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testSecret = []byte("promrevoke test secret, 32 bytes")

func keyFunc(*jwt.Token) (any, error) { return testSecret, nil }

func sign(t testing.TB, c jwt.RegisteredClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(testSecret)
	require.NoError(t, err)
	return s
}

func tokenFor(t testing.TB, sub, jti string, iat time.Time, ttl time.Duration) string {
	return sign(t, jwt.RegisteredClaims{Issuer: "auth", Subject: sub, ID: jti,
		IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(iat.Add(ttl))})
}

func newVerifier(t testing.TB, e *revoke.Engine, onRefuse func(error)) *revoke.Verifier {
	t.Helper()
	v, err := revoke.NewVerifierWithConfig(revoke.VerifierConfig{
		Engine: e, KeyFunc: keyFunc, OnRefuse: onRefuse,
		ParserOptions: []jwt.ParserOption{jwt.WithValidMethods([]string{"HS256"})},
	})
	require.NoError(t, err)
	return v
}

func TestRefusalsByReason(t *testing.T) {
	e, err := revoke.New(revoke.Config{})
	require.NoError(t, err)
	defer e.Close()
	refusals := NewRefusals()
	v := newVerifier(t, e, refusals.Observe)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(refusals))

	past := time.Now().Add(-time.Minute)
	revokedTok := tokenFor(t, "alice", "t1", past, time.Hour)
	tok, err := v.Parse(revokedTok)
	require.NoError(t, err)
	require.NoError(t, e.RevokeToken(tok))
	bob := tokenFor(t, "bob", "t2", past, time.Hour)
	require.NoError(t, e.RevokeSubject("auth", "bob", time.Now()))
	expired := tokenFor(t, "carol", "t3", time.Now().Add(-2*time.Hour), time.Hour)
	valid := tokenFor(t, "carol", "t4", past, time.Hour)
	forged := valid[:strings.LastIndexByte(valid, '.')+1] + "AAAA"

	for range 100 {
		_, err := v.Parse(valid)
		require.NoError(t, err)
	}
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expectRefusals(0, 0, 0, 0, 0, 0, 0))),
		"an accepted token counts nothing")

	for _, c := range []struct {
		token string
		times int
	}{{revokedTok, 1}, {bob, 2}, {expired, 3}, {forged, 4}, {"not a token", 1}} {
		for range c.times {
			_, err := v.Parse(c.token)
			require.Error(t, err)
		}
	}
	// The middleware: its Verifier counts the tokens it refuses, the error
	// handler what never reaches the Verifier, each once.
	h := revoke.Middleware(v, revoke.WithErrorHandler(refusals.ErrorHandler(nil)))(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, authorization := range []string{"", "Bearer " + revokedTok, "Bearer a,b"} {
		r := httptest.NewRequest("GET", "/", nil)
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.NotEqual(t, 200, w.Code)
		assert.Equal(t, "no-store", w.Header().Get("Cache-Control"), "the default handler still answers")
	}
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expectRefusals(2, 2, 0, 3, 0, 1, 6))))

	// The global cutoff, last: it covers every token above.
	require.NoError(t, e.RevokeAll(time.Now()))
	_, err = v.Parse(valid)
	require.ErrorIs(t, err, revoke.ErrAllRevoked)
	assert.Equal(t, 1.0, testutil.ToFloat64(refusals.counters[2]))
	assert.Equal(t, ReasonGlobalCutoff, Reason(err))
	assert.Equal(t, "", Reason(nil))
	refusals.Observe(nil)
	assert.Equal(t, len(reasons), testutil.CollectAndCount(refusals))
}

// expectRefusals is the text exposition of revoke_refusals_total.
func expectRefusals(revokedToken, subject, global, expired, unverifiable, missing, invalid int) string {
	return `
# HELP revoke_refusals_total Tokens refused by the Verifier, by reason.
# TYPE revoke_refusals_total counter
revoke_refusals_total{reason="expired"} ` + itoa(expired) + `
revoke_refusals_total{reason="global_cutoff"} ` + itoa(global) + `
revoke_refusals_total{reason="invalid"} ` + itoa(invalid) + `
revoke_refusals_total{reason="missing"} ` + itoa(missing) + `
revoke_refusals_total{reason="revoked_token"} ` + itoa(revokedToken) + `
revoke_refusals_total{reason="subject_cutoff"} ` + itoa(subject) + `
revoke_refusals_total{reason="unverifiable"} ` + itoa(unverifiable) + `
`
}

func itoa(n int) string { return strconv.Itoa(n) }

// BenchmarkRefusals measures the cost of the counters, on the refusal path
// (a revoked token) and on the accept path, against a Verifier without them,
// in one run.
func BenchmarkRefusals(b *testing.B) {
	e, err := revoke.New(revoke.Config{})
	require.NoError(b, err)
	defer e.Close()
	iat := time.Now().Add(-time.Minute)
	valid := tokenFor(b, "alice", "ok", iat, time.Hour)
	revoked := tokenFor(b, "alice", "gone", iat, time.Hour)
	require.NoError(b, e.RevokeID("auth", "gone", iat.Add(time.Hour)))
	refusals := NewRefusals()
	for _, c := range []struct {
		name     string
		onRefuse func(error)
	}{{"none", nil}, {"counted", refusals.Observe}} {
		v := newVerifier(b, e, c.onRefuse)
		b.Run("refused/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Parse(revoked); err == nil {
					b.Fatal("accepted a revoked token")
				}
			}
		})
		b.Run("accepted/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Parse(valid); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("Observe", func(b *testing.B) {
		err := func() error { _, err := newVerifier(b, e, nil).Parse(revoked); return err }()
		b.ReportAllocs()
		for b.Loop() {
			refusals.Observe(err)
		}
	})
}

// TestReasonOfAKeyFuncFailure: a token whose key cannot be had is counted
// apart from bad tokens (a JWKS outage is not an attack).
func TestReasonOfAKeyFuncFailure(t *testing.T) {
	e, err := revoke.New(revoke.Config{})
	require.NoError(t, err)
	defer e.Close()
	refusals := NewRefusals()
	v, err := revoke.NewVerifierWithConfig(revoke.VerifierConfig{
		Engine: e, OnRefuse: refusals.Observe,
		KeyFunc:       func(*jwt.Token) (any, error) { return nil, errors.New("jwks: connection refused") },
		ParserOptions: []jwt.ParserOption{jwt.WithValidMethods([]string{"HS256"})},
	})
	require.NoError(t, err)
	_, err = v.Parse(tokenFor(t, "alice", "k", time.Now(), time.Hour))
	require.Error(t, err)
	assert.Equal(t, ReasonUnverifiable, Reason(err))
	assert.Equal(t, 1.0, testutil.ToFloat64(refusals.counters[4]))
}

// TestObserveAllocatesNothing: counting a refusal is a walk of the error
// chain and one atomic add.
func TestObserveAllocatesNothing(t *testing.T) {
	refusals := NewRefusals()
	errs := []error{revoke.ErrTokenRevoked, revoke.ErrSubjectRevoked, revoke.ErrAllRevoked,
		jwt.ErrTokenExpired, jwt.ErrTokenUnverifiable, revoke.ErrMissingToken, jwt.ErrTokenMalformed}
	allocs := testing.AllocsPerRun(100, func() {
		for _, err := range errs {
			refusals.Observe(err)
		}
	})
	assert.Zero(t, allocs)
	for i := range reasons {
		assert.Equal(t, 101.0, testutil.ToFloat64(refusals.counters[i]), reasons[i])
	}
}
