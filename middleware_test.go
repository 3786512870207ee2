package revoke

import (
	"encoding/json"
	"errors"
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

// The options that auth0/go-jwt-middleware and go-chi/jwtauth users expect:
// an error handler that tells a KeyFunc failure from a bad token, optional
// credentials, a pluggable extractor, CORS preflight, typed claims.
func TestMiddlewareOptions(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	v := hs.verifier(e)
	valid := hs.sign(t, claims("auth", "alice", "ok", time.Hour))
	revoked := hs.sign(t, claims("auth", "alice", "gone", time.Hour))
	require.NoError(t, e.RevokeID("auth", "gone", time.Now().Add(time.Hour)))
	jwksDown := errors.New("jwks: connection refused")
	outage, err := NewVerifier(e, func(*jwt.Token) (any, error) { return nil, jwksDown }, jwt.WithValidMethods([]string{"HS256"}))
	require.NoError(t, err)

	type seen struct {
		status int
		err    error
		tok    bool
	}
	run := func(v *Verifier, req *http.Request, opts ...MiddlewareOption) seen {
		var s seen
		opts = append(opts, WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			s.err = err
			DefaultErrorHandler("api")(w, r, err)
		}))
		h := Middleware(v, opts...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, s.tok = TokenFromContext(r.Context())
			w.WriteHeader(http.StatusNoContent)
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		s.status = rec.Code
		if rec.Code == http.StatusUnauthorized {
			assert.NotEmpty(t, rec.Header().Get("WWW-Authenticate"), "WWW-Authenticate on every 401")
		}
		return s
	}
	bearer := func(method, token string) *http.Request {
		r := httptest.NewRequest(method, "/", nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		return r
	}

	t.Run("error handler: missing, malformed, revoked, KeyFunc failure", func(t *testing.T) {
		s := run(v, bearer("GET", ""))
		assert.Equal(t, http.StatusUnauthorized, s.status)
		assert.ErrorIs(t, s.err, ErrMissingToken)
		bad := httptest.NewRequest("GET", "/", nil)
		bad.Header.Set("Authorization", "Bearer a,b")
		s = run(v, bad)
		assert.Equal(t, http.StatusBadRequest, s.status)
		assert.ErrorIs(t, s.err, ErrMalformedCredentials)
		s = run(v, bearer("GET", revoked))
		assert.ErrorIs(t, s.err, ErrTokenRevoked)
		assert.NotErrorIs(t, s.err, jwt.ErrTokenUnverifiable)
		s = run(outage, bearer("GET", valid))
		assert.Equal(t, http.StatusUnauthorized, s.status)
		assert.ErrorIs(t, s.err, jwt.ErrTokenUnverifiable, "a KeyFunc failure is told apart from a bad token")
		assert.ErrorIs(t, s.err, jwksDown, "and carries the KeyFunc's own error")
		assert.NotErrorIs(t, s.err, jwt.ErrTokenSignatureInvalid)
		assert.False(t, s.tok)
	})
	t.Run("credentials optional", func(t *testing.T) {
		s := run(v, bearer("GET", ""), WithCredentialsOptional())
		assert.Equal(t, http.StatusNoContent, s.status, "anonymous allowed")
		assert.False(t, s.tok)
		s = run(v, bearer("GET", valid), WithCredentialsOptional())
		assert.Equal(t, http.StatusNoContent, s.status)
		assert.True(t, s.tok)
		s = run(v, bearer("GET", revoked), WithCredentialsOptional())
		assert.Equal(t, http.StatusUnauthorized, s.status, "a token present is checked")
		assert.ErrorIs(t, s.err, ErrRevoked)
	})
	t.Run("token extractor", func(t *testing.T) {
		fromQuery := WithTokenExtractor(func(r *http.Request) (string, error) {
			if r.URL.Query().Has("bad") {
				return "", errors.New("two tokens")
			}
			return r.URL.Query().Get("access_token"), nil
		})
		s := run(v, httptest.NewRequest("GET", "/?access_token="+valid, nil), fromQuery)
		assert.Equal(t, http.StatusNoContent, s.status)
		assert.True(t, s.tok)
		s = run(v, httptest.NewRequest("GET", "/?access_token="+revoked, nil), fromQuery)
		assert.ErrorIs(t, s.err, ErrRevoked)
		s = run(v, bearer("GET", valid), fromQuery)
		assert.ErrorIs(t, s.err, ErrMissingToken, "the extractor replaces the header")
		s = run(v, httptest.NewRequest("GET", "/?bad=1", nil), fromQuery)
		assert.Equal(t, http.StatusBadRequest, s.status)
		assert.ErrorIs(t, s.err, ErrMalformedCredentials)
	})
	t.Run("CORS preflight", func(t *testing.T) {
		preflight := bearer(http.MethodOptions, "")
		preflight.Header.Set("Access-Control-Request-Method", "POST")
		preflight.Header.Set("Origin", "https://app.example")
		s := run(v, preflight)
		assert.Equal(t, http.StatusUnauthorized, s.status, "off by default")
		s = run(v, preflight, WithCORSPreflight())
		assert.Equal(t, http.StatusNoContent, s.status)
		assert.False(t, s.tok)
		s = run(v, bearer(http.MethodOptions, ""), WithCORSPreflight())
		assert.Equal(t, http.StatusUnauthorized, s.status, "a plain OPTIONS is checked")
	})
}

func TestClaimsFromContext(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	v := hs.verifier(e)
	tok, err := v.ParseWithClaims(hs.sign(t, claims("auth", "alice", "x", time.Hour)), &embeddedClaims{})
	require.NoError(t, err)
	ctx := ContextWithToken(t.Context(), tok)
	c, ok := ClaimsFromContext[*embeddedClaims](ctx)
	require.True(t, ok)
	assert.Equal(t, "alice", c.Subject)
	_, ok = ClaimsFromContext[jwt.MapClaims](ctx)
	assert.False(t, ok, "another claims type")
	_, ok = ClaimsFromContext[*embeddedClaims](t.Context())
	assert.False(t, ok, "no token")
	got, ok := TokenFromContext(ctx)
	require.True(t, ok)
	assert.Same(t, tok, got)
}
