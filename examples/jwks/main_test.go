package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke/examples/internal/exampleauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKeyRotation runs the provider and the API over a real HTTP server (the
// API fetches the JWK Set from it): tokens of the old and the new key are
// accepted across a rotation, logout and log out everywhere refuse them, and
// after a key leak RevokeAll refuses at once what the key caches would
// still accept.
func TestKeyRotation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	idp, err := newProvider()
	require.NoError(t, err)
	mux := http.NewServeMux()
	idp.routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	a, err := newAPI(ctx, srv.URL+"/.well-known/jwks.json")
	require.NoError(t, err)
	defer a.e.Close()
	a.routes(mux)

	c := &client{t: t, base: srv.URL}
	old := c.login("alice")
	c.me(old, 200, "alice")

	var rotated struct{ Kid string }
	c.post("/rotate", "", 200, &rotated)
	require.NotEmpty(t, rotated.Kid)
	fresh := c.login("alice")
	assert.Equal(t, rotated.Kid, kidOf(t, fresh))
	assert.NotEqual(t, kidOf(t, old), kidOf(t, fresh))
	c.me(fresh, 200, "alice") // an unknown kid: the API fetched the set again
	c.me(old, 200, "alice")   // the old key is still published

	c.post("/logout", old, 200, nil)
	c.me(old, 401, "")
	c.me(fresh, 200, "alice")
	c.post("/logout-all", fresh, 200, nil)
	c.me(fresh, 401, "")

	// A token naming a kid nobody published is refused.
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	forged := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.RegisteredClaims{Issuer: exampleauth.Issuer, Subject: "mallory",
		ID: "x", IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute))})
	forged.Header["kid"] = "made-up"
	forgedStr, err := forged.SignedString(priv)
	require.NoError(t, err)
	c.me(forgedStr, 401, "")

	// The old key leaks: retire it and revoke every token issued so far.
	bob := c.login("bob")
	c.me(bob, 200, "bob")
	require.NoError(t, idp.retire(ctx, kidOf(t, old)))
	require.NoError(t, a.e.RevokeAll(time.Now()))
	c.me(bob, 401, "")
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	require.NoError(t, err)
	kid, _ := tok.Header["kid"].(string)
	return kid
}

type client struct {
	t    *testing.T
	base string
}

func (c *client) do(method, path, token, body string) (*http.Response, []byte) {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	require.NoError(c.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	var buf strings.Builder
	_, _ = io.Copy(&buf, resp.Body)
	return resp, []byte(buf.String())
}

func (c *client) login(user string) string {
	c.t.Helper()
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	r, body := c.do("POST", "/login", "", `{"user":"`+user+`"}`)
	require.Equal(c.t, 200, r.StatusCode, string(body))
	require.NoError(c.t, json.Unmarshal(body, &resp))
	return resp.AccessToken
}

func (c *client) me(token string, status int, user string) {
	c.t.Helper()
	r, body := c.do("GET", "/me", token, "")
	require.Equal(c.t, status, r.StatusCode, string(body))
	if user != "" {
		var resp struct{ User string }
		require.NoError(c.t, json.Unmarshal(body, &resp))
		assert.Equal(c.t, user, resp.User)
	}
}

func (c *client) post(path, token string, status int, into any) {
	c.t.Helper()
	r, body := c.do("POST", path, token, "")
	require.Equal(c.t, status, r.StatusCode, string(body))
	if into != nil {
		require.NoError(c.t, json.Unmarshal(body, into))
	}
}
