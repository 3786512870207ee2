package natsrevoke

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRevocationReachesEveryReplica(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	a := newReplica(t, connect(t, s.ClientURL()), t.TempDir(), Config{})
	b := newReplica(t, connect(t, s.ClientURL()), t.TempDir(), Config{})
	c := newReplica(t, connect(t, s.ClientURL()), "", Config{Publish: Synchronous})

	require.NoError(t, a.e.Revoke("tok-a", time.Now().Add(time.Hour)))
	lagB := waitRevoked(t, b, "tok-a")
	lagC := waitRevoked(t, c, "tok-a")
	t.Logf("A→B seen after %v (stream-to-apply lag %v), A→C %v", lagB, b.r.Stats().Lag, lagC)

	require.NoError(t, c.e.Revoke("tok-c", time.Now().Add(time.Hour)), "synchronous: returns after the stream's ack")
	assert.EqualValues(t, 1, c.r.Stats().Published, "the ack was counted before Revoke returned")
	waitRevoked(t, a, "tok-c")
	waitRevoked(t, b, "tok-c")
	assert.False(t, b.e.IsRevoked("tok-b"))
	for _, rp := range []*replica{a, b, c} {
		caughtUp(t, rp)
		st := rp.r.Stats()
		assert.EqualValues(t, 2, st.Applied, "own records come back and are applied too: %+v", st)
		assert.EqualValues(t, 2, st.LastSeq)
		assert.Zero(t, st.Rejected)
		assert.Equal(t, 2, rp.e.Len())
	}
}

// hs256 returns a token for sub of issuer "iss", issued at iat.
func hs256(t *testing.T, secret []byte, sub string, iat time.Time) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "iss", "sub": sub, "iat": iat.Unix(), "exp": iat.Add(time.Hour).Unix(),
	}).SignedString(secret)
	require.NoError(t, err)
	return tok
}

func TestStoppedReplicaCatchesUpFromItsSavedSequence(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	url := s.ClientURL()
	a := newReplica(t, connect(t, url), "", Config{})
	bDir := t.TempDir()
	b := newReplica(t, connect(t, url), bDir, Config{SaveInterval: 10 * time.Millisecond})

	before := keys("before", 10)
	for _, k := range before {
		require.NoError(t, a.e.Revoke(k, time.Now().Add(time.Hour)))
	}
	waitRevoked(t, b, before...)
	caughtUp(t, b)
	b.stop()
	saved := b.r.Stats().SavedSeq
	require.EqualValues(t, len(before), saved, "Close saves the last applied sequence")

	secret := []byte("0123456789abcdef0123456789abcdef")
	iat := time.Now().Add(-time.Minute)
	oldTok := hs256(t, secret, "alice", iat)
	after := keys("after", 1000)
	for _, k := range after {
		require.NoError(t, a.e.Revoke(k, time.Now().Add(time.Hour)))
	}
	require.NoError(t, a.e.RevokeSubject("iss", "alice", time.Now()))
	caughtUp(t, a)
	// A subject cutoff is two records: its second and its milliseconds.
	const cutoffRecords = 2

	b2 := newReplica(t, connect(t, url), bDir, Config{})
	st := b2.r.Stats()
	assert.Equal(t, saved+1, st.StartSeq, "resumes after its saved sequence, not from the start")
	caughtUp(t, b2)
	st = b2.r.Stats()
	assert.EqualValues(t, len(after)+cutoffRecords, st.Applied, "only what it missed is read again")
	assert.EqualValues(t, len(before)+len(after)+cutoffRecords, st.LastSeq)
	for _, k := range append(before, after...) {
		require.True(t, b2.e.IsRevoked(k), k)
	}
	v, err := revoke.NewVerifier(b2.e, func(*jwt.Token) (any, error) { return secret, nil }, jwt.WithValidMethods([]string{"HS256"}))
	require.NoError(t, err)
	_, err = v.Parse(oldTok)
	require.ErrorIs(t, err, revoke.ErrRevoked, "the subject cutoff reached B")
	_, err = v.Parse(hs256(t, secret, "bob", iat))
	require.NoError(t, err, "another subject is untouched")

	t.Run("a brand-new replica reads the stream from its start", func(t *testing.T) {
		d := newReplica(t, connect(t, url), t.TempDir(), Config{})
		caughtUp(t, d)
		st := d.r.Stats()
		assert.EqualValues(t, 1, st.StartSeq)
		assert.EqualValues(t, len(before)+len(after)+cutoffRecords, st.Applied)
		assert.Equal(t, len(before)+len(after)+cutoffRecords, d.e.Len())
		dv, err := revoke.NewVerifier(d.e, func(*jwt.Token) (any, error) { return secret, nil }, jwt.WithValidMethods([]string{"HS256"}))
		require.NoError(t, err)
		_, err = dv.Parse(oldTok)
		assert.ErrorIs(t, err, revoke.ErrRevoked)
	})
}

