package natsrevoke

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMACRefusesWhatTheKeysDidNotSign(t *testing.T) {
	key, other := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	payload := EncodeRecord(nil, revoke.Record{Fingerprint: 9, Deadline: 1 << 31})
	m := newMacer("revoke", key, nil)
	h := m.header(payload)
	require.True(t, m.valid(h, payload))
	assert.Len(t, h, len(macVersion)+64)

	flipped := bytes.Clone(payload)
	flipped[8] ^= 1
	for _, tc := range []struct {
		name    string
		m       *macer
		value   string
		payload []byte
	}{
		{"missing header", m, "", payload},
		{"other payload", m, h, flipped},
		{"other key", newMacer("revoke", other, nil), h, payload},
		{"other stream prefix", newMacer("revoke.other", key, nil), h, payload},
		{"unknown MAC version", m, "v2=" + h[len(macVersion):], payload},
		{"not hex", m, macVersion + string(bytes.Repeat([]byte{'z'}, 64)), payload},
		{"truncated", m, h[:len(h)-2], payload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.False(t, tc.m.valid(tc.value, tc.payload))
		})
	}
	t.Run("a rotation accepts the previous key", func(t *testing.T) {
		rotated := newMacer("revoke", other, [][]byte{key})
		assert.True(t, rotated.valid(h, payload), "signed with the old key")
		assert.True(t, rotated.valid(rotated.header(payload), payload))
		assert.False(t, m.valid(rotated.header(payload), payload), "the new key is unknown to a replica not yet rotated")
	})
	assert.Nil(t, newMacer("revoke", nil, nil), "no key, no authentication")
}

// With a SigningKey, a replica applies only records signed with it: a
// publisher without the key (a publish permission alone) cannot revoke
// anything.
func TestSigningKeyRefusesUnsignedRecords(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	key := bytes.Repeat([]byte{7}, 32)
	a := newReplica(t, connect(t, s.ClientURL()), "", Config{Publish: Synchronous, SigningKey: key})
	b := newReplica(t, connect(t, s.ClientURL()), t.TempDir(), Config{SigningKey: key})
	intruder := newReplica(t, connect(t, s.ClientURL()), "", Config{Publish: Synchronous})

	require.NoError(t, a.e.Revoke("signed", time.Now().Add(time.Hour)))
	require.NoError(t, intruder.e.Revoke("unsigned", time.Now().Add(time.Hour)))
	js := connect(t, s.ClientURL())
	forged := a.r.message(revoke.Record{Fingerprint: 12345, Deadline: time.Now().Add(time.Hour).Unix()})
	forged.Header.Set(macHeader, macVersion+string(bytes.Repeat([]byte{'0'}, 64)))
	_, err := js.PublishMsg(context.Background(), forged)
	require.NoError(t, err)

	caughtUp(t, b)
	st := b.r.Stats()
	assert.True(t, b.e.IsRevoked("signed"))
	assert.False(t, b.e.IsRevoked("unsigned"), "a record without a MAC is refused")
	assert.EqualValues(t, 2, st.BadMAC, "the unsigned and the forged record")
	assert.EqualValues(t, 1, st.Applied)
	assert.EqualValues(t, 3, st.LastSeq, "refused records do not stop consumption")
	assert.True(t, intruder.e.IsRevoked("signed"), "a replica without a key applies everything, as before")

	t.Run("AcceptUnsigned, for the rollout of a first key", func(t *testing.T) {
		c := newReplica(t, connect(t, s.ClientURL()), t.TempDir(), Config{SigningKey: key, AcceptUnsigned: true})
		caughtUp(t, c)
		st := c.r.Stats()
		assert.True(t, c.e.IsRevoked("unsigned"), "a record without a MAC is applied during the rollout")
		assert.EqualValues(t, 1, st.Unsigned)
		assert.EqualValues(t, 1, st.BadMAC, "a wrong MAC is refused all the same")
		assert.EqualValues(t, 2, st.Applied)
	})
}

