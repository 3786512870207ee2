package natsrevoke

import (
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func engineConfig(t *testing.T, cfg revoke.Config) revoke.Config {
	t.Helper()
	e, err := revoke.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e.Config()
}

func TestConfigDefaults(t *testing.T) {
	ecfg := engineConfig(t, revoke.Config{Dir: t.TempDir(), Leeway: 30 * time.Second})
	cfg, err := Config{}.normalized(ecfg)
	require.NoError(t, err)
	assert.Equal(t, DefaultStream, cfg.Stream)
	assert.Equal(t, "revoke.v1", cfg.subject())
	assert.Equal(t, 1, cfg.Replicas)
	assert.Equal(t, revoke.DefaultMaxTTL+time.Minute+time.Second+MaxAgeMargin, cfg.MaxAge)
	assert.Equal(t, DefaultDuplicates, cfg.Duplicates)
	assert.Equal(t, Queued, cfg.Publish)
	assert.Equal(t, DefaultQueueLength, cfg.QueueLength)
	assert.Equal(t, ecfg.Dir, cfg.StateDir, "the position is kept in the engine's Dir")
	assert.NotNil(t, cfg.Logger)
	assert.Equal(t, MaxAgeMargin, cfg.TTLMargin, "a publisher clock ahead by less than the MaxAge margin deletes nothing early")
	assert.Equal(t, DefaultMaxClockSkew, cfg.MaxClockSkew)
	assert.Equal(t, DefaultStreamCheck, cfg.StreamCheckInterval)

	mem, err := Config{}.normalized(engineConfig(t, revoke.Config{}))
	require.NoError(t, err)
	assert.Empty(t, mem.StateDir, "a memory engine keeps no position")
}

func TestConfigRefuses(t *testing.T) {
	ecfg := engineConfig(t, revoke.Config{Leeway: time.Minute})
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"stream with a dot", Config{Stream: "a.b"}, "Stream"},
		{"stream with a space", Config{Stream: "a b"}, "Stream"},
		{"prefix with a wildcard", Config{SubjectPrefix: "revoke.*"}, "SubjectPrefix"},
		{"prefix with an empty token", Config{SubjectPrefix: "a..b"}, "SubjectPrefix"},
		{"replicas", Config{Replicas: 6}, "Replicas"},
		{"negative replicas", Config{Replicas: -1}, "Replicas"},
		{"MaxAge below MaxTTL + 2 Leeway", Config{MaxAge: revoke.DefaultMaxTTL + time.Minute}, "MaxAge"},
		{"duplicates beyond MaxAge", Config{Duplicates: 365 * 24 * time.Hour}, "Duplicates"},
		{"publish mode", Config{Publish: 7}, "Publish"},
		{"queue length", Config{QueueLength: -1}, "QueueLength"},
		{"publish timeout", Config{PublishTimeout: -time.Second}, "PublishTimeout"},
		{"save interval", Config{SaveInterval: -time.Second}, "SaveInterval"},
		{"close timeout", Config{CloseTimeout: -time.Second}, "CloseTimeout"},
		{"state dir on a memory engine", Config{StateDir: t.TempDir()}, "StateDir"},
		{"TTL margin", Config{TTLMargin: -time.Second}, "TTLMargin"},
		{"clock skew", Config{MaxClockSkew: -time.Second}, "MaxClockSkew"},
		{"stream check", Config{StreamCheckInterval: -time.Second}, "StreamCheckInterval"},
		{"short signing key", Config{SigningKey: []byte("short")}, "SigningKey"},
		{"short verify key", Config{SigningKey: make([]byte, 32), VerifyKeys: [][]byte{make([]byte, 31)}}, "VerifyKeys"},
		{"verify keys without a signing key", Config{VerifyKeys: [][]byte{make([]byte, 32)}}, "VerifyKeys"},
		{"accept unsigned without a signing key", Config{AcceptUnsigned: true}, "AcceptUnsigned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.normalized(ecfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "natsrevoke: ")
		})
	}
	_, err := New(t.Context(), nil, nil, Config{})
	require.ErrorIs(t, err, ErrInvalidConfig)
}

func TestMinMaxAgeCoversACutoff(t *testing.T) {
	ecfg := engineConfig(t, revoke.Config{Leeway: time.Hour, MaxTTL: 24 * time.Hour})
	assert.Equal(t, 26*time.Hour+time.Second, MinMaxAge(ecfg))
}

