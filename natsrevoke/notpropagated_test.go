package natsrevoke

import (
	"errors"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A consumption stored locally but not acknowledged by the stream is
// reported as stored ((true, err) wrapping both revoke.ErrNotPropagated and
// ErrPending), and a retry of it is not mistaken for a reuse by the caller's
// error handling: the record is kept and published once NATS is back.
func TestConsumeAcrossAReplicationError(t *testing.T) {
	store := t.TempDir()
	s := startServer(t, store, 0)
	port := serverPort(s)
	a := newReplica(t, connect(t, s.ClientURL()), t.TempDir(), Config{Publish: Synchronous, PublishTimeout: 200 * time.Millisecond})
	s.Shutdown()
	s.WaitForShutdown()

	first, err := a.e.Consume("refresh-1", time.Now().Add(time.Hour))
	require.Error(t, err)
	assert.True(t, first, "stored locally: this call was the first")
	assert.ErrorIs(t, err, revoke.ErrNotPropagated)
	assert.ErrorIs(t, err, ErrPending, "kept for publication")
	var stored bool
	if errors.Is(err, revoke.ErrNotPropagated) {
		stored = true // what a caller does: the consumption counts, do not retry
	}
	assert.True(t, stored)

	s2 := startServer(t, store, port)
	peer := newReplica(t, connect(t, s2.ClientURL()), "", Config{})
	require.Eventually(t, func() bool { return peer.r.Stats().Applied >= 1 }, 20*time.Second, 10*time.Millisecond,
		"the kept consumption was published once the server was back")
	again, err := peer.e.Consume("refresh-1", time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, again, "the consumption reached the peer: a use there is a reuse")
}
