package grpcrevoke

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

var testSecret = []byte("grpcrevoke test secret, 32 bytes")

func keyFunc(*jwt.Token) (any, error) { return testSecret, nil }

func tokenFor(t testing.TB, sub, jti string, iat time.Time, ttl time.Duration) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer: "auth", Subject: sub, ID: jti,
		IssuedAt: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(iat.Add(ttl)),
	}).SignedString(testSecret)
	require.NoError(t, err)
	return s
}

// testService answers with the subject of the token in its context: the
// proof that the handler sees the verified token.
type testService struct {
	testpb.UnimplementedTestServiceServer
}

// subjectOf reads the subject with the core's typed accessor, for the
// default claims type and for the one of WithClaims.
func subjectOf(ctx context.Context) string {
	if c, ok := revoke.ClaimsFromContext[jwt.MapClaims](ctx); ok {
		sub, _ := c.GetSubject()
		return sub
	}
	if c, ok := revoke.ClaimsFromContext[*jwt.RegisteredClaims](ctx); ok {
		return "registered:" + c.Subject
	}
	return "<no token>"
}

func (testService) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{Username: subjectOf(ctx)}, nil
}

// FullDuplexCall answers each message with the subject, until the client
// closes its side or a RecvMsg or SendMsg fails.
func (testService) FullDuplexCall(s grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	for {
		if _, err := s.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := s.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte(subjectOf(s.Context()))}}); err != nil {
			return err
		}
	}
}

// env is a gRPC server over bufconn with a real client.
type env struct {
	e      *revoke.Engine
	client testpb.TestServiceClient
	health healthpb.HealthClient
}

// serverKind builds the interceptors of a server from a Verifier.
type serverKind struct {
	name string
	opts func(v *revoke.Verifier, o ...Option) []grpc.ServerOption
}

var serverKinds = []serverKind{
	{"interceptors", func(v *revoke.Verifier, o ...Option) []grpc.ServerOption {
		return []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(UnaryServerInterceptor(v, o...)),
			grpc.ChainStreamInterceptor(StreamServerInterceptor(v, o...)),
		}
	}},
	{"go-grpc-middleware auth", func(v *revoke.Verifier, o ...Option) []grpc.ServerOption {
		return []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(AuthFunc(v, o...))),
			grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(AuthFunc(v, o...))),
		}
	}},
}

