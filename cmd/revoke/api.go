package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
)

// The example API of the demo and serve commands: log in, call /me, log
// out, log out everywhere, and rotate refresh tokens with reuse detection.
//
//	POST /login       {"user":"alice","device":"laptop"} → access + refresh token
//	GET  /me          Authorization: Bearer <access>      → who you are
//	POST /logout      Authorization: Bearer <access>      → revokes this session
//	POST /logout-all  Authorization: Bearer <access>      → revokes every token of the user
//	POST /logout-others Authorization: Bearer <access>    → revokes every token of the user, issues this device a new pair
//	POST /refresh     {"refresh_token":"..."}             → a new pair; the old refresh token is used up
//
// A session is the chain of tokens started by one login. Reusing a refresh
// token that was already exchanged revokes the session: the legitimate
// client and whoever stole the token are both logged out.

const (
	apiRealm   = "revoke-demo"
	apiIssuer  = "revoke-demo"
	accessTTL  = 5 * time.Minute
	refreshTTL = 24 * time.Hour
)

// apiClaims are the claims of the example API's tokens.
type apiClaims struct {
	jwt.RegisteredClaims
	Session string `json:"sid"`
	Type    string `json:"typ"` // "access" or "refresh"
	Device  string `json:"dev,omitempty"`
}

type api struct {
	e      *revoke.Engine
	v      *revoke.Verifier
	secret []byte
}

// tokenPair is the body of /login and /refresh responses.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Session      string `json:"session"`
}

func newAPI(e *revoke.Engine) (*api, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	// Issue iat with milliseconds, so that a cutoff and a token issued just
	// after it can share a second ("sign out my other devices").
	jwt.TimePrecision = time.Millisecond
	a := &api{e: e, secret: secret}
	v, err := revoke.NewVerifier(e, func(*jwt.Token) (any, error) { return a.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithIssuer(apiIssuer))
	if err != nil {
		return nil, err
	}
	a.v = v
	return a, nil
}

func (a *api) handler() http.Handler {
	auth := revoke.Middleware(a.v, revoke.WithRealm(apiRealm),
		revoke.WithClaims(func() jwt.Claims { return &apiClaims{} }))
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /refresh", a.refresh)
	mux.Handle("GET /me", auth(a.session(a.me)))
	mux.Handle("POST /logout", auth(a.session(a.logout)))
	mux.Handle("POST /logout-all", auth(a.session(a.logoutAll)))
	mux.Handle("POST /logout-others", auth(a.session(a.logoutOthers)))
	return mux
}

// sessionKey is the engine key that marks a whole session revoked.
func sessionKey(sid string) string { return "session:" + sid }

// session lets through only access tokens of sessions that are not revoked.
func (a *api) session(next func(http.ResponseWriter, *http.Request, *jwt.Token, *apiClaims)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := revoke.TokenFromContext(r.Context())
		c := tok.Claims.(*apiClaims)
		switch {
		case c.Type != "access":
			writeError(w, http.StatusUnauthorized, "invalid_token", "not an access token")
		case a.e.IsRevoked(sessionKey(c.Session)):
			writeError(w, http.StatusUnauthorized, "invalid_token", "the session is revoked")
		default:
			next(w, r, tok, c)
		}
	})
}

func (a *api) login(w http.ResponseWriter, r *http.Request) {
	var req struct{ User, Device string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.User == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", `send {"user":"...","device":"..."}`)
		return
	}
	pair, err := a.issue(req.User, newID(), req.Device, time.Now())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	writeTokens(w, pair)
}

func (a *api) refresh(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16384)).Decode(&req); err != nil || req.RefreshToken == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", `send {"refresh_token":"..."}`)
		return
	}
	// The new pair's iat is read before the old token's check, so that a
	// "log out everywhere" racing this refresh covers it (see logoutAll).
	now := time.Now()
	// RFC 6749 §5.2: a refresh token that is invalid, expired, revoked or
	// used up is a 400 invalid_grant, not a 401.
	tok, err := a.v.ParseWithClaims(req.RefreshToken, &apiClaims{})
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_grant", describeErr(err))
		return
	}
	c := tok.Claims.(*apiClaims)
	if c.Type != "refresh" {
		writeError(w, http.StatusBadRequest, "invalid_grant", "not a refresh token")
		return
	}
	if a.e.IsRevoked(sessionKey(c.Session)) {
		writeError(w, http.StatusBadRequest, "invalid_grant", "the session is revoked")
		return
	}
	first, err := a.e.ConsumeToken(tok)
	if err != nil && !first {
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", err.Error())
		return
	}
	// first with an error (revoke.ErrNotPropagated) is a win: the mark is
	// stored, only replication is late. This demo has no replication.
	if !first {
		// Reuse: this refresh token was exchanged before, so two parties
		// hold it. Revoke the whole session; both must log in again.
		if err := a.e.Revoke(sessionKey(c.Session), time.Now().Add(refreshTTL)); err != nil {
			writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", err.Error())
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_grant", "refresh token reuse detected: the session is revoked")
		return
	}
	pair, err := a.issue(c.Subject, c.Session, c.Device, now)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	writeTokens(w, pair)
}

