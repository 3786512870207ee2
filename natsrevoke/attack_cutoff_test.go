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
// millisecond within its 2^31-ms epoch, plus one). The millis value lies
// anywhere in [1, 2^31]; in the last sixth or so of every epoch (about four
// days in 24.8; from about 12 December 2026, then 4 January 2027, ...) it
// exceeds now + Leeway + MaxClockSkew as a Unix second, and the far-future
// check refused every millis record of every cutoff: counted and logged as
// a forgery, and the token a user was given right after "sign out my other
// devices" (same second, later millisecond) refused on every other replica.
// The synctest clock starts at 2000-01-01, where the millis value is 1.79e9
// against a now of 0.95e9.
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
				require.Greater(t, int64(recs[0].Value), time.Now().Unix()+int64(time.Hour/time.Second),
					"the case under test: a millis value beyond any cutoff second")

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

// Only the millis value of the second the deadline gives passes; a
// seconds-shaped value beyond now + ahead is refused as before.
func TestIsCutoffMillis(t *testing.T) {
	const keep = 3600 + 30
	sec := int64(1_796_000_000)
	ms := sec*1000 + 456
	millis := uint32(ms&(1<<31-1)) + 1
	d := sec + 1 + keep
	for _, tc := range []struct {
		name string
		rec  revoke.Record
		want bool
	}{
		{"the millis record of the deadline's second", revoke.Record{Fingerprint: 1, Deadline: d, Value: millis}, true},
		{"its first millisecond", revoke.Record{Fingerprint: 1, Deadline: d, Value: uint32((sec*1000)&(1<<31-1)) + 1}, true},
		{"its last millisecond", revoke.Record{Fingerprint: 1, Deadline: d, Value: uint32((sec*1000+999)&(1<<31-1)) + 1}, true},
		{"a millisecond of the next second", revoke.Record{Fingerprint: 1, Deadline: d, Value: uint32((sec*1000+1000)&(1<<31-1)) + 1}, false},
		{"a millisecond of the previous second", revoke.Record{Fingerprint: 1, Deadline: d, Value: uint32((sec*1000-1)&(1<<31-1)) + 1}, false},
		{"another deadline", revoke.Record{Fingerprint: 1, Deadline: d + 2, Value: millis}, false},
		{"a seconds cutoff a day ahead", revoke.Record{Fingerprint: 1, Deadline: d, Value: uint32(sec + 86400)}, false},
		{"the last second of 2106", revoke.Record{Fingerprint: 1, Deadline: d, Value: 1<<32 - 1}, false},
		{"the millis value plus 2^31 (no millis value exceeds 2^31)", revoke.Record{Fingerprint: 1, Deadline: d, Value: millis + 1<<31}, false},
	} {
		assert.Equal(t, tc.want, isCutoffMillis(tc.rec, keep), tc.name)
	}
}