// A record whose deadline lies far beyond what an engine configured like
// this one can produce (or a cutoff far in the future) is refused: one bad
// or forged message must not lock users out for decades.
func TestFarFutureRecordsAreRefused(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	js := connect(t, s.ClientURL())
	b := newReplicaEngine(t, js, revoke.Config{Dir: t.TempDir(), MaxTTL: time.Hour, Leeway: time.Minute}, Config{})
	now := time.Now()
	longest := now.Add(MinMaxAge(b.e.Config())).Unix() // the latest deadline an engine like b's gives
	for _, tc := range []struct {
		name    string
		rec     revoke.Record
		applied bool
	}{
		{"decades ahead", revoke.Record{Fingerprint: 1, Deadline: now.AddDate(40, 0, 0).Unix()}, false},
		{"a day ahead with a one-hour MaxTTL", revoke.Record{Fingerprint: 2, Deadline: now.Add(24 * time.Hour).Unix()}, false},
		{"a cutoff a day in the future", revoke.Record{Fingerprint: 3, Deadline: longest, Value: uint32(now.Add(24 * time.Hour).Unix())}, false},
		{"the longest deadline, within the skew margin", revoke.Record{Fingerprint: 4, Deadline: longest + 60}, true},
		{"a cutoff at Leeway in the future", revoke.Record{Fingerprint: 5, Deadline: longest, Value: uint32(now.Add(time.Minute).Unix())}, true},
	} {
		_, err := js.PublishMsg(context.Background(), b.r.message(tc.rec))
		require.NoError(t, err, tc.name)
	}
	caughtUp(t, b)
	st := b.r.Stats()
	assert.EqualValues(t, 3, st.RefusedDeadline)
	assert.EqualValues(t, 2, st.Applied)
	assert.Equal(t, 2, b.e.Len())
}

func TestMsgTTL(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	for _, tc := range []struct {
		name           string
		deadline       int64
		margin, maxAge time.Duration
		want           string
	}{
		{"remaining lifetime plus the margin", now.Add(10 * time.Minute).Unix(), time.Hour, 0, "4200s"},
		{"capped at the stream's MaxAge", now.Add(10 * time.Minute).Unix(), time.Hour, 30 * time.Minute, "1800s"},
		{"at least a second", now.Add(-time.Hour).Unix(), 0, 0, "1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, msgTTL(tc.deadline, now, tc.margin, tc.maxAge))
		})
	}
}

func TestNewWarnsAboutAStreamWithFewerReplicas(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	js := connect(t, s.ClientURL())
	_ = newReplica(t, js, "", Config{}) // creates the stream with one replica
	var logs bytes.Buffer
	e, err := revoke.New(revoke.Config{})
	require.NoError(t, err)
	defer e.Close()
	r, err := New(t.Context(), e, js, Config{Replicas: 3, Logger: slogTo(&logs)})
	require.NoError(t, err, "an existing stream is the operator's: accepted")
	defer r.Close()
	assert.Contains(t, logs.String(), "fewer replicas")
	assert.Contains(t, logs.String(), "stream_replicas=1")
}

func TestNewRefusesMirrorNoAckAndTransformedStreams(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	js := connect(t, s.ClientURL())
	ctx := t.Context()
	base := jetstream.StreamConfig{Storage: jetstream.FileStorage} // MaxAge unlimited: only the tested setting is wrong
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORIGIN", Subjects: []string{"origin.>"}, Storage: jetstream.FileStorage})
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		modify func(*jetstream.StreamConfig)
		want   string
	}{
		{"MIRROR", func(c *jetstream.StreamConfig) { c.Subjects = nil; c.Mirror = &jetstream.StreamSource{Name: "ORIGIN"} }, "mirror"},
		{"NOACK", func(c *jetstream.StreamConfig) { c.NoAck = true }, "NoAck"},
		{"TRANSFORM", func(c *jetstream.StreamConfig) {
			c.SubjectTransform = &jetstream.SubjectTransformConfig{Source: "transform.>", Destination: "moved.>"}
		}, "subject transform"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := base
			sc.Name, sc.Subjects = tc.name, []string{"transform.>"}
			if tc.name != "TRANSFORM" {
				sc.Subjects = []string{"revoke." + tc.name + ".>"}
			}
			tc.modify(&sc)
			_, err := js.CreateStream(ctx, sc)
			require.NoError(t, err)
			e, err := revoke.New(revoke.Config{})
			require.NoError(t, err)
			defer e.Close()
			prefix := "revoke." + tc.name
			if tc.name == "TRANSFORM" {
				prefix = "transform"
			}
			_, err = New(ctx, e, js, Config{Stream: tc.name, SubjectPrefix: prefix})
			require.ErrorIs(t, err, ErrStreamConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestCloseDeletesItsConsumer(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	js := connect(t, s.ClientURL())
	b := newReplica(t, connect(t, s.ClientURL()), t.TempDir(), Config{})
	stream, err := js.Stream(t.Context(), DefaultStream)
	require.NoError(t, err)
	info, err := stream.Info(t.Context())
	require.NoError(t, err)
	require.Equal(t, 1, info.State.Consumers, "the replica's ordered consumer")
	b.stop()
	info, err = stream.Info(t.Context())
	require.NoError(t, err)
	assert.Zero(t, info.State.Consumers, "Close deleted it rather than leave it to the server for minutes")
}