func TestCheckStream(t *testing.T) {
	good := jetstream.StreamConfig{
		Name: "S", Subjects: []string{"revoke.>"}, Storage: jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy, MaxAge: 48 * time.Hour,
	}
	require.NoError(t, checkStream(good, "revoke.v1", 24*time.Hour))
	unlimited := good
	unlimited.MaxAge = 0
	require.NoError(t, checkStream(unlimited, "revoke.v1", 24*time.Hour), "MaxAge 0 keeps everything")
	limitedNew := good
	limitedNew.MaxBytes, limitedNew.Discard = 1<<30, jetstream.DiscardNew
	require.NoError(t, checkStream(limitedNew, "revoke.v1", 24*time.Hour), "DiscardNew refuses publications, it drops nothing")
	perSubjectNew := good
	perSubjectNew.MaxMsgsPerSubject, perSubjectNew.Discard, perSubjectNew.DiscardNewPerSubject = 1000, jetstream.DiscardNew, true
	require.NoError(t, checkStream(perSubjectNew, "revoke.v1", 24*time.Hour), "DiscardNewPerSubject refuses publications, it drops nothing")

	for _, tc := range []struct {
		name   string
		modify func(*jetstream.StreamConfig)
		want   string
	}{
		{"subject not captured", func(c *jetstream.StreamConfig) { c.Subjects = []string{"other.>"} }, "capture"},
		{"short MaxAge", func(c *jetstream.StreamConfig) { c.MaxAge = time.Hour }, "MaxAge"},
		{"memory storage", func(c *jetstream.StreamConfig) { c.Storage = jetstream.MemoryStorage }, "storage"},
		{"work queue", func(c *jetstream.StreamConfig) { c.Retention = jetstream.WorkQueuePolicy }, "retention"},
		{"interest", func(c *jetstream.StreamConfig) { c.Retention = jetstream.InterestPolicy }, "retention"},
		{"MaxMsgs with DiscardOld", func(c *jetstream.StreamConfig) { c.MaxMsgs = 1000 }, "DiscardOld"},
		{"MaxMsgsPerSubject with DiscardOld", func(c *jetstream.StreamConfig) { c.MaxMsgsPerSubject = 1 }, "MaxMsgsPerSubject"},
		// The server deletes a subject's oldest message at its limit even
		// with DiscardNew, unless DiscardNewPerSubject is set too.
		{"MaxMsgsPerSubject with DiscardNew only", func(c *jetstream.StreamConfig) {
			c.MaxMsgsPerSubject, c.Discard = 2, jetstream.DiscardNew
		}, "DiscardNewPerSubject"},
		{"mirror", func(c *jetstream.StreamConfig) { c.Mirror = &jetstream.StreamSource{Name: "ORIGIN"} }, "mirror"},
		{"NoAck", func(c *jetstream.StreamConfig) { c.NoAck = true }, "NoAck"},
		{"subject transform", func(c *jetstream.StreamConfig) {
			c.SubjectTransform = &jetstream.SubjectTransformConfig{Source: "revoke.>", Destination: "moved.>"}
		}, "subject transform"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.modify(&c)
			err := checkStream(c, "revoke.v1", 24*time.Hour)
			require.ErrorIs(t, err, ErrStreamConfig)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestSubjectMatches(t *testing.T) {
	for _, tc := range []struct {
		filter, subject string
		want            bool
	}{
		{"revoke.>", "revoke.v1", true},
		{"revoke.v1", "revoke.v1", true},
		{"revoke.*", "revoke.v1", true},
		{">", "revoke.v1", true},
		{"*.v1", "revoke.v1", true},
		{"revoke.>", "revoke", false},
		{"revoke", "revoke.v1", false},
		{"revoke.v1.x", "revoke.v1", false},
		{"other.>", "revoke.v1", false},
		{"*", "revoke.v1", false},
	} {
		assert.Equal(t, tc.want, subjectMatches(tc.filter, tc.subject), "%s ~ %s", tc.filter, tc.subject)
	}
}

func TestServerAtLeast(t *testing.T) {
	assert.True(t, serverAtLeast("2.11.0", 2, 11))
	assert.True(t, serverAtLeast("2.15.2", 2, 11))
	assert.True(t, serverAtLeast("3.0.0", 2, 11))
	assert.False(t, serverAtLeast("2.10.22", 2, 11))
	assert.False(t, serverAtLeast("", 2, 11))
	assert.False(t, serverAtLeast("x.y", 2, 11))
}

func TestPublishModeString(t *testing.T) {
	assert.Equal(t, "Queued", Queued.String())
	assert.Equal(t, "Synchronous", Synchronous.String())
	assert.Equal(t, "PublishMode(9)", PublishMode(9).String())
}
