// Command jwks is the revoke example for tokens signed by an identity
// provider that publishes its keys as a JWK Set: the Verifier's keyFunc
// reads keys from the set with github.com/MicahParks/jwkset, and follows the
// provider's key rotation.
//
// One program plays both parts. The identity provider signs EdDSA tokens
// with its current key, publishes every key still in use at
// /.well-known/jwks.json, and rotates on POST /rotate (the new key signs;
// the old one stays published until retired). The API verifies tokens with
// the published keys (a token with an unknown kid makes the JWK Set client
// fetch the set again, at most once a second) and revokes them with revoke.
//
//	go run ./jwks
//	T=$(curl -s -XPOST localhost:8080/login -d '{"user":"alice"}' | jq -r .access_token)
//	curl -s -XPOST localhost:8080/rotate                              # a new signing key
//	curl -s localhost:8080/me -H "Authorization: Bearer $T"          # 200: the old key is still published
//	curl -s -XPOST localhost:8080/logout -H "Authorization: Bearer $T"
//	curl -s localhost:8080/me -H "Authorization: Bearer $T"          # 401 the token is revoked
//
// Retiring a key (dropping it from the set) does not refuse its tokens at
// once: a JWK Set client keeps the keys it fetched until its next refresh.
// When a key leaks, retire it and call Engine.RevokeAll(now): every token
// issued until now is refused at once, whichever key signed it.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
	"github.com/jwtrevoke/revoke/examples/internal/exampleauth"
	"golang.org/x/time/rate"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	idp, err := newProvider()
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	idp.routes(mux)
	jwksURL := fmt.Sprintf("http://%s/.well-known/jwks.json", ln.Addr())
	api, err := newAPI(ctx, jwksURL)
	if err != nil {
		log.Fatal(err)
	}
	defer api.e.Close()
	api.routes(mux)
	log.Printf("listening on http://%s; keys at %s", ln.Addr(), jwksURL)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Fatal(srv.Serve(ln))
}

// provider is the identity provider: it signs tokens and publishes its
// public keys.
type provider struct {
	mu     sync.Mutex
	keys   *jwkset.MemoryJWKSet // the published public keys
	signer ed25519.PrivateKey   // guarded by mu
	kid    string               // signer's key id, guarded by mu
}

func newProvider() (*provider, error) {
	p := &provider{keys: jwkset.NewMemoryStorage()}
	if _, err := p.rotate(context.Background()); err != nil {
		return nil, err
	}
	return p, nil
}

// rotate makes a new signing key and publishes it; the previous key stays
// published (its tokens still verify) until retire.
func (p *provider) rotate(ctx context.Context) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	kid := exampleauth.NewID()
	jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.AlgEdDSA, KID: kid, USE: jwkset.UseSig},
	})
	if err != nil {
		return "", err
	}
	if err := p.keys.KeyWrite(ctx, jwk); err != nil {
		return "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.signer, p.kid = priv, kid
	return kid, nil
}

// retire stops publishing a key rotated out.
func (p *provider) retire(ctx context.Context, kid string) error {
	_, err := p.keys.KeyDelete(ctx, kid)
	return err
}

// login signs an access token for user with the current key.
func (p *provider) login(user string) (string, error) {
	p.mu.Lock()
	signer, kid := p.signer, p.kid
	p.mu.Unlock()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.RegisteredClaims{
		Issuer: exampleauth.Issuer, Subject: user, ID: exampleauth.NewID(),
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(exampleauth.AccessTTL)),
	})
	tok.Header["kid"] = kid
	return tok.SignedString(signer)
}

func (p *provider) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		set, err := p.keys.JSONPublic(r.Context())
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(set)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ User string }
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.User == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `send {"user":"..."}`})
			return
		}
		token, err := p.login(req.User)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"access_token": token})
	})
	// An admin endpoint in real life.
	mux.HandleFunc("POST /rotate", func(w http.ResponseWriter, r *http.Request) {
		kid, err := p.rotate(r.Context())
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"kid": kid})
	})
}

// api is the resource server: it trusts the provider's published keys.
type api struct {
	e *revoke.Engine
	v *revoke.Verifier
}

// jwksKeyFunc returns a jwt.Keyfunc that finds a token's key by its kid in
// the JWK Set at jwksURL. The set is fetched at start, again every
// refresh, and again (at most once a second) when a token names a kid it
// does not have, as after a rotation. A token whose kid cannot be found
// within a second is refused: an attacker's made-up kids cost one
// rate-limited fetch, never a request held for long.
func jwksKeyFunc(ctx context.Context, jwksURL string, refresh time.Duration) (jwt.Keyfunc, error) {
	store, err := jwkset.NewStorageFromHTTP(jwksURL, jwkset.HTTPClientStorageOptions{
		Ctx:                       ctx,
		HTTPTimeout:               5 * time.Second,
		NoErrorReturnFirstHTTPReq: true, // the provider may start after the API
		RefreshInterval:           refresh,
		RefreshErrorHandler: func(_ context.Context, err error) {
			log.Printf("refreshing the JWK Set: %v", err)
		},
	})
	if err != nil {
		return nil, err
	}
	client, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{jwksURL: store},
		RateLimitWaitMax:  time.Second,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(time.Second), 1),
	})
	if err != nil {
		return nil, err
	}
	return func(tok *jwt.Token) (any, error) {
		kid, ok := tok.Header["kid"].(string)
		if !ok || kid == "" {
			return nil, errors.New("the token names no kid")
		}
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		jwk, err := client.KeyRead(ctx, kid)
		if err != nil {
			return nil, err
		}
		if jwk.Marshal().ALG != jwkset.AlgEdDSA {
			return nil, fmt.Errorf("key %q is not for EdDSA", kid)
		}
		return jwk.Key(), nil
	}, nil
}

func newAPI(ctx context.Context, jwksURL string) (*api, error) {
	keyFunc, err := jwksKeyFunc(ctx, jwksURL, 5*time.Minute)
	if err != nil {
		return nil, err
	}
	e, err := revoke.New(revoke.Config{Leeway: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	v, err := revoke.NewVerifier(e, keyFunc,
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}), jwt.WithIssuer(exampleauth.Issuer))
	if err != nil {
		_ = e.Close()
		return nil, err
	}
	return &api{e: e, v: v}, nil
}

func (a *api) routes(mux *http.ServeMux) {
	auth := revoke.Middleware(a.v)
	mux.Handle("GET /me", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub, _ := token(r).Claims.GetSubject()
		writeJSON(w, http.StatusOK, map[string]string{"user": sub})
	})))
	mux.Handle("POST /logout", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.e.RevokeToken(token(r)); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "logged out"})
	})))
	mux.Handle("POST /logout-all", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := token(r).Claims
		iss, _ := c.GetIssuer()
		sub, _ := c.GetSubject()
		if err := a.e.RevokeSubject(iss, sub, time.Now()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "logged out everywhere"})
	})))
}

func token(r *http.Request) *jwt.Token {
	tok, _ := revoke.TokenFromContext(r.Context())
	return tok
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
