package natsrevoke

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Close of a detached Replicator waited for the attach attempt in flight,
// up to PublishTimeout, whatever CloseTimeout said: a deploy that stops a
// replica while NATS is away hung for a minute here. The bound asserted is
// loose (half the PublishTimeout); it is about not waiting for the attempt,
// not about how fast Close is.
func TestCloseOfADetachedReplicatorDoesNotWaitForTheAttachAttempt(t *testing.T) {
	port := freePort(t)
	e, err := revoke.New(revoke.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	cfg := Config{PublishTimeout: time.Minute, CloseTimeout: 100 * time.Millisecond, Logger: slogTo(t.Output())}
	r, err := New(ctx, e, connect(t, fmt.Sprintf("nats://127.0.0.1:%d", port)), cfg)
	require.NoError(t, err)
	require.NoError(t, e.Revoke("k", time.Now().Add(time.Hour)))
	time.Sleep(200 * time.Millisecond) // the background attach attempt has begun
	assert.False(t, r.Stats().Attached)

	done := make(chan error, 1)
	go func() { done <- r.Close() }()
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrNotDrained, "the record is left in the outbox")
	case <-time.After(cfg.PublishTimeout / 2):
		t.Fatal("Close waited for the attach attempt")
	}
}
