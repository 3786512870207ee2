package revoke_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
)

// The OAuth 2.0 revocation (RFC 7009) and introspection (RFC 7662)
// endpoints, for a gateway or a service in another language: a client
// revokes a token, and introspection then reports it inactive.
func ExampleRevocationHandler() {
	e, err := revoke.New(revoke.Config{})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	v, err := revoke.NewVerifier(e, keyFunc, jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		panic(err)
	}
	clients := revoke.ClientSecretBasic(func(id string) (string, bool) {
		return "gX1fBat3bV", id == "s6BhdRkqt3" // look secrets up your own way
	})
	revocation, err := revoke.RevocationHandler(revoke.RevocationConfig{Verifier: v, ClientAuth: clients})
	if err != nil {
		panic(err)
	}
	introspection, err := revoke.IntrospectionHandler(revoke.IntrospectionConfig{Verifier: v, ClientAuth: clients})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /oauth/revoke", revocation)
	mux.Handle("POST /oauth/introspect", introspection)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	post := func(path, token string) string {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("s6BhdRkqt3", "gX1fBat3bV")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(fmt.Sprintf("%d %s", resp.StatusCode, body))
	}
	token := sign("alice", "8c1d", time.Now())
	fmt.Println(strings.Contains(post("/oauth/introspect", token), `"active":true`))
	fmt.Println(post("/oauth/revoke", token))
	fmt.Println(post("/oauth/introspect", token))
	// Output:
	// true
	// 200
	// 200 {"active":false}
}
