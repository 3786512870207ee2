package grpcrevoke_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
	"github.com/jwtrevoke/revoke/grpcrevoke"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

var secret = []byte("example secret, 32 bytes long...")

// whoami answers with the subject of the caller's token.
type whoami struct {
	testpb.UnimplementedTestServiceServer
}

func (whoami) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	claims, _ := revoke.ClaimsFromContext[jwt.MapClaims](ctx)
	sub, _ := claims.GetSubject()
	return &testpb.SimpleResponse{Username: sub}, nil
}

// A gRPC server that refuses revoked tokens; the health service needs none.
func Example() {
	e, err := revoke.New(revoke.Config{})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	v, err := revoke.NewVerifier(e, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{"HS256"}))
	if err != nil {
		panic(err)
	}
	skip := grpcrevoke.Skip(grpcrevoke.HealthService)
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpcrevoke.UnaryServerInterceptor(v, skip)),
		grpc.ChainStreamInterceptor(grpcrevoke.StreamServerInterceptor(v, skip)),
	)
	testpb.RegisterTestServiceServer(srv, whoami{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis := bufconn.Listen(1 << 20) // a real listener in production
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	client := testpb.NewTestServiceClient(conn)

	now := time.Now()
	token, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer: "auth", Subject: "alice", ID: "t1",
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}).SignedString(secret)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)

	resp, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})
	fmt.Println(resp.GetUsername(), err)

	if err := e.RevokeID("auth", "t1", now.Add(time.Hour)); err != nil { // logout
		panic(err)
	}
	_, err = client.UnaryCall(ctx, &testpb.SimpleRequest{})
	fmt.Println(status.Code(err), status.Convert(err).Message())

	hc, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	fmt.Println(hc.GetStatus(), err)
	// Output:
	// alice <nil>
	// Unauthenticated grpcrevoke: the token is revoked
	// SERVING <nil>
}
