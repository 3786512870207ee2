package revoke

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestEngine(t testing.TB, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func TestRecordIsSixteenPointerFreeBytes(t *testing.T) {
	assert.Equal(t, uintptr(recordSize), unsafe.Sizeof(record{}))
}

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"negative capacity", Config{Capacity: -1}, "Capacity"},
		{"negative max entries", Config{MaxEntries: -5}, "MaxEntries"},
		{"negative leeway", Config{Leeway: -time.Second}, "Leeway"},
		{"leeway over a day", Config{Leeway: 25 * time.Hour}, "Leeway"},
		{"negative max ttl", Config{MaxTTL: -time.Hour}, "MaxTTL"},
		{"max ttl over fifty years", Config{MaxTTL: 51 * 365 * 24 * time.Hour}, "MaxTTL"},
		{"shards not a power of two", Config{Shards: 3}, "Shards"},
		{"negative shards", Config{Shards: -4}, "Shards"},
		{"too many shards", Config{Shards: 1 << 17}, "Shards"},
		// Issue 13: these made New succeed and IsRevoked panic (a filter of
		// zero blocks), panicked in New, or died out of memory.
		{"capacity MaxInt", Config{Capacity: math.MaxInt}, "Capacity"},
		{"capacity 2^62", Config{Capacity: clampInt(1 << 62)}, "Capacity"},
		{"capacity 2^40", Config{Capacity: clampInt(1 << 40)}, "Capacity"},
		{"capacity just past the maximum", Config{Capacity: MaxCapacity + 1}, "Capacity"},
		{"max entries MaxInt", Config{MaxEntries: math.MaxInt}, "MaxEntries"},
		{"max entries 2^40", Config{MaxEntries: clampInt(1 << 40)}, "MaxEntries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(tt.cfg)
			require.Error(t, err)
			assert.Nil(t, e)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.field)
			assert.Contains(t, err.Error(), "revoke: ")
		})
	}
}

// TestInitialBytesIsCheckedAgainstTheAddressSpace: at MaxCapacity the
// tables and filter need more than a 32-bit int can count, so New refuses it
// there (where make would panic) and accepts it on 64-bit platforms; the
// sum is computed in 64 bits whatever the platform.
func TestInitialBytesIsCheckedAgainstTheAddressSpace(t *testing.T) {
	total, fits := initialBytes(MaxCapacity, maxShards)
	assert.Greater(t, total, uint64(math.MaxInt32))
	assert.Equal(t, strconv.IntSize == 64, fits)
	total, fits = initialBytes(DefaultCapacity, 16)
	assert.True(t, fits)
	assert.Equal(t, uint64(16*tableSlotsFor(DefaultCapacity/16)*recordSize+bloomWordsFor(DefaultCapacity)*8), total)
	if strconv.IntSize == 32 {
		_, err := New(Config{Capacity: MaxCapacity})
		assert.ErrorIs(t, err, ErrInvalidConfig)
		assert.ErrorContains(t, err, "Capacity")
	}
}

// clampInt is v, or math.MaxInt where an int cannot hold it (on 32-bit
// platforms).
func clampInt(v uint64) int { return int(min(v, math.MaxInt)) }

func TestNewFillsDefaults(t *testing.T) {
	e := newTestEngine(t, Config{})
	cfg := e.Config()
	assert.Equal(t, DefaultCapacity, cfg.Capacity)
	assert.Equal(t, DefaultMaxTTL, cfg.MaxTTL)
	assert.Equal(t, defaultShards(runtime.GOMAXPROCS(0)), cfg.Shards)
	assert.Zero(t, cfg.MaxEntries)
	assert.Zero(t, cfg.Leeway)

	e2 := newTestEngine(t, Config{Shards: 4, Capacity: 10})
	assert.Equal(t, 4, e2.Stats().Shards)
}

func TestDefaultShards(t *testing.T) {
	for procs, want := range map[int]int{1: 16, 2: 32, 3: 64, 8: 128, 64: 1024, 1000: 1024} {
		assert.Equal(t, want, defaultShards(procs), "GOMAXPROCS=%d", procs)
	}
}

