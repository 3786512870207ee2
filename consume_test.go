package revoke

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConsumeConcurrent(t *testing.T) {
	e := newTestEngine(t, Config{})
	const callers = 64
	for round := range 20 {
		key := "refresh-" + string(rune('a'+round))
		var firsts atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range callers {
			wg.Go(func() {
				<-start
				first, err := e.Consume(key, time.Now().Add(time.Hour))
				assert.NoError(t, err)
				if first {
					firsts.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		assert.Equal(t, int32(1), firsts.Load(), "round %d: exactly one caller is first", round)
	}
}

func TestConsume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := New(Config{Leeway: 2 * time.Second, MaxTTL: time.Hour})
		require.NoError(t, err)
		defer e.Close()
		exp := time.Now().Add(10 * time.Second)

		first, err := e.Consume("k", exp)
		require.NoError(t, err)
		assert.True(t, first)
		first, err = e.Consume("k", exp)
		require.NoError(t, err)
		assert.False(t, first, "second use: reuse")
		assert.False(t, e.IsRevoked("k"), "consumed is not revoked")

		time.Sleep(11 * time.Second) // past exp, inside the leeway
		first, err = e.Consume("k", exp)
		require.NoError(t, err)
		assert.False(t, first, "still remembered inside the leeway")

		time.Sleep(2 * time.Second)
		_, err = e.Consume("k", exp)
		assert.ErrorIs(t, err, jwt.ErrTokenExpired, "an expired key is an error, not a reuse")

		cases := []struct {
			name string
			key  string
			exp  time.Time
			want error
		}{
			{"empty key", "", time.Now().Add(time.Minute), ErrEmptyKey},
			{"beyond MaxTTL", "x", time.Now().Add(2 * time.Hour), ErrTTLTooLong},
		}
		for _, c := range cases {
			first, err := e.Consume(c.key, c.exp)
			assert.ErrorIs(t, err, c.want, c.name)
			assert.False(t, first, c.name)
		}
		require.NoError(t, e.Close())
		_, err = e.Consume("y", time.Now().Add(time.Minute))
		assert.ErrorIs(t, err, ErrClosed)
	})
}

func TestConsumeFull(t *testing.T) {
	e := newTestEngine(t, Config{MaxEntries: 1})
	first, err := e.Consume("a", time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.True(t, first)
	first, err = e.Consume("b", time.Now().Add(time.Minute))
	assert.ErrorIs(t, err, ErrFull)
	assert.False(t, first)
}

func TestConsumeToken(t *testing.T) {
	hs := algByName(t, "HS256")
	for _, jti := range []string{"r-1", ""} {
		t.Run("jti="+jti, func(t *testing.T) {
			e := newTestEngine(t, Config{})
			v := hs.verifier(e)
			token := hs.sign(t, claims("auth", "alice", jti, time.Hour))
			tok, err := v.ParseWithClaims(token, &embeddedClaims{})
			require.NoError(t, err)

			first, err := e.ConsumeToken(tok)
			require.NoError(t, err)
			assert.True(t, first)
			first, err = e.ConsumeToken(tok)
			require.NoError(t, err)
			assert.False(t, first)

			key, err := TokenKey(tok)
			require.NoError(t, err)
			first, err = e.Consume(key, time.Now().Add(time.Hour))
			require.NoError(t, err)
			assert.False(t, first, "ConsumeToken and Consume(TokenKey) share the mark")

			_, err = v.Parse(token)
			assert.NoError(t, err, "consuming does not revoke")
		})
	}
	e := newTestEngine(t, Config{})
	_, err := e.ConsumeToken(nil)
	assert.ErrorIs(t, err, ErrEmptyKey)
	_, err = e.ConsumeToken(jwt.NewWithClaims(jwt.SigningMethodHS256, claims("a", "b", "", time.Hour)))
	assert.ErrorIs(t, err, ErrUnverifiedToken, "a token no parser verified")
}

// Finding (issue 10): when the observer (replication) failed, Consume
// returned false with the error although the mark was stored, so the
// caller's retry found its own mark and looked like reuse. Now first ==
// true comes with an error wrapping ErrNotPropagated: the call won.
func TestConsumeObserverFailsOnce(t *testing.T) {
	hs := algByName(t, "HS256")
	e := newTestEngine(t, Config{})
	v := hs.verifier(e)
	failures := 1
	e.SetObserver(func(Record) error {
		if failures > 0 {
			failures--
			return errors.New("stream unavailable")
		}
		return nil
	})
	tok, err := v.Parse(hs.sign(t, claims("auth", "alice", "refresh-1", time.Hour)))
	require.NoError(t, err)

	first, err := e.ConsumeToken(tok)
	assert.True(t, first, "the mark is stored: this call won")
	assert.ErrorIs(t, err, ErrNotPropagated)
	assert.ErrorContains(t, err, "stream unavailable")

	// The documented pattern: first == true is a win whatever err says, so
	// there is nothing to retry; a second use is a reuse.
	first, err = e.ConsumeToken(tok)
	require.NoError(t, err)
	assert.False(t, first, "a second use is a reuse")

	t.Run("Revoke and cutoffs", func(t *testing.T) {
		failures = 3
		err := e.Revoke("k", time.Now().Add(time.Hour))
		assert.ErrorIs(t, err, ErrNotPropagated)
		assert.True(t, e.IsRevoked("k"), "stored locally")
		err = e.RevokeSubject("auth", "alice", time.Now())
		assert.ErrorIs(t, err, ErrNotPropagated)
		time.Sleep(1100 * time.Millisecond)
		_, err = v.Parse(hs.sign(t, claims("auth", "alice", "", time.Hour)))
		assert.NoError(t, err, "a token issued after the cutoff")
		_, err = v.Parse(tok.Raw)
		assert.ErrorIs(t, err, ErrSubjectRevoked, "the cutoff holds locally although both records failed to propagate")
	})
}
