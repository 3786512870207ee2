package revoke

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// faultFS is the operating system's file system with failures on demand:
// tests arm an operation and the next calls of it fail.
type faultFS struct {
	osFS
	mu sync.Mutex
	// armed maps an operation (write, partial-write, seal-write, sync,
	// rename, syncdir, create) to the error it returns while armed.
	armed map[string]error
}

var errInjected = errors.New("injected failure")

func newFaultFS() *faultFS { return &faultFS{armed: map[string]error{}} }

func (f *faultFS) arm(op string) {
	f.mu.Lock()
	f.armed[op] = fmt.Errorf("%s: %w", op, errInjected)
	f.mu.Unlock()
}
func (f *faultFS) disarm(op string) { f.mu.Lock(); delete(f.armed, op); f.mu.Unlock() }

func (f *faultFS) check(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.armed[op]
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	if flag&os.O_CREATE != 0 {
		if err := f.check("create"); err != nil {
			return nil, err
		}
	}
	fl, err := f.osFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{file: fl, fs: f}, nil
}

func (f *faultFS) Rename(oldpath, newpath string) error {
	if err := f.check("rename"); err != nil {
		return err
	}
	return f.osFS.Rename(oldpath, newpath)
}

func (f *faultFS) SyncDir(dir string) error {
	if err := f.check("syncdir"); err != nil {
		return err
	}
	return f.osFS.SyncDir(dir)
}

type faultFile struct {
	file
	fs *faultFS
}

func (f *faultFile) Write(b []byte) (int, error) {
	if err := f.fs.check("write"); err != nil {
		return 0, err
	}
	if err := f.fs.check("seal-write"); err != nil && len(b) == journalFrameHead {
		return 0, err // only a journal's seal is 16 bytes long
	}
	if err := f.fs.check("partial-write"); err != nil {
		n, _ := f.file.Write(b[:len(b)/2])
		return n, err
	}
	return f.file.Write(b)
}

func (f *faultFile) Sync() error {
	if err := f.fs.check("sync"); err != nil {
		return err
	}
	return f.file.Sync()
}

// durableConfig is a test configuration of an engine in dir that takes
// snapshots only when asked.
func durableConfig(dir string) Config {
	return Config{Dir: dir, Shards: 16, SnapshotInterval: -1, SnapshotJournalBytes: -1}
}

func openTest(t *testing.T, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func requireRevoked(t *testing.T, e *Engine, keys []string) {
	t.Helper()
	for _, k := range keys {
		require.Truef(t, e.IsRevoked(k), "acknowledged key %q is not revoked after reopening", k)
	}
}

func TestJournalReplay(t *testing.T) {
	for _, policy := range []SyncPolicy{SyncAlways, SyncEvery, SyncNever} {
		t.Run(policy.String(), func(t *testing.T) {
			dir := t.TempDir()
			cfg := durableConfig(dir)
			cfg.Sync = policy
			e := openTest(t, cfg)
			exp := time.Now().Add(time.Hour)
			var keys []string
			for i := range 50 {
				k := fmt.Sprintf("key-%d", i)
				require.NoError(t, e.Revoke(k, exp))
				keys = append(keys, k)
			}
			// A deadline extended later must survive too.
			require.NoError(t, e.Revoke("key-0", exp.Add(time.Hour)))
			require.NoError(t, e.Close())

			e2 := openTest(t, cfg)
			requireRevoked(t, e2, keys)
			assert.Equal(t, 50, e2.Len())
			r, ok := e2.lookup(fingerprint(kindKey, "key-0"))
			require.True(t, ok)
			assert.Equal(t, uint32(deadlineSeconds(exp.Add(time.Hour))), r.deadline)
			assert.False(t, e2.IsRevoked("key-50"))
		})
	}
}

func TestJournalSkipsExpiredOnReplay(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, durableConfig(dir))
	// Write records directly: one long past, one live.
	require.NoError(t, e.put(fingerprint(kindKey, "old"), uint32(time.Now().Add(-time.Hour).Unix()), 0))
	require.NoError(t, e.Revoke("live", time.Now().Add(time.Hour)))
	require.NoError(t, e.Close())

	e2 := openTest(t, durableConfig(dir))
	assert.Equal(t, 1, e2.Len(), "the expired record must not be loaded")
	assert.True(t, e2.IsRevoked("live"))
}