func TestRevokeErrors(t *testing.T) {
	e := newTestEngine(t, Config{MaxTTL: time.Hour})
	now := time.Now()

	require.ErrorIs(t, e.Revoke("", now.Add(time.Minute)), ErrEmptyKey)

	err := e.Revoke("far", now.Add(2*time.Hour))
	require.ErrorIs(t, err, ErrTTLTooLong)
	assert.Contains(t, err.Error(), "MaxTTL")
	assert.False(t, e.IsRevoked("far"))

	// Already expired: a no-op, not an error.
	require.NoError(t, e.Revoke("past", now.Add(-time.Second)))
	assert.False(t, e.IsRevoked("past"))
	assert.Zero(t, e.Len())

	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "Close is idempotent")
	require.ErrorIs(t, e.Revoke("late", now.Add(time.Minute)), ErrClosed)
	require.ErrorIs(t, e.Revoke("late", now.Add(-time.Minute)), ErrClosed, "closed wins over the no-op")
}

func TestRevokeIsIdempotentAndOnlyExtends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEngine(t, Config{})
		start := time.Now()
		require.NoError(t, e.Revoke("k", start.Add(10*time.Second)))
		require.NoError(t, e.Revoke("k", start.Add(10*time.Second)))
		require.NoError(t, e.Revoke("k", start.Add(5*time.Second)), "an earlier expiry is accepted")
		assert.Equal(t, 1, e.Len())

		time.Sleep(8 * time.Second)
		synctest.Wait()
		assert.True(t, e.IsRevoked("k"), "an earlier expiry never shortens the entry")

		require.NoError(t, e.Revoke("k", start.Add(20*time.Second)))
		time.Sleep(4 * time.Second) // t = 12 s
		synctest.Wait()
		assert.True(t, e.IsRevoked("k"), "a later expiry extends the entry")
		assert.Equal(t, 1, e.Len())

		time.Sleep(9 * time.Second) // t = 21 s
		synctest.Wait()
		assert.False(t, e.IsRevoked("k"))
		assert.Zero(t, e.Len())
	})
}

func TestIsRevokedAfterClose(t *testing.T) {
	e := newTestEngine(t, Config{})
	require.NoError(t, e.Revoke("k", time.Now().Add(time.Hour)))
	require.NoError(t, e.Close())
	assert.True(t, e.IsRevoked("k"))
	assert.False(t, e.IsRevoked("other"))
}

func TestExpiryWithinASecondOfDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEngine(t, Config{Leeway: 3 * time.Second})
		start := time.Now()
		// A fractional expiry: the deadline is 10.5 s + 3 s leeway.
		require.NoError(t, e.Revoke("k", start.Add(10500*time.Millisecond)))

		time.Sleep(13400 * time.Millisecond) // just before the deadline
		synctest.Wait()
		assert.True(t, e.IsRevoked("k"), "revoked until expiry + leeway")

		time.Sleep(1100 * time.Millisecond) // 1 s after the deadline, at most
		synctest.Wait()
		assert.False(t, e.IsRevoked("k"))
		assert.Zero(t, e.Len())
		assert.EqualValues(t, 1, e.Stats().Evictions)
	})
}

func TestMassExpiryReturnsMemoryToBaseline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEngine(t, Config{Capacity: 1024, Shards: 16})
		baseline := e.Stats()

		const n = 200_000
		exp := time.Now().Add(5 * time.Second)
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("token-%d", i)
			require.NoError(t, e.Revoke(keys[i], exp))
		}
		full := e.Stats()
		assert.Equal(t, n, full.Entries)
		assert.Greater(t, full.Bytes, 10*baseline.Bytes)

		time.Sleep(7 * time.Second)
		synctest.Wait()
		assert.Zero(t, e.Len())
		for _, k := range keys[:1000] {
			require.False(t, e.IsRevoked(k))
		}
		after := e.Stats()
		assert.EqualValues(t, n, after.Evictions)
		assert.Equal(t, baseline.Bytes, after.Bytes, "tables, wheels and filter back to their initial size")
		assert.Equal(t, baseline.FilterBytes, after.FilterBytes)
		assert.GreaterOrEqual(t, after.FilterRebuilds, uint64(1))
	})
}

func TestBackwardClockStepNeverEvictsEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEngine(t, Config{})
		start := time.Now()
		require.NoError(t, e.Revoke("k", start.Add(10*time.Second)))

		// The wheel has reached t+5; a tick from a clock stepped back by
		// an hour must neither evict nor move the wheel backwards.
		time.Sleep(5 * time.Second)
		synctest.Wait()
		buf := make([]uint64, 0, expireBatch)
		e.tick(start.Add(-time.Hour), buf)
		assert.True(t, e.IsRevoked("k"))
		assert.Equal(t, 1, e.Len())

		// The coarse clock now says an hour ago: hits stay revoked.
		assert.True(t, e.IsRevoked("k"))

		// A coarse clock ahead of the wall clock (a tick read the clock
		// just before it stepped back) must not make a live record look
		// dead: live falls back to time.Now.
		e.clock.Store(start.Add(time.Hour).Unix())
		assert.True(t, e.IsRevoked("k"))

		time.Sleep(6 * time.Second)
		synctest.Wait()
		assert.False(t, e.IsRevoked("k"))
		assert.Zero(t, e.Len())
	})
}

func TestCloseStopsEveryGoroutine(t *testing.T) {
	// synctest.Test fails if a goroutine started in the bubble outlives
	// the test function: Close must stop the ticker and any rebuild.
	synctest.Test(t, func(t *testing.T) {
		e, err := New(Config{Capacity: 16})
		require.NoError(t, err)
		for i := range 5000 {
			require.NoError(t, e.Revoke(fmt.Sprint(i), time.Now().Add(time.Minute)))
		}
		time.Sleep(1500 * time.Millisecond) // a tick, which starts a filter rebuild
		require.NoError(t, e.Close())
	})
}

func TestMaxEntriesRefusesWithoutEvicting(t *testing.T) {
	e := newTestEngine(t, Config{MaxEntries: 100, Capacity: 10})
	exp := time.Now().Add(time.Hour)
	for i := range 100 {
		require.NoError(t, e.Revoke(fmt.Sprint("k", i), exp))
	}
	err := e.Revoke("one too many", exp)
	require.ErrorIs(t, err, ErrFull)
	assert.Contains(t, err.Error(), "100")
	assert.False(t, e.IsRevoked("one too many"))
	assert.Equal(t, 100, e.Len())
	for i := range 100 {
		require.True(t, e.IsRevoked(fmt.Sprint("k", i)), "nothing stored is lost at the cap")
	}
	// Extending an entry needs no room.
	require.NoError(t, e.Revoke("k7", exp.Add(time.Minute)))
}

func TestMaxEntriesHoldsUnderConcurrency(t *testing.T) {
	e := newTestEngine(t, Config{MaxEntries: 1000, Capacity: 64})
	exp := time.Now().Add(time.Hour)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				err := e.Revoke(fmt.Sprintf("g%d-%d", g, i), exp)
				if err == nil {
					ok.Add(1)
				} else if !errors.Is(err, ErrFull) {
					t.Errorf("unexpected error %v", err)
				}
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1000, ok.Load())
	assert.Equal(t, 1000, e.Len())
}

func TestIsRevokedDoesNotAllocate(t *testing.T) {
	e := newTestEngine(t, Config{})
	require.NoError(t, e.Revoke("revoked-key", time.Now().Add(time.Hour)))
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = e.IsRevoked("revoked-key") }), "hit")
	assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = e.IsRevoked("not-revoked-key") }), "miss")
}

// TestModelAgainstMapReference runs random revocations, checks and passing
// time against a plain map of deadlines and requires the same answer to every
// question, Len included.
func TestModelAgainstMapReference(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { runModel(t, seed) })
		})
	}
}

func runModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	leeway := time.Duration(rng.IntN(3)) * time.Second
	e := newTestEngine(t, Config{Capacity: 8, Shards: 4, Leeway: leeway, MaxEntries: 400, MaxTTL: time.Minute})
	ref := map[string]int64{} // key -> deadline second
	refLive := func(now int64) int {
		n := 0
		for _, d := range ref {
			if d > now {
				n++
			}
		}
		return n
	}
	keys := make([]string, 600)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%d", i)
	}
	for step := range 4000 {
		now := time.Now()
		key := keys[rng.IntN(len(keys))]
		switch op := rng.IntN(100); {
		case op < 45: // revoke with an expiry from 2 s ago to 40 s ahead
			exp := now.Add(time.Duration(rng.IntN(42_000)-2_000) * time.Millisecond)
			err := e.Revoke(key, exp)
			end := exp.Add(leeway)
			if !now.Before(end) {
				require.NoError(t, err, "step %d: a past expiry is a no-op", step)
				continue
			}
			d := deadlineSeconds(end)
			if old, held := ref[key]; held && old > now.Unix() || refLive(now.Unix()) < 400 {
				require.NoError(t, err, "step %d", step)
				ref[key] = max(ref[key], d)
			} else {
				require.ErrorIs(t, err, ErrFull, "step %d", step)
			}
		case op < 50: // out-of-range expiry is refused and changes nothing
			require.ErrorIs(t, e.Revoke(key, now.Add(2*time.Minute)), ErrTTLTooLong)
		case op < 95:
			want := ref[key] > now.Unix()
			require.Equal(t, want, e.IsRevoked(key), "step %d key %s", step, key)
		default: // let time pass, sometimes across several ticks
			time.Sleep(time.Duration(rng.IntN(3000)) * time.Millisecond)
			synctest.Wait()
			now := time.Now().Unix()
			for k, d := range ref {
				if d <= now {
					delete(ref, k)
				}
			}
			require.Equal(t, len(ref), e.Len(), "step %d: Len after the tick", step)
		}
	}
}