func TestServerRestartLosesNothing(t *testing.T) {
	store := t.TempDir()
	s := startServer(t, store, 0)
	port := serverPort(s)
	url := s.ClientURL()
	a := newReplica(t, connect(t, url), "", Config{PublishTimeout: 300 * time.Millisecond})
	b := newReplica(t, connect(t, url), t.TempDir(), Config{})
	c := newReplica(t, connect(t, url), "", Config{Publish: Synchronous, PublishTimeout: 300 * time.Millisecond})

	first := keys("first", 100)
	for _, k := range first {
		require.NoError(t, a.e.Revoke(k, time.Now().Add(time.Hour)))
	}
	waitRevoked(t, b, first...)

	s.Shutdown()
	s.WaitForShutdown()
	for _, k := range first {
		require.True(t, b.e.IsRevoked(k), "checks keep answering from memory while the server is down")
	}
	during := keys("during", 50)
	for _, k := range during {
		require.NoError(t, a.e.Revoke(k, time.Now().Add(time.Hour)), "queued: accepted while the server is down")
	}
	err := c.e.Revoke("sync-down", time.Now().Add(time.Hour))
	require.Error(t, err, "synchronous: the revoker hears that the stream did not acknowledge")
	assert.True(t, c.e.IsRevoked("sync-down"), "but the revocation is in force locally")
	assert.Positive(t, c.r.Stats().PublishFailures)
	assert.Positive(t, a.r.Stats().Queued)

	startServer(t, store, port) // same store, same port: clients reconnect
	waitRevoked(t, b, during...)
	waitRevoked(t, c, append(first, during...)...)
	require.NoError(t, c.e.Revoke("sync-up", time.Now().Add(time.Hour)), "synchronous publication works again")
	waitRevoked(t, b, "sync-up")
	assert.Eventually(t, func() bool { return a.r.Stats().Queued == 0 }, 10*time.Second, 10*time.Millisecond)
	assert.Positive(t, a.r.Stats().Retries, "the queued records were retried")

	d := newReplica(t, connect(t, url), "", Config{})
	caughtUp(t, d)
	for _, k := range append(append(first, during...), "sync-up") {
		require.True(t, d.e.IsRevoked(k), "%s survived the restart in the stream", k)
	}
	// "sync-down" was never acknowledged and its revoker got an error, but
	// nats.go may have kept it in its reconnect buffer and sent it after
	// the reconnect: an error means "not known to be stored", not "lost".
	t.Logf("unacknowledged revocation replicated anyway: %v", d.e.IsRevoked("sync-down"))
}

func TestExpiredAndMalformedMessagesAreNotApplied(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	js := connect(t, s.ClientURL())
	b := newReplica(t, js, t.TempDir(), Config{})
	ctx := context.Background()
	now := time.Now().Unix()

	// A late message for a record that has expired (a restarted server or
	// a slow replica can deliver one), then one live record.
	_, err := js.PublishMsg(ctx, b.r.message(revoke.Record{Fingerprint: 7, Deadline: now - 5}))
	require.NoError(t, err)
	_, err = js.Publish(ctx, "revoke.v1", []byte("fifteen bytes!!"))
	require.NoError(t, err)
	_, err = js.Publish(ctx, "revoke.v2", make([]byte, 16))
	require.NoError(t, err)
	live := revoke.Record{Fingerprint: 8, Deadline: now + 3600}
	_, err = js.PublishMsg(ctx, b.r.message(live))
	require.NoError(t, err)

	caughtUp(t, b)
	st := b.r.Stats()
	assert.EqualValues(t, 1, st.SkippedExpired)
	assert.EqualValues(t, 2, st.Rejected, "wrong length and unknown version are refused")
	assert.EqualValues(t, 1, st.Applied)
	assert.EqualValues(t, 4, st.LastSeq, "refused messages do not stop consumption")
	assert.Equal(t, 1, b.e.Len(), "only the live record is held")
}

