package revoke

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMiddleware(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	v := hs.verifier(e)
	valid := hs.sign(t, claims("auth", "alice", "ok", time.Hour))
	revoked := hs.sign(t, claims("auth", "alice", "gone", time.Hour))
	tok, err := v.Parse(revoked)
	require.NoError(t, err)
	require.NoError(t, e.RevokeToken(tok))
	expired := hs.sign(t, &jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(time.Now().Add(-time.Minute))})
	forged := valid[:strings.LastIndexByte(valid, '.')+1] + "AAAA"

	const (
		challenge        = `Bearer realm="api"`
		invalidRequest   = `Bearer realm="api", error="invalid_request", error_description="malformed bearer token"`
		invalidTokenDesc = `Bearer realm="api", error="invalid_token", error_description="%s"`
	)
	cases := []struct {
		name       string
		header     []string // Authorization values
		cookie     string
		opts       []MiddlewareOption
		wantStatus int
		wantAuth   string // WWW-Authenticate
		wantError  string // "error" in the JSON body
	}{
		{name: "valid", header: []string{"Bearer " + valid}, wantStatus: 200},
		{name: "scheme lower case", header: []string{"bearer " + valid}, wantStatus: 200},
		{name: "scheme upper case", header: []string{"BEARER " + valid}, wantStatus: 200},
		{name: "several spaces", header: []string{"Bearer   " + valid}, wantStatus: 200},
		{name: "no header", wantStatus: 401, wantAuth: challenge, wantError: "unauthorized"},
		{name: "another scheme", header: []string{"Basic YWxpY2U6c2VjcmV0"}, wantStatus: 401, wantAuth: challenge, wantError: "unauthorized"},
		{name: "Bearer without token", header: []string{"Bearer"}, wantStatus: 400, wantAuth: invalidRequest, wantError: "invalid_request"},
		{name: "Bearer and a space", header: []string{"Bearer "}, wantStatus: 400, wantAuth: invalidRequest, wantError: "invalid_request"},
		{name: "two tokens", header: []string{"Bearer " + valid + " " + valid}, wantStatus: 400, wantAuth: invalidRequest, wantError: "invalid_request"},
		{name: "bad characters", header: []string{"Bearer a,b"}, wantStatus: 400, wantAuth: invalidRequest, wantError: "invalid_request"},
		{name: "two headers", header: []string{"Bearer " + valid, "Bearer " + valid}, wantStatus: 400, wantAuth: invalidRequest, wantError: "invalid_request"},
		{name: "revoked", header: []string{"Bearer " + revoked}, wantStatus: 401,
			wantAuth: fmt.Sprintf(invalidTokenDesc, "the token is revoked"), wantError: "invalid_token"},
		{name: "expired", header: []string{"Bearer " + expired}, wantStatus: 401,
			wantAuth: fmt.Sprintf(invalidTokenDesc, "the token is expired"), wantError: "invalid_token"},
		{name: "bad signature", header: []string{"Bearer " + forged}, wantStatus: 401,
			wantAuth: fmt.Sprintf(invalidTokenDesc, "the token is invalid"), wantError: "invalid_token"},
		{name: "not a JWT", header: []string{"Bearer abc"}, wantStatus: 401,
			wantAuth: fmt.Sprintf(invalidTokenDesc, "the token is invalid"), wantError: "invalid_token"},
		{name: "cookie ignored by default", cookie: valid, wantStatus: 401, wantAuth: challenge, wantError: "unauthorized"},
		{name: "cookie when asked", cookie: valid, opts: []MiddlewareOption{WithCookie("session")}, wantStatus: 200},
		{name: "revoked cookie", cookie: revoked, opts: []MiddlewareOption{WithCookie("session")}, wantStatus: 401,
			wantAuth: fmt.Sprintf(invalidTokenDesc, "the token is revoked"), wantError: "invalid_token"},
		{name: "header wins over cookie", header: []string{"Bearer " + revoked}, cookie: valid,
			opts: []MiddlewareOption{WithCookie("session")}, wantStatus: 401,
			wantAuth: fmt.Sprintf(invalidTokenDesc, "the token is revoked"), wantError: "invalid_token"},
		{name: "realm", opts: []MiddlewareOption{WithRealm(`my "app"`)}, wantStatus: 401,
			wantAuth: `Bearer realm="my \"app\""`, wantError: "unauthorized"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var seen *jwt.Token
			h := Middleware(v, c.opts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen, _ = TokenFromContext(r.Context())
				fmt.Fprint(w, "hello")
			}))
			req := httptest.NewRequest(http.MethodGet, "/me", nil)
			for _, hv := range c.header {
				req.Header.Add("Authorization", hv)
			}
			if c.cookie != "" {
				req.AddCookie(&http.Cookie{Name: "session", Value: c.cookie})
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			assert.Equal(t, c.wantStatus, rec.Code)
			if c.wantStatus == http.StatusOK {
				assert.Equal(t, "hello", rec.Body.String())
				require.NotNil(t, seen, "the handler finds the token in the context")
				assert.True(t, seen.Valid)
				return
			}
			assert.Nil(t, seen, "the handler must not run")
			assert.Equal(t, c.wantAuth, rec.Header().Get("WWW-Authenticate"))
			assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
			var body map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.Equal(t, c.wantError, body["error"])
			assert.NotEmpty(t, body["error_description"])
		})
	}
}

func TestMiddlewareWithServeMuxAndClaims(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	v := hs.verifier(e)
	auth := Middleware(v, WithClaims(func() jwt.Claims { return &embeddedClaims{} }))

	mux := http.NewServeMux()
	mux.Handle("GET /me", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := TokenFromContext(r.Context())
		if !ok {
			http.Error(w, "no token", http.StatusInternalServerError)
			return
		}
		c := tok.Claims.(*embeddedClaims)
		fmt.Fprintf(w, "%s/%s", c.Subject, c.Role)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := &embeddedClaims{RegisteredClaims: *claims("auth", "alice", "m1", time.Hour), Role: "admin"}
	token := hs.sign(t, c)
	get := func() (int, string) {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/me", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	status, body := get()
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "alice/admin", body)

	require.NoError(t, e.RevokeSubject("auth", "alice", time.Now()))
	status, _ = get()
	assert.Equal(t, http.StatusUnauthorized, status)

	_, ok := TokenFromContext(httptest.NewRequest(http.MethodGet, "/", nil).Context())
	assert.False(t, ok)
	assert.Panics(t, func() { Middleware(nil) })
}

func TestIsB64Token(t *testing.T) {
	cases := map[string]bool{
		"abc": true, "a.b.c": true, "A-Z_0~9+/": true, "abc==": true, "a=": true,
		"": false, "=": false, "a=b": false, "a b": false, "a,b": false, "é": false, "a\x00": false,
	}
	for s, want := range cases {
		assert.Equal(t, want, isB64Token(s), "%q", s)
	}
}
