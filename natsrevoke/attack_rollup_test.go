package natsrevoke

import (
	"context"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// On a stream that allows roll-ups (AllowRollup, which message schedules
// and subject delete markers switch on too), one message with the header
// "Nats-Rollup: sub" on the record subject purges every record stored
// before it: a publish permission alone, no key, wipes the deny list of
// every replica that catches up from the stream afterwards. New refuses
// such a stream, and sealed and counter streams, which take no record.
func TestNewRefusesStreamsAPublisherCanPurge(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	js := connect(t, s.ClientURL())
	ctx := context.Background()

	// The attack, on a stream New does not check.
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "ROLLUP", Subjects: []string{"rollup.>"}, Storage: jetstream.FileStorage, AllowRollup: true,
	})
	require.NoError(t, err)
	for i := range 3 {
		_, err := js.PublishMsg(ctx, &nats.Msg{Subject: "rollup.v1", Data: EncodeRecord(nil, revoke.Record{Fingerprint: uint64(i + 1), Deadline: time.Now().Add(time.Hour).Unix()})})
		require.NoError(t, err)
	}
	m := &nats.Msg{Subject: "rollup.v1", Data: []byte("x"), Header: nats.Header{}}
	m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	_, err = js.PublishMsg(ctx, m)
	require.NoError(t, err)
	str, err := js.Stream(ctx, "ROLLUP")
	require.NoError(t, err)
	assert.EqualValues(t, 1, str.CachedInfo().State.Msgs, "the three records are gone")

	e, err := revoke.New(revoke.Config{})
	require.NoError(t, err)
	defer e.Close()
	_, err = New(ctx, e, js, Config{Stream: "ROLLUP", SubjectPrefix: "rollup"})
	require.ErrorIs(t, err, ErrStreamConfig)
	assert.Contains(t, err.Error(), "roll-ups")

	good := jetstream.StreamConfig{
		Name: "S", Subjects: []string{"revoke.>"}, Storage: jetstream.FileStorage, Retention: jetstream.LimitsPolicy,
	}
	for _, tc := range []struct {
		name   string
		modify func(*jetstream.StreamConfig)
		want   string
	}{
		{"roll-ups", func(c *jetstream.StreamConfig) { c.AllowRollup = true }, "roll-ups"},
		{"sealed", func(c *jetstream.StreamConfig) { c.Sealed = true }, "sealed"},
		{"counter", func(c *jetstream.StreamConfig) { c.AllowMsgCounter = true }, "counter"},
	} {
		c := good
		tc.modify(&c)
		err := checkStream(c, "revoke.v1", time.Hour)
		require.ErrorIs(t, err, ErrStreamConfig, tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
	}
}
