package revoke

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// session opens dir, revokes keys (each acknowledged, so each a frame of
// its own), takes a snapshot after them if snap, and closes.
func session(t *testing.T, dir string, keys []string, snap bool) {
	t.Helper()
	e, err := New(durableConfig(dir))
	require.NoError(t, err)
	for _, k := range keys {
		require.NoError(t, e.Revoke(k, time.Now().Add(time.Hour)))
	}
	if snap {
		require.NoError(t, e.Snapshot())
	}
	require.NoError(t, e.Close())
}

func keyRange(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return keys
}

func journalGens(t *testing.T, dir string) []uint64 {
	t.Helper()
	d, err := listDir(osFS{}, dir)
	require.NoError(t, err)
	return d.journals
}

// dirSnapshot returns the contents of every file of dir but LOCK.
func dirSnapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	names, err := osFS{}.ReadDir(dir)
	require.NoError(t, err)
	files := map[string][]byte{}
	for _, n := range names {
		if n == lockName {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, n))
		require.NoError(t, err)
		files[n] = b
	}
	return files
}

func TestNewRefusesWhatIsMissing(t *testing.T) {
	t.Run("a journal generation", func(t *testing.T) {
		dir := t.TempDir()
		session(t, dir, keyRange("a", 3), false)
		session(t, dir, keyRange("b", 3), false)
		session(t, dir, keyRange("c", 3), false)
		require.Equal(t, []uint64{1, 2, 3}, journalGens(t, dir))
		require.NoError(t, os.Remove(filepath.Join(dir, journalName(2))))
		before := dirSnapshot(t, dir)
		_, err := New(durableConfig(dir))
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "journal-0000000000000002.rvk is missing")
		assert.Equal(t, before, dirSnapshot(t, dir), "a refused directory is left as it is")
	})
	t.Run("several generations", func(t *testing.T) {
		dir := t.TempDir()
		for _, p := range []string{"a", "b", "c", "d"} {
			session(t, dir, keyRange(p, 1), false)
		}
		require.NoError(t, os.Remove(filepath.Join(dir, journalName(2))))
		require.NoError(t, os.Remove(filepath.Join(dir, journalName(3))))
		_, err := New(durableConfig(dir))
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "journal-0000000000000002.rvk to journal-0000000000000003.rvk (2 journals) is missing")
	})
	t.Run("the snapshot", func(t *testing.T) {
		dir := t.TempDir()
		session(t, dir, keyRange("a", 3), true)
		session(t, dir, keyRange("b", 3), false)
		require.NoError(t, os.Remove(filepath.Join(dir, snapshotName)))
		_, err := New(durableConfig(dir))
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "snapshot.rvk is missing: the journals start at generation 0000000000000002")
	})
	t.Run("the journal after the snapshot", func(t *testing.T) {
		dir := t.TempDir()
		session(t, dir, keyRange("a", 3), true)
		session(t, dir, keyRange("b", 3), false)
		require.Equal(t, []uint64{2, 3}, journalGens(t, dir))
		require.NoError(t, os.Remove(filepath.Join(dir, journalName(2))))
		_, err := New(durableConfig(dir))
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "journal-0000000000000002.rvk is missing")
	})
	t.Run("every journal after the snapshot", func(t *testing.T) {
		dir := t.TempDir()
		session(t, dir, keyRange("a", 3), true)
		require.NoError(t, os.Remove(filepath.Join(dir, journalName(2))))
		_, err := New(durableConfig(dir))
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "journal-0000000000000002.rvk is missing")
	})
}

