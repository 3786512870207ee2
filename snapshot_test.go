package revoke

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// liveRecords returns the records e holds, sorted by fingerprint.
func liveRecords(e *Engine) []record {
	var all []record
	e.walkLive(func(recs []record) { all = append(all, recs...) })
	slices.SortFunc(all, func(a, b record) int { return compareUint64(a.fp, b.fp) })
	return all
}

func compareUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// smallSnapshot returns an engine holding a few records of every kind and
// its snapshot.
func smallSnapshot(t *testing.T, n int) (*Engine, []byte) {
	t.Helper()
	e := openTest(t, Config{Shards: 16})
	exp := time.Now().Add(time.Hour)
	for i := range n {
		require.NoError(t, e.Revoke(fmt.Sprintf("key-%d", i), exp.Add(time.Duration(i)*time.Second)))
	}
	require.NoError(t, e.put(fingerprint(kindSubjectCutoff, "iss\x00sub"), uint32(exp.Unix()), 1234))
	var buf bytes.Buffer
	n64, err := e.WriteTo(&buf)
	require.NoError(t, err)
	require.Equal(t, int64(buf.Len()), n64)
	return e, buf.Bytes()
}

func readAllSnapshot(data []byte) ([]record, error) {
	var got []record
	_, _, err := readSnapshot(bytes.NewReader(data), "test-snapshot", func(recs []record) { got = append(got, recs...) })
	return got, err
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, snapshotBlockMax - 1, snapshotBlockMax, 3*snapshotBlockMax + 17} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			src, data := smallSnapshot(t, n)
			assert.Equal(t, snapshotHeaderSize+((n+1+snapshotBlockMax-1)/snapshotBlockMax)*snapshotBlockHeader+(n+1)*recordSize+snapshotTrailerSize, len(data))
			dst := openTest(t, Config{Shards: 16})
			m, err := dst.ReadFrom(bytes.NewReader(data))
			require.NoError(t, err)
			assert.Equal(t, int64(len(data)), m)
			assert.Equal(t, liveRecords(src), liveRecords(dst))
			assert.Equal(t, n+1, dst.Len())
		})
	}
}

func TestSnapshotSkipsExpired(t *testing.T) {
	e := openTest(t, Config{Shards: 16})
	require.NoError(t, e.put(fingerprint(kindKey, "gone"), uint32(time.Now().Add(-time.Minute).Unix()), 0))
	require.NoError(t, e.Revoke("live", time.Now().Add(time.Hour)))
	var buf bytes.Buffer
	_, err := e.WriteTo(&buf)
	require.NoError(t, err)
	got, err := readAllSnapshot(buf.Bytes())
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, fingerprint(kindKey, "live"), got[0].fp)
}

func TestSnapshotEveryBitFlipFails(t *testing.T) {
	_, data := smallSnapshot(t, 6)
	want, err := readAllSnapshot(data)
	require.NoError(t, err)
	require.Len(t, want, 7)
	for i := range data {
		for bit := range 8 {
			bad := bytes.Clone(data)
			bad[i] ^= 1 << bit
			got, err := readAllSnapshot(bad)
			require.Errorf(t, err, "flip of bit %d of byte %d went unnoticed (got %d records)", bit, i, len(got))
			if i >= 4 && i < 8 && !bytes.Equal(bad[4:8], []byte{0, 0, 0, 0}) {
				// Magic and version come before checksums: another
				// version reads as "written by a newer release".
				require.ErrorIs(t, err, ErrUnsupportedVersion)
				continue
			}
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), "test-snapshot at offset")
		}
	}
}

func TestSnapshotTruncationAndTrailingDataFail(t *testing.T) {
	_, data := smallSnapshot(t, 6)
	for cut := range len(data) {
		_, err := readAllSnapshot(data[:cut])
		require.ErrorIsf(t, err, ErrCorrupt, "cut at %d", cut)
	}
	_, err := readAllSnapshot(append(bytes.Clone(data), 0))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "data after the end")
}

