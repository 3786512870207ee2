// Package scenario is the test the framework examples share: it drives an
// example's real router through login, a protected route, logout, the
// revoked token refused, and "log out everywhere".
package scenario

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jwtrevoke/revoke/examples/internal/exampleauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Run builds the example's router with newHandler around a fresh Auth, in a
// synctest bubble (virtual time), and runs the scenario against it. The
// router must serve:
//
//	POST /login       {"user":"alice"}  → 200 {"access_token":"..."}
//	GET  /me          Bearer token      → 200 {"user":"alice"}, or 401 {"error":"..."}
//	POST /logout      Bearer token      → 200, the token is revoked
//	POST /logout-all  Bearer token      → 200, every token of the user issued so far is revoked
func Run(t *testing.T, newHandler func(a *exampleauth.Auth) http.Handler) {
	synctest.Test(t, func(t *testing.T) {
		a, err := exampleauth.New()
		require.NoError(t, err)
		defer a.Close()
		h := newHandler(a)
		c := client{t: t, h: h}

		laptop := c.login("alice")
		phone := c.login("alice")
		bob := c.login("bob")
		c.me(laptop, 200, "alice")
		c.me("", 401, "")
		c.me("not-a-token", 401, "")
		c.me(laptop[:len(laptop)-4]+"AAAA", 401, "")

		// Log out: this token only.
		c.call("POST", "/logout", laptop, 200)
		c.me(laptop, 401, "")
		c.me(phone, 200, "alice")

		// Log out everywhere: every token of alice issued so far.
		c.call("POST", "/logout-all", phone, 200)
		c.me(phone, 401, "")
		c.me(bob, 200, "bob")

		// A token issued after the cutoff (iat has whole seconds: the
		// next second) is accepted.
		time.Sleep(time.Second)
		again := c.login("alice")
		c.me(again, 200, "alice")

		// An expired token is refused.
		time.Sleep(exampleauth.AccessTTL + time.Minute)
		c.me(bob, 401, "")
	})
}

type client struct {
	t *testing.T
	h http.Handler
}

func (c client) do(method, path, token, body string) *httptest.ResponseRecorder {
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, r)
	return w
}

func (c client) login(user string) string {
	c.t.Helper()
	w := c.do("POST", "/login", "", `{"user":"`+user+`"}`)
	require.Equal(c.t, 200, w.Code, w.Body.String())
	var resp struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(c.t, json.Unmarshal(w.Body.Bytes(), &resp))
	require.NotEmpty(c.t, resp.AccessToken)
	return resp.AccessToken
}

func (c client) me(token string, status int, user string) {
	c.t.Helper()
	w := c.do("GET", "/me", token, "")
	require.Equal(c.t, status, w.Code, w.Body.String())
	var resp struct {
		User  string `json:"user"`
		Error string `json:"error"`
	}
	require.NoError(c.t, json.Unmarshal(w.Body.Bytes(), &resp), w.Body.String())
	assert.Equal(c.t, user, resp.User)
	if status == 401 {
		assert.NotEmpty(c.t, resp.Error)
	}
}

func (c client) call(method, path, token string, status int) {
	c.t.Helper()
	w := c.do(method, path, token, "")
	require.Equal(c.t, status, w.Code, w.Body.String())
}