// journalBytes returns the journal of generation 1 after revoking n keys
// one frame each, and the offsets at which each frame ends.
func journalBytes(t *testing.T, n int) ([]byte, []int) {
	t.Helper()
	var buf bytes.Buffer
	h := journalHeader(1, 1700000000)
	buf.Write(h[:])
	var ends []int
	for i := range n {
		var frame []byte
		j := &journal{frameAt: -1}
		recs := make([]record, i%3+1) // frames of 1..3 records
		for k := range recs {
			recs[k] = record{fp: uint64(i*10 + k + 1), deadline: uint32(2000000000 + i), value: uint32(k)}
		}
		j.appendLocked(recs)
		frame = j.pending
		sealFrames(frame, genSeed(1))
		buf.Write(frame)
		ends = append(ends, buf.Len())
	}
	return buf.Bytes(), ends
}

func readAllJournal(data []byte) (journalInfo, []record, error) {
	var got []record
	info, err := readJournal(bytes.NewReader(data), int64(len(data)), "test-journal", 1, func(recs []record) {
		got = append(got, recs...)
	})
	return info, got, err
}

func TestJournalTornTailEveryByte(t *testing.T) {
	data, ends := journalBytes(t, 12)
	_, all, err := readAllJournal(data)
	require.NoError(t, err)
	for cut := 0; cut <= len(data); cut++ {
		info, got, err := readAllJournal(data[:cut])
		require.NoErrorf(t, err, "truncated at %d", cut)
		// The complete records are those of every frame ending at or
		// before cut.
		want := 0
		end := int64(0)
		if cut >= journalHeaderSize {
			end = journalHeaderSize
		}
		for i, e := range ends {
			if e <= cut {
				want += i%3 + 1
				end = int64(e)
			}
		}
		require.Equalf(t, want, len(got), "truncated at %d", cut)
		if want > 0 {
			require.Equalf(t, all[:want], got, "truncated at %d", cut)
		}
		assert.Equalf(t, end, info.end, "truncated at %d", cut)
		// A file without a complete header is torn as a whole.
		assert.Equalf(t, int64(cut) != end || cut < journalHeaderSize, info.torn, "truncated at %d", cut)
	}
}

func TestJournalBitFlipInMiddleIsCorruption(t *testing.T) {
	data, ends := journalBytes(t, 8)
	// Every bit of the header and of every frame but the last: a valid
	// frame follows each, so each flip must be reported, never trimmed.
	last := ends[len(ends)-2]
	for i := 0; i < last; i++ {
		for bit := range 8 {
			bad := bytes.Clone(data)
			bad[i] ^= 1 << bit
			_, _, err := readAllJournal(bad)
			require.Errorf(t, err, "flip of bit %d of byte %d went unnoticed", bit, i)
			if i >= 4 && i < 8 && !bytes.Equal(bad[4:8], []byte{0, 0, 0, 0}) {
				require.ErrorIs(t, err, ErrUnsupportedVersion) // version before checksums
				continue
			}
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), "test-journal at offset")
		}
	}
}

func TestJournalFlipInLastFrameIsTrimmed(t *testing.T) {
	data, ends := journalBytes(t, 4)
	bad := bytes.Clone(data)
	bad[len(bad)-1] ^= 1
	info, got, err := readAllJournal(bad)
	require.NoError(t, err)
	assert.True(t, info.torn)
	assert.Equal(t, int64(ends[2]), info.end)
	assert.Len(t, got, 1+2+3)
}

func TestJournalRefusesUnknownVersionAndForeignGeneration(t *testing.T) {
	data, _ := journalBytes(t, 2)
	t.Run("version", func(t *testing.T) {
		bad := bytes.Clone(data)
		bad[4] = 2
		copy(bad[28:], le32(crc32c(bad[:28])))
		_, _, err := readAllJournal(bad)
		require.ErrorIs(t, err, ErrUnsupportedVersion)
		require.NotErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "test-journal is a journal of version 2, this build reads version 1")
		// Before checksums, and whatever the length: never a torn tail.
		for _, cut := range []int{8, journalHeaderSize, len(bad)} {
			b := bytes.Clone(bad[:cut])
			if cut >= journalHeaderSize {
				binary.LittleEndian.PutUint32(b[28:], 0) // a header CRC that fails
			}
			_, _, err = readAllJournal(b)
			require.ErrorIsf(t, err, ErrUnsupportedVersion, "cut at %d", cut)
		}
	})
	t.Run("header flags", func(t *testing.T) {
		bad := bytes.Clone(data)
		bad[24] |= 4 // bits 0 and 1 are known
		copy(bad[28:], le32(crc32c(bad[:28])))
		_, _, err := readAllJournal(bad)
		require.ErrorIs(t, err, ErrUnsupportedVersion)
		bad[27] ^= 1 // without a matching CRC: damage
		_, _, err = readAllJournal(bad)
		require.ErrorIs(t, err, ErrCorrupt)
	})
	t.Run("generation", func(t *testing.T) {
		_, err := readJournal(bytes.NewReader(data), int64(len(data)), "j", 7, func([]record) {})
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "generation 0000000000000001 in a file named for generation 0000000000000007")
	})
}

