package revoke

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Attacks on the JWT layer (branch attack-jwt). Each "Finding" test failed
// on the code before its fix; the others record attacks that held.

// nilMapClaims returns a nil jwt.MapClaims as a jwt.Claims, what
// `var c jwt.MapClaims; v.ParseWithClaims(token, c)` passes.
func nilMapClaims() jwt.Claims {
	var c jwt.MapClaims
	return c
}

// Finding: golang-jwt decodes a nil jwt.MapClaims into a map of its own and
// then validates the nil one, so it checks no exp, nbf or aud at all. The
// Verifier trusted golang-jwt's exp check for every MapClaims and skipped
// its own: with ExpirationOptional, `var c jwt.MapClaims;
// v.ParseWithClaims(token, c)` accepted an expired token, and a revoked one
// once its revocation had been forgotten at exp + Leeway.
func TestAttackNilMapClaimsAcceptedExpiredRevokedToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs := algByName(t, "HS256")
		e := newTestEngine(t, Config{Leeway: time.Second})
		lenient := hs.verifierWith(VerifierConfig{Engine: e, ExpirationOptional: true})
		token := hs.sign(t, claims("auth", "alice", "gone", time.Minute))
		tok, err := lenient.Parse(token)
		require.NoError(t, err)
		require.NoError(t, e.RevokeToken(tok))
		_, err = lenient.ParseWithClaims(token, nilMapClaims())
		require.ErrorIs(t, err, ErrTokenRevoked)

		time.Sleep(2 * time.Minute) // past exp + Leeway: the revocation is forgotten
		synctest.Wait()
		for name, v := range map[string]*Verifier{"ExpirationOptional": lenient, "default": hs.verifier(e)} {
			tok, err := v.ParseWithClaims(token, nilMapClaims())
			assert.ErrorIs(t, err, jwt.ErrTokenExpired, "%s: an expired, revoked token parsed into a nil MapClaims", name)
			if tok != nil {
				assert.False(t, tok.Valid, name)
			}
			h := Middleware(v, WithClaims(nilMapClaims))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				t.Errorf("%s: the handler ran for an expired, revoked token", name)
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			assert.Equal(t, http.StatusUnauthorized, rec.Code, name)
		}
	})
}

// A nil MapClaims is parsed like an empty one: golang-jwt's own checks
// (nbf, aud, iss) apply and the claims reach the token.
func TestNilMapClaimsParsedLikeAnEmptyOne(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	now := time.Now()
	notYet := hs.sign(t, &jwt.RegisteredClaims{Issuer: "auth", Subject: "alice", ID: "n",
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(time.Hour)), ExpiresAt: jwt.NewNumericDate(now.Add(2 * time.Hour))})
	_, err := hs.verifier(e).ParseWithClaims(notYet, nilMapClaims())
	assert.ErrorIs(t, err, jwt.ErrTokenNotValidYet, "nbf is checked")

	c := claims("auth", "alice", "ok", time.Hour)
	c.Audience = jwt.ClaimStrings{"shop"}
	token := hs.sign(t, c)
	_, err = hs.verifier(e, jwt.WithAudience("billing")).ParseWithClaims(token, nilMapClaims())
	assert.ErrorIs(t, err, jwt.ErrTokenInvalidAudience, "aud is checked")
	tok, err := hs.verifier(e).ParseWithClaims(token, nilMapClaims())
	require.NoError(t, err)
	m, ok := tok.Claims.(jwt.MapClaims)
	require.True(t, ok)
	assert.Equal(t, "alice", m["sub"], "the token carries the decoded claims")
}

