package natsrevoke

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A revocation refused by a full queue is kept in the outbox; it used to
// be published only by the next start, which a replica that runs for weeks
// may not see before the token expires: meanwhile every other replica
// accepts the token. It must be published once the queue has room, and a
// Close before that must count it as not drained.
func TestQueueFullRecordIsPublishedOnceTheQueueHasRoom(t *testing.T) {
	for _, mode := range []PublishMode{Queued, Synchronous} {
		t.Run(mode.String(), func(t *testing.T) {
			port := freePort(t)
			url := fmt.Sprintf("nats://127.0.0.1:%d", port)
			cfg := Config{Publish: mode, QueueLength: 2, PublishTimeout: 200 * time.Millisecond, CloseTimeout: 300 * time.Millisecond}
			a := newReplica(t, connect(t, url), t.TempDir(), cfg) // detached: no server yet
			ks := keys("k", 5)
			for i, k := range ks {
				err := a.e.Revoke(k, time.Now().Add(time.Hour))
				switch {
				case i >= cfg.QueueLength:
					require.ErrorIs(t, err, ErrQueueFull, k)
				case mode == Synchronous:
					require.ErrorIs(t, err, ErrPending, k)
				default:
					require.NoError(t, err, k)
				}
			}
			st := a.r.Stats()
			assert.Equal(t, len(ks), st.Outbox)
			assert.EqualValues(t, len(ks)-cfg.QueueLength, st.QueueFull)

			s := startServer(t, t.TempDir(), port)
			peer := newReplica(t, connect(t, s.ClientURL()), "", Config{})
			require.Eventually(t, func() bool {
				for _, k := range ks {
					if !peer.e.IsRevoked(k) {
						return false
					}
				}
				return true
			}, 20*time.Second, 5*time.Millisecond, "A's stats %+v", a.r.Stats())
			require.Eventually(t, func() bool { return a.r.Stats().Outbox == 0 }, 10*time.Second, 5*time.Millisecond)
			require.NoError(t, a.r.Close())
		})
	}
}

// Close counts the records a full queue refused among those not drained.
func TestCloseCountsRecordsAFullQueueRefused(t *testing.T) {
	port := freePort(t)
	a := newReplica(t, connect(t, fmt.Sprintf("nats://127.0.0.1:%d", port)), t.TempDir(),
		Config{QueueLength: 2, CloseTimeout: 100 * time.Millisecond})
	for _, k := range keys("k", 5) {
		_ = a.e.Revoke(k, time.Now().Add(time.Hour))
	}
	err := a.r.Close()
	require.ErrorIs(t, err, ErrNotDrained)
	assert.Contains(t, err.Error(), "5 records")
}

// Revokers racing a publisher that refills the queue from the records a
// full queue refused: nothing hangs, every record reaches the stream.
func TestSpilledRecordsUnderConcurrentRevokers(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	a := newReplica(t, connect(t, s.ClientURL()), t.TempDir(), Config{QueueLength: 2})
	var all []string
	done := make(chan error)
	for g := range 8 {
		ks := keys(fmt.Sprintf("g%d", g), 150)
		all = append(all, ks...)
		go func() {
			for _, k := range ks {
				if err := a.e.Revoke(k, time.Now().Add(time.Hour)); err != nil && !errors.Is(err, ErrQueueFull) {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		require.NoError(t, <-done)
	}
	peer := newReplica(t, connect(t, s.ClientURL()), "", Config{})
	waitRevoked(t, peer, all...)
	require.Eventually(t, func() bool { return a.r.Stats().Outbox == 0 }, 20*time.Second, 5*time.Millisecond)
	require.NoError(t, a.r.Close())
}