// TestNewNeverCreatesAGap: a crash inside the creation of a journal leaves
// it without a complete header; New replaces it under the same generation,
// so the next start finds no gap.
func TestNewNeverCreatesAGap(t *testing.T) {
	for _, left := range [][]byte{nil, []byte("RVKJ\x01\x00"), make([]byte, journalHeaderSize)} {
		t.Run(fmt.Sprintf("%d bytes", len(left)), func(t *testing.T) {
			dir := t.TempDir()
			session(t, dir, keyRange("a", 3), false)
			require.Equal(t, []uint64{1}, journalGens(t, dir))
			// The crash inside creating journal 2.
			require.NoError(t, os.WriteFile(filepath.Join(dir, journalName(2)), left, 0o600))
			session(t, dir, keyRange("b", 3), false)
			assert.Equal(t, []uint64{1, 2}, journalGens(t, dir))
			e := openTest(t, durableConfig(dir))
			requireRevoked(t, e, append(keyRange("a", 3), keyRange("b", 3)...))
		})
	}
	t.Run("in the first start", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, journalName(1)), []byte("RV"), 0o600))
		session(t, dir, keyRange("a", 2), false)
		assert.Equal(t, []uint64{1}, journalGens(t, dir))
		e := openTest(t, durableConfig(dir))
		requireRevoked(t, e, keyRange("a", 2))
	})
	t.Run("not the journal the snapshot starts from", func(t *testing.T) {
		dir := t.TempDir()
		session(t, dir, keyRange("a", 3), true)
		require.NoError(t, os.Truncate(filepath.Join(dir, journalName(2)), 10))
		_, err := New(durableConfig(dir))
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "the journal the snapshot starts from")
	})
}

// TestNewTrimsOnlyWhatACrashLeaves: damage at the end of a journal is
// trimmed only in the newest journal and only as long as one interrupted
// write; everything else stops New with ErrCorrupt and changes nothing.
func TestNewTrimsOnlyWhatACrashLeaves(t *testing.T) {
	const n = 40
	keys := keyRange("k", n)
	newest := func(dir string) string { return filepath.Join(dir, journalName(1)) }
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, dir string)
		refused bool
		want    string
	}{
		{name: "last 512 bytes zeroed", refused: true, want: "frame header does not verify, and the 512 bytes from there to the end are more than one interrupted write leaves",
			damage: func(t *testing.T, dir string) {
				data, err := os.ReadFile(newest(dir))
				require.NoError(t, err)
				clear(data[len(data)-512:])
				require.NoError(t, os.WriteFile(newest(dir), data, 0o600))
			}},
		{name: "64 KiB of garbage after a valid header", refused: true, want: "at offset 32: frame header does not verify",
			damage: func(t *testing.T, dir string) {
				h := journalHeader(1, time.Now().Unix())
				garbage := bytes.Repeat([]byte("garbage!"), 8<<10)
				require.NoError(t, os.WriteFile(newest(dir), append(h[:], garbage...), 0o600))
			}},
		{name: "header that fails in a file longer than its header", refused: true, want: "header checksum mismatch in a file longer than its header",
			damage: func(t *testing.T, dir string) {
				data, err := os.ReadFile(newest(dir))
				require.NoError(t, err)
				data[20] ^= 1 // created, covered by the header CRC only
				require.NoError(t, os.WriteFile(newest(dir), data, 0o600))
			}},
		{name: "half a frame appended", refused: false,
			damage: func(t *testing.T, dir string) {
				appendTo(t, newest(dir), sealedFrame(1, 3)[:40])
			}},
		{name: "a whole frame with a bad record CRC appended", refused: false,
			damage: func(t *testing.T, dir string) {
				f := sealedFrame(1, 2)
				f[len(f)-1] ^= 1
				appendTo(t, newest(dir), f)
			}},
		{name: "a bad frame and more appended", refused: true, want: "frame checksum mismatch, and the",
			damage: func(t *testing.T, dir string) {
				f := sealedFrame(1, 2)
				f[len(f)-1] ^= 1
				appendTo(t, newest(dir), append(f, 0))
			}},
		{name: "fifteen bytes appended", refused: false,
			damage: func(t *testing.T, dir string) { appendTo(t, newest(dir), []byte("fifteen bytes!!")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// One engine that never restarts: journal 1 is the newest.
			e, err := New(durableConfig(dir))
			require.NoError(t, err)
			for _, k := range keys {
				require.NoError(t, e.Revoke(k, time.Now().Add(time.Hour)))
			}
			require.NoError(t, e.Close())
			require.Equal(t, []uint64{1}, journalGens(t, dir))
			unsealed(t, newest(dir)) // a crash, not a Close
			tc.damage(t, dir)
			before := dirSnapshot(t, dir)
			e, err = New(durableConfig(dir))
			if tc.refused {
				require.ErrorIs(t, err, ErrCorrupt)
				assert.Contains(t, err.Error(), tc.want)
				assert.Equal(t, before, dirSnapshot(t, dir), "a refused directory is left as it is")
				return
			}
			require.NoError(t, err)
			defer e.Close()
			requireRevoked(t, e, keys)
			assert.Equal(t, n, e.Len())
		})
	}
	t.Run("a flipped bit at the end of a journal that is not the newest", func(t *testing.T) {
		dir := t.TempDir()
		session(t, dir, keys, false)
		session(t, dir, nil, false)
		path := filepath.Join(dir, journalName(1))
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		data[len(data)-journalFrameHead-1] ^= 1 // the last record, before the seal
		require.NoError(t, os.WriteFile(path, data, 0o600))
		_, err = New(durableConfig(dir))
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), fmt.Sprintf("%s at offset %d: frame checksum mismatch", path, len(data)-2*(journalFrameHead+recordSize)+recordSize))
	})
	t.Run("a torn tail in an unsealed journal that is not the newest", func(t *testing.T) {
		// Journals of earlier releases carry no seal.
		dir := t.TempDir()
		legacy := func(gen uint64) []byte {
			h := journalHeader(gen, time.Now().Unix())
			h[24] = 0
			copy(h[28:], le32(crc32c(h[:28])))
			return h[:]
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, journalName(1)), append(legacy(1), sealedFrame(1, 2)[:40]...), 0o600))
		require.NoError(t, os.WriteFile(filepath.Join(dir, journalName(2)), legacy(2), 0o600))
		_, err := New(durableConfig(dir))
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "only the newest journal can end in an interrupted write")
	})
}