// Finding: a token with neither exp nor iat never expires for a plain
// golang-jwt parser (exp is optional there), yet RevokeToken acknowledged
// its revocation and ConsumeToken its single use for MaxTTL from now only.
// After MaxTTL the revoked token was no longer revoked by TokenKey, and the
// "single-use" token could be consumed a second time (a refresh token
// replayed without reuse detection). Both now refuse such a token: no
// bounded deny list can hold it.
func TestAttackTimelessTokenRevokedOrConsumedOnlyForMaxTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs := algByName(t, "HS256")
		const maxTTL = time.Hour
		e := newTestEngine(t, Config{MaxTTL: maxTTL})
		// A plain golang-jwt parser, as TokenKey's and RevokeToken's docs allow.
		plain := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}))
		tok, err := plain.Parse(hs.sign(t, jwt.MapClaims{"iss": "auth", "sub": "alice", "jti": "forever"}), hs.keyFunc())
		require.NoError(t, err)
		require.True(t, tok.Valid)

		first1, err1 := e.ConsumeToken(tok)
		errRevoke := e.RevokeToken(tok)
		time.Sleep(maxTTL + 3*time.Second)
		synctest.Wait()
		tok, err = plain.Parse(tok.Raw, hs.keyFunc())
		require.NoError(t, err, "golang-jwt still accepts it")
		first2, _ := e.ConsumeToken(tok)
		assert.False(t, first1 && first2, "consumed twice, MaxTTL apart")
		key, err := TokenKey(tok)
		require.NoError(t, err)
		assert.False(t, errRevoke == nil && !e.IsRevoked(key), "RevokeToken acknowledged a revocation that lapsed while the token is accepted")

		for name, err := range map[string]error{"ConsumeToken": err1, "RevokeToken": errRevoke} {
			assert.ErrorIs(t, err, ErrTTLTooLong, name)
			assert.ErrorIs(t, err, jwt.ErrTokenRequiredClaimMissing, name)
		}
		assert.False(t, first1)
	})
}

// Finding: WithCORSPreflight let every OPTIONS request with an
// Access-Control-Request-Method header reach the next handler unchecked,
// even one that carries a body or a (revoked) bearer token, or comes
// without Origin: nothing a browser sends as a preflight. A handler after
// the middleware that does not look at the method ran for it
// unauthenticated. Only a real preflight (Origin, no body, no credentials)
// passes now; the rest is checked as usual.
func TestAttackCORSPreflightBypass(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	v := hs.verifier(e)
	revoked := hs.sign(t, claims("auth", "alice", "gone", time.Hour))
	require.NoError(t, e.RevokeID("auth", "gone", time.Now().Add(time.Hour)))
	valid := hs.sign(t, claims("auth", "alice", "ok", time.Hour))

	preflight := func(body string, header ...string) *http.Request {
		var r *http.Request
		if body == "" {
			r = httptest.NewRequest(http.MethodOptions, "/admin/delete-all", nil)
		} else {
			r = httptest.NewRequest(http.MethodOptions, "/admin/delete-all", strings.NewReader(body))
		}
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		return r
	}
	const acrm, origin = "Access-Control-Request-Method", "Origin"
	cases := []struct {
		name       string
		req        *http.Request
		wantStatus int // what the middleware answers; 204: the handler ran
		wantToken  bool
	}{
		{"a browser's preflight", preflight("", acrm, "DELETE", origin, "https://app.example"), http.StatusNoContent, false},
		{"with a body", preflight(`{"confirm":true}`, acrm, "DELETE", origin, "https://app.example"), http.StatusUnauthorized, false},
		{"with a revoked bearer token", preflight("", acrm, "DELETE", origin, "https://app.example", "Authorization", "Bearer "+revoked), http.StatusUnauthorized, false},
		{"with a malformed Authorization header", preflight("", acrm, "DELETE", origin, "https://app.example", "Authorization", "Bearer a,b"), http.StatusBadRequest, false},
		{"with a valid bearer token: checked, then let through with it", preflight("", acrm, "DELETE", origin, "https://app.example", "Authorization", "Bearer "+valid), http.StatusNoContent, true},
		{"without Origin", preflight("", acrm, "DELETE"), http.StatusUnauthorized, false},
		{"without Access-Control-Request-Method", preflight("", origin, "https://app.example"), http.StatusUnauthorized, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ran, gotToken := false, false
			h := Middleware(v, WithCORSPreflight())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ran = true
				_, gotToken = TokenFromContext(r.Context())
				w.WriteHeader(http.StatusNoContent)
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, c.req)
			assert.Equal(t, c.wantStatus, rec.Code)
			assert.Equal(t, c.wantStatus == http.StatusNoContent, ran)
			assert.Equal(t, c.wantToken, gotToken)
		})
	}
}

