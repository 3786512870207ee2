package grpcrevoke

import (
	"context"
	"errors"
	"strings"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// An Option configures the interceptors and [AuthFunc].
type Option func(*config)

type config struct {
	newClaims func() jwt.Claims
	// skip holds the full method names ("/pkg.Service/Method") and service
	// prefixes ("/pkg.Service/") that need no token.
	skipMethods  map[string]bool
	skipServices []string
	// startOnly turns off the per-message re-check of streams.
	startOnly bool
}

// WithClaims makes each token be parsed into a fresh value from newClaims
// (e.g. func() jwt.Claims { return &MyClaims{} }). Default: [jwt.MapClaims].
func WithClaims(newClaims func() jwt.Claims) Option {
	return func(c *config) { c.newClaims = newClaims }
}

// Skip exempts methods from authentication: each name is a full method,
// "/grpc.health.v1.Health/Check", or a whole service written with a trailing
// slash, "/grpc.reflection.v1.ServerReflection/". Calls to them pass
// without a token, and without one in their context. See [HealthService]
// and [ReflectionServices].
func Skip(names ...string) Option {
	return func(c *config) {
		for _, n := range names {
			if strings.HasSuffix(n, "/") {
				c.skipServices = append(c.skipServices, n)
			} else {
				c.skipMethods[n] = true
			}
		}
	}
}

// Services commonly exempted with [Skip]: the standard health check, and
// server reflection (both versions).
const (
	HealthService = "/grpc.health.v1.Health/"
)

// ReflectionServices are the two versions of the gRPC server reflection
// service, for [Skip].
var ReflectionServices = []string{
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
}

// CheckStreamsAtStartOnly makes the stream interceptor verify the token when
// the stream starts and never again: a stream then outlives the revocation
// (and the expiry) of the token it was opened with. By default every message
// received or sent re-verifies the token; see [StreamServerInterceptor].
func CheckStreamsAtStartOnly() Option {
	return func(c *config) { c.startOnly = true }
}

func newConfig(opts []Option) *config {
	c := &config{skipMethods: map[string]bool{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

func (c *config) skipped(fullMethod string) bool {
	if c.skipMethods[fullMethod] {
		return true
	}
	for _, s := range c.skipServices {
		if strings.HasPrefix(fullMethod, s) {
			return true
		}
	}
	return false
}

// authenticator verifies the bearer token of a call.
type authenticator struct {
	v   *revoke.Verifier
	cfg *config
}

func newAuthenticator(v *revoke.Verifier, opts []Option) *authenticator {
	if v == nil {
		panic("grpcrevoke: nil Verifier")
	}
	return &authenticator{v: v, cfg: newConfig(opts)}
}

// The status messages of refused calls: they say which check failed, never
// what the token was.
var (
	errMissing   = status.Error(codes.Unauthenticated, "grpcrevoke: missing bearer token")
	errMalformed = status.Error(codes.Unauthenticated, "grpcrevoke: malformed authorization metadata")
	errRevoked   = status.Error(codes.Unauthenticated, "grpcrevoke: the token is revoked")
	errExpired   = status.Error(codes.Unauthenticated, "grpcrevoke: the token is expired")
	errInvalid   = status.Error(codes.Unauthenticated, "grpcrevoke: the token is invalid")
	// errNoKey: the Verifier's KeyFunc failed (a JWKS outage, an unknown
	// kid): the token may be genuine, and the client may retry.
	errNoKey = status.Error(codes.Unavailable, "grpcrevoke: the token's key is unavailable")
)

// bearer returns the token of the call's single "authorization" metadata
// value "Bearer <token>" (scheme case-insensitive).
func bearer(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	values := md.Get("authorization")
	switch len(values) {
	case 0:
		return "", errMissing
	case 1:
	default:
		return "", errMalformed
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", errMissing // another scheme: no bearer credentials
	}
	token = strings.TrimLeft(token, " ")
	if !ok || token == "" || strings.ContainsAny(token, " \t,") {
		return "", errMalformed
	}
	return token, nil
}

// parse verifies token and maps a failure to its status.
func (a *authenticator) parse(token string) (*jwt.Token, error) {
	var claims jwt.Claims = jwt.MapClaims{}
	if a.cfg.newClaims != nil {
		claims = a.cfg.newClaims()
	}
	tok, err := a.v.ParseWithClaims(token, claims)
	switch {
	case err == nil:
		return tok, nil
	case errors.Is(err, revoke.ErrRevoked):
		return nil, errRevoked
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, errExpired
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, errNoKey
	default:
		return nil, errInvalid
	}
}

// authenticate verifies the call's token and returns ctx with it, and the
// raw token for later re-checks.
func (a *authenticator) authenticate(ctx context.Context) (context.Context, string, error) {
	token, err := bearer(ctx)
	if err != nil {
		return nil, "", err
	}
	tok, err := a.parse(token)
	if err != nil {
		return nil, "", err
	}
	return revoke.ContextWithToken(ctx, tok), token, nil
}

// UnaryServerInterceptor returns a unary interceptor that lets a call
// through only with a valid, unrevoked bearer token in its "authorization"
// metadata, verified by v; the handler finds the token with
// [revoke.TokenFromContext] and its claims with [revoke.ClaimsFromContext],
// under the same context key as behind the net/http middleware.
// A missing, malformed, invalid, expired or revoked token ends the call with
// codes.Unauthenticated and a message that says which; a token whose key
// the Verifier's KeyFunc could not find ([jwt.ErrTokenUnverifiable]: a JWKS
// outage, an unknown kid) with codes.Unavailable, which clients may retry.
// Methods exempted with [Skip] pass untouched.
//
// It is safe for concurrent use; a call costs one
// [revoke.Verifier.ParseWithClaims], a metadata lookup and a context value.
// It panics if v is nil (a programmer error).
func UnaryServerInterceptor(v *revoke.Verifier, opts ...Option) grpc.UnaryServerInterceptor {
	a := newAuthenticator(v, opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if a.cfg.skipped(info.FullMethod) {
			return handler(ctx, req)
		}
		ctx, _, err := a.authenticate(ctx)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor returns a stream interceptor that checks the
// stream's bearer token as [UnaryServerInterceptor] does, when the stream
// starts, and then again before each message it receives from the client or
// sends to it: once the token is revoked (or expires), the next RecvMsg or
// SendMsg of the handler fails with codes.Unauthenticated, which ends the
// stream when the handler returns the error, as handlers do. A long stream
// thus does not outlive the revocation of its token by more than one
// message. Each re-check costs one ParseWithClaims (signature included);
// [CheckStreamsAtStartOnly] trades that for streams that live on.
//
// It is safe for concurrent use; it panics if v is nil.
func StreamServerInterceptor(v *revoke.Verifier, opts ...Option) grpc.StreamServerInterceptor {
	a := newAuthenticator(v, opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if a.cfg.skipped(info.FullMethod) {
			return handler(srv, ss)
		}
		ctx, token, err := a.authenticate(ss.Context())
		if err != nil {
			return err
		}
		return handler(srv, &stream{ServerStream: ss, ctx: ctx, a: a, token: token})
	}
}

// stream is a ServerStream with the verified token in its context, which
// re-checks the token around each message (unless startOnly).
type stream struct {
	grpc.ServerStream
	ctx   context.Context
	a     *authenticator
	token string
}

func (s *stream) Context() context.Context { return s.ctx }

func (s *stream) recheck() error {
	if s.a.cfg.startOnly {
		return nil
	}
	_, err := s.a.parse(s.token)
	return err
}

// RecvMsg receives the client's next message, and fails instead once the
// token is no longer valid (checked after the message arrives, so that a
// stream idle for an hour is judged when it speaks, not when it opened).
func (s *stream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.recheck()
}

// SendMsg sends m, unless the token is no longer valid.
func (s *stream) SendMsg(m any) error {
	if err := s.recheck(); err != nil {
		return err
	}
	return s.ServerStream.SendMsg(m)
}

// AuthFunc returns an auth.AuthFunc for the auth interceptors of
// github.com/grpc-ecosystem/go-grpc-middleware/v2 (its signature is
// func(ctx) (context.Context, error)): it verifies the bearer token as
// [UnaryServerInterceptor] does and returns the context with the token.
// Methods exempted with [Skip] are found with grpc.Method(ctx). Streams are
// checked at their start only (the auth interceptor has no per-message
// hook): use [StreamServerInterceptor] for re-checked streams.
//
//	grpc.NewServer(
//		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(grpcrevoke.AuthFunc(v))),
//		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(grpcrevoke.AuthFunc(v))),
//	)
//
// It is safe for concurrent use; it panics if v is nil.
func AuthFunc(v *revoke.Verifier, opts ...Option) func(ctx context.Context) (context.Context, error) {
	a := newAuthenticator(v, opts)
	return func(ctx context.Context) (context.Context, error) {
		if m, ok := grpc.Method(ctx); ok && a.cfg.skipped(m) {
			return ctx, nil
		}
		ctx, _, err := a.authenticate(ctx)
		return ctx, err
	}
}