// sealedFrame returns one frame of n records of generation gen.
func sealedFrame(gen uint64, n int) []byte {
	j := &journal{frameAt: -1}
	for i := range n {
		j.appendLocked([]record{{fp: uint64(i + 1000), deadline: uint32(time.Now().Add(time.Hour).Unix())}})
	}
	sealFrames(j.pending, genSeed(gen))
	return j.pending
}

// unsealed removes the seal that Close wrote at the end of the journal at
// path, leaving the file as kill -9 before Close would have.
func unsealed(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, journalSealMagic, string(data[len(data)-journalFrameHead:][:4]), "a sealed journal")
	require.NoError(t, os.Truncate(path, int64(len(data)-journalFrameHead)))
}

func appendTo(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestNewRefusesUnsupportedVersionAndChangesNothing(t *testing.T) {
	for _, file := range []string{snapshotName, journalName(2), journalName(3)} {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			session(t, dir, keyRange("a", 3), true)
			session(t, dir, keyRange("b", 3), false)
			path := filepath.Join(dir, file)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			data[4] = 7 // version 7; the checksums no longer match either
			require.NoError(t, os.WriteFile(path, data, 0o600))
			// A leftover that New would delete, were it to start.
			require.NoError(t, os.WriteFile(filepath.Join(dir, snapshotTmpName), []byte("x"), 0o600))
			before := dirSnapshot(t, dir)
			_, err = New(durableConfig(dir))
			require.ErrorIs(t, err, ErrUnsupportedVersion)
			assert.NotErrorIs(t, err, ErrCorrupt)
			want := "of version 7, this build reads version 1"
			if file == snapshotName {
				want = "of version 7, this build reads version 2"
			}
			assert.Contains(t, err.Error(), want)
			assert.Equal(t, before, dirSnapshot(t, dir), "never trimmed or deleted")
		})
	}
}

// gateFS blocks the creation of a temporary snapshot until released.
type gateFS struct {
	osFS
	reached, release chan struct{}
	once             sync.Once
}

func (g *gateFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	if filepath.Base(name) == snapshotTmpName {
		g.once.Do(func() { close(g.reached) })
		<-g.release
	}
	return g.osFS.OpenFile(name, flag, perm)
}

