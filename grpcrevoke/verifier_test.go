package grpcrevoke

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/require"
)

func newVerifier(t testing.TB, e *revoke.Engine) *revoke.Verifier {
	t.Helper()
	v, err := revoke.NewVerifier(e, keyFunc, jwt.WithValidMethods([]string{"HS256"}))
	require.NoError(t, err)
	return v
}