func TestNewTrimsTornTailAndKeepsGoing(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, durableConfig(dir))
	exp := time.Now().Add(time.Hour)
	for i := range 10 {
		require.NoError(t, e.Revoke(fmt.Sprintf("k%d", i), exp))
	}
	require.NoError(t, e.Close())
	path := filepath.Join(dir, journalName(1))
	unsealed(t, path) // a crash, not a Close
	st, err := os.Stat(path)
	require.NoError(t, err)
	// Half a frame at the end, as a crash mid-append leaves it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte("RVKF\x01\x00\x00\x00garbage"))
	require.NoError(t, err)
	require.NoError(t, f.Close())

	e2 := openTest(t, durableConfig(dir))
	assert.Equal(t, 10, e2.Len())
	st2, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, st.Size()+journalFrameHead, st2.Size(), "the torn tail is trimmed from the file, which is sealed")
	require.NoError(t, e2.Revoke("after", exp))
	require.NoError(t, e2.Close())
	e3 := openTest(t, durableConfig(dir))
	assert.Equal(t, 11, e3.Len())
}

func TestNewFailsClosedOnCorruptJournal(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, durableConfig(dir))
	for i := range 10 {
		require.NoError(t, e.Revoke(fmt.Sprintf("k%d", i), time.Now().Add(time.Hour)))
	}
	require.NoError(t, e.Close())
	path := filepath.Join(dir, journalName(1))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[journalHeaderIDSize+journalFrameHead+3] ^= 0x10 // a record of the first frame
	require.NoError(t, os.WriteFile(path, data, 0o600))

	_, err = New(durableConfig(dir))
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), fmt.Sprintf("%s at offset %d", path, journalHeaderIDSize))
}

func TestGroupCommitAllDurable(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, durableConfig(dir))
	const goroutines, each = 32, 20
	exp := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				assert.NoError(t, e.Revoke(fmt.Sprintf("g%d-%d", g, i), exp))
			}
		})
	}
	wg.Wait()
	// Simulate a crash: read the directory as it is, without Close.
	crashDir := copyDir(t, dir)
	info, recs := 0, 0
	_, err := loadDir(osFS{}, crashDir, func(r []record) { recs += len(r) }, func(f FileReport) { info += f.Frames })
	require.NoError(t, err)
	assert.Equal(t, goroutines*each, recs)
	assert.LessOrEqual(t, info, goroutines*each, "frames")
	e2 := openTest(t, durableConfig(crashDir))
	for g := range goroutines {
		for i := range each {
			require.True(t, e2.IsRevoked(fmt.Sprintf("g%d-%d", g, i)))
		}
	}
}

// copyDir copies the regular files of dir into a new temporary directory,
// as a crash would leave them (whatever is written to the OS).
func copyDir(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, de := range entries {
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, de.Name()), data, 0o600))
	}
	return dst
}

func TestInjectedFailuresAreNeverAcknowledged(t *testing.T) {
	for _, op := range []string{"write", "partial-write", "sync"} {
		t.Run(op, func(t *testing.T) {
			dir := t.TempDir()
			ffs := newFaultFS()
			cfg := durableConfig(dir)
			cfg.fs = ffs
			e := openTest(t, cfg)
			exp := time.Now().Add(time.Hour)
			acked := []string{}
			for i := range 5 {
				k := fmt.Sprintf("before-%d", i)
				require.NoError(t, e.Revoke(k, exp))
				acked = append(acked, k)
			}
			ffs.arm(op)
			err := e.Revoke("during", exp)
			require.ErrorIs(t, err, errInjected)
			ffs.disarm(op)
			// The failure sticks: nothing is acknowledged until reopening.
			for _, call := range []func() error{
				func() error { return e.Revoke("after", exp) },
				func() error {
					_, err := e.putIfAbsent(fingerprint(kindConsumed, "c"), uint32(exp.Unix()), 0)
					return err
				},
				func() error { return e.put(fingerprint(kindSubjectCutoff, "s"), uint32(exp.Unix()), 7) },
				e.Snapshot,
			} {
				require.ErrorIs(t, call(), errInjected)
			}
			assert.ErrorIs(t, e.Stats().JournalErr, errInjected)
			assert.ErrorIs(t, e.Close(), errInjected)

			e2 := openTest(t, durableConfig(dir))
			requireRevoked(t, e2, acked)
			assert.False(t, e2.IsRevoked("after"))
			require.NoError(t, e2.Revoke("reopened", exp), "reopening clears the failure")
		})
	}
}