func TestSnapshotRefusesUnknownVersion(t *testing.T) {
	_, data := smallSnapshot(t, 2)
	bad := bytes.Clone(data)
	binary.LittleEndian.PutUint32(bad[4:], 3)
	copy(bad[28:], le32(crc32c(bad[:28])))
	_, err := readAllSnapshot(bad)
	require.ErrorIs(t, err, ErrUnsupportedVersion)
	require.NotErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), "test-snapshot is a snapshot of version 3, this build reads version 2")
	// Before checksums: a newer release may checksum its header otherwise.
	binary.LittleEndian.PutUint32(bad[28:], 0)
	_, err = readAllSnapshot(bad)
	require.ErrorIs(t, err, ErrUnsupportedVersion)
}

func TestSnapshotHostileBlockLength(t *testing.T) {
	_, data := smallSnapshot(t, 2)
	bad := bytes.Clone(data)
	binary.LittleEndian.PutUint32(bad[snapshotHeaderSize:], 0xFFFFFFFF)
	_, err := readAllSnapshot(bad)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), fmt.Sprintf("offset %d: block of 4294967295 records", snapshotHeaderSize))
}

func TestReadFromJournalsWithDir(t *testing.T) {
	_, data := smallSnapshot(t, 10)
	dir := t.TempDir()
	e := openTest(t, durableConfig(dir))
	_, err := e.ReadFrom(bytes.NewReader(data))
	require.NoError(t, err)
	want := liveRecords(e)
	require.NoError(t, e.Close())
	e2 := openTest(t, durableConfig(copyDir(t, dir)))
	assert.Equal(t, want, liveRecords(e2))
}

func TestSnapshotFileAndRecovery(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, durableConfig(dir))
	exp := time.Now().Add(time.Hour)
	for i := range 100 {
		require.NoError(t, e.Revoke(fmt.Sprintf("a%d", i), exp))
	}
	require.NoError(t, e.Snapshot())
	for i := range 10 {
		require.NoError(t, e.Revoke(fmt.Sprintf("b%d", i), exp))
	}
	st := e.Stats()
	assert.Equal(t, uint64(1), st.Snapshots)
	assert.False(t, st.LastSnapshot.IsZero())
	assert.Equal(t, int64(journalHeaderIDSize+10*(journalFrameHead+recordSize)), st.JournalBytes)
	// The snapshot covers generation 1, which is gone; generation 2 holds b*.
	d, err := listDir(osFS{}, dir)
	require.NoError(t, err)
	assert.True(t, d.snapshot)
	assert.Equal(t, []uint64{2}, d.journals)
	want := liveRecords(e)

	// Crash (no Close): reopen a copy of the directory as it is.
	e2 := openTest(t, durableConfig(copyDir(t, dir)))
	assert.Equal(t, want, liveRecords(e2))
}

func TestRecoveryIgnoresLeftovers(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, durableConfig(dir))
	require.NoError(t, e.Revoke("k", time.Now().Add(time.Hour)))
	require.NoError(t, e.Snapshot())
	require.NoError(t, e.Close())
	session(t, dir, nil, false) // journal 3: what the rotation of the next snapshot starts
	// A crash between rename and removal leaves a covered journal, and a
	// crash while writing (after its rotation) leaves a temporary snapshot.
	require.NoError(t, os.WriteFile(filepath.Join(dir, snapshotTmpName), []byte("half a snapshot"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, journalName(1)), []byte("covered, never read"), 0o600))
	e2 := openTest(t, durableConfig(dir))
	assert.True(t, e2.IsRevoked("k"))
	d, err := listDir(osFS{}, dir)
	require.NoError(t, err)
	assert.False(t, d.tmp)
	assert.NotContains(t, d.journals, uint64(1))
}

