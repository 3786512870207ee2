package revoke

import (
	"encoding/json"
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

	iat, exp := jwt.NewNumericDate(now), jwt.NewNumericDate(now.Add(time.Hour))
	good := []string{
		signed(hs, claims("auth", "alice", "j1", time.Hour)),
		signed(hs, claims("auth", "alice", "", time.Hour)),
		signed(ed, claims("auth", "bob", "j2", time.Hour)),
		signed(hs, &fieldClaims{Iss: "auth", Sub: "carol", JTI: "j3", Iat: iat, Exp: exp}),
		signed(hs, &shadowClaims{RegisteredClaims: jwt.RegisteredClaims{Issuer: "auth", IssuedAt: iat, ExpiresAt: exp}, SessionID: "j4"}),
	}
	// Revoked by id only: no spelling of any token carrying it may pass.
	revokedByID := signed(hs, &shadowClaims{RegisteredClaims: jwt.RegisteredClaims{Issuer: "auth", Subject: "dave", IssuedAt: iat, ExpiresAt: exp}, SessionID: "j-revoked"})
	if err := e.RevokeID("auth", "j-revoked", now.Add(time.Hour)); err != nil {
		f.Fatal(err)
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
	for _, s := range []string{revokedTok, revokedByID, expired, none, "", ".", "..", "a.b.c", "eyJ.eyJ.", "Bearer x",
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
			var facts tokenFacts
			p, err := facts.readToken(s, make([]byte, payloadBufSize))
			if err != nil {
				t.Fatalf("accepted a token whose payload the reader refuses: %v", err)
			}
			if string(facts.jti.of(p)) == "j-revoked" && string(facts.iss.of(p)) == "auth" {
				t.Fatalf("a token with a revoked jti was accepted as %s: %q", ck.name, s)
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

// FuzzPayloadReader checks the signed-payload reader against encoding/json,
// the decoder behind every claims type: whenever both accept a payload, the
// reader's iss, sub and jti are those MapClaims and RegisteredClaims see,
// and its iat and exp agree with golang-jwt's to the millisecond. It never
// panics, on any input.
func FuzzPayloadReader(f *testing.F) {
	for _, s := range []string{
		`{"iss":"auth","sub":"alice","jti":"a","iat":1700000000,"exp":1700003600}`,
		`{"jti":"a","JTI":"b"}`, `{"\u006ati":"x","sub":"\ud83d\ude00"}`, `{"ſub":"m"}`,
		`{"iat":1700000000.123456,"exp":1.7e9}`, `{"a":[1,{"jti":2}],"jti":"\""}`, `{}`, ` {"iss":""} `,
		`{"exp":-1.5,"iat":0}`, `{"sub":"\ud800"}`, `{"x":"\u00e9","iss":"\/"}`,
	} {
		f.Add([]byte(s))
	}
	old := jwt.TimePrecision
	jwt.TimePrecision = time.Nanosecond // golang-jwt keeps what the payload says
	f.Cleanup(func() { jwt.TimePrecision = old })
	f.Fuzz(func(t *testing.T, payload []byte) {
		var facts tokenFacts
		buf := append([]byte(nil), payload...)
		if err := facts.readPayload(buf); err != nil {
			return
		}
		var m map[string]any
		if json.Unmarshal(payload, &m) == nil {
			for name, sp := range map[string]span{"iss": facts.iss, "sub": facts.sub, "jti": facts.jti} {
				v, ok := m[name]
				if !ok {
					if !sp.empty() {
						t.Fatalf("%s: reader %q, MapClaims has none", name, sp.of(buf))
					}
					continue
				}
				if s, _ := v.(string); s != string(sp.of(buf)) {
					t.Fatalf("%s: reader %q, MapClaims %q", name, sp.of(buf), v)
				}
			}
		}
		var rc jwt.RegisteredClaims
		if json.Unmarshal(payload, &rc) == nil {
			if rc.ID != string(facts.jti.of(buf)) || rc.Issuer != string(facts.iss.of(buf)) || rc.Subject != string(facts.sub.of(buf)) {
				t.Fatalf("RegisteredClaims iss/sub/jti %q/%q/%q, reader %q/%q/%q", rc.Issuer, rc.Subject, rc.ID,
					facts.iss.of(buf), facts.sub.of(buf), facts.jti.of(buf))
			}
			checkMillis(t, "iat", rc.IssuedAt, facts.hasIat, facts.iatMs, false)
			checkMillis(t, "exp", rc.ExpiresAt, facts.hasExp, facts.expMs, true)
		}
	})
}

// checkMillis compares golang-jwt's NumericDate (nanosecond precision
// during the fuzz) with the reader's milliseconds, rounded down (up for exp).
func checkMillis(t *testing.T, name string, d *jwt.NumericDate, has bool, ms int64, up bool) {
	if (d != nil) != has {
		t.Fatalf("%s: golang-jwt present %v, reader %v", name, d != nil, has)
	}
	if d == nil {
		return
	}
	want := d.Time.UnixNano()
	lo, hi := ms*1e6, ms*1e6
	if up {
		lo -= 2e6 // the reader rounds up, past float artefacts: golang-jwt's time is never later
	} else {
		hi += 1e6 // rounded down: in [ms, ms+1)
	}
	// float64 seconds carry ~0.2 µs of error at today's magnitudes.
	const slack = 1e3
	if up && want > hi {
		t.Fatalf("%s: golang-jwt %d ns is later than the reader's %d ms: retention would end early", name, want, ms)
	}
	if want < lo-slack || want > hi+slack {
		t.Fatalf("%s: golang-jwt %d ns, reader %d ms", name, want, ms)
	}
}