// signSegments signs header.payload as given (already encoded) with a's
// key: spellings no golang-jwt encoder writes, as a quirky issuer might.
func signSegments(t *testing.T, a testAlg, header, payload string) string {
	t.Helper()
	sig, err := a.method.Sign(header+"."+payload, a.signKey)
	require.NoError(t, err)
	return header + "." + payload + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// parserVariants are the golang-jwt options that change how a payload is
// decoded or checked.
var parserVariants = []struct {
	name string
	opts []jwt.ParserOption
}{
	{"default", nil},
	{"WithJSONNumber", []jwt.ParserOption{jwt.WithJSONNumber()}},
	{"WithPaddingAllowed", []jwt.ParserOption{jwt.WithPaddingAllowed()}},
	{"WithStrictDecoding", []jwt.ParserOption{jwt.WithStrictDecoding()}},
	{"WithoutClaimsValidation", []jwt.ParserOption{jwt.WithoutClaimsValidation()}},
	{"WithIssuedAt", []jwt.ParserOption{jwt.WithIssuedAt()}},
}

// Held: every spelling of a payload carrying a revoked (iss, jti) that
// golang-jwt accepts under some option is refused, through every claims
// type and parser option: as revoked, or as malformed where the spelling
// is ambiguous. Spellings: escapes in names and values, white space,
// trailing data (json.Decoder with WithJSONNumber ignores it), a second
// object, a BOM, nested and upper-case jti, duplicates, numbers in exponent
// form, padded and line-broken base64 (golang-jwt's decoder skips \r and \n).
func TestAttackSpellingsOfARevokedID(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{Leeway: time.Second})
	require.NoError(t, e.RevokeID("auth", "victim", time.Now().Add(time.Hour)))
	now := time.Now().Unix()
	times := fmt.Sprintf(`"iat":%d,"exp":%d`, now, now+600)
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	payloads := []string{
		`{"iss":"auth","jti":"victim",` + times + `}`,
		`{"iss":"\u0061uth","jti":"vic\u0074im",` + times + `}`,
		`{"\u0069ss":"auth","\u006a\u0074\u0069":"victim",` + times + `}`,
		" \t\r\n{ \"iss\" : \"auth\" ,\n\"jti\"\t:\"victim\", " + times + " } \n",
		`{"iss":"auth","jti":"victim",` + times + `}  garbage`,
		`{"iss":"auth","jti":"victim",` + times + `}{"jti":"other"}`,
		"\ufeff" + `{"iss":"auth","jti":"victim",` + times + `}`,
		`{"iss":"auth","x":{"jti":"other"},"jti":"victim",` + times + `}`,
		`{"iss":"auth","JTI":"victim",` + times + `}`,
		`{"iss":"auth","Jti":"other","jti":"victim",` + times + `}`,
		`{"iss":"auth","jti":"victim","jti":"other",` + times + `}`,
		`{"iss":"auth","jti":"other","jti":"victim",` + times + `}`,
		`{"iss":"auth","ISS":"else","jti":"victim",` + times + `}`,
		`{"iſs":"auth","jti":"victim",` + times + `}`,
		`{"iss":"auth","jti":"victim","iat":` + fmt.Sprintf("%de0", now) + `,"exp":` + fmt.Sprintf("%d.0E+0", now+600) + `}`,
		`{"iss":"auth","jti":"victim","iat":` + fmt.Sprintf("%d.999999999999999999999", now-1) + `,"exp":` + fmt.Sprint(now+600) + `}`,
		`{"iss":"auth","jti":"victim",` + times + `,"nbf":-0}`,
		`{"iss":"auth","jti":"victim","iat":"` + fmt.Sprint(now) + `","exp":` + fmt.Sprint(now+600) + `}`,
		`{"iss":"auth","jti":["victim"],` + times + `}`,
		`{"iss":"auth","jti":{"id":"victim"},` + times + `}`,
		`{"iss":"auth","jti":null,"sub":"victim",` + times + `}`,
	}
	var tokens []string
	for _, p := range payloads {
		seg := enc(p)
		tokens = append(tokens, signSegments(t, hs, head, seg))
		if pad := (4 - len(seg)%4) % 4; pad > 0 {
			tokens = append(tokens, signSegments(t, hs, head, seg+strings.Repeat("=", pad)))
		}
		tokens = append(tokens, signSegments(t, hs, head, seg[:4]+"\r\n"+seg[4:]))
	}
	for _, pv := range parserVariants {
		v := hs.verifier(e, pv.opts...)
		for i, token := range tokens {
			for _, ck := range claimsKinds {
				tok, err := v.ParseWithClaims(token, ck.new())
				if !assert.Error(t, err, "%s, %s, token %d (%q)", pv.name, ck.name, i, token) {
					continue
				}
				assert.False(t, tok != nil && tok.Valid, "%s, %s, token %d marked valid", pv.name, ck.name, i)
			}
		}
	}
	// The reference spelling is refused as revoked, not for another reason.
	_, err := hs.verifier(e).Parse(tokens[0])
	assert.ErrorIs(t, err, ErrTokenRevoked)
}