func TestDuplicatesAreStoredAndAppliedOnce(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	js := connect(t, s.ClientURL())
	b := newReplica(t, js, t.TempDir(), Config{})
	ctx := context.Background()
	rec := revoke.Record{Fingerprint: 42, Deadline: time.Now().Unix() + 3600}

	ack1, err := js.PublishMsg(ctx, b.r.message(rec))
	require.NoError(t, err)
	ack2, err := js.PublishMsg(ctx, b.r.message(rec)) // a retry: same message id
	require.NoError(t, err)
	assert.False(t, ack1.Duplicate)
	assert.True(t, ack2.Duplicate, "the stream recognises the retry")
	assert.Equal(t, ack1.Sequence, ack2.Sequence)

	// The same record under another id (a retry after the duplicate
	// window): stored twice, merged once.
	m := b.r.message(rec)
	m.Header.Set(jetstream.MsgIDHeader, "other")
	_, err = js.PublishMsg(ctx, m)
	require.NoError(t, err)

	caughtUp(t, b)
	st := b.r.Stats()
	assert.EqualValues(t, 2, st.LastSeq, "two messages in the stream, not three")
	assert.EqualValues(t, 2, st.Applied)
	assert.Equal(t, 1, b.e.Len(), "Apply is idempotent")
}

func TestQueueFullIsAnErrorNotADrop(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	a := newReplica(t, connect(t, s.ClientURL()), "", Config{
		QueueLength: 3, PublishTimeout: 100 * time.Millisecond, CloseTimeout: 200 * time.Millisecond,
	})
	s.Shutdown() // nothing can be acknowledged any more
	s.WaitForShutdown()

	for _, k := range keys("q", 3) {
		require.NoError(t, a.e.Revoke(k, time.Now().Add(time.Hour)))
	}
	err := a.e.Revoke("overflow", time.Now().Add(time.Hour))
	require.ErrorIs(t, err, ErrQueueFull)
	assert.True(t, a.e.IsRevoked("overflow"), "refused for the stream, in force locally")
	st := a.r.Stats()
	assert.Equal(t, 3, st.Queued)
	assert.EqualValues(t, 1, st.QueueFull)

	err = a.r.Close()
	require.ErrorIs(t, err, ErrNotDrained)
	assert.Contains(t, err.Error(), "3 records")
	require.ErrorIs(t, a.r.Close(), ErrNotDrained, "Close is idempotent")
	err = a.e.Revoke("after-close", time.Now().Add(time.Hour))
	require.ErrorIs(t, err, revoke.ErrNotPropagated, "after Close, a revocation never reaches the stream, and says so")
	require.ErrorIs(t, err, ErrClosed)
	assert.True(t, a.e.IsRevoked("after-close"), "in force locally")
}

func TestPositionIsSavedOnlyOnceDurable(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	js := connect(t, s.ClientURL())
	// SyncNever, no timed snapshots: applied records reach stable storage
	// only when a snapshot rotates the journal.
	b := newReplicaEngine(t, js, revoke.Config{Dir: t.TempDir(), Sync: revoke.SyncNever, SnapshotInterval: -1, SnapshotJournalBytes: -1},
		Config{SaveInterval: 5 * time.Millisecond})
	a := newReplica(t, connect(t, s.ClientURL()), "", Config{})
	for _, k := range keys("k", 5) {
		require.NoError(t, a.e.Revoke(k, time.Now().Add(time.Hour)))
	}
	caughtUp(t, b)
	time.Sleep(50 * time.Millisecond) // ten save intervals
	assert.Zero(t, b.r.Stats().SavedSeq, "not durable in the engine yet, so not saved")
	require.NoError(t, b.e.Snapshot())
	assert.Eventually(t, func() bool { return b.r.Stats().SavedSeq == 5 }, 5*time.Second, 5*time.Millisecond)
}

