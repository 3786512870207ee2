package revoke

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// typedClaims carry the token type and the client a token was issued to.
type typedClaims struct {
	jwt.RegisteredClaims
	Type     string `json:"typ,omitempty"`
	ClientID string `json:"client_id,omitempty"`
}

func typedToken(t *testing.T, a testAlg, jti, typ, client string) string {
	t.Helper()
	return a.sign(t, &typedClaims{RegisteredClaims: *claims("https://server.example.com/", "alice", jti, time.Hour), Type: typ, ClientID: client})
}

func typeOf(tok *jwt.Token) string { return tok.Claims.(*typedClaims).Type }

func newTyped() jwt.Claims { return &typedClaims{} }

// accepted reports whether v accepts token, and fails the test on any error
// other than a revocation.
func accepted(t *testing.T, v *Verifier, token string) bool {
	t.Helper()
	_, err := v.Parse(token)
	if err != nil {
		require.ErrorIs(t, err, ErrRevoked)
		return false
	}
	return true
}

func TestRevocationHandler(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	v := hs.verifier(e)
	h, err := RevocationHandler(RevocationConfig{
		Verifier: v, ClientAuth: ClientSecretBasic(rfcClients), NewClaims: newTyped, TokenType: typeOf,
	})
	require.NoError(t, err)
	revokeReq := func(token, hint string) int {
		form := url.Values{"token": {token}}
		if hint != "" {
			form.Set("token_type_hint", hint)
		}
		w := serve(h, oauthPost("/revoke", rfcBasic, form))
		assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
		if w.Code == 200 {
			assert.Empty(t, w.Body.String(), "§2.2: the content of a 200 is ignored; send none")
		}
		return w.Code
	}

	t.Run("RFC 7009 example: an unknown token is answered 200", func(t *testing.T) {
		assert.Equal(t, 200, revokeReq("45ghiukldjahdnhzdauz", "refresh_token"))
	})
	t.Run("access token", func(t *testing.T) {
		token := typedToken(t, hs, "a1", AccessToken, rfcClientID)
		require.True(t, accepted(t, v, token))
		assert.Equal(t, 200, revokeReq(token, ""))
		assert.False(t, accepted(t, v, token))
		assert.Equal(t, 200, revokeReq(token, ""), "revoking again is 200")
	})
	t.Run("refresh token, with a wrong hint", func(t *testing.T) {
		token := typedToken(t, hs, "r1", RefreshToken, rfcClientID)
		assert.Equal(t, 200, revokeReq(token, AccessToken))
		assert.False(t, accepted(t, v, token))
	})
	t.Run("an unknown hint is ignored", func(t *testing.T) {
		token := typedToken(t, hs, "a2", AccessToken, rfcClientID)
		assert.Equal(t, 200, revokeReq(token, "id_token"))
		assert.False(t, accepted(t, v, token))
	})
	t.Run("a forged token revokes nothing", func(t *testing.T) {
		real := typedToken(t, hs, "victim", AccessToken, rfcClientID)
		forged := hs.sign(t, &typedClaims{RegisteredClaims: *claims("https://server.example.com/", "alice", "victim", time.Hour)})
		forged = forged[:strings.LastIndexByte(forged, '.')+1] + "AAAA"
		assert.Equal(t, 200, revokeReq(forged, ""))
		assert.True(t, accepted(t, v, real), "the (iss, jti) of an unverified token must not be revoked")
	})
	t.Run("expired", func(t *testing.T) {
		token := hs.sign(t, &typedClaims{RegisteredClaims: jwt.RegisteredClaims{ID: "old",
			IssuedAt: jwt.NewNumericDate(time.Now().Add(-2 * time.Hour)), ExpiresAt: jwt.NewNumericDate(time.Now().Add(-time.Hour))}})
		before := e.Len()
		assert.Equal(t, 200, revokeReq(token, ""))
		assert.Equal(t, before, e.Len(), "nothing stored for an expired token")
	})
	t.Run("unsupported token type", func(t *testing.T) {
		token := typedToken(t, hs, "i1", "id_token", rfcClientID)
		w := serve(h, oauthPost("/revoke", rfcBasic, url.Values{"token": {token}}))
		assert.Equal(t, 400, w.Code)
		assert.Equal(t, "unsupported_token_type", oauthErrorOf(t, w))
		assert.True(t, accepted(t, v, token))
	})
}

