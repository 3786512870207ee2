//go:build jwtapi

package grpcrevoke

import (
	"context"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
)

// The token goes into the context under the core's key, so that the
// handlers of both transports read it with revoke.TokenFromContext.

func contextWithToken(ctx context.Context, tok *jwt.Token) context.Context {
	return revoke.ContextWithToken(ctx, tok)
}

func tokenFromContext(ctx context.Context) (*jwt.Token, bool) {
	return revoke.TokenFromContext(ctx)
}
