package revoke

import (
	"errors"
	"fmt"
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