func TestRevocationHandlerOnlyRevocableTypes(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	v := hs.verifier(e)
	h, err := RevocationHandler(RevocationConfig{
		Verifier: v, ClientAuth: ClientSecretBasic(rfcClients), NewClaims: newTyped, TokenType: typeOf,
		Revocable: []string{RefreshToken},
	})
	require.NoError(t, err)
	access := typedToken(t, hs, "a", AccessToken, rfcClientID)
	w := serve(h, oauthPost("/revoke", rfcBasic, url.Values{"token": {access}, "token_type_hint": {RefreshToken}}))
	assert.Equal(t, 400, w.Code, "the hint does not decide the type")
	assert.Equal(t, "unsupported_token_type", oauthErrorOf(t, w))
	assert.True(t, accepted(t, v, access))

	refresh := typedToken(t, hs, "r", RefreshToken, rfcClientID)
	w = serve(h, oauthPost("/revoke", rfcBasic, url.Values{"token": {refresh}}))
	assert.Equal(t, 200, w.Code)
	assert.False(t, accepted(t, v, refresh))
}

func TestRevocationHandlerTokenClient(t *testing.T) {
	hs := algByName(t, "HS256")
	v := hs.verifier(newTestEngine(t, Config{}))
	h, err := RevocationHandler(RevocationConfig{
		Verifier: v, ClientAuth: ClientSecretBasic(rfcClients), NewClaims: newTyped,
		TokenClient: func(tok *jwt.Token) string { return tok.Claims.(*typedClaims).ClientID },
	})
	require.NoError(t, err)
	token := typedToken(t, hs, "mine", AccessToken, rfcClientID)

	w := serve(h, oauthPost("/revoke", basic("other client", "other secret"), url.Values{"token": {token}}))
	assert.Equal(t, 400, w.Code)
	assert.Equal(t, "unauthorized_client", oauthErrorOf(t, w))
	assert.True(t, accepted(t, v, token), "another client's request revokes nothing")

	w = serve(h, oauthPost("/revoke", rfcBasic, url.Values{"token": {token}}))
	assert.Equal(t, 200, w.Code)
	assert.False(t, accepted(t, v, token))
}

func TestRevocationHandlerRefreshRevokesItsAccessTokens(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	v := hs.verifier(e)
	// The issuer gives each access token the jti "<refresh jti>/<n>"; the
	// callback revokes a refresh token's access tokens by id.
	var calls []string
	fail := true
	h, err := RevocationHandler(RevocationConfig{
		Verifier: v, ClientAuth: ClientSecretBasic(rfcClients), NewClaims: newTyped, TokenType: typeOf,
		OnRevoke: func(ctx context.Context, tok *jwt.Token, tokenType string) error {
			require.NotNil(t, ctx)
			calls = append(calls, tokenType)
			if tokenType != RefreshToken {
				return nil
			}
			if fail {
				return errors.New("session store down")
			}
			c := tok.Claims.(*typedClaims)
			for _, n := range []string{"1", "2"} {
				if err := e.Revoke(IDKey(c.Issuer, c.ID+"/"+n), c.ExpiresAt.Time); err != nil {
					return err
				}
			}
			return nil
		},
	})
	require.NoError(t, err)
	refresh := typedToken(t, hs, "r9", RefreshToken, rfcClientID)
	access1 := typedToken(t, hs, "r9/1", AccessToken, rfcClientID)
	access2 := typedToken(t, hs, "r9/2", AccessToken, rfcClientID)
	other := typedToken(t, hs, "r8/1", AccessToken, rfcClientID)

	w := serve(h, oauthPost("/revoke", rfcBasic, url.Values{"token": {refresh}}))
	assert.Equal(t, 503, w.Code, "a failed callback is not a success")
	assert.Equal(t, "temporarily_unavailable", oauthErrorOf(t, w))
	assert.True(t, accepted(t, v, refresh), "the refresh token stays usable, so that the retry reaches the callback")

	fail = false
	w = serve(h, oauthPost("/revoke", rfcBasic, url.Values{"token": {refresh}}))
	assert.Equal(t, 200, w.Code)
	assert.Equal(t, []string{RefreshToken, RefreshToken}, calls)
	assert.False(t, accepted(t, v, refresh))
	assert.False(t, accepted(t, v, access1))
	assert.False(t, accepted(t, v, access2))
	assert.True(t, accepted(t, v, other))

	w = serve(h, oauthPost("/revoke", rfcBasic, url.Values{"token": {other}}))
	assert.Equal(t, 200, w.Code)
	assert.Equal(t, []string{RefreshToken, RefreshToken, AccessToken}, calls)
}

