package natsrevoke

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Whoever may publish on the subject chooses the size of a message: up to
// the server's max_payload (1 MiB by default, 64 MiB at most) of payload or
// headers. Every replica reads the stream into a 2 048-message buffer after
// nats.go's 500-message pull batch, so a few thousand such messages in the
// stream cost every replica gigabytes at once, and the stream keeps them
// for MaxAge. A stream New creates refuses any message larger than the
// largest record message, whatever its headers; the largest one the
// Replicator sends (signed, with a TTL, under a fresh id) still fits.
func TestStreamRefusesOversizedMessages(t *testing.T) {
	s := startServer(t, t.TempDir(), 0)
	js := connect(t, s.ClientURL())
	key := bytes.Repeat([]byte{7}, 32)
	a := newReplica(t, js, "", Config{Publish: Synchronous, SigningKey: key})
	str, err := js.Stream(context.Background(), DefaultStream)
	require.NoError(t, err)
	assert.Positive(t, str.CachedInfo().Config.MaxMsgSize)
	assert.LessOrEqual(t, str.CachedInfo().Config.MaxMsgSize, int32(maxRecordMsgSize))

	for _, tc := range []struct {
		name string
		msg  *nats.Msg
	}{
		{"a large payload", &nats.Msg{Subject: "revoke.v1", Data: make([]byte, 64<<10)}},
		{"large headers", &nats.Msg{Subject: "revoke.v1", Data: make([]byte, RecordSize),
			Header: nats.Header{"X-Pad": []string{strings.Repeat("x", 64<<10)}}}},
	} {
		_, err := js.PublishMsg(context.Background(), tc.msg)
		require.Error(t, err, tc.name)
	}

	// The largest message the Replicator sends fits.
	m := a.r.messageID(revoke.Record{Fingerprint: 1<<64 - 1, Deadline: time.Now().Add(time.Hour).Unix(), Value: 1<<32 - 1}, true)
	require.NotEmpty(t, m.Header.Get(macHeader))
	require.NotEmpty(t, m.Header.Get(jetstream.MsgTTLHeader))
	_, err = js.PublishMsg(context.Background(), m)
	require.NoError(t, err)
	require.NoError(t, a.e.Revoke("k", time.Now().Add(time.Hour)))
	b := newReplica(t, connect(t, s.ClientURL()), "", Config{SigningKey: key})
	caughtUp(t, b)
	assert.True(t, b.e.IsRevoked("k"))
	assert.EqualValues(t, 2, b.r.Stats().LastSeq, "only the two record messages were stored")
}
