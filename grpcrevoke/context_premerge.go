//go:build !jwtapi

package grpcrevoke

import (
	"context"

	"github.com/golang-jwt/jwt/v5"
)

// Temporary, until the core's ContextWithToken lands (branch jwt): a key of
// this package's own. Deleted at the merge, with the jwtapi build tag.

type tokenKey struct{}

func contextWithToken(ctx context.Context, tok *jwt.Token) context.Context {
	return context.WithValue(ctx, tokenKey{}, tok)
}

func tokenFromContext(ctx context.Context) (*jwt.Token, bool) {
	tok, ok := ctx.Value(tokenKey{}).(*jwt.Token)
	return tok, ok && tok != nil
}
