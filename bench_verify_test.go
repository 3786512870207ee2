package revoke

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// benchEngine returns an engine holding n revocations, cutoffs of other
// subjects included, so that the filter is not trivially empty.
func benchEngine(b *testing.B, n int) *Engine {
	e := newTestEngine(b, Config{Capacity: 2 * n})
	exp := time.Now().Add(time.Hour)
	for i := range n {
		if err := e.Revoke("revoked-"+strconv.Itoa(i), exp); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 100 {
		if err := e.RevokeSubject("auth", "user-"+strconv.Itoa(i), time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	return e
}

// BenchmarkParse compares Verifier.Parse with golang-jwt's Parser.Parse
// alone, configured alike, on a token that is not revoked: the difference
// is the cost of the revocation check. Compare with
//
//	go test -run '^$' -bench BenchmarkParse -count 10 > parse.txt
//	benchstat -col /impl parse.txt
func BenchmarkParse(b *testing.B) {
	e := benchEngine(b, 100_000)
	for _, alg := range testAlgs() {
		for _, jti := range []string{"jti", "nojti"} {
			id := ""
			if jti == "jti" {
				id = "0f1e2d3c4b5a69788796a5b4"
			}
			token := alg.sign(b, claims("auth", "alice", id, time.Hour))
			opts := []jwt.ParserOption{jwt.WithValidMethods([]string{alg.method.Alg()}),
				jwt.WithLeeway(0), jwt.WithExpirationRequired()}
			p := jwt.NewParser(opts...)
			v := NewVerifier(e, alg.keyFunc(), opts...)
			kf := alg.keyFunc()
			b.Run(fmt.Sprintf("alg=%s/key=%s/impl=golang-jwt", alg.name, jti), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := p.Parse(token, kf); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("alg=%s/key=%s/impl=verifier", alg.name, jti), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := v.Parse(token); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkCheck measures the revocation check alone (claims read, expiry
// and lifetime checks, key hash, three filter probes) on a parsed token that
// is not revoked.
func BenchmarkCheck(b *testing.B) {
	e := benchEngine(b, 100_000)
	hs := algByName(b, "HS256")
	v := hs.verifier(e)
	for _, c := range []struct {
		name   string
		id     string
		claims func() jwt.Claims
	}{
		{"MapClaims/jti", "0f1e2d3c4b5a69788796a5b4", func() jwt.Claims { return jwt.MapClaims{} }},
		{"MapClaims/nojti", "", func() jwt.Claims { return jwt.MapClaims{} }},
		{"RegisteredClaims/jti", "0f1e2d3c4b5a69788796a5b4", func() jwt.Claims { return &jwt.RegisteredClaims{} }},
		{"embedded/jti", "0f1e2d3c4b5a69788796a5b4", func() jwt.Claims { return &embeddedClaims{} }},
	} {
		tok, err := v.ParseWithClaims(hs.sign(b, claims("auth", "alice", c.id, time.Hour)), c.claims())
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := v.check(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
