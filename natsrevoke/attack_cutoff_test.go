package natsrevoke

import (
	"io"
	"log/slog"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtrevoke/revoke"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeMsg is a stream message handed to applyBatch directly.
type fakeMsg struct {
	jetstream.Msg // unused methods
	subject       string
	data          []byte
	seq           uint64
}

func (m fakeMsg) Subject() string      { return m.subject }
func (m fakeMsg) Data() []byte         { return m.data }
func (m fakeMsg) Headers() nats.Header { return nats.Header{} }
func (m fakeMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: m.seq}, Timestamp: time.Now()}, nil
}

// consumerFor returns a Replicator with what applyBatch needs, applying into
// a new memory engine configured like ecfg.
func consumerFor(t *testing.T, ecfg revoke.Config) *Replicator {
	t.Helper()
	e, err := revoke.New(ecfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	cfg, err := Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}.normalized(e.Config())
	require.NoError(t, err)
	r := &Replicator{e: e, cfg: cfg, log: cfg.Logger, stop: make(chan struct{})}
	r.setLimits(e.Config())
	return r
}

// A subject cutoff is two records with one deadline: the seconds record
// (value: the cutoff's second) and the millis record (value: the cutoff's
// millisecond within its epoch, plus one). The far-future check judges every
// value as a cutoff second; a millis record must never look like one in the
// future, or every replica refuses it (counted and logged as a forgery) and
// the token a user was given right after "sign out my other devices" (same
// second, later millisecond) is refused on every other replica. An earlier
// encoding (2^31-ms epochs) did exactly that for days in every 24.8;
// TestCutoffMillisecondsReachPeers checks its worst case in real time.
func TestCutoffMillisRecordIsNotRefusedAsFarFuture(t *testing.T) {
	for _, ecfg := range []revoke.Config{
		{},
		{MaxTTL: time.Hour, Leeway: 30 * time.Second},
		{MaxTTL: 15 * time.Minute, Leeway: 1500 * time.Millisecond},
	} {
		t.Run(ecfg.MaxTTL.String()+"/"+ecfg.Leeway.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				time.Sleep(123 * time.Millisecond) // a cutoff off the second
				src, err := revoke.New(ecfg)
				require.NoError(t, err)
				defer src.Close()
				var recs []revoke.Record
				src.SetObserver(func(r revoke.Record) error { recs = append(recs, r); return nil })
				cutoff := time.Now()
				require.NoError(t, src.RevokeSubject("iss", "alice", cutoff))
				require.Len(t, recs, 2, "the millis record, then the seconds record")

				r := consumerFor(t, ecfg)
				var msgs []jetstream.Msg
				for i, rec := range recs {
					msgs = append(msgs, fakeMsg{subject: "revoke.v1", data: EncodeRecord(nil, rec), seq: uint64(i + 1)})
				}
				require.True(t, r.applyBatch(msgs, true))
				st := r.Stats()
				assert.Zero(t, st.RefusedDeadline)
				assert.EqualValues(t, 2, st.Applied)

				// The replica holds the cutoff to the millisecond, as the
				// engine that made it does.
				key := []byte("k")
				issue := func(e *revoke.Engine, iat time.Time) error {
					v, err := revoke.NewVerifier(e, func(*jwt.Token) (any, error) { return key, nil }, jwt.WithValidMethods([]string{"HS256"}))
					require.NoError(t, err)
					tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
						"iss": "iss", "sub": "alice", "jti": iat.String(),
						"iat": float64(iat.UnixMilli()) / 1000, "exp": iat.Add(10 * time.Minute).Unix(),
					})
					s, err := tok.SignedString(key)
					require.NoError(t, err)
					_, err = v.Parse(s)
					return err
				}
				after := cutoff.Truncate(time.Millisecond).Add(time.Millisecond) // same second, next millisecond
				require.Equal(t, cutoff.Unix(), after.Unix())
				time.Sleep(time.Second) // past the token's iat
				require.NoError(t, issue(src, after), "the engine that made the cutoff accepts a token issued just after it")
				assert.NoError(t, issue(r.e, after), "and so does the replica")
				assert.ErrorIs(t, issue(r.e, cutoff.Truncate(time.Millisecond)), revoke.ErrRevoked)
			})
		})
	}
}