func TestInjectedSnapshotFailuresLoseNothing(t *testing.T) {
	for _, op := range []string{"rename", "syncdir", "create", "write", "sync"} {
		t.Run(op, func(t *testing.T) {
			dir := t.TempDir()
			ffs := newFaultFS()
			cfg := durableConfig(dir)
			cfg.fs = ffs
			cfg.Sync = SyncNever // write and sync failures hit the snapshot, not Revoke
			e := openTest(t, cfg)
			exp := time.Now().Add(time.Hour)
			var acked []string
			revoke := func(k string) {
				if e.Revoke(k, exp) == nil {
					acked = append(acked, k)
				}
			}
			for i := range 20 {
				revoke(fmt.Sprintf("a%d", i))
			}
			require.NoError(t, e.Snapshot())
			revoke("b")
			ffs.arm(op)
			require.ErrorIs(t, e.Snapshot(), errInjected)
			ffs.disarm(op)
			assert.Equal(t, uint64(1), e.Stats().SnapshotFailures)
			revoke("c")
			_ = e.Close()

			e2 := openTest(t, durableConfig(dir))
			requireRevoked(t, e2, acked)
			assert.Contains(t, acked, "b")
		})
	}
}

func TestSyncEveryFsyncsOnInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		cfg := durableConfig(dir)
		cfg.Sync = SyncEvery
		cfg.SyncInterval = 5 * time.Second
		e, err := New(cfg)
		require.NoError(t, err)
		defer e.Close()
		require.NoError(t, e.Revoke("k", time.Now().Add(time.Hour)))
		e.jnl.mu.Lock()
		dirty := e.jnl.dirty
		e.jnl.mu.Unlock()
		assert.True(t, dirty, "written, not yet fsynced")
		time.Sleep(cfg.SyncInterval + time.Millisecond)
		synctest.Wait()
		e.jnl.mu.Lock()
		dirty = e.jnl.dirty
		e.jnl.mu.Unlock()
		assert.False(t, dirty, "fsynced by the interval")
	})
}

// A failed fsync must not count as one: replication adapters take a new
// JournalFsyncs count to mean that what was written before is durable.
func TestFailedFsyncIsNotCounted(t *testing.T) {
	ffs := newFaultFS()
	cfg := durableConfig(t.TempDir())
	cfg.Sync = SyncEvery
	cfg.SyncInterval = 20 * time.Millisecond
	cfg.fs = ffs
	e := openTest(t, cfg)
	require.NoError(t, e.Revoke("k1", time.Now().Add(time.Hour)))
	require.Eventually(t, func() bool { return e.Stats().JournalFsyncs > 0 }, 5*time.Second, 5*time.Millisecond,
		"a successful interval fsync counts")
	before := e.Stats().JournalFsyncs

	ffs.arm("sync")
	require.NoError(t, e.Revoke("k2", time.Now().Add(time.Hour)), "SyncEvery acknowledges once written")
	require.Eventually(t, func() bool { return e.Stats().JournalErr != nil }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, before, e.Stats().JournalFsyncs, "the failed fsync was counted")
}

func TestConfigValidatesDurability(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"sync policy", Config{Sync: SyncPolicy(9)}},
		{"negative sync policy", Config{Sync: SyncPolicy(-1)}},
		{"negative sync interval", Config{SyncInterval: -time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
		})
	}
	e := openTest(t, Config{})
	assert.ErrorIs(t, e.Snapshot(), ErrInvalidConfig, "Snapshot without Dir")
	assert.Equal(t, "SyncEvery", SyncEvery.String())
	assert.Equal(t, "SyncPolicy(9)", SyncPolicy(9).String())
}

func TestDurableRevokeDoesNotAllocate(t *testing.T) {
	e := openTest(t, Config{Dir: t.TempDir(), Sync: SyncNever, SnapshotInterval: -1, SnapshotJournalBytes: -1})
	exp := time.Now().Add(time.Hour)
	require.NoError(t, e.Revoke("warm-up", exp))
	allocs := testing.AllocsPerRun(200, func() {
		if err := e.Revoke("same-key", exp); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs)
}

func TestJournalFileNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		gen  uint64
		ok   bool
	}{
		{journalName(1), 1, true},
		{journalName(0xdeadbeef), 0xdeadbeef, true},
		{"journal-1.rvk", 0, false},
		{"journal-000000000000000g.rvk", 0, false},
		{"snapshot.rvk", 0, false},
		{"journal-0000000000000001.rvk.tmp", 0, false},
	} {
		gen, ok := parseJournalName(tc.name)
		assert.Equal(t, tc.ok, ok, tc.name)
		assert.Equal(t, tc.gen, gen, tc.name)
	}
}

