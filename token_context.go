package revoke

import (
	"context"

	"github.com/golang-jwt/jwt/v5"
)

// tokenContextKey is the one context key of verified tokens, shared by
// every transport ([Middleware], the gRPC interceptors of grpcrevoke).
type tokenContextKey struct{}

// ContextWithToken returns a copy of ctx carrying tok, as [Middleware] does
// for the requests it lets through: transports other than net/http (gRPC
// interceptors, message consumers) store verified tokens with it so that
// [TokenFromContext] and [ClaimsFromContext] find them. Store only tokens a
// [Verifier] accepted. It costs one context value.
func ContextWithToken(ctx context.Context, tok *jwt.Token) context.Context {
	return context.WithValue(ctx, tokenContextKey{}, tok)
}

// TokenFromContext returns the token that [Middleware] (or
// [ContextWithToken]) stored for this request, and whether there is one. It
// is one context lookup; the token must not be modified (it may be shared by
// handlers down the chain).
func TokenFromContext(ctx context.Context) (*jwt.Token, bool) {
	tok, ok := ctx.Value(tokenContextKey{}).(*jwt.Token)
	return tok, ok && tok != nil
}

// ClaimsFromContext returns the claims of the token stored in ctx as T —
// jwt.MapClaims by default, or the type [WithClaims] made, such as
// *MyClaims — and whether there is a token with claims of that type. It is
// one context lookup and one type assertion; the claims must not be
// modified.
func ClaimsFromContext[T jwt.Claims](ctx context.Context) (T, bool) {
	var zero T
	tok, ok := TokenFromContext(ctx)
	if !ok {
		return zero, false
	}
	c, ok := tok.Claims.(T)
	return c, ok
}
