package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
)

// serveClientID is the OAuth client that "revoke serve" knows, with a
// random secret printed at start-up.
const serveClientID = "revoke-cli"

// serveHandler is the handler of "revoke serve": the example API, plus the
// OAuth 2.0 endpoints and /metrics for operators.
//
//	POST /oauth/revoke      RFC 7009 revocation, client revoke-cli (HTTP Basic)
//	POST /oauth/introspect  RFC 7662 introspection, same client
//	GET  /metrics           the engine's figures, Prometheus text format
//
// Revoking a refresh token through /oauth/revoke revokes its session, so the
// access tokens of the session are refused too. It prints the client's
// secret to stdout.
func (a *api) serveHandler(stdout io.Writer) http.Handler {
	secret := newID()
	clients := revoke.ClientSecretBasic(func(id string) (string, bool) {
		return secret, id == serveClientID
	})
	newClaims := func() jwt.Claims { return &apiClaims{} }
	revocation, err := revoke.RevocationHandler(revoke.RevocationConfig{
		Verifier: a.v, ClientAuth: clients, NewClaims: newClaims,
		TokenType: func(tok *jwt.Token) string {
			if tok.Claims.(*apiClaims).Type == "refresh" {
				return revoke.RefreshToken
			}
			return revoke.AccessToken
		},
		OnRevoke: func(_ context.Context, tok *jwt.Token, tokenType string) error {
			if tokenType != revoke.RefreshToken {
				return nil
			}
			return a.e.Revoke(sessionKey(tok.Claims.(*apiClaims).Session), time.Now().Add(refreshTTL))
		},
	})
	if err != nil {
		panic(err) // the config above is complete: unreachable
	}
	introspection, err := revoke.IntrospectionHandler(revoke.IntrospectionConfig{
		Verifier: a.v, ClientAuth: clients, NewClaims: newClaims,
		Active: func(_ string, tok *jwt.Token) bool {
			return !a.e.IsRevoked(sessionKey(tok.Claims.(*apiClaims).Session))
		},
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", a.handler())
	mux.Handle("/oauth/revoke", revocation)
	mux.Handle("/oauth/introspect", introspection)
	mux.Handle("GET /metrics", metricsHandler(a.e))
	fmt.Fprintf(stdout, "OAuth client for /oauth/revoke and /oauth/introspect: -u %s:%s\n", serveClientID, secret)
	return mux
}
