package revoke

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The client of RFC 7009 §2.1's and RFC 6749's examples:
// "Authorization: Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW" is s6BhdRkqt3:gX1fBat3bV.
const (
	rfcClientID     = "s6BhdRkqt3"
	rfcClientSecret = "gX1fBat3bV"
	rfcBasic        = "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"
)

func rfcClients(id string) (string, bool) {
	switch id {
	case rfcClientID:
		return rfcClientSecret, true
	case "other client":
		return "other secret", true
	}
	return "", false
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// oauthPost builds a form POST with the given Authorization header ("" for
// none).
func oauthPost(target, authorization string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	return r
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// oauthErrorOf decodes an RFC 6749 §5.2 error body.
func oauthErrorOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), w.Body.String())
	assert.NotEmpty(t, body.Description)
	return body.Error
}

// TestOAuthRequestErrors runs the error cases shared by both endpoints
// (RFC 6749 §5.2, RFC 7009 §2.2.1, RFC 7662 §2.3) against each of them.
func TestOAuthRequestErrors(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	v := hs.verifier(e)
	auth := ClientSecretBasic(rfcClients)
	revocation, err := RevocationHandler(RevocationConfig{Verifier: v, ClientAuth: auth})
	require.NoError(t, err)
	introspection, err := IntrospectionHandler(IntrospectionConfig{Verifier: v, ClientAuth: auth, Realm: "example"})
	require.NoError(t, err)
	token := url.Values{"token": {"45ghiukldjahdnhzdauz"}}

	cases := []struct {
		name       string
		req        func() *http.Request
		wantStatus int
		wantError  string
		wantAuth   string // WWW-Authenticate, with the realm as %s
	}{
		{name: "GET", req: func() *http.Request {
			return httptest.NewRequest(http.MethodGet, "/?token=x", nil)
		}, wantStatus: 405, wantError: "invalid_request"},
		{name: "JSON body", req: func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"token":"x"}`))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", rfcBasic)
			return r
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "no client credentials", req: func() *http.Request {
			return oauthPost("/", "", token)
		}, wantStatus: 401, wantError: "invalid_client", wantAuth: `Basic realm="%s"`},
		{name: "wrong secret", req: func() *http.Request {
			return oauthPost("/", basic(rfcClientID, "guess"), token)
		}, wantStatus: 401, wantError: "invalid_client", wantAuth: `Basic realm="%s"`},
		{name: "unknown client", req: func() *http.Request {
			return oauthPost("/", basic("nobody", rfcClientSecret), token)
		}, wantStatus: 401, wantError: "invalid_client", wantAuth: `Basic realm="%s"`},
		{name: "another scheme is echoed", req: func() *http.Request {
			return oauthPost("/", "Bearer 23410913-abewfq.123483", token)
		}, wantStatus: 401, wantError: "invalid_client", wantAuth: `Bearer realm="%s"`},
		{name: "two Authorization headers", req: func() *http.Request {
			r := oauthPost("/", rfcBasic, token)
			r.Header.Add("Authorization", rfcBasic)
			return r
		}, wantStatus: 401, wantError: "invalid_client", wantAuth: `Basic realm="%s"`},
		{name: "client credentials are checked before the token", req: func() *http.Request {
			return oauthPost("/", "", url.Values{})
		}, wantStatus: 401, wantError: "invalid_client", wantAuth: `Basic realm="%s"`},
		{name: "token missing", req: func() *http.Request {
			return oauthPost("/", rfcBasic, url.Values{"token_type_hint": {"access_token"}})
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "token empty", req: func() *http.Request {
			return oauthPost("/", rfcBasic, url.Values{"token": {""}})
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "token in the query only", req: func() *http.Request {
			return oauthPost("/?token=45ghiukldjahdnhzdauz", rfcBasic, url.Values{})
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "token repeated", req: func() *http.Request {
			return oauthPost("/", rfcBasic, url.Values{"token": {"a", "b"}})
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "hint repeated", req: func() *http.Request {
			return oauthPost("/", rfcBasic, url.Values{"token": {"a"}, "token_type_hint": {"access_token", "refresh_token"}})
		}, wantStatus: 400, wantError: "invalid_request"},
		{name: "body too large", req: func() *http.Request {
			return oauthPost("/", rfcBasic, url.Values{"token": {strings.Repeat("a", maxOAuthForm)}})
		}, wantStatus: 400, wantError: "invalid_request"},
	}
	for _, ep := range []struct {
		name  string
		h     http.Handler
		realm string
	}{{"revocation", revocation, DefaultOAuthRealm}, {"introspection", introspection, "example"}} {
		for _, c := range cases {
			t.Run(ep.name+"/"+c.name, func(t *testing.T) {
				w := serve(ep.h, c.req())
				assert.Equal(t, c.wantStatus, w.Code)
				assert.Equal(t, c.wantError, oauthErrorOf(t, w))
				assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
				if c.wantAuth != "" {
					assert.Equal(t, strings.Replace(c.wantAuth, "%s", ep.realm, 1), w.Header().Get("WWW-Authenticate"))
				} else {
					assert.Empty(t, w.Header().Get("WWW-Authenticate"))
				}
				if c.wantStatus == 405 {
					assert.Equal(t, "POST", w.Header().Get("Allow"))
				}
			})
		}
	}
}

func TestOAuthHandlersRefuseIncompleteConfig(t *testing.T) {
	hs := algByName(t, "HS256")
	v := hs.verifier(newTestEngine(t, Config{}))
	auth := ClientSecretBasic(rfcClients)
	_, err := RevocationHandler(RevocationConfig{ClientAuth: auth})
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = RevocationHandler(RevocationConfig{Verifier: v})
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = IntrospectionHandler(IntrospectionConfig{ClientAuth: auth})
	assert.ErrorIs(t, err, ErrInvalidConfig)
	_, err = IntrospectionHandler(IntrospectionConfig{Verifier: v})
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

func TestClientSecretBasic(t *testing.T) {
	auth := ClientSecretBasic(rfcClients)
	cases := []struct {
		name   string
		header string
		want   string // client id, "" for a failure
	}{
		{"RFC 6749 example", rfcBasic, rfcClientID},
		{"form-encoded id and secret", basic("other client", "other secret"), "other client"},
		{"plus decodes to a space", "Basic " + base64.StdEncoding.EncodeToString([]byte("other+client:other+secret")), "other client"},
		{"wrong secret", basic(rfcClientID, rfcClientSecret+"x"), ""},
		{"secret prefix", basic(rfcClientID, rfcClientSecret[:4]), ""},
		{"unknown client with empty secret", basic("nobody", ""), ""},
		{"empty id", basic("", rfcClientSecret), ""},
		{"bad percent-encoding", "Basic " + base64.StdEncoding.EncodeToString([]byte("s6BhdRkqt3:%zz")), ""},
		{"not base64", "Basic !!!", ""},
		{"bearer", "Bearer abc", ""},
		{"none", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			id, err := auth(r)
			if c.want == "" {
				assert.ErrorIs(t, err, ErrClientAuth)
				assert.Empty(t, id)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, id)
		})
	}
}