// TestConcurrentRevokeIsSeenByEveryone revokes from many goroutines while
// shards grow, the wheel expires short-lived entries and filter rebuilds run
// back to back, and checks that every key whose Revoke returned is revoked
// for every reader.
func TestConcurrentRevokeIsSeenByEveryone(t *testing.T) {
	e := newTestEngine(t, Config{Capacity: 16, Shards: 4})
	const writers, perWriter, readers = 4, 4000, 2
	var published [writers]atomic.Int64 // how many keys of each writer are acknowledged
	key := func(w, i int) string { return fmt.Sprintf("w%d-%d", w, i) }
	long := time.Now().Add(time.Hour)

	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() { // filter rebuilds, back to back
		for {
			select {
			case <-stop:
				return
			default:
				e.rebuildFilter()
				runtime.Gosched()
			}
		}
	})
	bg.Go(func() { // expiry ticks of short-lived entries
		buf := make([]uint64, 0, expireBatch)
		for {
			select {
			case <-stop:
				return
			default:
				_ = e.Revoke(fmt.Sprint("short", rand.Int()), time.Now().Add(time.Millisecond))
				e.tick(time.Now().Add(2*time.Second), buf)
			}
		}
	})

	var failures atomic.Int64
	var rd sync.WaitGroup
	for r := range readers {
		rd.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				w := rng.IntN(writers)
				runtime.Gosched() // leave the two cores to the writers too
				if n := published[w].Load(); n > 0 {
					if i := rng.IntN(int(n)); !e.IsRevoked(key(w, i)) {
						failures.Add(1)
					}
				}
			}
		})
	}
	var wr sync.WaitGroup
	for w := range writers {
		wr.Go(func() {
			for i := range perWriter {
				if err := e.Revoke(key(w, i), long); err != nil {
					t.Errorf("Revoke: %v", err)
					return
				}
				published[w].Store(int64(i + 1))
			}
		})
	}
	wr.Wait()
	close(stop)
	rd.Wait()
	bg.Wait()

	assert.Zero(t, failures.Load(), "acknowledged revocations seen as not revoked")
	for w := range writers {
		for i := range perWriter {
			require.True(t, e.IsRevoked(key(w, i)))
		}
	}
	assert.GreaterOrEqual(t, e.Len(), writers*perWriter)
	assert.Greater(t, e.Stats().FilterRebuilds, uint64(0))
}

func TestStats(t *testing.T) {
	e := newTestEngine(t, Config{Capacity: 1000, Shards: 16})
	for i := range 500 {
		require.NoError(t, e.Revoke(fmt.Sprint(i), time.Now().Add(time.Hour)))
	}
	st := e.Stats()
	assert.Equal(t, 500, st.Entries)
	assert.Equal(t, 16, st.Shards)
	assert.Equal(t, 256*8, st.FilterBytes, "12 bits an entry rounded up to a power of two words: 12000 bits, 188 words, 256")
	assert.Greater(t, st.FilterFalsePositiveRate, 0.0)
	assert.Less(t, st.FilterFalsePositiveRate, 0.01)
	assert.Greater(t, st.Bytes, st.FilterBytes+1000*recordSize)
}