func TestNewRefusesAStreamThatWouldLoseRecords(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	js := connect(t, s.ClientURL())
	ctx := context.Background()
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "SHORT", Subjects: []string{"short.>"}, Storage: jetstream.FileStorage, MaxAge: time.Hour,
	})
	require.NoError(t, err)
	e, err := revoke.New(revoke.Config{})
	require.NoError(t, err)
	defer e.Close()
	_, err = New(ctx, e, js, Config{Stream: "SHORT", SubjectPrefix: "short"})
	require.ErrorIs(t, err, ErrStreamConfig)
	assert.Contains(t, err.Error(), "MaxAge 1h0m0s is shorter")

	_, err = New(ctx, e, js, Config{Stream: "SHORT", SubjectPrefix: "other"})
	require.ErrorIs(t, err, ErrStreamConfig)
	assert.Contains(t, err.Error(), "do not capture")

	r, err := New(ctx, e, js, Config{Stream: "FRESH", Replicas: 1})
	require.NoError(t, err)
	defer r.Close()
	info, err := js.Stream(ctx, "FRESH")
	require.NoError(t, err)
	sc := info.CachedInfo().Config
	assert.Equal(t, jetstream.FileStorage, sc.Storage)
	assert.Equal(t, MinMaxAge(e.Config())+MaxAgeMargin, sc.MaxAge)
	assert.Equal(t, DefaultDuplicates, sc.Duplicates)
	assert.True(t, sc.AllowMsgTTL, "per-message TTLs on a 2.11+ server")
	assert.Equal(t, []string{"revoke.>"}, sc.Subjects)
}

func TestMessagesCarryTheirTTL(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	js := connect(t, s.ClientURL())
	a := newReplica(t, js, "", Config{Publish: Synchronous})
	exp := time.Now().Add(10 * time.Minute)
	require.NoError(t, a.e.Revoke("k", exp))
	stream, err := js.Stream(context.Background(), DefaultStream)
	require.NoError(t, err)
	m, err := stream.GetMsg(context.Background(), 1)
	require.NoError(t, err)
	ttl, err := time.ParseDuration(m.Header.Get(jetstream.MsgTTLHeader))
	require.NoError(t, err)
	assert.InDelta(t, (10*time.Minute + MaxAgeMargin).Seconds(), ttl.Seconds(), 2, "remaining lifetime plus the default TTLMargin")
	assert.Len(t, m.Header.Get(jetstream.MsgIDHeader), 32)
}

func TestClusterOfThreeKeepsReplicatingWhenOneServerStops(t *testing.T) {
	servers := startCluster(t)
	urls := servers[0].ClientURL() + "," + servers[1].ClientURL() + "," + servers[2].ClientURL()
	jsA := connect(t, urls)
	a := newReplica(t, jsA, t.TempDir(), Config{Replicas: 3, PublishTimeout: time.Second})
	b := newReplica(t, connect(t, servers[1].ClientURL()+","+servers[2].ClientURL()+","+servers[0].ClientURL()), t.TempDir(), Config{Replicas: 3})

	require.NoError(t, a.e.Revoke("before", time.Now().Add(time.Hour)))
	waitRevoked(t, b, "before")

	// Stop the server that leads the stream: the other two elect a new
	// leader and go on.
	info, err := jsA.Stream(context.Background(), DefaultStream)
	require.NoError(t, err)
	ci := info.CachedInfo().Cluster
	require.NotNil(t, ci)
	assert.Len(t, ci.Replicas, 2, "an R3 stream: a leader and two replicas")
	stopped := false
	for _, s := range servers {
		if s.Name() == ci.Leader {
			s.Shutdown()
			s.WaitForShutdown()
			stopped = true
		}
	}
	require.True(t, stopped, "leader %q not found", ci.Leader)
	t.Logf("stopped the stream leader %s", ci.Leader)

	after := keys("after", 20)
	for _, k := range after {
		require.NoError(t, a.e.Revoke(k, time.Now().Add(time.Hour)))
	}
	lag := waitRevoked(t, b, after...)
	t.Logf("propagation after the leader stopped: %v (A retries %d, B resubscribed %d times)", lag, a.r.Stats().Retries, b.r.Stats().Resubscribes)
}