func (a *api) me(w http.ResponseWriter, _ *http.Request, _ *jwt.Token, c *apiClaims) {
	writeJSON(w, http.StatusOK, map[string]string{"user": c.Subject, "session": c.Session, "device": c.Device})
}

// logout revokes the access token presented and its session, so that the
// session's refresh token is refused too.
func (a *api) logout(w http.ResponseWriter, _ *http.Request, tok *jwt.Token, c *apiClaims) {
	if err := errors.Join(a.e.RevokeToken(tok), a.e.Revoke(sessionKey(c.Session), time.Now().Add(refreshTTL))); err != nil {
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"logged_out": c.Session})
}

// logoutAll revokes every token of the user issued up to now. The second
// cutoff, read after the first is stored, also covers the tokens of
// refreshes in flight, whose old token passed its check before the first
// cutoff was stored (see revoke.Engine.RevokeSubject).
func (a *api) logoutAll(w http.ResponseWriter, _ *http.Request, _ *jwt.Token, c *apiClaims) {
	err := a.e.RevokeSubject(c.Issuer, c.Subject, time.Now())
	if err == nil {
		err = a.e.RevokeSubject(c.Issuer, c.Subject, time.Now()) // read after the first is stored
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"logged_out_everywhere": c.Subject})
}

// logoutOthers signs the user out of every other device and keeps this one:
// a cutoff at t revokes every token of the user issued up to t's
// millisecond, this one included, and this device gets a new pair issued a
// millisecond after t (jwt.TimePrecision is a millisecond here).
func (a *api) logoutOthers(w http.ResponseWriter, _ *http.Request, _ *jwt.Token, c *apiClaims) {
	if err := a.e.RevokeSubject(c.Issuer, c.Subject, time.Now()); err != nil {
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", err.Error())
		return
	}
	// A second cutoff, read after the first is stored: it covers refreshes
	// in flight too (see logoutAll).
	t := time.Now()
	if err := a.e.RevokeSubject(c.Issuer, c.Subject, t); err != nil {
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", err.Error())
		return
	}
	iat := t.Add(time.Millisecond)
	time.Sleep(time.Until(iat)) // the new iat must not lie in the future when used
	pair, err := a.issue(c.Subject, c.Session, c.Device, iat)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	writeTokens(w, pair)
}

// issue signs an access and a refresh token for user in session sid,
// issued at now.
func (a *api) issue(user, sid, device string, now time.Time) (tokenPair, error) {
	sign := func(typ string, ttl time.Duration) (string, error) {
		c := apiClaims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer:    apiIssuer,
				Subject:   user,
				ID:        newID(),
				IssuedAt:  jwt.NewNumericDate(now),
				ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			},
			Session: sid,
			Type:    typ,
			Device:  device,
		}
		return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(a.secret)
	}
	access, err := sign("access", accessTTL)
	if err != nil {
		return tokenPair{}, err
	}
	refresh, err := sign("refresh", refreshTTL)
	if err != nil {
		return tokenPair{}, err
	}
	return tokenPair{AccessToken: access, RefreshToken: refresh, Session: sid}, nil
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func describeErr(err error) string {
	switch {
	case errors.Is(err, revoke.ErrRevoked):
		return "the token is revoked"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token is expired"
	default:
		return "the token is invalid"
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeTokens answers with a token pair, never cached (RFC 6749 §5.1).
func writeTokens(w http.ResponseWriter, pair tokenPair) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, pair)
}

// writeError answers with an error; a 401 always carries its bearer
// challenge (RFC 6750 §3).
func writeError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+apiRealm+`", error="`+code+`", error_description="`+desc+`"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}