func TestNewFailsClosedOnCorruptSnapshot(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, durableConfig(dir))
	require.NoError(t, e.Revoke("k", time.Now().Add(time.Hour)))
	require.NoError(t, e.Snapshot())
	require.NoError(t, e.Close())
	path := filepath.Join(dir, snapshotName)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[snapshotHeader2Size+snapshotBlockHeader] ^= 1
	require.NoError(t, os.WriteFile(path, data, 0o600))
	_, err = New(durableConfig(dir))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), fmt.Sprintf("%s at offset %d: block checksum mismatch", path, snapshotHeader2Size))
}

func TestSnapshotsDuringRevocations(t *testing.T) {
	dir := t.TempDir()
	cfg := durableConfig(dir)
	cfg.Sync = SyncNever // the OS has every record: a copy of the directory is a crash
	e := openTest(t, cfg)
	exp := time.Now().Add(time.Hour)
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
		stop  atomic.Bool
	)
	for g := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				k := fmt.Sprintf("g%d-%d", g, i)
				require.NoError(t, e.Revoke(k, exp))
				mu.Lock()
				acked = append(acked, k)
				mu.Unlock()
			}
		})
	}
	for range 10 {
		require.NoError(t, e.Snapshot())
	}
	stop.Store(true)
	wg.Wait()
	require.NotEmpty(t, acked)
	e2 := openTest(t, durableConfig(copyDir(t, dir)))
	requireRevoked(t, e2, acked)
	assert.Equal(t, len(acked), e2.Len())
}

func TestBackgroundSnapshots(t *testing.T) {
	t.Run("interval", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cfg := durableConfig(t.TempDir())
			cfg.SnapshotInterval = time.Minute
			e, err := New(cfg)
			require.NoError(t, err)
			defer e.Close()
			require.NoError(t, e.Revoke("k", time.Now().Add(time.Hour)))
			time.Sleep(time.Minute - time.Second)
			synctest.Wait()
			assert.Zero(t, e.Stats().Snapshots)
			time.Sleep(2 * time.Second)
			synctest.Wait()
			assert.Equal(t, uint64(1), e.Stats().Snapshots)
		})
	})
	t.Run("journal size", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			cfg := durableConfig(t.TempDir())
			cfg.Sync = SyncNever
			cfg.SnapshotJournalBytes = 1024
			e, err := New(cfg)
			require.NoError(t, err)
			defer e.Close()
			exp := time.Now().Add(time.Hour)
			for i := range 40 { // 40 frames of 32 bytes pass 1 KiB
				require.NoError(t, e.Revoke(fmt.Sprint(i), exp))
			}
			synctest.Wait()
			st := e.Stats()
			assert.GreaterOrEqual(t, st.Snapshots, uint64(1))
			assert.Less(t, st.JournalBytes, int64(1024))
		})
	})
}

func TestLargeRecoveryFilterHoldsEverything(t *testing.T) {
	// Past the size at which recovery builds the filter region by region.
	const n = 150_000
	dir := t.TempDir()
	e := openTest(t, durableConfig(dir))
	dl := uint32(time.Now().Add(time.Hour).Unix())
	fps := make([]uint64, n)
	for i := range fps {
		fps[i] = fingerprint(kindKey, fmt.Sprint("k", i))
		require.NoError(t, e.apply(record{fp: fps[i], deadline: dl}, true))
	}
	require.NoError(t, e.Snapshot())
	require.NoError(t, e.Close())

	e2 := openTest(t, durableConfig(dir))
	require.Equal(t, n, e2.Len())
	f := e2.filter.Load()
	assert.GreaterOrEqual(t, f.sizedFor, n)
	for _, fp := range fps {
		if !f.mayContain(fp) {
			require.Failf(t, "filter misses a recovered record", "fp %#x", fp)
		}
	}
	assert.Less(t, f.estimatedFPRate(), 0.02)
}

