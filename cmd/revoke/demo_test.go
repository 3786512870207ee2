package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDemoEndToEnd(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"demo"}, &out, &errb)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
	s := out.String()
	for _, want := range []string{
		"the same token after logout", "401 the token is revoked",
		"phone token", "refresh again with the OLD refresh token", "reuse detected",
		"8 concurrent refreshes", "steps behaved as expected",
		"sign out the others", "laptop's new token, issued 1 ms after the cutoff",
		"the winner's new token: logged out too", "Reuse detection logged the winner out too",
	} {
		assert.Contains(t, s, want)
	}
	assert.NotContains(t, s, "FAILED")
}

// The walkthrough fails, naming the step, against an API that does not
// revoke: here one that says 200 to everything.
func TestWalkthroughDetectsMisbehaviour(t *testing.T) {
	cases := []struct {
		name    string
		handler http.Handler
		want    string
	}{
		{"never revokes", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, map[string]string{"access_token": "a", "refresh_token": "r", "user": "alice"})
		}), "status 200, want 401"},
		{"login broken", http.NotFoundHandler(), "status 404, want 200"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.handler)
			defer srv.Close()
			var out bytes.Buffer
			w := &walkthrough{base: srv.URL, client: srv.Client(), out: &out}
			err := w.run()
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

// Without reuse detection a replayed refresh token would get a new pair;
// the walkthrough must notice.
func TestWalkthroughDetectsMissingReuseDetection(t *testing.T) {
	e, err := revoke.New(revoke.Config{})
	require.NoError(t, err)
	defer e.Close()
	a, err := newAPI(e)
	require.NoError(t, err)
	srv := httptest.NewServer(a.handler())
	defer srv.Close()
	var out bytes.Buffer
	w := &walkthrough{base: srv.URL, client: srv.Client(), out: &out}
	require.NoError(t, w.run(), out.String())

	// Now an API whose refresh endpoint forgets to Consume.
	broken := &api{e: e, v: a.v, secret: a.secret}
	mux := http.NewServeMux()
	mux.Handle("/", a.handler())
	mux.HandleFunc("POST /refresh", func(w http.ResponseWriter, r *http.Request) {
		// Answers every refresh with a fresh pair of the same user.
		pair, err := broken.issue("alice", "s", "tablet", time.Now())
		require.NoError(t, err)
		writeJSON(w, 200, pair)
	})
	srv2 := httptest.NewServer(mux)
	defer srv2.Close()
	out.Reset()
	w = &walkthrough{base: srv2.URL, client: srv2.Client(), out: &out}
	err = w.run()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "want 400")
}

// The example API answers as RFC 6749 and 6750 say: token responses are
// never cached, every 401 carries a bearer challenge, refresh failures are
// 400 invalid_grant.
func TestAPIResponses(t *testing.T) {
	e, err := revoke.New(revoke.Config{})
	require.NoError(t, err)
	defer e.Close()
	a, err := newAPI(e)
	require.NoError(t, err)
	srv := httptest.NewServer(a.handler())
	defer srv.Close()
	do := func(method, path, bearer, body string) *http.Response {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	decode := func(resp *http.Response) map[string]string {
		m := map[string]string{}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&m))
		return m
	}

	login := do("POST", "/login", "", `{"user":"alice","device":"laptop"}`)
	require.Equal(t, 200, login.StatusCode)
	assert.Equal(t, "no-store", login.Header.Get("Cache-Control"), "token responses are never cached")
	pair := decode(login)
	refresh := do("POST", "/refresh", "", `{"refresh_token":"`+pair["refresh_token"]+`"}`)
	require.Equal(t, 200, refresh.StatusCode)
	assert.Equal(t, "no-store", refresh.Header.Get("Cache-Control"))

	for name, resp := range map[string]*http.Response{
		"reused refresh token":    do("POST", "/refresh", "", `{"refresh_token":"`+pair["refresh_token"]+`"}`),
		"garbage refresh token":   do("POST", "/refresh", "", `{"refresh_token":"x.y.z"}`),
		"access token as refresh": do("POST", "/refresh", "", `{"refresh_token":"`+pair["access_token"]+`"}`),
	} {
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, name)
		assert.Equal(t, "invalid_grant", decode(resp)["error"], name)
	}

	other := decode(do("POST", "/login", "", `{"user":"bob"}`))
	for name, resp := range map[string]*http.Response{
		"no token":                do("GET", "/me", "", ""),
		"refresh token as access": do("GET", "/me", other["refresh_token"], ""),
		"revoked session":         do("GET", "/me", pair["access_token"], ""),
		"garbage":                 do("GET", "/me", "abc", ""),
	} {
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, name)
		assert.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="revoke-demo"`), "%s: %q", name, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestServe(t *testing.T) {
	ctx, cancel := contextWithCancel(t)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() { done <- serveAPI(ctx, "127.0.0.1:0", &out, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve stopped early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	w := &walkthrough{base: "http://" + addr, client: &http.Client{Timeout: 5 * time.Second}, out: &bytes.Buffer{}}
	p, err := w.login("curl")
	require.NoError(t, err)
	r, err := w.step("who am I", "GET", "/me", p.AccessToken, nil, 200, "")
	require.NoError(t, err)
	assert.Equal(t, "alice", r.body["user"])

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	assert.Contains(t, out.String(), "listening on http://"+addr)
}

func TestHelp(t *testing.T) {
	for _, c := range []struct{ cmd, want string }{
		{"serve", "curl -s -XPOST $A/login"},
		{"demo", "walks through it"},
	} {
		var out, errb bytes.Buffer
		assert.Equal(t, 0, run([]string{c.cmd, "--help"}, &out, &errb), c.cmd)
		assert.Contains(t, out.String(), c.want, "%s: help goes to stdout", c.cmd)
		assert.Empty(t, errb.String(), c.cmd)
	}
	var out, errb bytes.Buffer
	assert.Equal(t, 2, run([]string{"serve", "-nope"}, &out, &errb))
	assert.Contains(t, errb.String(), "-nope", "a usage error goes to stderr")
	assert.Contains(t, errb.String(), "usage: revoke serve")
	assert.Empty(t, out.String())
	out.Reset()
	run([]string{"help"}, &out, &errb)
	assert.Contains(t, out.String(), "demo")
	assert.Contains(t, out.String(), "serve")
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx, cancel
}
