package natsrevoke

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRevocationReachesEveryReplica(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	js := connect(t, s.ClientURL())
	a := newReplica(t, js, t.TempDir(), Config{})
	b := newReplica(t, connect(t, s.ClientURL()), t.TempDir(), Config{})
	c := newReplica(t, connect(t, s.ClientURL()), "", Config{Publish: Synchronous})

	require.NoError(t, a.e.Revoke("tok-a", time.Now().Add(time.Hour)))
	lagB := waitRevoked(t, b, "tok-a")
	lagC := waitRevoked(t, c, "tok-a")
	t.Logf("A→B %v, A→C %v (stats B %+v)", lagB, lagC, b.r.Stats())

	require.NoError(t, c.e.Revoke("tok-c", time.Now().Add(time.Hour)), "synchronous: returns after the stream's ack")
	waitRevoked(t, a, "tok-c")
	waitRevoked(t, b, "tok-c")
	assert.EqualValues(t, 1, c.r.Stats().Published)
	assert.Zero(t, a.r.Stats().Rejected)
}