// TestCloseWaitsForSnapshotInFlight: a snapshot that is still writing must
// keep the directory locked, or a second engine could acknowledge a
// revocation that the late snapshot then overwrites.
func TestCloseWaitsForSnapshotInFlight(t *testing.T) {
	dir := t.TempDir()
	g := &gateFS{reached: make(chan struct{}), release: make(chan struct{})}
	cfg := durableConfig(dir)
	cfg.fs = g
	e, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, e.Revoke("first", time.Now().Add(time.Hour)))
	snapErr := make(chan error, 1)
	go func() { snapErr <- e.Snapshot() }()
	<-g.reached
	closed := make(chan error, 1)
	go func() { closed <- e.Close() }()
	// While the snapshot is held at the gate, the directory stays locked
	// however long Close has had.
	for range 50 {
		e2, err := New(durableConfig(dir))
		if err == nil {
			_ = e2.Close()
		}
		require.ErrorIs(t, err, ErrDirLocked, "the directory was released while a snapshot was being written")
		time.Sleep(time.Millisecond)
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a snapshot was in flight")
	default:
	}
	close(g.release)
	require.NoError(t, <-snapErr)
	require.NoError(t, <-closed)
	require.ErrorIs(t, e.Snapshot(), ErrClosed)

	e2 := openTest(t, durableConfig(dir))
	require.NoError(t, e2.Revoke("second", time.Now().Add(time.Hour)))
	require.NoError(t, e2.Close())
	e3 := openTest(t, durableConfig(dir))
	requireRevoked(t, e3, []string{"first", "second"})
}

// syncRecorder records the directories fsynced.
type syncRecorder struct {
	osFS
	mu     sync.Mutex
	synced []string
}

func (r *syncRecorder) SyncDir(dir string) error {
	r.mu.Lock()
	r.synced = append(r.synced, filepath.Clean(dir))
	r.mu.Unlock()
	return r.osFS.SyncDir(dir)
}

func TestNewFsyncsTheParentsItCreated(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b", "c")
	rec := &syncRecorder{}
	cfg := durableConfig(dir)
	cfg.fs = rec
	e := openTest(t, cfg)
	require.NoError(t, e.Close())
	for _, parent := range []string{base, filepath.Join(base, "a"), filepath.Join(base, "a", "b")} {
		assert.Contains(t, rec.synced, parent, "the entry of a directory New created lives in its parent")
	}
}

func TestAllowReadOnly(t *testing.T) {
	setup := func(t *testing.T) (string, []string) {
		dir := t.TempDir()
		keys := keyRange("a", 5)
		session(t, dir, keys[:3], true)
		session(t, dir, keys[3:], false)
		return dir, keys
	}
	t.Run("off: New fails", func(t *testing.T) {
		dir, _ := setup(t)
		ffs := newFaultFS()
		ffs.arm("create")
		cfg := durableConfig(dir)
		cfg.fs = ffs
		e, err := New(cfg)
		require.ErrorIs(t, err, errInjected)
		assert.NotErrorIs(t, err, ErrReadOnly)
		assert.Nil(t, e)
	})
	t.Run("on: damage still fails", func(t *testing.T) {
		dir, _ := setup(t)
		require.NoError(t, os.Remove(filepath.Join(dir, journalName(2))))
		cfg := durableConfig(dir)
		cfg.AllowReadOnly = true
		e, err := New(cfg)
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Nil(t, e)
	})
	t.Run("on: answers, refuses, recovers", func(t *testing.T) {
		dir, keys := setup(t)
		// The bubble's clock starts in 2000: the expiry is real time.
		exp := time.Now().Add(time.Hour)
		synctest.Test(t, func(t *testing.T) {
			ffs := newFaultFS()
			ffs.arm("create") // the disk is full: no new journal
			cfg := durableConfig(dir)
			cfg.fs = ffs
			cfg.AllowReadOnly = true
			cfg.MaxTTL = maxMaxTTL
			e, err := New(cfg)
			require.ErrorIs(t, err, ErrReadOnly)
			require.ErrorIs(t, err, errInjected, "the disk's error")
			require.NotNil(t, e)
			defer e.Close()
			requireRevoked(t, e, keys)
			err = e.Revoke("new", exp)
			require.ErrorIs(t, err, ErrReadOnly)
			require.ErrorIs(t, err, errInjected)
			assert.False(t, e.IsRevoked("new"), "a refused revocation is not applied")
			require.ErrorIs(t, e.Stats().JournalErr, ErrReadOnly)
			require.ErrorIs(t, e.Snapshot(), ErrReadOnly)

			time.Sleep(2 * readOnlyRetry) // still full: still read-only
			synctest.Wait()
			require.ErrorIs(t, e.Revoke("new", exp), ErrReadOnly)

			ffs.disarm("create")
			time.Sleep(readOnlyRetry)
			synctest.Wait()
			require.NoError(t, e.Stats().JournalErr)
			require.NoError(t, e.Revoke("new", exp))
			require.NoError(t, e.Close())
		})
		e := openTest(t, durableConfig(dir))
		requireRevoked(t, e, append(keys, "new"))
		assert.Equal(t, []uint64{2, 3, 4, 5}, journalGens(t, dir), "no gap")
	})
}

