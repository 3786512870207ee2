// Package exampleauth is what the examples share: an engine, a Verifier and
// a login that issues HS256 access tokens. Each example adds its framework's
// glue and the three calls that matter: Verifier.Parse on each request,
// Engine.RevokeToken to log out and Engine.RevokeSubject to log out
// everywhere.
package exampleauth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
)

// Issuer is the iss of the examples' tokens.
const Issuer = "revoke-examples"

// AccessTTL is the lifetime of an access token.
const AccessTTL = 15 * time.Minute

// Auth issues and verifies the examples' tokens. Safe for concurrent use.
type Auth struct {
	// Engine holds the revocations: RevokeToken on logout, RevokeSubject on
	// "log out everywhere".
	Engine *revoke.Engine
	// Verifier parses, verifies and checks each request's token.
	Verifier *revoke.Verifier
	secret   []byte
}

// New returns an Auth with a memory-only engine and a random HS256 key.
// Close it when done.
func New() (*Auth, error) {
	e, err := revoke.New(revoke.Config{Leeway: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	a := &Auth{Engine: e, secret: secret}
	a.Verifier, err = revoke.NewVerifier(e, func(*jwt.Token) (any, error) { return a.secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(Issuer))
	if err != nil {
		_ = e.Close()
		return nil, err
	}
	return a, nil
}

// Login issues an access token for user: iss, sub, a random jti, iat now
// and exp AccessTTL later. A real service checks a password first.
func (a *Auth) Login(user string) (string, error) {
	now := time.Now()
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer: Issuer, Subject: user, ID: NewID(),
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(AccessTTL)),
	}).SignedString(a.secret)
}

// Close closes the engine.
func (a *Auth) Close() error { return a.Engine.Close() }

// NewID returns a random token id.
func NewID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Describe maps a Verifier's error to a short reason for the client, without
// detail.
func Describe(err error) string {
	switch {
	case errors.Is(err, revoke.ErrRevoked):
		return "the token is revoked"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token is expired"
	default:
		return "the token is invalid"
	}
}
