// Package grpcrevoke authenticates gRPC calls with bearer JWTs verified by a
// [revoke.Verifier]: a revoked token (by token, subject or global cutoff)
// ends the call with codes.Unauthenticated.
//
//	v, _ := revoke.NewVerifier(e, keyFunc, jwt.WithValidMethods([]string{"ES256"}))
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(grpcrevoke.UnaryServerInterceptor(v, grpcrevoke.Skip(grpcrevoke.HealthService))),
//		grpc.ChainStreamInterceptor(grpcrevoke.StreamServerInterceptor(v, grpcrevoke.Skip(grpcrevoke.HealthService))),
//	)
//
// The token is read from the call's "authorization" metadata,
// "Bearer <token>"; the handler finds the verified token in its context with
// revoke.TokenFromContext, as behind the net/http middleware. A stream
// re-verifies its token before each message, so a long stream does not
// outlive a revocation by more than one message (see
// [StreamServerInterceptor]). Services that chain go-grpc-middleware's auth
// interceptors use [AuthFunc] instead.
package grpcrevoke