// refreshed issues the token a refresh handler returns: same subject,
// issued at iat, with millisecond precision.
func refreshed(t *testing.T, a testAlg, iat time.Time) string {
	return a.sign(t, &jwt.RegisteredClaims{Issuer: "auth", Subject: "alice", ID: fmt.Sprint(iat.UnixNano()),
		IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(iat.Add(10 * time.Minute))})
}

// A refresh in flight against "log out everywhere". The logout handler
// reads t = time.Now() and calls RevokeSubject(iss, sub, t); a refresh
// whose check of the old token ran between that read and the moment the
// cutoff was stored passes, and the token it then issues (iat after t)
// escapes the cutoff: the thief who keeps refreshing stays signed in. The
// interleaving is the one of two concurrent handlers, written out.
//
// The library cannot order a caller's clock read against another request's
// check; the recipe documented at RevokeSubject closes the window: a
// refresh issues its token with an iat read *before* the old token's
// check, and a logout that must also catch refreshes in flight calls
// RevokeSubject a second time, with time.Now() read after the first call
// returned. Both parts are needed; each alone leaves a window.
func TestAttackRefreshInFlightAgainstLogoutEverywhere(t *testing.T) {
	recipes := []struct {
		name         string
		iatBefore    bool // the refresh reads its iat before the check
		secondCutoff bool // the logout cuts again after the first call
		escapes      bool
	}{
		{"iat at issue, one cutoff (the naive flow)", false, false, true},
		{"iat before the check, one cutoff", true, false, true},
		{"iat at issue, second cutoff", false, true, true},
		{"iat before the check, second cutoff (the recipe)", true, true, false},
	}
	for _, r := range recipes {
		t.Run(r.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				withMillisecondPrecision(t)
				hs := algByName(t, "HS256")
				e := newTestEngine(t, Config{})
				v := hs.verifier(e)
				old := refreshed(t, hs, time.Now())
				time.Sleep(time.Second)

				cut := time.Now() // logout: t := time.Now()
				time.Sleep(time.Millisecond)
				refreshIat := time.Now() // refresh: the time read before the check
				time.Sleep(time.Millisecond)
				_, err := v.Parse(old) // refresh: the old token passes, no cutoff stored yet
				require.NoError(t, err)
				time.Sleep(time.Millisecond)
				require.NoError(t, e.RevokeSubject("auth", "alice", cut)) // logout stores its cutoff
				if r.secondCutoff {
					time.Sleep(time.Millisecond)
					require.NoError(t, e.RevokeSubject("auth", "alice", time.Now()))
				}
				time.Sleep(time.Millisecond)
				if !r.iatBefore {
					refreshIat = time.Now() // refresh: issues now
				}
				fresh := refreshed(t, hs, refreshIat)
				time.Sleep(time.Second)

				_, err = v.Parse(old)
				assert.ErrorIs(t, err, ErrSubjectRevoked)
				_, err = v.Parse(fresh)
				if r.escapes {
					assert.NoError(t, err, "this flow leaves the window open")
				} else {
					assert.ErrorIs(t, err, ErrSubjectRevoked, "the refreshed token escaped the logout")
				}
			})
		})
	}
}

