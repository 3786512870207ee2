package natsrevoke

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordOf returns the record an engine configured with ecfg gives to
// Revoke(key, exp): what anyone who holds the token can compute, since
// fingerprints use a fixed seed (replicas must agree on them).
func recordOf(t *testing.T, ecfg revoke.Config, key string, exp time.Time) revoke.Record {
	t.Helper()
	ecfg.Dir = "" // a scratch engine: only the record's computation matters
	e, err := revoke.New(ecfg)
	require.NoError(t, err)
	defer e.Close()
	var got []revoke.Record
	e.SetObserver(func(r revoke.Record) error { got = append(got, r); return nil })
	require.NoError(t, e.Revoke(key, exp))
	require.Len(t, got, 1)
	return got[0]
}

// The message id of a record is its payload in hex, which whoever holds a
// token can compute. A publish permission alone (no SigningKey) must not
// let someone reserve that id with a message consumers refuse, or that the
// stream deletes at once, so that the stream takes the real revocation for
// a duplicate, acknowledges it and stores nothing: the stolen token would
// stay valid on every other replica while the one that revoked it has
// released the record from its outbox.
func TestForgedDuplicateDoesNotSwallowARevocation(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	for _, mode := range []PublishMode{Queued, Synchronous} {
		for _, tc := range []struct {
			name   string
			signed bool
			forge  func(m *nats.Msg)
		}{
			{"garbage payload under the record's id", true, func(m *nats.Msg) { m.Data = []byte("not a record") }},
			{"the record with a wrong MAC", true, func(m *nats.Msg) {
				m.Header.Set(macHeader, macVersion+string(bytes.Repeat([]byte{'0'}, 64)))
			}},
			{"the record on another version's subject", false, func(m *nats.Msg) { m.Subject = "revoke.v2" }},
			{"the record with a one-second TTL", false, func(m *nats.Msg) { m.Header.Set(jetstream.MsgTTLHeader, "1s") }},
		} {
			t.Run(mode.String()+"/"+tc.name, func(t *testing.T) {
				s := startServer(t, t.TempDir(), 0)
				cfg := Config{Publish: mode}
				if tc.signed {
					cfg.SigningKey = key
				}
				a := newReplica(t, connect(t, s.ClientURL()), t.TempDir(), cfg)

				// The attacker: a publish permission on the subject, a
				// stolen token (its jti and exp), no key.
				rec := recordOf(t, a.e.Config(), "stolen-jti", exp)
				payload := EncodeRecord(nil, rec)
				m := &nats.Msg{Subject: "revoke.v1", Data: payload, Header: nats.Header{}}
				m.Header.Set(jetstream.MsgIDHeader, msgID(payload))
				tc.forge(m)
				js := connect(t, s.ClientURL())
				_, err := js.PublishMsg(context.Background(), m)
				require.NoError(t, err)
				if m.Header.Get(jetstream.MsgTTLHeader) != "" {
					str, err := js.Stream(context.Background(), DefaultStream)
					require.NoError(t, err)
					require.Eventually(t, func() bool {
						info, err := str.Info(context.Background())
						return err == nil && info.State.Msgs == 0
					}, 10*time.Second, 20*time.Millisecond, "the forged message expires")
				}

				// The victim logs out on A.
				err = a.e.Revoke("stolen-jti", exp)
				if mode == Synchronous {
					require.NoError(t, err)
				}
				caughtUp(t, a)

				// A replica started now must refuse the stolen token.
				bcfg := Config{}
				if tc.signed {
					bcfg.SigningKey = key
				}
				b := newReplica(t, connect(t, s.ClientURL()), t.TempDir(), bcfg)
				caughtUp(t, b)
				assert.True(t, b.e.IsRevoked("stolen-jti"), "the revocation reached the stream; A's stats %+v, B's %+v", a.r.Stats(), b.r.Stats())
				st := a.r.Stats()
				assert.Zero(t, st.Outbox)
				assert.EqualValues(t, 1, st.BadDuplicates, "counted, for the operator")
			})
		}
	}

	t.Run("a genuine duplicate is taken as stored", func(t *testing.T) {
		s := startServer(t, t.TempDir(), 0)
		for _, tc := range []struct {
			name string
			cfg  Config
		}{{"unsigned", Config{Publish: Synchronous}}, {"signed", Config{Publish: Synchronous, SigningKey: key}}} {
			cfg := tc.cfg
			cfg.Stream, cfg.SubjectPrefix = "S"+tc.name, "p."+tc.name
			a := newReplica(t, connect(t, s.ClientURL()), "", cfg)
			c := newReplica(t, connect(t, s.ClientURL()), "", cfg)
			// The same revocation on two replicas: one message id.
			require.NoError(t, a.e.Revoke("both", exp))
			require.NoError(t, c.e.Revoke("both", exp))
			st := c.r.Stats()
			assert.EqualValues(t, 1, st.Duplicates, tc.name)
			assert.Zero(t, st.BadDuplicates, tc.name)
			caughtUp(t, c)
			assert.EqualValues(t, 1, c.r.Stats().LastSeq, "%s: stored once", tc.name)
		}
	})
}