// TestDeadlinePast2106IsRefused: a record holds its deadline in 32 bits of
// Unix seconds. Once the clock plus MaxTTL passes early 2106, deadlineFor
// used to wrap such a deadline around to 1970 (a revocation forgotten at
// once); it must refuse it with ErrTTLTooLong instead, on the coarse-clock
// path and on the wall-clock path alike.
func TestDeadlinePast2106IsRefused(t *testing.T) {
	e, err := newEngine(Config{MaxTTL: maxMaxTTL})
	require.NoError(t, err)
	last := time.Unix(maxDeadline, 0)
	tests := []struct {
		name    string
		clock   time.Time // the engine's coarse clock
		expires time.Time
		want    uint32
		err     error
	}{
		{"the last second a record holds", last.Add(-40 * 365 * 24 * time.Hour), last, maxDeadline, nil},
		{"one second later, coarse path", last.Add(-40 * 365 * 24 * time.Hour), last.Add(time.Second), 0, ErrTTLTooLong},
		{"a fraction later rounds up past it", last.Add(-40 * 365 * 24 * time.Hour), last.Add(time.Millisecond), 0, ErrTTLTooLong},
		{"a year later, coarse path", last.Add(-40 * 365 * 24 * time.Hour), last.Add(365 * 24 * time.Hour), 0, ErrTTLTooLong},
		{"a year later, wall-clock path", time.Now(), last.Add(365 * 24 * time.Hour), 0, ErrTTLTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Store(tt.clock.Unix())
			d, err := e.deadlineFor(tt.expires)
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
				assert.Zero(t, d)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, d)
		})
	}
}

// TestDeadlineExtensionsKeepOneWheelEntry: every extension of a held
// record's deadline used to add a wheel entry, carried until the record
// finally expired (200,000 extensions held 200,000 entries, 1.6 MB, for one
// live record). Memory must be what one record costs, and the record must
// still expire at its last deadline and not before.
func TestDeadlineExtensionsKeepOneWheelEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{Capacity: 1024, Shards: 16}
		one := newTestEngine(t, cfg)
		require.NoError(t, one.Revoke("other", time.Now().Add(time.Hour)))
		e := newTestEngine(t, cfg)

		const extensions = 200_000
		start := time.Now()
		var last time.Time
		for i := range extensions {
			// Ten minutes ahead and one second more each time; the clock
			// moves a second every 100 extensions, so the wheel examines
			// the record at its first deadlines and reschedules it.
			last = start.Add(10*time.Minute + time.Duration(i)*time.Second)
			require.NoError(t, e.Revoke("held", last))
			if i%100 == 99 {
				time.Sleep(time.Second)
			}
		}
		synctest.Wait()
		st := e.Stats()
		assert.Equal(t, 1, st.Entries)
		assert.Equal(t, one.Stats().Bytes, st.Bytes, "one record's cost")
		wheelEntries := 0
		for i := range e.shards {
			e.shards[i].mu.RLock()
			wheelEntries += e.shards[i].wheel.entries
			e.shards[i].mu.RUnlock()
		}
		assert.Equal(t, 1, wheelEntries)

		time.Sleep(time.Until(last) - time.Second)
		synctest.Wait()
		assert.True(t, e.IsRevoked("held"), "not evicted before its last deadline")
		time.Sleep(2 * time.Second)
		synctest.Wait()
		assert.False(t, e.IsRevoked("held"))
		assert.Zero(t, e.Len())
	})
}

// TestReplayedExtensionsKeepOneWheelEntry: journal replay merges records as
// live revocations do, so 200,000 journaled extensions of one record replay
// into one record and one wheel entry.
func TestReplayedExtensionsKeepOneWheelEntry(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Capacity: 1024, Shards: 16, Sync: SyncNever, SnapshotInterval: -1, SnapshotJournalBytes: -1}
	one := newTestEngine(t, cfg)
	require.NoError(t, one.Revoke("other", time.Now().Add(time.Hour)))

	withDir := cfg
	withDir.Dir = dir
	e, err := New(withDir)
	require.NoError(t, err)
	start := time.Now()
	const extensions = 200_000
	for i := range extensions {
		require.NoError(t, e.Revoke("held", start.Add(time.Hour+time.Duration(i)*time.Second)))
	}
	require.NoError(t, e.Close())
	matches, err := filepath.Glob(filepath.Join(dir, "journal-*"))
	require.NoError(t, err)
	require.NotEmpty(t, matches)

	e = newTestEngine(t, withDir)
	st := e.Stats()
	assert.Equal(t, 1, st.Entries)
	assert.Equal(t, one.Stats().Bytes, st.Bytes, "one record's cost")
	r, ok := e.lookup(fingerprint(kindKey, "held"))
	require.True(t, ok)
	assert.Equal(t, uint32(deadlineSeconds(start.Add(time.Hour+(extensions-1)*time.Second))), r.deadline)
}
