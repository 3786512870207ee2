package natsrevoke

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A stream deleted and created again while a replica reads it: the replica
// must read the new stream from its start, whether the new stream is
// shorter than the old one (the old sequence lies beyond its end) or longer
// (the ordered consumer would go on at the old sequence and skip the new
// stream's first records), and CaughtUp must not return before it has.
func TestReplacedStreamIsReadFromItsStart(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new int
		periodic bool // found by the periodic check, not by CaughtUp
	}{
		{name: "shorter new stream, found by CaughtUp", old: 5, new: 3},
		{name: "longer new stream, found by CaughtUp", old: 2, new: 6},
		{name: "shorter new stream, found by the periodic check", old: 5, new: 3, periodic: true},
		{name: "longer new stream, found by the periodic check", old: 2, new: 6, periodic: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, t.TempDir(), 0)
			js := connect(t, s.ClientURL())
			ctx := context.Background()
			check := time.Hour // only CaughtUp and consumer errors ask
			if tc.periodic {
				check = 50 * time.Millisecond
			}
			b := newReplica(t, connect(t, s.ClientURL()), t.TempDir(), Config{SaveInterval: 10 * time.Millisecond, StreamCheckInterval: check})
			a := newReplica(t, js, "", Config{Publish: Synchronous})
			for _, k := range keys("old", tc.old) {
				require.NoError(t, a.e.Revoke(k, time.Now().Add(time.Hour)))
			}
			caughtUp(t, b)
			a.stop()
			oldCreated := b.r.Stats().StreamCreated

			require.NoError(t, js.DeleteStream(ctx, DefaultStream))
			c := newReplica(t, js, "", Config{Publish: Synchronous}) // creates the new stream
			fresh := keys(fmt.Sprintf("new-%s", tc.name), tc.new)
			for _, k := range fresh {
				require.NoError(t, c.e.Revoke(k, time.Now().Add(time.Hour)))
			}

			if tc.periodic {
				waitRevoked(t, b, fresh...)
			} else {
				caughtUp(t, b)
				for _, k := range fresh {
					require.True(t, b.e.IsRevoked(k), "CaughtUp returned before %s of the new stream was applied; stats %+v", k, b.r.Stats())
				}
			}
			st := b.r.Stats()
			assert.EqualValues(t, 1, st.StreamResets)
			assert.NotEqual(t, oldCreated, st.StreamCreated)
			assert.EqualValues(t, 1, st.StartSeq, "the new stream is read from its start")
			for _, k := range keys("old", tc.old) {
				assert.True(t, b.e.IsRevoked(k), "what was applied from the old stream stays")
			}
			require.Eventually(t, func() bool { return b.r.Stats().SavedSeq == uint64(tc.new) }, 5*time.Second, 5*time.Millisecond,
				"the position counts in the new stream; stats %+v", b.r.Stats())
			p, ok, err := loadPosition(b.r.posPath)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, st.StreamCreated.UnixNano(), p.created, "saved with the new stream's creation time")
		})
	}
}

// A stream deleted and not created again: no replica could publish or read.
// The running replicas create it again, publish what they queued meanwhile,
// and read the new stream from its start.
func TestDeletedStreamIsCreatedAgain(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	js := connect(t, s.ClientURL())
	cfg := Config{StreamCheckInterval: 50 * time.Millisecond, PublishTimeout: 200 * time.Millisecond}
	a := newReplica(t, connect(t, s.ClientURL()), t.TempDir(), cfg)
	b := newReplica(t, connect(t, s.ClientURL()), t.TempDir(), cfg)
	require.NoError(t, a.e.Revoke("before", time.Now().Add(time.Hour)))
	waitRevoked(t, b, "before")

	require.NoError(t, js.DeleteStream(context.Background(), DefaultStream))
	require.NoError(t, a.e.Revoke("after", time.Now().Add(time.Hour)), "queued until the stream is back")
	waitRevoked(t, b, "after")
	caughtUp(t, b)
	_, err := js.Stream(context.Background(), DefaultStream)
	require.NoError(t, err, "created again")
	assert.EqualValues(t, 1, b.r.Stats().StreamResets)
}
