package grpcrevoke

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// FuzzBearer feeds arbitrary "authorization" values to the metadata reader:
// it never panics, refuses with codes.Unauthenticated, and a token it
// returns is the value's non-empty second word.
func FuzzBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc.def.ghi", "bearer x", "Bearer", "Bearer ", "Basic abc", "Bearer a b", "Bearer  a", "", "Bearer a,b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.MD{"authorization": {value}})
		token, err := bearer(ctx)
		if err != nil {
			assert.Equal(t, codes.Unauthenticated, status.Code(err))
			assert.Empty(t, token)
			return
		}
		assert.NotEmpty(t, token)
		assert.False(t, strings.ContainsAny(token, " \t,"))
		assert.True(t, strings.HasSuffix(value, token))
		scheme, _, _ := strings.Cut(value, " ")
		assert.True(t, strings.EqualFold(scheme, "Bearer"))
	})
}