// adversarialPayloads are payloads just below DefaultMaxTokenSize once
// signed, built to make the reader (or golang-jwt) work hardest per byte:
// deep nesting, escaped names that fold close to watched ones, many small
// members, long escaped strings, a number with thousands of digits.
func adversarialPayloads(now int64) map[string]string {
	times := fmt.Sprintf(`"iss":"auth","sub":"alice","jti":"j","iat":%d,"exp":%d`, now, now+600)
	const room = 5800 // bytes of JSON: base64 makes 4/3 of it, under 8 KiB with header and signature
	fill := func(unit string) string { return strings.Repeat(unit, room/len(unit)) }
	return map[string]string{
		"typical":      `{` + times + `}`,
		"deep nesting": `{` + times + `,"x":` + strings.Repeat("[", room/2) + strings.Repeat("]", room/2) + `}`,
		// About the deepest nesting in a signed part of at most
		// prescanMin bytes, which golang-jwt decodes (the reader refuses
		// it afterwards).
		"deep nesting under prescanMin": `{` + times + `,"x":` + strings.Repeat("[", 138) + strings.Repeat("]", 138) + `}`,
		"escaped names":                 `{` + times + strings.TrimSuffix(fill(`,"\u006at\u0078":1`), ",") + `}`,
		"many members":                  `{` + times + fill(`,"a":0`) + `}`,
		"escaped string":                `{` + times + `,"x":"` + fill(`\u00e9\"`) + `"}`,
		"long number":                   `{` + times + `,"x":0.` + fill("0") + `1}`,
	}
}

