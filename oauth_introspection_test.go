package revoke

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rfc7662Claims are the claims of RFC 7662 §2.2's example response.
type rfc7662Claims struct {
	jwt.RegisteredClaims
	ClientID  string `json:"client_id"`
	Username  string `json:"username"`
	Scope     string `json:"scope"`
	Extension string `json:"extension_field,omitempty"`
	Secret    string `json:"secret_claim,omitempty"`
}

// resourceServer accepts the bearer credential of RFC 7662 §2.1's first
// example request, "Authorization: Bearer 23410913-abewfq.123483".
func resourceServer(r *http.Request) (string, error) {
	if r.Header.Get("Authorization") == "Bearer 23410913-abewfq.123483" {
		return "resource", nil
	}
	return "", ErrClientAuth
}

func introspect(t *testing.T, h http.Handler, authorization string, form url.Values) map[string]any {
	t.Helper()
	w := serve(h, oauthPost("/introspect", authorization, form))
	require.Equal(t, 200, w.Code, w.Body.String())
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"), "RFC 7662 §4: no cache may keep a token active")
	assert.Equal(t, "no-cache", w.Header().Get("Pragma"))
	var resp map[string]any
	dec := json.NewDecoder(strings.NewReader(w.Body.String()))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&resp))
	return resp
}

func TestIntrospectionHandlerRFCExample(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	v := hs.verifier(e)
	h, err := IntrospectionHandler(IntrospectionConfig{
		Verifier: v, ClientAuth: resourceServer,
		NewClaims: func() jwt.Claims { return &rfc7662Claims{} },
		Members: func(tok *jwt.Token, resp map[string]any) {
			resp["extension_field"] = tok.Claims.(*rfc7662Claims).Extension
			resp["active"] = "changed" // overwritten: active is not the callback's
		},
	})
	require.NoError(t, err)

	// §2.1: "token=2YotnFZFEjr1zCsicMWpAA" is not a token of ours.
	resp := introspect(t, h, "Bearer 23410913-abewfq.123483", url.Values{"token": {"2YotnFZFEjr1zCsicMWpAA"}})
	assert.Equal(t, map[string]any{"active": false}, resp)

	// §2.2's response, exp and iat moved to now.
	now := time.Now().Truncate(time.Second)
	token := hs.sign(t, jwt.MapClaims{
		"sub":       "Z5O3upPC88QrAjx00dis",
		"aud":       "https://protected.example.net/resource", // a string, as in the RFC: kept a string
		"iss":       "https://server.example.com/",
		"iat":       now.Unix(),
		"exp":       now.Add(100 * time.Minute).Unix(),
		"client_id": "l238j323ds-23ij4", "username": "jdoe", "scope": "read write dolphin",
		"extension_field": "twenty-seven", "secret_claim": "not for the resource server",
	})
	resp = introspect(t, h, "Bearer 23410913-abewfq.123483", url.Values{"token": {token}, "token_type_hint": {"access_token"}})
	assert.Equal(t, map[string]any{
		"active":          true,
		"client_id":       "l238j323ds-23ij4",
		"username":        "jdoe",
		"scope":           "read write dolphin",
		"sub":             "Z5O3upPC88QrAjx00dis",
		"aud":             "https://protected.example.net/resource",
		"iss":             "https://server.example.com/",
		"exp":             json.Number(jsonInt(now.Add(100 * time.Minute).Unix())),
		"iat":             json.Number(jsonInt(now.Unix())),
		"extension_field": "twenty-seven",
	}, resp)

	w := serve(h, oauthPost("/introspect", rfcBasic, url.Values{"token": {token}}))
	assert.Equal(t, 401, w.Code, "a caller the ClientAuth does not know")
	assert.Equal(t, "invalid_client", oauthErrorOf(t, w))
	assert.Equal(t, `Basic realm="oauth"`, w.Header().Get("WWW-Authenticate"))
	assert.NotContains(t, w.Body.String(), "jdoe")
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestIntrospectionHandlerInactive: every token the Verifier refuses is
// {"active":false}, with no other member.
func TestIntrospectionHandlerInactive(t *testing.T) {
	hs := algByName(t, "HS256")
	es := algByName(t, "ES256")
	e := newTestEngine(t, Config{})
	v := hs.verifier(e)
	h, err := IntrospectionHandler(IntrospectionConfig{
		Verifier: v, ClientAuth: ClientSecretBasic(rfcClients),
		Active: func(client string, tok *jwt.Token) bool {
			sub, _ := tok.Claims.GetSubject()
			return client == rfcClientID || sub != "private"
		},
	})
	require.NoError(t, err)

	byToken := hs.sign(t, claims("iss", "alice", "t1", time.Hour))
	tok, err := v.Parse(byToken)
	require.NoError(t, err)
	require.NoError(t, e.RevokeToken(tok))
	bySubject := hs.sign(t, claims("iss", "bob", "t2", time.Hour))
	require.NoError(t, e.RevokeSubject("iss", "bob", time.Now()))
	valid := hs.sign(t, claims("iss", "carol", "t3", time.Hour))
	private := hs.sign(t, claims("iss", "private", "t4", time.Hour))

	cases := []struct {
		name   string
		token  string
		client string // Authorization header
		active bool
	}{
		{"valid", valid, rfcBasic, true},
		{"revoked token", byToken, rfcBasic, false},
		{"subject cutoff", bySubject, rfcBasic, false},
		{"expired", hs.sign(t, claims("iss", "carol", "t5", -time.Hour)), rfcBasic, false},
		{"not yet valid", hs.sign(t, &jwt.RegisteredClaims{ID: "t6", IssuedAt: jwt.NewNumericDate(time.Now()),
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour)), NotBefore: jwt.NewNumericDate(time.Now().Add(30 * time.Minute))}), rfcBasic, false},
		{"bad signature", valid[:strings.LastIndexByte(valid, '.')+1] + "AAAA", rfcBasic, false},
		{"method not allowed", es.sign(t, claims("iss", "carol", "t7", time.Hour)), rfcBasic, false},
		{"alg none", mustNone(t, claims("iss", "carol", "n", time.Hour)), rfcBasic, false},
		{"garbage", "a.b.c", rfcBasic, false},
		{"another caller may see it", private, rfcBasic, true},
		{"a caller that may not see it", private, basic("other client", "other secret"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := introspect(t, h, c.client, url.Values{"token": {c.token}})
			if !c.active {
				assert.Equal(t, map[string]any{"active": false}, resp)
				return
			}
			assert.Equal(t, true, resp["active"])
			assert.NotEmpty(t, resp["sub"])
		})
	}

	// The global cutoff last: it covers every token above.
	require.NoError(t, e.RevokeAll(time.Now()))
	assert.Equal(t, map[string]any{"active": false}, introspect(t, h, rfcBasic, url.Values{"token": {valid}}))
}