func TestPositionOfAnEarlierStreamIsNotTrusted(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	js := connect(t, s.ClientURL())
	ctx := context.Background()
	dir := t.TempDir()
	a := newReplica(t, js, "", Config{Publish: Synchronous})
	b := newReplica(t, connect(t, s.ClientURL()), dir, Config{})
	for _, k := range keys("old", 5) {
		require.NoError(t, a.e.Revoke(k, time.Now().Add(time.Hour)))
	}
	caughtUp(t, b)
	b.stop()
	a.stop()
	require.EqualValues(t, 5, b.r.Stats().SavedSeq)

	// The stream is deleted and created again: sequences start over, and
	// position 5 of the old stream means nothing in the new one.
	require.NoError(t, js.DeleteStream(ctx, DefaultStream))
	a2 := newReplica(t, js, "", Config{Publish: Synchronous})
	for _, k := range keys("new", 7) {
		require.NoError(t, a2.e.Revoke(k, time.Now().Add(time.Hour)))
	}
	b2 := newReplica(t, connect(t, s.ClientURL()), dir, Config{})
	assert.EqualValues(t, 1, b2.r.Stats().StartSeq, "reads the new stream from its start")
	caughtUp(t, b2)
	assert.EqualValues(t, 7, b2.r.Stats().Applied)
	for _, k := range keys("new", 7) {
		assert.True(t, b2.e.IsRevoked(k), k)
	}
	b2.stop()
	require.EqualValues(t, 7, b2.r.Stats().SavedSeq)

	t.Run("a damaged position file", func(t *testing.T) {
		require.NoError(t, os.WriteFile(positionPath(dir, DefaultStream), []byte("garbage"), 0o600))
		b3 := newReplica(t, connect(t, s.ClientURL()), dir, Config{})
		assert.EqualValues(t, 1, b3.r.Stats().StartSeq, "is logged and the stream read from its start")
		caughtUp(t, b3)
		assert.EqualValues(t, 7, b3.r.Stats().Applied)
	})
}

func TestCloseInAnyOrder(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	t.Run("connection closed first", func(t *testing.T) {
		js := connect(t, s.ClientURL())
		a := newReplica(t, js, t.TempDir(), Config{CloseTimeout: 100 * time.Millisecond})
		require.NoError(t, a.e.Revoke("k", time.Now().Add(time.Hour)))
		js.Conn().Close()
		time.Sleep(100 * time.Millisecond)
		assert.True(t, a.e.IsRevoked("k"), "checks need no connection")
		done := make(chan error, 1)
		go func() { done <- a.r.Close() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Close hung after the connection was closed")
		}
	})
	t.Run("Close drains the queue", func(t *testing.T) {
		a := newReplica(t, connect(t, s.ClientURL()), "", Config{Stream: "DRAIN", SubjectPrefix: "drain"})
		ks := keys("drain", 2000)
		for _, k := range ks {
			require.NoError(t, a.e.Revoke(k, time.Now().Add(time.Hour)))
		}
		require.NoError(t, a.r.Close(), "every queued record published before Close returns")
		require.ErrorIs(t, a.r.CaughtUp(t.Context()), ErrClosed)
		assert.Zero(t, a.r.Stats().Queued)
		assert.EqualValues(t, len(ks), a.r.Stats().Published)
		d := newReplica(t, connect(t, s.ClientURL()), "", Config{Stream: "DRAIN", SubjectPrefix: "drain"})
		caughtUp(t, d)
		assert.Equal(t, len(ks), d.e.Len())
	})
	t.Run("engine closed first", func(t *testing.T) {
		// A stream of its own: on the default one, B could apply the
		// first subtest's record before its engine is closed.
		js := connect(t, s.ClientURL())
		pub := newReplica(t, js, "", Config{Publish: Synchronous, Stream: "ENGINECLOSED", SubjectPrefix: "engineclosed"})
		b := newReplica(t, connect(t, s.ClientURL()), t.TempDir(), Config{Stream: "ENGINECLOSED", SubjectPrefix: "engineclosed"})
		require.NoError(t, b.e.Close())
		require.NoError(t, pub.e.Revoke("late", time.Now().Add(time.Hour)), "B's closed engine does not disturb A")
		require.NoError(t, b.r.Close())
		assert.Zero(t, b.r.Stats().Applied)
	})
}