func TestCloseRacingRevocationsNeverAckUnjournaled(t *testing.T) {
	dir := t.TempDir()
	e, err := New(durableConfig(dir))
	require.NoError(t, err)
	exp := time.Now().Add(time.Hour)
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	some := make(chan struct{})
	var once sync.Once
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				k := fmt.Sprintf("g%d-%d", g, i)
				err := e.Revoke(k, exp)
				if err != nil {
					assert.ErrorIs(t, err, ErrClosed)
					return
				}
				mu.Lock()
				acked = append(acked, k)
				if len(acked) == 20 {
					once.Do(func() { close(some) })
				}
				mu.Unlock()
			}
		})
	}
	<-some // close while revocations are in full flow
	require.NoError(t, e.Close())
	wg.Wait()
	e2 := openTest(t, durableConfig(dir))
	requireRevoked(t, e2, acked)
}

func TestRecoveryKeepsValuesAndSingleUse(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, durableConfig(dir))
	dl := uint32(time.Now().Add(time.Hour).Unix())
	cutoff := fingerprint(kindSubjectCutoff, "iss\x00alice")
	used := fingerprint(kindConsumed, "one-time")
	require.NoError(t, e.put(cutoff, dl, 100))
	require.NoError(t, e.put(cutoff, dl-5, 200)) // larger value wins, earlier deadline does not
	stored, err := e.putIfAbsent(used, dl, 0)
	require.NoError(t, err)
	require.True(t, stored)
	require.NoError(t, e.Snapshot())
	require.NoError(t, e.put(cutoff, dl, 150)) // journal after the snapshot: merged, not replacing
	require.NoError(t, e.Close())

	e2 := openTest(t, durableConfig(dir))
	r, ok := e2.lookup(cutoff)
	require.True(t, ok)
	assert.Equal(t, record{fp: cutoff, deadline: dl, value: 200}, r)
	stored, err = e2.putIfAbsent(used, dl, 0)
	require.NoError(t, err)
	assert.False(t, stored, "a consumed key stays consumed across a restart")
}

func TestRecoveryIgnoresMaxEntries(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, durableConfig(dir))
	exp := time.Now().Add(time.Hour)
	for i := range 5 {
		require.NoError(t, e.Revoke(fmt.Sprint(i), exp))
	}
	require.NoError(t, e.Close())
	cfg := durableConfig(dir)
	cfg.MaxEntries = 3
	e2 := openTest(t, cfg)
	assert.Equal(t, 5, e2.Len(), "a lower cap must not drop stored revocations")
	require.ErrorIs(t, e2.Revoke("new", exp), ErrFull)
}

func TestOneEnginePerDirectory(t *testing.T) {
	dir := t.TempDir()
	e, err := New(durableConfig(dir))
	require.NoError(t, err)
	_, err = New(durableConfig(dir))
	require.ErrorIs(t, err, ErrDirLocked)
	assert.Contains(t, err.Error(), dir)
	require.NoError(t, e.Close())
	e2, err := New(durableConfig(dir))
	require.NoError(t, err, "Close releases the directory")
	require.NoError(t, e2.Close())
}

func TestFailedNewReleasesTheDirectory(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, snapshotName), []byte("not a snapshot at all, no"), 0o600))
	_, err := New(durableConfig(dir))
	require.ErrorIs(t, err, ErrCorrupt)
	require.NoError(t, os.Remove(filepath.Join(dir, snapshotName)))
	e, err := New(durableConfig(dir))
	require.NoError(t, err, "a New that failed must not keep the lock")
	require.NoError(t, e.Close())
}

func TestNoKeyReachesTheDisk(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, durableConfig(dir))
	const secret = "eyJhbGciOiJIUzI1NiJ9.secret-token-payload"
	require.NoError(t, e.Revoke(secret, time.Now().Add(time.Hour)))
	require.NoError(t, e.Snapshot())
	require.NoError(t, e.Revoke(secret+"-2", time.Now().Add(time.Hour)))
	require.NoError(t, e.Close())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, de := range entries {
		data, err := os.ReadFile(filepath.Join(dir, de.Name()))
		require.NoError(t, err)
		assert.NotContains(t, string(data), "secret-token", de.Name())
		assert.NotContains(t, string(data), "eyJhbGci", de.Name())
	}
}