func newEnv(t testing.TB, kind serverKind, o ...Option) *env {
	t.Helper()
	e, err := revoke.New(revoke.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	var serverOpts []grpc.ServerOption
	if kind.opts != nil {
		serverOpts = kind.opts(newVerifier(t, e), o...)
	}
	return startServer(t, e, serverOpts)
}

func startServer(t testing.TB, e *revoke.Engine, serverOpts []grpc.ServerOption) *env {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(serverOpts...)
	testpb.RegisterTestServiceServer(srv, testService{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return &env{e: e, client: testpb.NewTestServiceClient(conn), health: healthpb.NewHealthClient(conn)}
}

// withAuth returns ctx carrying the given "authorization" values.
func withAuth(values ...string) context.Context {
	ctx := context.Background()
	for _, v := range values {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", v)
	}
	return ctx
}

// unary makes a UnaryCall and returns the subject seen by the handler.
func (env *env) unary(ctx context.Context) (string, error) {
	resp, err := env.client.UnaryCall(ctx, &testpb.SimpleRequest{})
	if err != nil {
		return "", err
	}
	return resp.Username, nil
}

// stream opens a FullDuplexCall, exchanges one message and closes it.
func (env *env) stream(ctx context.Context) (string, error) {
	s, err := env.client.FullDuplexCall(ctx)
	if err != nil {
		return "", err
	}
	if err := s.Send(&testpb.StreamingOutputCallRequest{}); err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	resp, err := s.Recv()
	if err != nil {
		return "", err
	}
	_ = s.CloseSend()
	return string(resp.Payload.Body), nil
}

func TestInterceptors(t *testing.T) {
	iat := time.Now().Add(-time.Minute)
	for _, kind := range serverKinds {
		env := newEnv(t, kind)
		v := newVerifier(t, env.e)
		valid := tokenFor(t, "alice", "ok", iat, time.Hour)
		revokedTok := tokenFor(t, "alice", "gone", iat, time.Hour)
		tok, err := v.Parse(revokedTok)
		require.NoError(t, err)
		require.NoError(t, env.e.RevokeToken(tok))
		bob := tokenFor(t, "bob", "b1", iat, time.Hour)
		require.NoError(t, env.e.RevokeSubject("auth", "bob", time.Now()))
		expired := tokenFor(t, "alice", "old", time.Now().Add(-2*time.Hour), time.Hour)
		forged := valid[:strings.LastIndexByte(valid, '.')+1] + "AAAA"

		cases := []struct {
			name    string
			ctx     context.Context
			wantSub string // "" for a refusal
			wantMsg string // in the status message
		}{
			{"valid", withAuth("Bearer " + valid), "alice", ""},
			{"scheme in lower case", withAuth("bearer " + valid), "alice", ""},
			{"missing", context.Background(), "", "missing bearer token"},
			{"another scheme", withAuth("Basic YWxpY2U6c2VjcmV0"), "", "missing bearer token"},
			{"Bearer without token", withAuth("Bearer "), "", "malformed"},
			{"two tokens in one value", withAuth("Bearer " + valid + " " + valid), "", "malformed"},
			{"two values", withAuth("Bearer "+valid, "Bearer "+valid), "", "malformed"},
			{"malformed token", withAuth("Bearer not.a.jwt"), "", "the token is invalid"},
			{"bad signature", withAuth("Bearer " + forged), "", "the token is invalid"},
			{"expired", withAuth("Bearer " + expired), "", "the token is expired"},
			{"revoked by token", withAuth("Bearer " + revokedTok), "", "the token is revoked"},
			{"revoked by subject cutoff", withAuth("Bearer " + bob), "", "the token is revoked"},
		}
		for _, call := range []struct {
			name string
			do   func(context.Context) (string, error)
		}{{"unary", env.unary}, {"stream", env.stream}} {
			for _, c := range cases {
				t.Run(kind.name+"/"+call.name+"/"+c.name, func(t *testing.T) {
					sub, err := call.do(c.ctx)
					if c.wantSub != "" {
						require.NoError(t, err)
						assert.Equal(t, c.wantSub, sub)
						return
					}
					require.Error(t, err)
					st := status.Convert(err)
					assert.Equal(t, codes.Unauthenticated, st.Code())
					assert.Contains(t, st.Message(), c.wantMsg)
					assert.NotContains(t, st.Message(), "eyJ", "the token never appears in the message")
				})
			}
		}
		t.Run(kind.name+"/revoked by global cutoff", func(t *testing.T) {
			_, err := env.unary(withAuth("Bearer " + valid))
			require.NoError(t, err)
			require.NoError(t, env.e.RevokeAll(time.Now()))
			for _, do := range []func(context.Context) (string, error){env.unary, env.stream} {
				_, err = do(withAuth("Bearer " + valid))
				assert.Equal(t, codes.Unauthenticated, status.Code(err))
				assert.Contains(t, status.Convert(err).Message(), "the token is revoked")
			}
		})
	}
}

func TestSkip(t *testing.T) {
	for _, kind := range serverKinds {
		t.Run(kind.name, func(t *testing.T) {
			env := newEnv(t, kind, Skip(HealthService), Skip("/grpc.testing.TestService/EmptyCall"), Skip(ReflectionServices...))
			resp, err := env.health.Check(context.Background(), &healthpb.HealthCheckRequest{})
			require.NoError(t, err, "the health service needs no token")
			assert.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.Status)
			w, err := env.health.Watch(context.Background(), &healthpb.HealthCheckRequest{})
			require.NoError(t, err)
			_, err = w.Recv()
			require.NoError(t, err, "nor its streams")
			_, err = env.client.EmptyCall(context.Background(), &testpb.Empty{})
			require.Equal(t, codes.Unimplemented, status.Code(err), "a skipped method reaches its handler")
			_, err = env.unary(context.Background())
			assert.Equal(t, codes.Unauthenticated, status.Code(err), "other methods still need a token")
		})
	}
}

// TestLongStreamOutlivesRevocation: a stream opened with a valid token is
// ended at its next message once the token is revoked, unless checked at
// start only. (AuthFunc checks at the start only: see its doc.)
func TestLongStreamOutlivesRevocation(t *testing.T) {
	cases := []struct {
		name      string
		opts      []Option
		wantEnded bool
	}{
		{"re-checked per message (default)", nil, true},
		{"checked at start only", []Option{CheckStreamsAtStartOnly()}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := newEnv(t, serverKinds[0], c.opts...)
			token := tokenFor(t, "alice", "long", time.Now().Add(-time.Minute), time.Hour)
			s, err := env.client.FullDuplexCall(withAuth("Bearer " + token))
			require.NoError(t, err)
			require.NoError(t, s.Send(&testpb.StreamingOutputCallRequest{}))
			resp, err := s.Recv()
			require.NoError(t, err)
			require.Equal(t, "alice", string(resp.Payload.Body))

			require.NoError(t, env.e.Revoke(revoke.IDKey("auth", "long"), time.Now().Add(time.Hour)))
			require.NoError(t, s.Send(&testpb.StreamingOutputCallRequest{}))
			resp, err = s.Recv()
			if !c.wantEnded {
				require.NoError(t, err)
				assert.Equal(t, "alice", string(resp.Payload.Body))
				require.NoError(t, s.CloseSend())
				_, err = s.Recv()
				assert.ErrorIs(t, err, io.EOF)
				return
			}
			require.Error(t, err)
			assert.Equal(t, codes.Unauthenticated, status.Code(err))
			assert.Contains(t, status.Convert(err).Message(), "the token is revoked")
		})
	}
}

func TestWithClaims(t *testing.T) {
	for _, kind := range serverKinds {
		t.Run(kind.name, func(t *testing.T) {
			env := newEnv(t, kind, WithClaims(func() jwt.Claims { return &jwt.RegisteredClaims{} }))
			ctx := withAuth("Bearer " + tokenFor(t, "alice", "c", time.Now(), time.Hour))
			for _, do := range []func(context.Context) (string, error){env.unary, env.stream} {
				sub, err := do(ctx)
				require.NoError(t, err)
				assert.Equal(t, "registered:alice", sub)
			}
		})
	}
}

// TestKeyUnavailable: a KeyFunc failure is Unavailable, not Unauthenticated:
// the token may be genuine.
func TestKeyUnavailable(t *testing.T) {
	e, err := revoke.New(revoke.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	v, err := revoke.NewVerifier(e, func(*jwt.Token) (any, error) { return nil, errors.New("jwks: connection refused") },
		jwt.WithValidMethods([]string{"HS256"}))
	require.NoError(t, err)
	env := startServer(t, e, serverKinds[0].opts(v))
	for _, do := range []func(context.Context) (string, error){env.unary, env.stream} {
		_, err := do(withAuth("Bearer " + tokenFor(t, "alice", "k", time.Now(), time.Hour)))
		assert.Equal(t, codes.Unavailable, status.Code(err))
		assert.Contains(t, status.Convert(err).Message(), "key is unavailable")
	}
}

func TestNilVerifierPanics(t *testing.T) {
	assert.Panics(t, func() { UnaryServerInterceptor(nil) })
	assert.Panics(t, func() { StreamServerInterceptor(nil) })
	assert.Panics(t, func() { AuthFunc(nil) })
}

// BenchmarkUnaryCall measures a unary call over bufconn without an
// interceptor and with each way of authenticating, in one run: the
// difference is the interceptor's overhead per call.
func BenchmarkUnaryCall(b *testing.B) {
	token := tokenFor(b, "alice", "bench", time.Now().Add(-time.Minute), time.Hour)
	kinds := append([]serverKind{{name: "none"}}, serverKinds...)
	for _, kind := range kinds {
		b.Run(strings.ReplaceAll(kind.name, " ", "_"), func(b *testing.B) {
			env := newEnv(b, kind)
			ctx := withAuth("Bearer " + token)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := env.client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInterceptorAlone calls the unary interceptor directly, without
// the transport, against the bare handler, in one run: its own cost per
// call (metadata lookup, one Parse, one context value).
func BenchmarkInterceptorAlone(b *testing.B) {
	e, err := revoke.New(revoke.Config{})
	require.NoError(b, err)
	defer e.Close()
	token := tokenFor(b, "alice", "bench", time.Now().Add(-time.Minute), time.Hour)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+token))
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.testing.TestService/UnaryCall"}
	handler := func(ctx context.Context, req any) (any, error) { return req, nil }
	b.Run("none", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := handler(ctx, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	icpt := UnaryServerInterceptor(newVerifier(b, e))
	b.Run("interceptor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := icpt(ctx, nil, info, handler); err != nil {
				b.Fatal(err)
			}
		}
	})
}
