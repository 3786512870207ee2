//go:build !jwtapi

package grpcrevoke

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
)

// newVerifier is revoke.NewVerifier of today's core; see verifier_test.go
// for the one of the new JWT API.
func newVerifier(t testing.TB, e *revoke.Engine) *revoke.Verifier {
	t.Helper()
	return revoke.NewVerifier(e, keyFunc, jwt.WithValidMethods([]string{"HS256"}))
}
