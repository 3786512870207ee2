package natsrevoke

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A subject cutoff reaches a peer to the millisecond. The cutoff chosen is
// the last millisecond before a 2^31 ms boundary, whose low 31 bits are all
// ones: a millis record carrying them as its value would read as a cutoff
// second in 2038, which the consumer refuses as a far-future record, and the
// peer would then refuse the whole second instead of honouring the
// millisecond.
func TestCutoffMillisecondsReachPeers(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	url := s.ClientURL()
	a := newReplica(t, connect(t, url), "", Config{})
	b := newReplica(t, connect(t, url), "", Config{})

	now := time.Now()
	cutMs := now.UnixMilli()>>31<<31 - 1 // under 24.9 days ago, within the default MaxTTL
	cut := time.UnixMilli(cutMs)
	require.NoError(t, a.e.RevokeSubject("iss", "alice", cut))
	caughtUp(t, a)
	caughtUp(t, b)
	assert.Zero(t, b.r.Stats().RefusedDeadline, "no record of the cutoff is refused")

	secret := []byte("0123456789abcdef0123456789abcdef")
	token := func(iatMs int64) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": "iss", "sub": "alice", "iat": float64(iatMs) / 1000, "exp": now.Add(time.Hour).Unix(),
		}).SignedString(secret)
		require.NoError(t, err)
		return tok
	}
	v, err := revoke.NewVerifier(b.e, func(*jwt.Token) (any, error) { return secret, nil }, jwt.WithValidMethods([]string{"HS256"}))
	require.NoError(t, err)
	_, err = v.Parse(token(cutMs))
	assert.ErrorIs(t, err, revoke.ErrSubjectRevoked, "issued at the cutoff")
	_, err = v.Parse(token(cutMs + 1))
	assert.NoError(t, err, "issued a millisecond after the cutoff, in the same second")
}