// Finding: golang-jwt decodes the claims before it checks the signature,
// and an 8 KiB payload of nested arrays cost its decoder about 80 times a
// typical parse (0.6 ms and ~5900 allocations here, BenchmarkAttackAdversarialPayload)
// on any request, signed or not. The Verifier now scans a token longer
// than prescanMin first and refuses nesting beyond maxPayloadDepth (in
// the header too) before golang-jwt sees it; shorter tokens, which cannot
// nest deep enough to matter, are refused after the parse.
//
// Held: every other shape just under MaxTokenSize costs the reader time
// linear in its size and at most the one buffer of a payload above 1 KiB,
// and the Verifier answers it (accepts it: nothing in them is ambiguous).
func TestAttackAdversarialPayloadsBounded(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	v := hs.verifier(e)
	now := time.Now().Unix()
	deep := adversarialPayloads(now)["deep nesting"]
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	unsigned := head + "." + base64.RawURLEncoding.EncodeToString([]byte(deep)) + ".c2ln"
	_, err := v.Parse(unsigned)
	assert.ErrorIs(t, err, jwt.ErrTokenMalformed)
	assert.NotErrorIs(t, err, jwt.ErrTokenSignatureInvalid, "refused before golang-jwt decodes it")
	c := jwt.MapClaims{}
	allocs := testing.AllocsPerRun(20, func() { _, _ = v.ParseWithClaims(unsigned, c) })
	assert.LessOrEqual(t, allocs, 1.0, "no decoding of the nested payload: only the reader's buffer")
	// The same nesting in the header, which golang-jwt decodes first.
	deepHead := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","x":` + strings.Repeat("[", 2900) + strings.Repeat("]", 2900) + `}`))
	good := hs.sign(t, claims("auth", "alice", "h", time.Hour))
	unsignedHead := deepHead + good[strings.IndexByte(good, '.'):]
	_, err = v.Parse(unsignedHead)
	assert.ErrorIs(t, err, jwt.ErrTokenMalformed)
	assert.NotErrorIs(t, err, jwt.ErrTokenSignatureInvalid, "refused before golang-jwt decodes the header")
	allocs = testing.AllocsPerRun(20, func() { _, _ = v.ParseWithClaims(unsignedHead, c) })
	assert.LessOrEqual(t, allocs, 1.0, "no decoding of the nested header: only the scan's buffer")

	short := hs.sign(t, rawClaims("%s", adversarialPayloads(now)["deep nesting under prescanMin"]))
	require.LessOrEqual(t, strings.LastIndexByte(short, '.'), prescanMin, "the largest nesting left to golang-jwt")
	_, err = v.Parse(short)
	assert.ErrorIs(t, err, jwt.ErrTokenMalformed, "and refused after it")

	for _, depth := range []int{maxPayloadDepth, maxPayloadDepth + 1} {
		p := fmt.Sprintf(`{"iss":"auth","sub":"alice","jti":"d","iat":%d,"exp":%d,"x":%s1%s}`, now, now+600,
			strings.Repeat("[", depth), strings.Repeat("]", depth))
		_, err := v.Parse(hs.sign(t, rawClaims("%s", p)))
		if depth <= maxPayloadDepth {
			assert.NoError(t, err, "nesting %d", depth)
		} else {
			assert.ErrorIs(t, err, jwt.ErrTokenMalformed, "nesting %d", depth)
		}
	}

	for name, p := range adversarialPayloads(now) {
		if strings.HasPrefix(name, "deep nesting") {
			continue
		}
		token := hs.sign(t, rawClaims("%s", p))
		require.LessOrEqual(t, len(token), DefaultMaxTokenSize, name)
		_, err := v.Parse(token)
		require.NoError(t, err, name)
		allocs := testing.AllocsPerRun(20, func() {
			var f tokenFacts
			var buf [payloadBufSize]byte
			if _, err := f.readToken(token, buf[:]); err != nil {
				panic(err)
			}
		})
		assert.LessOrEqual(t, allocs, 1.0, "%s: the reader allocates only the decoded payload", name)
	}
}

// BenchmarkAttackAdversarialPayload measures Verifier.Parse and the payload
// reader alone on the adversarial payloads (ns per payload byte reported).
func BenchmarkAttackAdversarialPayload(b *testing.B) {
	hs := algByName(b, "HS256")
	e, err := New(Config{})
	require.NoError(b, err)
	defer e.Close()
	v := hs.verifier(e)
	for name, p := range adversarialPayloads(time.Now().Unix()) {
		token := hs.sign(b, rawClaims("%s", p))
		b.Run(strings.ReplaceAll(name, " ", "-")+"/reader", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var f tokenFacts
				var buf [payloadBufSize]byte
				_, _ = f.readToken(token, buf[:])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(p)), "ns/byte")
		})
		b.Run(strings.ReplaceAll(name, " ", "-")+"/Parse", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = v.Parse(token) // deep nesting is refused
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(p)), "ns/byte")
		})
	}
}

