package revoke

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestObserverSeesLocalRecordsOnly(t *testing.T) {
	a := newTestEngine(t, Config{})
	b := newTestEngine(t, Config{})
	var mu sync.Mutex
	var seen []Record
	a.SetObserver(func(r Record) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r)
		return nil
	})
	b.SetObserver(func(r Record) error {
		t.Errorf("b echoed an applied record: %+v", r)
		return nil
	})

	exp := time.Now().Add(time.Hour)
	require.NoError(t, a.Revoke("k", exp))
	require.NoError(t, a.Revoke("gone", time.Now().Add(-time.Minute)), "a no-op is not observed")
	require.Len(t, seen, 1)
	assert.Equal(t, fingerprint(kindKey, "k"), seen[0].Fingerprint)
	assert.Equal(t, deadlineSeconds(exp), seen[0].Deadline)

	require.NoError(t, b.Apply(seen[0]))
	assert.True(t, b.IsRevoked("k"), "a replica that applies the record revokes the key")
	require.NoError(t, b.Apply(seen[0]), "applying twice is harmless")
	assert.Equal(t, 1, b.Len())
}

func TestObserverErrorIsReturnedAndRecordKept(t *testing.T) {
	e := newTestEngine(t, Config{})
	boom := errors.New("queue full")
	e.SetObserver(func(Record) error { return boom })
	err := e.Revoke("k", time.Now().Add(time.Hour))
	require.ErrorIs(t, err, boom)
	assert.True(t, e.IsRevoked("k"), "more revoked, never less")

	e.SetObserver(nil)
	require.NoError(t, e.Revoke("k2", time.Now().Add(time.Hour)))
}

func TestApplyIsCommutativeAndIdempotent(t *testing.T) {
	now := time.Now().Unix()
	recs := []Record{
		{Fingerprint: 11, Deadline: now + 100, Value: 0},
		{Fingerprint: 11, Deadline: now + 300, Value: 5},
		{Fingerprint: 11, Deadline: now + 200, Value: 9},
		{Fingerprint: 12, Deadline: now + 50},
	}
	orders := [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 3, 0, 2, 1, 0}}
	for _, order := range orders {
		t.Run(fmt.Sprint(order), func(t *testing.T) {
			e := newTestEngine(t, Config{})
			for _, i := range order {
				require.NoError(t, e.Apply(recs[i]))
			}
			r, ok := e.lookup(11)
			require.True(t, ok)
			assert.EqualValues(t, now+300, r.deadline, "the later deadline wins")
			assert.EqualValues(t, 9, r.value, "the larger value wins")
			assert.Equal(t, 2, e.Len())
		})
	}
}

func TestApplyRejectsAndSkips(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEngine(t, Config{})
		now := time.Now().Unix()
		for _, r := range []Record{
			{Fingerprint: 0, Deadline: now + 10},
			{Fingerprint: 1, Deadline: 0},
			{Fingerprint: 1, Deadline: maxDeadline + 1},
		} {
			require.ErrorIs(t, e.Apply(r), ErrInvalidRecord, "%+v", r)
		}
		require.NoError(t, e.Apply(Record{Fingerprint: 5, Deadline: now}), "an expired record is skipped")
		assert.Zero(t, e.Len())
		require.NoError(t, e.Close())
		require.ErrorIs(t, e.Apply(Record{Fingerprint: 5, Deadline: now + 10}), ErrClosed)
	})
}

// A record from elsewhere is held as long as this engine's own Verifier
// could accept what it covers: the sender's deadline plus this engine's
// Leeway, and a cutoff at least until its second + 1 + this engine's MaxTTL
// + Leeway. A millis record's value (at most 2^30) is never read as a
// cutoff second.
func TestApplyHoldsRecordsForThisEnginesVerifier(t *testing.T) {
	e := newTestEngine(t, Config{Leeway: 90 * time.Second, MaxTTL: 2 * time.Hour})
	now := time.Now().Unix()
	for _, c := range []struct {
		name            string
		deadline, value int64
		want            int64
	}{
		{"a revocation: the sender's deadline plus this Leeway", now + 600, 0, now + 600 + 90},
		{"a cutoff made with a shorter MaxTTL", now - 60 + 1 + 3600, now - 60, now - 60 + 1 + 7200 + 90},
		{"a cutoff made with a longer MaxTTL keeps its own deadline", now + 1 + 10*3600, now, now + 1 + 10*3600 + 90},
		{"a millis record is not a cutoff second", now + 600, maxMillisValue, now + 600 + 90},
		{"capped at the last second a record holds", maxDeadline - 10, 0, maxDeadline},
		{"a value far in the future is no cutoff: no extension to 2106", now + 600, math.MaxUint32, now + 600 + 90},
		{"a cutoff second past now + Leeway is not extended", now + 600, now + 91, now + 600 + 90},
	} {
		assert.Equal(t, c.want, e.heldLocally(c.deadline, uint32(c.value)), c.name)
	}

	// Applied, the record is stored with that deadline; one whose sender's
	// deadline has just passed is still within this engine's Leeway.
	fp := fingerprint(kindKey, "just-expired-on-the-sender")
	require.NoError(t, e.Apply(Record{Fingerprint: fp, Deadline: now - 1}))
	r, ok := e.lookup(fp)
	require.True(t, ok, "still within this engine's Leeway")
	assert.EqualValues(t, now-1+90, r.deadline)
}