// TestRevocationHandlerNeverAcknowledgesADroppedRevocation: when the engine
// cannot record the revocation, the answer is 503, never 200.
func TestRevocationHandlerNeverAcknowledgesADroppedRevocation(t *testing.T) {
	hs := algByName(t, "HS256")
	cases := []struct {
		name  string
		setup func(t *testing.T, e *Engine)
	}{
		{"closed", func(t *testing.T, e *Engine) { require.NoError(t, e.Close()) }},
		{"full", func(t *testing.T, e *Engine) { require.NoError(t, e.Revoke("filler", time.Now().Add(time.Hour))) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newTestEngine(t, Config{MaxEntries: 1})
			v := hs.verifier(e)
			h, err := RevocationHandler(RevocationConfig{Verifier: v, ClientAuth: ClientSecretBasic(rfcClients)})
			require.NoError(t, err)
			token := hs.sign(t, claims("iss", "alice", "j", time.Hour))
			c.setup(t, e)
			w := serve(h, oauthPost("/revoke", rfcBasic, url.Values{"token": {token}}))
			assert.Equal(t, 503, w.Code)
			assert.Equal(t, "temporarily_unavailable", oauthErrorOf(t, w))
			assert.True(t, accepted(t, v, token))
		})
	}
}

// A token whose key cannot be had (a JWKS endpoint down) may be live: the
// client is told to retry, not that it was revoked.
func TestRevocationHandlerKeyUnavailable(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	down := true
	v := newOAuthVerifier(t, e, func(tok *jwt.Token) (any, error) {
		if down {
			return nil, errors.New("jwks: connection refused")
		}
		return hs.verifyKey, nil
	}, jwt.WithValidMethods([]string{"HS256"}))
	h, err := RevocationHandler(RevocationConfig{Verifier: v, ClientAuth: ClientSecretBasic(rfcClients)})
	require.NoError(t, err)
	token := hs.sign(t, claims("iss", "alice", "j", time.Hour))
	w := serve(h, oauthPost("/revoke", rfcBasic, url.Values{"token": {token}}))
	assert.Equal(t, 503, w.Code)
	assert.Equal(t, "temporarily_unavailable", oauthErrorOf(t, w))

	down = false
	w = serve(h, oauthPost("/revoke", rfcBasic, url.Values{"token": {token}}))
	assert.Equal(t, 200, w.Code)
	assert.False(t, accepted(t, v, token))
}

// newOAuthVerifier is NewVerifier for a keyFunc of the test's own.
func newOAuthVerifier(t *testing.T, e *Engine, keyFunc jwt.Keyfunc, opts ...jwt.ParserOption) *Verifier {
	t.Helper()
	v, err := NewVerifier(e, keyFunc, opts...)
	require.NoError(t, err)
	return v
}

// TestRevocationHandlerRevokesTokensNotValidYet: a genuine token whose nbf
// or iat lies ahead is refused today and accepted later; answering 200
// without revoking it would drop the revocation.
func TestRevocationHandlerRevokesTokensNotValidYet(t *testing.T) {
	hs := algByName(t, "HS256")
	synctest.Test(t, func(t *testing.T) {
		e := newTestEngine(t, Config{})
		v := hs.verifier(e)
		h, err := RevocationHandler(RevocationConfig{Verifier: v, ClientAuth: ClientSecretBasic(rfcClients)})
		require.NoError(t, err)
		now := time.Now()
		cases := map[string]*jwt.RegisteredClaims{
			"nbf ahead": {Issuer: "iss", ID: "nbf", IssuedAt: jwt.NewNumericDate(now),
				NotBefore: jwt.NewNumericDate(now.Add(10 * time.Minute)), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))},
			"iat ahead": {Issuer: "iss", ID: "iat", IssuedAt: jwt.NewNumericDate(now.Add(10 * time.Minute)),
				ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))},
		}
		tokens := map[string]string{}
		for name, c := range cases {
			tokens[name] = hs.sign(t, c)
			_, err := v.Parse(tokens[name])
			require.Error(t, err, "%s: not valid yet", name)
			require.NotErrorIs(t, err, ErrRevoked)
			w := serve(h, oauthPost("/revoke", rfcBasic, url.Values{"token": {tokens[name]}}))
			require.Equal(t, 200, w.Code, name)
		}
		forged := hs.sign(t, &jwt.RegisteredClaims{Issuer: "iss", ID: "victim", IssuedAt: jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(10 * time.Minute)), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))})
		forged = forged[:strings.LastIndexByte(forged, '.')+1] + "AAAA"
		require.Equal(t, 200, serve(h, oauthPost("/revoke", rfcBasic, url.Values{"token": {forged}})).Code)
		victim := hs.sign(t, &jwt.RegisteredClaims{Issuer: "iss", ID: "victim", IssuedAt: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))})

		time.Sleep(15 * time.Minute)
		for name, token := range tokens {
			_, err := v.Parse(token)
			assert.ErrorIs(t, err, ErrTokenRevoked, "%s: valid now, and revoked", name)
		}
		assert.True(t, accepted(t, v, victim), "a forged not-yet-valid token revokes nothing")
	})
}