// Finding (fixed with the header scan): with WithPaddingAllowed golang-jwt
// accepts padding followed by line breaks ("...==\n\n"); the scans trimmed
// only the padding, so such a header skipped the nesting bound (golang-jwt
// decoded it, unsigned) and such a payload, validly signed, was refused.
func TestAttackPaddingThenLineBreaks(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	v := hs.verifier(e, jwt.WithPaddingAllowed())
	now := time.Now().Unix()
	// spell keeps the padding and appends line breaks up to a multiple of
	// four, a length golang-jwt's padded decoder takes as is.
	spell := func(raw string) string {
		seg := base64.URLEncoding.EncodeToString([]byte(raw))
		require.True(t, strings.HasSuffix(seg, "="), "the test needs a padded segment: %q", raw)
		seg += "\n"
		for len(seg)%4 != 0 {
			seg += "\n"
		}
		return seg
	}
	payload := fmt.Sprintf(`{"iss":"auth","sub":"alice","jti":"p","iat":%d,"exp":%d}`, now, now+600)
	for len(payload)%3 == 0 { // a length that base64 pads
		payload += " "
	}
	token := signSegments(t, hs, spell(`{"alg":"HS256","typ":"JWT"}`+" "), spell(payload))
	_, err := v.Parse(token)
	assert.NoError(t, err, "padding then line breaks is read as golang-jwt reads it")

	deepHeader := `{"alg":"HS256","x":` + strings.Repeat("[", 400) + strings.Repeat("]", 400) + `}`
	unsigned := spell(deepHeader) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
	_, err = v.Parse(unsigned)
	assert.ErrorIs(t, err, jwt.ErrTokenMalformed)
	c := jwt.MapClaims{}
	allocs := testing.AllocsPerRun(20, func() { _, _ = v.ParseWithClaims(unsigned, c) })
	assert.LessOrEqual(t, allocs, 1.0, "the nested header never reaches golang-jwt's decoder")
}

// A record's deadline is computed with the sender's Leeway and MaxTTL. A
// replica configured with a larger Leeway (a fleet halfway through a
// configuration change) must not forget a revocation while its Verifier
// still accepts the token (exp + sender's Leeway < now < exp + own Leeway):
// Apply holds records until their deadline plus its own Leeway (see
// TestApplyHoldsRecordsForThisEnginesVerifier for cutoffs and MaxTTL). A
// restart with a larger Leeway or MaxTTL than the files were written with
// is not covered: recovery keeps the deadlines it reads.
func TestAttackReplicaWithLargerLeewayForgetsEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs := algByName(t, "HS256")
		sender := newTestEngine(t, Config{Leeway: 0})
		receiver := newTestEngine(t, Config{Leeway: time.Minute})
		var recs []Record
		sender.SetObserver(func(r Record) error { recs = append(recs, r); return nil })
		token := hs.sign(t, claims("auth", "alice", "gone", 10*time.Second))
		tok, err := hs.verifier(sender).Parse(token)
		require.NoError(t, err)
		require.NoError(t, sender.RevokeToken(tok))
		for _, r := range recs {
			require.NoError(t, receiver.Apply(r))
		}
		v := hs.verifier(receiver)
		for range 60 {
			time.Sleep(time.Second)
			synctest.Wait()
			if _, err := v.Parse(token); err == nil {
				t.Fatal("the receiver accepts the revoked token after its exp, within its own Leeway")
			}
		}
	})
}