// TestDurabilityModel runs random revocations, cutoffs, single uses,
// snapshots, clean restarts and crashes (a copy of the directory as the OS
// holds it) against a plain map that merges as put does: after every
// restart the engine holds exactly the model's records.
func TestDurabilityModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	dir := t.TempDir()
	cfg := durableConfig(dir)
	cfg.Sync = SyncNever
	e, err := New(cfg)
	require.NoError(t, err)
	defer func() { _ = e.Close() }()
	model := map[uint64]record{}
	base := uint32(time.Now().Add(time.Hour).Unix())
	merge := func(r record) {
		old, ok := model[r.fp]
		if ok {
			r.deadline = max(r.deadline, old.deadline)
			r.value = max(r.value, old.value)
		}
		model[r.fp] = r
	}
	check := func(step int) {
		want := make([]record, 0, len(model))
		for _, r := range model {
			want = append(want, r)
		}
		slices.SortFunc(want, func(a, b record) int { return compareUint64(a.fp, b.fp) })
		require.Equalf(t, want, liveRecords(e), "step %d", step)
	}
	for step := range 600 {
		fp := uint64(rng.IntN(200) + 1)
		dl := base + uint32(rng.IntN(3600))
		switch op := rng.IntN(100); {
		case op < 50:
			require.NoError(t, e.put(fp, dl, 0))
			merge(record{fp: fp, deadline: dl})
		case op < 70:
			v := uint32(rng.IntN(1000))
			require.NoError(t, e.put(fp, dl, v))
			merge(record{fp: fp, deadline: dl, value: v})
		case op < 85:
			stored, err := e.putIfAbsent(fp, dl, 0)
			require.NoError(t, err)
			_, had := model[fp]
			require.Equal(t, !had, stored, "step %d", step)
			if stored {
				model[fp] = record{fp: fp, deadline: dl}
			}
		case op < 92:
			require.NoError(t, e.Snapshot())
		case op < 96:
			require.NoError(t, e.Close())
			e, err = New(cfg)
			require.NoError(t, err)
			check(step)
		default:
			cfg.Dir = copyDir(t, cfg.Dir) // a crash: what the OS holds now
			require.NoError(t, e.Close())
			e, err = New(cfg)
			require.NoError(t, err)
			check(step)
		}
	}
	check(-1)
}

func TestReadFromStopsAtMaxEntries(t *testing.T) {
	_, data := smallSnapshot(t, 10)
	dir := t.TempDir()
	cfg := durableConfig(dir)
	cfg.MaxEntries = 4
	e := openTest(t, cfg)
	_, err := e.ReadFrom(bytes.NewReader(data))
	require.ErrorIs(t, err, ErrFull)
	assert.Equal(t, 4, e.Len())
	want := liveRecords(e)
	require.NoError(t, e.Close())
	e2 := openTest(t, durableConfig(dir))
	assert.Equal(t, want, liveRecords(e2), "what ReadFrom applied before the cap is journaled")
}

func TestFailingBackgroundSnapshotsBackOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ffs := newFaultFS()
		cfg := durableConfig(t.TempDir())
		cfg.fs = ffs
		cfg.Sync = SyncNever
		cfg.SnapshotJournalBytes = 64 // every append is past the limit
		e, err := New(cfg)
		require.NoError(t, err)
		defer e.Close()
		ffs.arm("create") // rotation cannot create the next journal
		exp := time.Now().Add(time.Hour)
		for i := range 50 {
			require.NoError(t, e.Revoke(fmt.Sprint(i), exp), "a failed snapshot does not fail revocations")
			synctest.Wait()
		}
		assert.Equal(t, uint64(1), e.Stats().SnapshotFailures, "no retry before the delay")
		time.Sleep(snapshotRetryDelay)
		ffs.disarm("create")
		require.NoError(t, e.Revoke("after the delay", exp))
		synctest.Wait()
		st := e.Stats()
		assert.Equal(t, uint64(1), st.Snapshots, "retried after the delay")
		assert.Equal(t, uint64(1), st.SnapshotFailures)
	})
}
