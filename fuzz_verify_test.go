package revoke

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerifierParse feeds arbitrary strings to Verifier.Parse: it must never
// panic, never mark a refused token valid, and never accept anything but a
// spelling of a token that was validly signed and is not revoked. A revoked
// token stays refused in every spelling the parser takes.
func FuzzVerifierParse(f *testing.F) {
	e, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = e.Close() })
	hs, ed := algByName(f, "HS256"), algByName(f, "EdDSA")
	now := time.Now()
	signed := func(a testAlg, c jwt.Claims) string { return a.sign(f, c) }

	good := []string{
		signed(hs, claims("auth", "alice", "j1", time.Hour)),
		signed(hs, claims("auth", "alice", "", time.Hour)),
		signed(ed, claims("auth", "bob", "j2", time.Hour)),
	}
	revokedTok := signed(hs, claims("auth", "alice", "", time.Hour))
	expired := signed(hs, &jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(now.Add(-time.Hour))})
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims("auth", "alice", "n", time.Hour)).
		SignedString(jwt.UnsafeAllowNoneSignatureType)

	v, err := NewVerifier(e, func(t *jwt.Token) (any, error) {
		if t.Method == jwt.SigningMethodHS256 {
			return hs.verifyKey, nil
		}
		return ed.verifyKey, nil
	}, jwt.WithValidMethods([]string{"HS256", "EdDSA"}))
	if err != nil {
		f.Fatal(err)
	}
	tok, err := v.Parse(revokedTok)
	if err != nil {
		f.Fatal(err)
	}
	if err := e.RevokeToken(tok); err != nil {
		f.Fatal(err)
	}
	accepted := map[string]bool{}
	for _, g := range good {
		accepted[g[:strings.LastIndexByte(g, '.')]] = true
		f.Add(g)
	}
	revokedPart := revokedTok[:strings.LastIndexByte(revokedTok, '.')]
	for _, s := range []string{revokedTok, expired, none, "", ".", "..", "a.b.c", "eyJ.eyJ.", "Bearer x",
		good[0] + ".", good[0][:len(good[0])-1], strings.Repeat("A", DefaultMaxTokenSize+1),
		"eyJhbGciOiJIUzI1NiJ9.e30.", "eyJhbGciOiJub25lIn0.eyJleHAiOjk5OTk5OTk5OTl9."} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, s string) {
		for _, ck := range fuzzClaimsKinds {
			tok, err := v.ParseWithClaims(s, ck.new())
			if err != nil {
				if tok != nil && tok.Valid {
					t.Fatalf("refused token marked valid: %v", err)
				}
				continue
			}
			part := s[:strings.LastIndexByte(s, '.')]
			if part == revokedPart {
				t.Fatalf("a spelling of the revoked token was accepted as %s: %q", ck.name, s)
			}
			if !accepted[part] {
				t.Fatalf("accepted a token that was never validly signed: %q", s)
			}
			if tok == nil || !tok.Valid {
				t.Fatalf("accepted without a valid token")
			}
		}
	})
}