// TestDamageMatrix damages a directory in every way this test knows:
// deleting, truncating, zeroing, swapping, duplicating and adding files.
// After each, New either recovers exactly the acknowledged set or refuses
// with ErrCorrupt, leaving the directory as it found it.
func TestDamageMatrix(t *testing.T) {
	type fixture struct {
		name string
		dir  string
		keys []string
	}
	var fixtures []fixture
	{
		// A snapshot (generation 2, a keys) and journals 2 (empty), 3 (b
		// keys), 4 (c keys) and 5 (empty: the last start).
		dir := t.TempDir()
		session(t, dir, keyRange("a", 4), true)
		session(t, dir, keyRange("b", 4), false)
		session(t, dir, keyRange("c", 4), false)
		session(t, dir, nil, false)
		require.Equal(t, []uint64{2, 3, 4, 5}, journalGens(t, dir))
		fixtures = append(fixtures, fixture{"snapshot", dir, append(append(keyRange("a", 4), keyRange("b", 4)...), keyRange("c", 4)...)})
	}
	{
		// No snapshot: journals 1 (a), 2 (b), 3 (empty).
		dir := t.TempDir()
		session(t, dir, keyRange("a", 4), false)
		session(t, dir, keyRange("b", 4), false)
		session(t, dir, nil, false)
		require.Equal(t, []uint64{1, 2, 3}, journalGens(t, dir))
		fixtures = append(fixtures, fixture{"journals", dir, append(keyRange("a", 4), keyRange("b", 4)...)})
	}
	type damage struct {
		name  string
		apply func(t *testing.T, dir string)
	}
	for _, fx := range fixtures {
		files := slices.Sorted(func(yield func(string) bool) {
			for n := range dirSnapshot(t, fx.dir) {
				if !yield(n) {
					return
				}
			}
		})
		var damages []damage
		for _, f := range files {
			size := len(dirSnapshot(t, fx.dir)[f])
			damages = append(damages, damage{"delete " + f, func(t *testing.T, dir string) {
				require.NoError(t, os.Remove(filepath.Join(dir, f)))
			}})
			for _, cut := range []int{0, 5, 31, 32, 33, size - 40, size - 17, size - 1} {
				if cut < 0 || cut >= size {
					continue
				}
				damages = append(damages, damage{fmt.Sprintf("truncate %s to %d", f, cut), func(t *testing.T, dir string) {
					require.NoError(t, os.Truncate(filepath.Join(dir, f), int64(cut)))
				}})
			}
			for _, z := range []struct {
				name     string
				from, to int
			}{{"all", 0, size}, {"header", 0, min(32, size)}, {"last 512 bytes", max(size-512, 0), size}, {"middle byte", size / 2, size/2 + 1}} {
				damages = append(damages, damage{fmt.Sprintf("zero %s of %s", z.name, f), func(t *testing.T, dir string) {
					path := filepath.Join(dir, f)
					data, err := os.ReadFile(path)
					require.NoError(t, err)
					clear(data[z.from:z.to])
					require.NoError(t, os.WriteFile(path, data, 0o600))
				}})
			}
			for _, g := range files {
				if g <= f {
					continue
				}
				damages = append(damages, damage{"swap " + f + " and " + g, func(t *testing.T, dir string) {
					a, b := filepath.Join(dir, f), filepath.Join(dir, g)
					require.NoError(t, os.Rename(a, a+".x"))
					require.NoError(t, os.Rename(b, a))
					require.NoError(t, os.Rename(a+".x", b))
				}})
			}
			for _, g := range files {
				if g == f {
					continue
				}
				damages = append(damages, damage{"copy " + f + " over " + g, func(t *testing.T, dir string) {
					data, err := os.ReadFile(filepath.Join(dir, f))
					require.NoError(t, err)
					require.NoError(t, os.WriteFile(filepath.Join(dir, g), data, 0o600))
				}})
			}
		}
		damages = append(damages, damage{"a journal far ahead", func(t *testing.T, dir string) {
			h := journalHeader(9, time.Now().Unix())
			require.NoError(t, os.WriteFile(filepath.Join(dir, journalName(9)), h[:], 0o600))
		}})
		for _, d := range damages {
			t.Run(fx.name+"/"+d.name, func(t *testing.T) {
				dir := copyDir(t, fx.dir)
				d.apply(t, dir)
				before := dirSnapshot(t, dir)
				e, err := New(durableConfig(dir))
				if err != nil {
					require.ErrorIs(t, err, ErrCorrupt)
					assert.Equal(t, before, dirSnapshot(t, dir), "a refused directory is left as it is")
					return
				}
				defer e.Close()
				t.Log("accepted")
				for _, k := range fx.keys {
					require.Truef(t, e.IsRevoked(k), "New accepted the damage but lost %q", k)
				}
				require.Equal(t, len(fx.keys), e.Len(), "exactly the acknowledged set")
			})
		}
	}
}

