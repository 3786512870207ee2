package natsrevoke

import (
	"context"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two Replicators of one stream given the same StateDir (engines with
// their own Dirs, which the engine locks; StateDir it does not) shared the
// outbox and the position file: one's rewrite of the outbox (at New, at
// compaction) replaced the other's unacknowledged records with its own,
// and one saved as its position how far the other engine had made records
// durable. The second New is refused; another stream name, or the first
// Replicator closed, is fine.
func TestStateDirIsLockedPerStream(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	state := t.TempDir()
	newEngine := func() *revoke.Engine {
		e, err := revoke.New(revoke.Config{Dir: t.TempDir()})
		require.NoError(t, err)
		t.Cleanup(func() { _ = e.Close() })
		return e
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := Config{StateDir: state, Logger: slogTo(t.Output())}
	a, err := New(ctx, newEngine(), connect(t, s.ClientURL()), cfg)
	require.NoError(t, err)

	_, err = New(ctx, newEngine(), connect(t, s.ClientURL()), cfg)
	require.ErrorIs(t, err, ErrStateDirLocked)
	assert.Contains(t, err.Error(), state)

	other := cfg
	other.Stream, other.SubjectPrefix = "OTHER", "other"
	o, err := New(ctx, newEngine(), connect(t, s.ClientURL()), other)
	require.NoError(t, err, "another stream's files")
	require.NoError(t, o.Close())

	require.NoError(t, a.Close())
	b, err := New(ctx, newEngine(), connect(t, s.ClientURL()), cfg)
	require.NoError(t, err, "free again once the first is closed")
	require.NoError(t, b.Close())
}
