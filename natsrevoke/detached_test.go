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

// New needs no NATS: a replica started while the servers are away serves
// checks, keeps its revocations, attaches once NATS is back and catches up.
func TestNewWithoutNATSStartsDetached(t *testing.T) {
	port := freePort(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	cfg := Config{PublishTimeout: 300 * time.Millisecond}
	queued := newReplica(t, connect(t, url), t.TempDir(), cfg)
	syncCfg := cfg
	syncCfg.Publish = Synchronous
	sync := newReplica(t, connect(t, url), t.TempDir(), syncCfg)

	assert.False(t, queued.r.Stats().Attached)
	require.NoError(t, queued.e.Revoke("queued-while-detached", time.Now().Add(time.Hour)))
	err := sync.e.Revoke("sync-while-detached", time.Now().Add(time.Hour))
	require.ErrorIs(t, err, ErrPending, "synchronous: not acknowledged, but kept for publication")
	assert.True(t, sync.e.IsRevoked("sync-while-detached"), "in force locally")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	require.ErrorIs(t, queued.r.CaughtUp(ctx), context.DeadlineExceeded, "CaughtUp waits for the stream")
	cancel()
	st := queued.r.Stats()
	assert.Equal(t, 1, st.Queued)
	assert.Equal(t, 1, st.Outbox)
	assert.Positive(t, st.AttachFailures)

	s := startServer(t, t.TempDir(), port)
	for _, rp := range []*replica{queued, sync} {
		require.Eventually(t, func() bool { return rp.r.Stats().Attached }, 20*time.Second, 10*time.Millisecond)
	}
	peer := newReplica(t, connect(t, s.ClientURL()), "", Config{})
	waitRevoked(t, peer, "queued-while-detached", "sync-while-detached")
	for _, rp := range []*replica{queued, sync} {
		caughtUp(t, rp)
		assert.True(t, rp.e.IsRevoked("queued-while-detached"))
		assert.True(t, rp.e.IsRevoked("sync-while-detached"))
		assert.Eventually(t, func() bool { return rp.r.Stats().Outbox == 0 }, 5*time.Second, 5*time.Millisecond, "the outbox empties once acknowledged")
	}
}

// A Close that gives up (NATS away) and a synchronous publication that
// fails leave their records in the outbox; the next Replicator on the same
// StateDir publishes them.
func TestUnpublishedRecordsArePublishedByTheNextStart(t *testing.T) {
	for _, mode := range []PublishMode{Queued, Synchronous} {
		t.Run(mode.String(), func(t *testing.T) {
			store := t.TempDir()
			s := startServer(t, store, 0)
			port := serverPort(s)
			url := s.ClientURL()
			dir := t.TempDir()
			cfg := Config{Publish: mode, PublishTimeout: 200 * time.Millisecond, CloseTimeout: 300 * time.Millisecond}
			a := newReplica(t, connect(t, url), dir, cfg)
			require.NoError(t, a.e.Revoke("before", time.Now().Add(time.Hour)))
			caughtUp(t, a)

			s.Shutdown()
			s.WaitForShutdown()
			ks := keys("during", 3)
			for _, k := range ks {
				err := a.e.Revoke(k, time.Now().Add(time.Hour))
				if mode == Synchronous {
					require.ErrorIs(t, err, ErrPending)
				} else {
					require.NoError(t, err)
				}
			}
			require.ErrorIs(t, a.r.Close(), ErrNotDrained)
			a.r.js.Conn().Close() // nothing left in nats.go's reconnect buffer either
			require.NoError(t, a.e.Close())

			startServer(t, store, port)
			peer := newReplica(t, connect(t, url), "", Config{})
			caughtUp(t, peer)
			for _, k := range ks {
				require.False(t, peer.e.IsRevoked(k), "not in the stream yet")
			}
			e2, err := revoke.New(revoke.Config{Dir: a.e.Config().Dir})
			require.NoError(t, err)
			r2, err := New(t.Context(), e2, connect(t, url), cfg)
			require.NoError(t, err)
			t.Cleanup(func() { _ = r2.Close(); _ = e2.Close() })
			assert.Equal(t, len(ks), r2.Stats().Replayed, "the outbox held them")
			waitRevoked(t, peer, ks...)
			require.Eventually(t, func() bool { return r2.Stats().Outbox == 0 }, 5*time.Second, 5*time.Millisecond)
		})
	}
}