// TestFailedSealKeepsTheJournal: on a full disk the seal of a rotation may
// not be written; the snapshot fails, the journal goes on.
func TestFailedSealKeepsTheJournal(t *testing.T) {
	for _, op := range []string{"seal-write", "create"} {
		t.Run(op, func(t *testing.T) {
			dir := t.TempDir()
			ffs := newFaultFS()
			cfg := durableConfig(dir)
			cfg.fs = ffs
			e := openTest(t, cfg)
			exp := time.Now().Add(time.Hour)
			require.NoError(t, e.Revoke("before", exp))
			ffs.arm(op)
			require.ErrorIs(t, e.Snapshot(), errInjected)
			require.NoError(t, e.Stats().JournalErr)
			require.NoError(t, e.Revoke("during", exp))
			ffs.disarm(op)
			require.NoError(t, e.Revoke("after", exp))
			require.NoError(t, e.Snapshot())
			require.NoError(t, e.Revoke("last", exp))
			require.NoError(t, e.Close())
			e2 := openTest(t, durableConfig(dir))
			requireRevoked(t, e2, []string{"before", "during", "after", "last"})
		})
	}
}

func TestNewNeverDeletesAStaleJournalOfANewerRelease(t *testing.T) {
	dir := t.TempDir()
	session(t, dir, keyRange("a", 3), true) // snapshot of generation 2
	path := filepath.Join(dir, journalName(1))
	h := journalHeader(1, time.Now().Unix())
	h[4] = 9
	require.NoError(t, os.WriteFile(path, h[:], 0o600))
	_, err := New(durableConfig(dir))
	require.ErrorIs(t, err, ErrUnsupportedVersion)
	_, err = os.Stat(path)
	require.NoError(t, err, "still there")
}

// TestRepairCanBeRepeated: a repair that fails after sealing the newest
// journal is retried whole (a read-only engine does so every few seconds);
// the journal must end up with one seal.
func TestRepairCanBeRepeated(t *testing.T) {
	dir := t.TempDir()
	session(t, dir, keyRange("a", 5), false)
	path := filepath.Join(dir, journalName(1))
	unsealed(t, path)
	appendTo(t, path, []byte("torn")) // and a torn tail
	plan, err := loadDir(osFS{}, dir, func([]record) {}, nil)
	require.NoError(t, err)
	require.True(t, plan.seal)
	for range 3 {
		require.NoError(t, repairDir(osFS{}, dir, plan))
	}
	e := openTest(t, durableConfig(dir))
	requireRevoked(t, e, keyRange("a", 5))
}

// TestNewSeesEntriesThatAreNotFiles: a directory named like the next
// journal is a problem New reports, not an entry it overlooks.
func TestNewSeesEntriesThatAreNotFiles(t *testing.T) {
	dir := t.TempDir()
	session(t, dir, keyRange("a", 2), false)
	require.NoError(t, os.Mkdir(filepath.Join(dir, journalName(2)), 0o700))
	_, err := New(durableConfig(dir))
	require.Error(t, err)
	assert.Contains(t, err.Error(), journalName(2))
	rep, err := InspectDir(dir)
	require.Error(t, err)
	require.Len(t, rep.Files, 2)
	assert.Equal(t, VerdictUnreadable, rep.Files[1].Verdict)
}
