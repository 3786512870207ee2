package revoke

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// MiddlewareOption configures [Middleware]: see [WithRealm], [WithCookie]
// and [WithClaims].
type MiddlewareOption func(*middlewareConfig)

type middlewareConfig struct {
	realm     string
	cookie    string
	newClaims func() jwt.Claims
}

// DefaultRealm is the realm [Middleware] names in WWW-Authenticate unless
// [WithRealm] says otherwise.
const DefaultRealm = "api"

// WithRealm sets the realm named in the WWW-Authenticate challenges.
// Default [DefaultRealm].
func WithRealm(realm string) MiddlewareOption {
	return func(c *middlewareConfig) { c.realm = realm }
}

// WithCookie makes [Middleware] also take the token from the cookie of this
// name when the request has no Authorization header. By default only the
// Authorization header is read: cookies are sent by browsers on cross-site
// requests too, so accepting them calls for CSRF protection of your own.
func WithCookie(name string) MiddlewareOption {
	return func(c *middlewareConfig) { c.cookie = name }
}

// WithClaims makes [Middleware] parse each token into a fresh value from
// newClaims (e.g. func() jwt.Claims { return &MyClaims{} }) with
// [Verifier.ParseWithClaims]. Default: [jwt.MapClaims].
func WithClaims(newClaims func() jwt.Claims) MiddlewareOption {
	return func(c *middlewareConfig) { c.newClaims = newClaims }
}

type tokenContextKey struct{}

// TokenFromContext returns the token that [Middleware] verified for this
// request, and whether there is one. It is one context lookup; the token
// must not be modified (it may be shared by handlers down the chain).
func TokenFromContext(ctx context.Context) (*jwt.Token, bool) {
	tok, ok := ctx.Value(tokenContextKey{}).(*jwt.Token)
	return tok, ok && tok != nil
}

// Middleware returns net/http middleware that lets a request through only
// with a valid, unrevoked bearer token, verified by v; the handler finds the
// token with [TokenFromContext]. It works with http.ServeMux and any router
// that takes an http.Handler.
//
// The token is taken from "Authorization: Bearer <token>" (the scheme is
// case-insensitive), or from a cookie with [WithCookie]. Refusals follow RFC
// 6750, with a WWW-Authenticate challenge and a short JSON body:
//   - no bearer token: 401, `Bearer realm="api"`;
//   - a malformed Authorization header (several of them, "Bearer" without a
//     token, characters outside the token syntax): 400 with
//     error="invalid_request";
//   - an invalid, expired or revoked token: 401 with error="invalid_token"
//     and an error_description that says which, without further detail.
//
// The returned middleware is safe for concurrent use; its cost is that of
// [Verifier.ParseWithClaims] plus one context value.
func Middleware(v *Verifier, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	if v == nil {
		panic("revoke: Middleware: nil Verifier")
	}
	cfg := middlewareConfig{realm: DefaultRealm}
	for _, o := range opts {
		o(&cfg)
	}
	realm := quoteAuthParam(cfg.realm)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, status := extractToken(r, cfg.cookie)
			switch status {
			case tokenMissing:
				refuse(w, http.StatusUnauthorized, `Bearer realm=`+realm,
					"unauthorized", "a bearer token is required")
				return
			case tokenMalformed:
				refuse(w, http.StatusBadRequest, `Bearer realm=`+realm+`, error="invalid_request", error_description="malformed bearer token"`,
					"invalid_request", "malformed bearer token")
				return
			}
			var claims jwt.Claims = jwt.MapClaims{}
			if cfg.newClaims != nil {
				claims = cfg.newClaims()
			}
			tok, err := v.ParseWithClaims(token, claims)
			if err != nil {
				desc := describe(err)
				refuse(w, http.StatusUnauthorized, `Bearer realm=`+realm+`, error="invalid_token", error_description="`+desc+`"`,
					"invalid_token", desc)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenContextKey{}, tok)))
		})
	}
}

type tokenStatus int

const (
	tokenFound tokenStatus = iota
	tokenMissing
	tokenMalformed
)

// extractToken takes the bearer token from the Authorization header, or
// from the named cookie when there is no such header and cookie != "".
func extractToken(r *http.Request, cookie string) (string, tokenStatus) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) > 1:
		return "", tokenMalformed
	case len(values) == 1:
		scheme, rest, _ := strings.Cut(values[0], " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", tokenMissing // another scheme: no bearer credentials
		}
		token := strings.TrimLeft(rest, " ")
		if !isB64Token(token) {
			return "", tokenMalformed
		}
		return token, tokenFound
	case cookie != "":
		c, err := r.Cookie(cookie)
		if err != nil {
			return "", tokenMissing
		}
		if !isB64Token(c.Value) {
			return "", tokenMalformed
		}
		return c.Value, tokenFound
	}
	return "", tokenMissing
}

// isB64Token reports whether s matches RFC 6750's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// describe maps a parse error to a fixed error_description: no detail of the
// failure reaches the client.
func describe(err error) string {
	switch {
	case errors.Is(err, ErrRevoked):
		return "the token is revoked"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token is expired"
	default:
		return "the token is invalid"
	}
}

// quoteAuthParam returns s as an RFC 7230 quoted-string.
func quoteAuthParam(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			// control characters cannot appear in a header value
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func refuse(w http.ResponseWriter, status int, challenge, code, desc string) {
	h := w.Header()
	h.Set("WWW-Authenticate", challenge)
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	// code and desc are fixed strings of this file: no escaping needed.
	_, _ = w.Write([]byte(`{"error":"` + code + `","error_description":"` + desc + `"}` + "\n"))
}
