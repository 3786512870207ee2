//go:build jwtapi

package exampleauth

import (
	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
)

// NewVerifier is revoke.NewVerifier.
func NewVerifier(e *revoke.Engine, keyFunc jwt.Keyfunc, opts ...jwt.ParserOption) (*revoke.Verifier, error) {
	return revoke.NewVerifier(e, keyFunc, opts...)
}