// FuzzAttackRevokeOnceRefusedEverywhere signs arbitrary payloads (as a
// quirky issuer would) and parses each through every claims type, a nil
// MapClaims and every parser variant: once RevokeToken has revoked the
// first accepted parse, no parse of the same token may be accepted, and
// ConsumeToken through one parse is a reuse through every other.
func FuzzAttackRevokeOnceRefusedEverywhere(f *testing.F) {
	hs := algByName(f, "HS256")
	now := time.Now().Unix()
	times := fmt.Sprintf(`"iat":%d,"exp":%d`, now, now+600)
	for _, s := range []string{
		`{"iss":"auth","jti":"victim",` + times + `}`,
		`{"iss":"\u0061uth","\u006a\u0074\u0069":"vic\u0074im",` + times + `}`,
		`{"sub":"alice",` + times + `}`,
		`{"iss":"auth","jti":"victim",` + times + `} x`,
		`{"iss":"auth","x":{"jti":"y","JTI":"z"},"jti":"victim",` + times + `}`,
		`{"jti":"a","iat":` + fmt.Sprintf("%d.999999999999999999", now-1) + `,"exp":` + fmt.Sprintf("%de0", now+600) + `}`,
		`{"jti":"","iat":` + fmt.Sprint(now) + `,"exp":` + fmt.Sprintf("%d.5", now+60) + `}`,
	} {
		f.Add(s)
	}
	kinds := append(append([]struct {
		name string
		new  func() jwt.Claims
	}{}, claimsKinds...), struct {
		name string
		new  func() jwt.Claims
	}{"nil MapClaims", nilMapClaims})
	f.Fuzz(func(t *testing.T, payload string) {
		head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
		token := signSegments(t, hs, head, base64.RawURLEncoding.EncodeToString([]byte(payload)))
		e := newTestEngine(t, Config{Leeway: time.Second})
		var verifiers []*Verifier
		for _, pv := range parserVariants {
			verifiers = append(verifiers, hs.verifier(e, pv.opts...))
			verifiers = append(verifiers, hs.verifierWith(VerifierConfig{Engine: e, ParserOptions: pv.opts,
				ExpirationOptional: true, IssuedAtOptional: true}))
		}
		var first *jwt.Token
		for _, v := range verifiers {
			for _, k := range kinds {
				if tok, err := v.ParseWithClaims(token, k.new()); err == nil && first == nil {
					first = tok
				}
			}
		}
		if first == nil {
			return
		}
		used, err := e.ConsumeToken(first)
		require.NoError(t, err)
		require.True(t, used)
		require.NoError(t, e.RevokeToken(first))
		for _, v := range verifiers {
			for _, k := range kinds {
				tok, err := v.ParseWithClaims(token, k.new())
				if err == nil {
					t.Fatalf("a revoked token was accepted as %s: %q", k.name, payload)
				}
				if tok != nil && tok.Valid {
					t.Fatalf("refused but marked valid as %s", k.name)
				}
			}
		}
		// A valid parse of another claims type consumes the same mark.
		plain := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithoutClaimsValidation())
		for _, k := range kinds {
			tok, err := plain.ParseWithClaims(token, k.new(), hs.keyFunc())
			if err != nil {
				continue
			}
			again, err := e.ConsumeToken(tok)
			if err == nil && again {
				t.Fatalf("consumed twice, the second time as %s: %q", k.name, payload)
			}
		}
	})
}

// Held: keys longer than the stack buffers (composite keys past 256 bytes
// are hashed in a streaming digest) are the same entries for RevokeID,
// RevokeSubject and the Verifier, with escapes in the payload's spelling.
func TestAttackLongKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		withMillisecondPrecision(t)
		hs := algByName(t, "HS256")
		e := newTestEngine(t, Config{})
		v := hs.verifier(e)
		long := strings.Repeat("é", 200) // 400 bytes; \u00e9 in the payload below
		escaped := strings.Repeat(`\u00e9`, 200)
		now := time.Now()
		time.Sleep(time.Second)
		p := fmt.Sprintf(`{"iss":"%s","sub":"%s","jti":"%s","iat":%.3f,"exp":%d}`, escaped, escaped, escaped,
			float64(now.UnixMilli())/1000, now.Add(time.Hour).Unix())
		token := hs.sign(t, rawClaims("%s", p))
		_, err := v.Parse(token)
		require.NoError(t, err)

		require.NoError(t, e.RevokeSubject(long, long, now.Add(-time.Millisecond)))
		_, err = v.Parse(token)
		assert.NoError(t, err, "issued a millisecond after the cutoff")
		require.NoError(t, e.RevokeSubject(long, long, now))
		_, err = v.Parse(token)
		assert.ErrorIs(t, err, ErrSubjectRevoked, "issued at the cutoff, to the millisecond")

		e2 := newTestEngine(t, Config{})
		require.NoError(t, e2.RevokeID(long, long, now.Add(time.Hour)))
		_, err = hs.verifier(e2).ParseWithClaims(token, &fieldClaims{})
		assert.ErrorIs(t, err, ErrTokenRevoked)
	})
}