func TestConcurrentRevokersConverge(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	modes := []Config{{}, {Publish: Synchronous}, {}}
	reps := make([]*replica, len(modes))
	for i, cfg := range modes {
		dir := ""
		if i != 2 {
			dir = t.TempDir()
		}
		reps[i] = newReplica(t, connect(t, s.ClientURL()), dir, cfg)
	}
	var all []string
	done := make(chan error)
	for i, rp := range reps {
		for g := range 4 {
			ks := keys(fmt.Sprintf("r%d-g%d", i, g), 150)
			ks = append(ks, keys("shared", 20)...) // revoked on every replica at once, different expiries
			all = append(all, ks...)
			go func() {
				for j, k := range ks {
					if err := rp.e.Revoke(k, time.Now().Add(time.Duration(30+j+g)*time.Minute)); err != nil {
						done <- err
						return
					}
				}
				done <- rp.e.RevokeSubject("iss", fmt.Sprintf("user-%d", g), time.Now())
			}()
		}
	}
	for range len(reps) * 4 {
		require.NoError(t, <-done)
	}
	for _, rp := range reps {
		assert.Eventually(t, func() bool { return rp.r.Stats().Queued == 0 }, 20*time.Second, time.Millisecond)
	}
	for _, rp := range reps {
		caughtUp(t, rp)
	}
	want := reps[0].e.Len()
	// Each subject cutoff is two records (its second and its milliseconds).
	assert.Equal(t, len(modes)*4*150+20+4*2, want, "distinct keys plus four subject cutoffs")
	for i, rp := range reps {
		assert.Equal(t, want, rp.e.Len(), "replica %d holds the same set", i)
		for _, k := range all {
			require.True(t, rp.e.IsRevoked(k), "replica %d: %s", i, k)
		}
	}
}

func TestLongOutageResumesAfterTheLastAppliedRecord(t *testing.T) {
	store := t.TempDir()
	s := startServer(t, store, 0)
	port := serverPort(s)
	a := newReplica(t, connect(t, s.ClientURL()), "", Config{PublishTimeout: 300 * time.Millisecond})
	b := newReplica(t, connect(t, s.ClientURL()), t.TempDir(), Config{})
	require.NoError(t, a.e.Revoke("before", time.Now().Add(time.Hour)))
	waitRevoked(t, b, "before")

	s.Shutdown()
	s.WaitForShutdown()
	require.NoError(t, a.e.Revoke("during", time.Now().Add(time.Hour)), "queued while the server is away")
	// Longer than the consumer's heartbeats and reset attempts.
	time.Sleep(4 * time.Second)
	startServer(t, store, port)
	back := time.Now()
	waitRevoked(t, b, "during")
	caughtUp(t, b)
	st := b.r.Stats()
	t.Logf("after a 4 s outage, B had the queued record %v after the server returned (resubscribed %d times)", time.Since(back), st.Resubscribes)
	assert.EqualValues(t, 2, st.Applied, "it resumed after the last record it had applied, not from the start")
	assert.EqualValues(t, 2, st.LastSeq)
	assert.Eventually(t, func() bool { return a.r.Stats().Queued == 0 }, 10*time.Second, 5*time.Millisecond, "A's queue drains")
}

func TestConsumerThatGivesUpIsReplaced(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	a := newReplica(t, connect(t, s.ClientURL()), "", Config{Publish: Synchronous})
	b := newReplica(t, connect(t, s.ClientURL()), t.TempDir(), Config{})
	for _, k := range keys("one", 3) {
		require.NoError(t, a.e.Revoke(k, time.Now().Add(time.Hour)))
	}
	caughtUp(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, b.r.CaughtUp(ctx), context.Canceled, "a context that ends first")
	// What the ordered consumer does when its resets fail resetAttempts
	// times: its iterator closes.
	b.r.iterMu.Lock()
	b.r.iter.Stop()
	b.r.iterMu.Unlock()
	for _, k := range keys("two", 2) {
		require.NoError(t, a.e.Revoke(k, time.Now().Add(time.Hour)))
	}
	waitRevoked(t, b, keys("two", 2)...)
	caughtUp(t, b)
	st := b.r.Stats()
	assert.EqualValues(t, 1, st.Resubscribes)
	assert.EqualValues(t, 5, st.Applied, "the new consumer starts after the last record handled")
	assert.EqualValues(t, 5, st.LastSeq)
}
