package revoke

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// MiddlewareOption configures [Middleware]: see [WithRealm], [WithCookie],
// [WithClaims], [WithErrorHandler], [WithCredentialsOptional],
// [WithTokenExtractor] and [WithCORSPreflight].
type MiddlewareOption func(*middlewareConfig)

type middlewareConfig struct {
	realm               string
	cookie              string
	newClaims           func() jwt.Claims
	errorHandler        func(http.ResponseWriter, *http.Request, error)
	credentialsOptional bool
	extractor           func(*http.Request) (string, error)
	corsPreflight       bool
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
// [Verifier.ParseWithClaims]; handlers read it with [ClaimsFromContext].
// Default: [jwt.MapClaims]. Whatever the type, revocation is judged on the
// token's signed payload (see [Verifier]).
func WithClaims(newClaims func() jwt.Claims) MiddlewareOption {
	return func(c *middlewareConfig) { c.newClaims = newClaims }
}

// WithErrorHandler replaces the response [Middleware] writes when it
// refuses a request: h is called with the request and the reason, and must
// write the response (the next handler is not called). err is
// [ErrMissingToken] when there are no credentials, wraps
// [ErrMalformedCredentials] when they cannot be read, and otherwise is the
// error of [Verifier.ParseWithClaims]: errors.Is(err, ErrRevoked) for a
// revoked token, errors.Is(err, jwt.ErrTokenUnverifiable) when no key could
// be found — a KeyFunc failure such as a JWKS outage (your KeyFunc's error
// is wrapped too), not a bad token — and golang-jwt's sentinels for the
// rest. Log it there; answer the client without its detail.
// [DefaultErrorHandler] is the default and can be called from h.
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) MiddlewareOption {
	return func(c *middlewareConfig) { c.errorHandler = h }
}

// WithCredentialsOptional lets requests without credentials through, with
// no token in their context (anonymous access; check with
// [TokenFromContext]). A request that carries credentials still has them
// checked: a malformed, invalid or revoked token is refused.
func WithCredentialsOptional() MiddlewareOption {
	return func(c *middlewareConfig) { c.credentialsOptional = true }
}

// WithTokenExtractor replaces the reading of the Authorization header (and
// of the [WithCookie] cookie) by extract: it returns the token, "" with a
// nil error when the request has none, or an error when its credentials are
// malformed (refused like a malformed header, the error wrapped with
// [ErrMalformedCredentials]). It runs on every request, concurrently.
func WithTokenExtractor(extract func(*http.Request) (string, error)) MiddlewareOption {
	return func(c *middlewareConfig) { c.extractor = extract }
}

// WithCORSPreflight lets CORS preflight requests through without
// credentials, as browsers send them without any: put a CORS handler after
// the middleware to answer them. A preflight is what a browser sends: an
// OPTIONS request with Origin and Access-Control-Request-Method headers, no
// body and no credentials. Any other request is checked as usual: one with
// a body, without Origin, or with credentials (a preflight never carries
// them; when present they are verified, a bad token refused and a good one
// put in the context).
func WithCORSPreflight() MiddlewareOption {
	return func(c *middlewareConfig) { c.corsPreflight = true }
}

// Middleware returns net/http middleware that lets a request through only
// with a valid, unrevoked bearer token, verified by v; the handler finds the
// token with [TokenFromContext] and its claims with [ClaimsFromContext]. It
// works with http.ServeMux and any router that takes an http.Handler. A nil
// v is a programmer error and panics.
//
// The token is taken from "Authorization: Bearer <token>" (the scheme is
// case-insensitive), from a cookie with [WithCookie], or by the function of
// [WithTokenExtractor]. Refusals follow RFC 6750 (see
// [DefaultErrorHandler]) unless [WithErrorHandler] says otherwise.
//
// The returned middleware is safe for concurrent use; its cost is that of
// [Verifier.ParseWithClaims] plus one context value.
func Middleware(v *Verifier, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	if v == nil {
		panic("revoke: Middleware: nil Verifier")
	}
	cfg := middlewareConfig{realm: DefaultRealm}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	onError := cfg.errorHandler
	if onError == nil {
		onError = DefaultErrorHandler(cfg.realm)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, err := cfg.extract(r)
			switch {
			case err != nil:
				onError(w, r, err)
				return
			case token == "":
				if cfg.credentialsOptional || (cfg.corsPreflight && isPreflight(r)) {
					next.ServeHTTP(w, r)
					return
				}
				onError(w, r, ErrMissingToken)
				return
			}
			var claims jwt.Claims = jwt.MapClaims{}
			if cfg.newClaims != nil {
				claims = cfg.newClaims()
			}
			tok, err := v.ParseWithClaims(token, claims)
			if err != nil {
				onError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(ContextWithToken(r.Context(), tok)))
		})
	}
}

// isPreflight reports whether r is a CORS preflight as browsers send it:
// OPTIONS with Origin and Access-Control-Request-Method, and no body.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions &&
		r.Header.Get("Access-Control-Request-Method") != "" && r.Header.Get("Origin") != "" &&
		r.ContentLength == 0 && len(r.TransferEncoding) == 0
}

var errMalformedHeader = fmt.Errorf("%w: Authorization header", ErrMalformedCredentials)

// extract returns the request's token, "" when it has none, or an error
// wrapping ErrMalformedCredentials.
func (c *middlewareConfig) extract(r *http.Request) (string, error) {
	if c.extractor != nil {
		token, err := c.extractor(r)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrMalformedCredentials, err)
		}
		return token, nil
	}
	token, status := extractToken(r, c.cookie)
	switch status {
	case tokenMissing:
		return "", nil
	case tokenMalformed:
		return "", errMalformedHeader
	}
	return token, nil
}

// DefaultErrorHandler returns the refusal [Middleware] writes by default,
// per RFC 6750, with a WWW-Authenticate challenge naming realm on every
// refusal, Cache-Control: no-store and a short JSON body:
//   - no credentials ([ErrMissingToken]): 401, `Bearer realm="api"`;
//   - malformed credentials ([ErrMalformedCredentials]): 400 with
//     error="invalid_request";
//   - any other error (an invalid, expired or revoked token, a KeyFunc
//     failure): 401 with error="invalid_token" and an error_description
//     that says which, without further detail.
//
// It is safe for concurrent use; call it from your own handler to keep
// these answers while logging.
func DefaultErrorHandler(realm string) func(http.ResponseWriter, *http.Request, error) {
	q := quoteAuthParam(realm)
	return func(w http.ResponseWriter, _ *http.Request, err error) {
		switch {
		case errors.Is(err, ErrMissingToken):
			refuse(w, http.StatusUnauthorized, `Bearer realm=`+q, "unauthorized", "a bearer token is required")
		case errors.Is(err, ErrMalformedCredentials):
			refuse(w, http.StatusBadRequest, `Bearer realm=`+q+`, error="invalid_request", error_description="malformed bearer token"`,
				"invalid_request", "malformed bearer token")
		default:
			desc := describe(err)
			refuse(w, http.StatusUnauthorized, `Bearer realm=`+q+`, error="invalid_token", error_description="`+desc+`"`,
				"invalid_token", desc)
		}
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
