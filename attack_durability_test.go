package revoke

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Adversarial tests of the durability layer: each builds a directory (or a
// race) that an earlier version of recovery accepted or mishandled, and
// checks that New either recovers exactly the acknowledged set or refuses.

// writeJournalFile writes a journal of generation gen holding one frame of
// n records (fingerprints 1000..1000+n-1), sealed if seal.
func writeJournalFile(t *testing.T, dir string, gen uint64, n int, seal bool) {
	t.Helper()
	h := journalHeader(gen, time.Now().Unix())
	data := append([]byte(nil), h[:]...)
	if n > 0 {
		data = append(data, sealedFrame(gen, n)...)
	}
	if seal {
		s := journalSeal(genSeed(gen), uint64(n))
		data = append(data, s[:]...)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, journalName(gen)), data, 0o600))
}

// writeSnapshotFile writes snapshot.rvk of generation gen holding recs.
func writeSnapshotFile(t *testing.T, dir string, gen uint64, recs []record) {
	t.Helper()
	var buf bytes.Buffer
	sw := newSnapshotWriter(&buf, snapshotHeader{created: time.Now().Unix(), generation: gen})
	sw.add(recs)
	_, err := sw.finish()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, snapshotName), buf.Bytes(), 0o600))
}

func liveRecord(fp uint64) record {
	return record{fp: fp, deadline: uint32(time.Now().Add(time.Hour).Unix())}
}

// TestAttackLastGeneration: generations are uint64 and the next one is the
// newest plus one. A directory at the end of the range (a snapshot of
// generation 2^64-1 and its journal) made New compute "next" as the
// snapshot's own generation and create that journal again, truncating the
// journal it had just replayed: its records were gone at the next start.
// A rotation past 2^64-1 would likewise start generation 0. The last
// generation ends the directory: New refuses it, rotation stops there.
func TestAttackLastGeneration(t *testing.T) {
	t.Run("New refuses the last generation", func(t *testing.T) {
		dir := t.TempDir()
		writeSnapshotFile(t, dir, math.MaxUint64, []record{liveRecord(7)})
		writeJournalFile(t, dir, math.MaxUint64, 3, true)
		before := dirSnapshot(t, dir)
		e, err := New(durableConfig(dir))
		if err == nil {
			// What the old code did: show that it loses the journal.
			require.NoError(t, e.Close())
			e2, err2 := New(durableConfig(dir))
			if err2 == nil {
				defer e2.Close()
				for i := range 3 {
					assert.Truef(t, e2.contains(uint64(1000+i)), "record %d of the last journal lost", 1000+i)
				}
			}
			t.Fatalf("New accepted a journal of generation %016x (next error: %v)", uint64(math.MaxUint64), err2)
		}
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Contains(t, err.Error(), "journal-ffffffffffffffff.rvk has the last generation")
		assert.Equal(t, before, dirSnapshot(t, dir), "a refused directory is left as it is")
	})
	t.Run("rotation stops at the last generation", func(t *testing.T) {
		dir := t.TempDir()
		writeSnapshotFile(t, dir, math.MaxUint64-1, []record{liveRecord(7)})
		writeJournalFile(t, dir, math.MaxUint64-1, 2, true)
		e := openTest(t, durableConfig(dir)) // starts the last generation
		exp := time.Now().Add(time.Hour)
		require.NoError(t, e.Revoke("k", exp))
		require.ErrorIs(t, e.Snapshot(), errGenerationsUsedUp)
		require.NoError(t, e.Stats().JournalErr, "the journal goes on")
		require.NoError(t, e.Revoke("k2", exp))
		require.NoError(t, e.Close())
		assert.Equal(t, []uint64{math.MaxUint64 - 1, math.MaxUint64}, journalGens(t, dir), "nothing wrapped to generation 0")
		_, err := New(durableConfig(dir))
		require.ErrorIs(t, err, ErrCorrupt)
		rep, err := InspectDir(dir)
		require.ErrorIs(t, err, ErrCorrupt)
		assert.Equal(t, 5, rep.Live, "every record is still in the files")
	})
}

// TestAttackLeftoverSnapshotProvesJournals: a snapshot is started only
// after the rotation before it created (and fsynced) the next journal, so a
// leftover snapshot.rvk.tmp proves that journal existed. New used to delete
// the leftover and start on whatever was left: with every journal deleted
// it started empty, and with the newest deleted it lost that journal's
// revocations, although the leftover said they had been there.
func TestAttackLeftoverSnapshotProvesJournals(t *testing.T) {
	tmpHeader := func(gen uint64) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			var buf bytes.Buffer
			sw := newSnapshotWriter(&buf, snapshotHeader{created: time.Now().Unix(), generation: gen})
			sw.add([]record{liveRecord(5)}) // a crash mid-write: the header and a part
			sw.flush()
			require.NoError(t, os.WriteFile(filepath.Join(dir, snapshotTmpName), buf.Bytes()[:40], 0o600))
		}
	}
	tornTmp := func(t *testing.T, dir string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, snapshotTmpName), nil, 0o600))
	}
	remove := func(names ...string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			for _, n := range names {
				require.NoError(t, os.Remove(filepath.Join(dir, n)))
			}
		}
	}
	// journals builds journals 1 (a keys) and 2 (b keys): what a crash in
	// the first snapshot leaves, the rotation to 2 done.
	journals := func(t *testing.T) (string, []string) {
		dir := t.TempDir()
		session(t, dir, keyRange("a", 3), false)
		session(t, dir, keyRange("b", 3), false)
		return dir, append(keyRange("a", 3), keyRange("b", 3)...)
	}
	// snapshotted builds snapshot 2 (a keys) and journals 2 (empty), 3 (b
	// keys) and 4 (c keys).
	snapshotted := func(t *testing.T) (string, []string) {
		dir := t.TempDir()
		session(t, dir, keyRange("a", 3), true)
		session(t, dir, keyRange("b", 3), false)
		session(t, dir, keyRange("c", 3), false)
		require.Equal(t, []uint64{2, 3, 4}, journalGens(t, dir))
		return dir, append(append(keyRange("a", 3), keyRange("b", 3)...), keyRange("c", 3)...)
	}
	for _, tc := range []struct {
		name    string
		setup   func(t *testing.T) (string, []string)
		damage  []func(t *testing.T, dir string)
		refused string // "" when New must recover every key
	}{
		{"a crash in the first snapshot", journals, []func(*testing.T, string){tmpHeader(2)}, ""},
		{"a crash before the leftover's header was written", journals, []func(*testing.T, string){tornTmp}, ""},
		{"a crash in a later snapshot", snapshotted, []func(*testing.T, string){tmpHeader(4)}, ""},
		{"a crash in a later snapshot, the leftover's header torn", snapshotted, []func(*testing.T, string){tornTmp}, ""},
		{"every journal deleted", journals, []func(*testing.T, string){tmpHeader(2), remove(journalName(1), journalName(2))},
			"journal-0000000000000001.rvk to journal-0000000000000002.rvk (2 journals) is missing"},
		{"every journal deleted, the leftover's header torn", journals, []func(*testing.T, string){tornTmp, remove(journalName(1), journalName(2))},
			"journal-0000000000000001.rvk to journal-0000000000000002.rvk (2 journals) is missing"},
		{"the newest journal deleted", journals, []func(*testing.T, string){tmpHeader(2), remove(journalName(2))},
			"journal-0000000000000002.rvk is missing"},
		{"the newest journal after a snapshot deleted", snapshotted, []func(*testing.T, string){tmpHeader(4), remove(journalName(4))},
			"journal-0000000000000004.rvk is missing"},
		{"the newest journal cut inside its header", journals, []func(*testing.T, string){tmpHeader(2), func(t *testing.T, dir string) {
			require.NoError(t, os.Truncate(filepath.Join(dir, journalName(2)), 10))
		}}, "journal-0000000000000002.rvk at offset 0: incomplete header, but snapshot.rvk.tmp"},
		{"every journal after the snapshot's first deleted, the leftover's header torn", snapshotted,
			[]func(*testing.T, string){tornTmp, remove(journalName(3), journalName(4))}, "journal-0000000000000003.rvk is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, keys := tc.setup(t)
			for _, d := range tc.damage {
				d(t, dir)
			}
			before := dirSnapshot(t, dir)
			e, err := New(durableConfig(dir))
			if tc.refused == "" {
				require.NoError(t, err)
				defer e.Close()
				requireRevoked(t, e, keys)
				_, err := os.Stat(filepath.Join(dir, snapshotTmpName))
				assert.ErrorIs(t, err, os.ErrNotExist, "the leftover is deleted")
				return
			}
			if err == nil {
				_ = e.Close()
			}
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), tc.refused)
			assert.Contains(t, err.Error(), snapshotTmpName)
			assert.Equal(t, before, dirSnapshot(t, dir), "a refused directory is left as it is")
			rep, err := InspectDir(dir)
			require.ErrorIs(t, err, ErrCorrupt)
			if !strings.Contains(tc.refused, "incomplete header") {
				assert.Contains(t, rep.Files, missingReportFor(t, rep, tc.refused))
			}
			names := map[string]bool{}
			for _, f := range rep.Files {
				assert.Falsef(t, names[f.Name], "%s is listed once", f.Name)
				names[f.Name] = true
			}
		})
	}
	t.Run("a leftover that is not a file", func(t *testing.T) {
		dir, _ := journals(t)
		require.NoError(t, os.MkdirAll(filepath.Join(dir, snapshotTmpName, "x"), 0o700))
		_, err := New(durableConfig(dir))
		require.Error(t, err, "New cannot delete it; the inspector must not say it would")
		assert.Contains(t, err.Error(), snapshotTmpName)
		rep, err := InspectDir(dir)
		require.Error(t, err)
		assert.Equal(t, VerdictUnreadable, rep.Files[len(rep.Files)-1].Verdict)
	})
}

// missingReportFor returns the file of rep whose verdict is missing and
// whose name starts the problem want, failing the test if there is none.
func missingReportFor(t *testing.T, rep DirReport, want string) FileReport {
	t.Helper()
	for _, f := range rep.Files {
		if f.Verdict == VerdictMissing && len(want) >= len(f.Name) && want[:len(f.Name)] == f.Name {
			return f
		}
	}
	t.Fatalf("no missing file for %q in %+v", want, rep.Files)
	return FileReport{}
}

// TestAttackMisspelledJournalNames: a generation in upper-case hex digits
// parsed as a journal, but recovery opened the lower-case name: a renamed
// journal read as "unreadable, check the permissions" (the inspector's exit
// status 2), and a copy beside the original as a gap of 2^64-1 journals.
// On a case-insensitive file system New would also create the journal of
// that generation over it. It is a file New must refuse, by its name.
func TestAttackMisspelledJournalNames(t *testing.T) {
	build := func(t *testing.T) string {
		dir := t.TempDir()
		for i := range 11 {
			session(t, dir, keyRange(fmt.Sprintf("s%d-", i), 1), false)
		}
		require.Equal(t, uint64(11), journalGens(t, dir)[10])
		return dir
	}
	path := func(dir string, gen uint64) string { return filepath.Join(dir, journalName(gen)) }
	upper := func(dir string, gen uint64) string {
		return filepath.Join(dir, journalPrefix+strings.ToUpper(fmt.Sprintf("%016x", gen))+journalSuffix)
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string) string
	}{
		{"a journal renamed", func(t *testing.T, dir string) string {
			require.NoError(t, os.Rename(path(dir, 10), upper(dir, 10)))
			return upper(dir, 10)
		}},
		{"the newest journal renamed", func(t *testing.T, dir string) string {
			require.NoError(t, os.Rename(path(dir, 11), upper(dir, 11)))
			return upper(dir, 11)
		}},
		{"a copy beside the original", func(t *testing.T, dir string) string {
			data, err := os.ReadFile(path(dir, 10))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(upper(dir, 10), data, 0o600))
			return upper(dir, 10)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := build(t)
			bad := filepath.Base(tc.damage(t, dir))
			before := dirSnapshot(t, dir)
			_, err := New(durableConfig(dir))
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), bad)
			assert.NotContains(t, err.Error(), "18446744073709551615")
			assert.Equal(t, before, dirSnapshot(t, dir), "a refused directory is left as it is")
			rep, err := InspectDir(dir)
			require.ErrorIs(t, err, ErrCorrupt)
			for _, f := range rep.Files {
				assert.NotEqual(t, VerdictUnreadable, f.Verdict, f.Name)
			}
		})
	}
	t.Run("only the spelling New writes is a journal", func(t *testing.T) {
		_, ok := parseJournalName(journalPrefix + "000000000000000A" + journalSuffix)
		assert.False(t, ok, "neither read nor deleted as stale: refused")
		g, ok := parseJournalName(journalName(0xa))
		assert.True(t, ok)
		assert.Equal(t, uint64(0xa), g)
	})
}

// TestAttackReadOnlyEngineUnderLoad: an engine started read-only (the disk
// full) while revocations and snapshots keep arriving, that becomes
// writable in the middle of them. Every revocation acknowledged before,
// during and after the switch must survive a restart, none refused may
// have been acknowledged, and the directory must open with no gap.
func TestAttackReadOnlyEngineUnderLoad(t *testing.T) {
	dir := t.TempDir()
	session(t, dir, keyRange("old", 20), true)
	session(t, dir, keyRange("older", 5), false)
	exp := time.Now().Add(time.Hour) // real time: the bubble starts in 2000
	var (
		mu      sync.Mutex
		acked   []string
		refused int
	)
	synctest.Test(t, func(t *testing.T) {
		ffs := newFaultFS()
		ffs.arm("create")
		cfg := durableConfig(dir)
		cfg.fs = ffs
		cfg.AllowReadOnly = true
		cfg.MaxTTL = maxMaxTTL
		e, err := New(cfg)
		require.ErrorIs(t, err, ErrReadOnly)
		requireRevoked(t, e, keyRange("old", 20))
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 3 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					k := fmt.Sprintf("g%d-%d", g, i)
					err := e.Revoke(k, exp)
					mu.Lock()
					if err == nil {
						acked = append(acked, k)
					} else {
						assert.ErrorIs(t, err, ErrReadOnly)
						assert.False(t, e.IsRevoked(k), "a refused revocation is not applied")
						refused++
					}
					mu.Unlock()
					time.Sleep(200 * time.Millisecond)
				}
			})
		}
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = e.Snapshot() // ErrReadOnly until the journal opens
				time.Sleep(time.Second)
			}
		})
		time.Sleep(3*readOnlyRetry + time.Second)
		ffs.disarm("create")
		time.Sleep(3 * readOnlyRetry)
		close(stop)
		wg.Wait()
		require.NoError(t, e.Stats().JournalErr)
		require.NoError(t, e.Close())
	})
	mu.Lock()
	defer mu.Unlock()
	require.NotZero(t, refused, "revocations were refused while read-only")
	require.NotEmpty(t, acked, "and acknowledged once writable")
	e := openTest(t, durableConfig(dir))
	requireRevoked(t, e, acked)
	requireRevoked(t, e, keyRange("old", 20))
	requireRevoked(t, e, keyRange("older", 5))
	assert.Equal(t, len(acked)+25, e.Len(), "exactly the acknowledged set")
}

// vanishingFS deletes the file victim right after the first listing of the
// directory, as a live engine deletes covered journals after a snapshot.
type vanishingFS struct {
	osFS
	victim string
	once   sync.Once
}

func (v *vanishingFS) ReadDir(dir string) ([]string, error) {
	names, err := v.osFS.ReadDir(dir)
	v.once.Do(func() { _ = os.Remove(v.victim) })
	return names, err
}

// TestAttackInspectBesideALiveEngine: the inspector is documented as safe
// beside a live engine, but a covered journal deleted by the engine's
// snapshot between the listing and the reading made it report the file
// unreadable (exit status 2, "check the permissions and the disk") for a
// healthy directory. It starts over instead.
func TestAttackInspectBesideALiveEngine(t *testing.T) {
	dir := t.TempDir()
	session(t, dir, keyRange("a", 3), false)
	session(t, dir, keyRange("b", 3), true) // snapshot 3; journals 1, 2 covered
	require.NoError(t, os.WriteFile(filepath.Join(dir, journalName(1)), []byte("covered"), 0o600))
	require.Contains(t, journalGens(t, dir), uint64(1))
	rep, err := inspectDir(&vanishingFS{victim: filepath.Join(dir, journalName(1))}, dir)
	require.NoError(t, err)
	for _, f := range rep.Files {
		assert.NotEqual(t, VerdictUnreadable, f.Verdict, f.Name)
	}
	assert.Equal(t, 6, rep.Live)
}

// TestAttackLeftoverOfANewerRelease: New deleted snapshot.rvk.tmp without
// looking at it, even one a newer release was writing. A file of an
// unknown version is never deleted: New refuses with ErrUnsupportedVersion
// and leaves the directory as it is.
func TestAttackLeftoverOfANewerRelease(t *testing.T) {
	dir := t.TempDir()
	session(t, dir, keyRange("a", 3), false)
	session(t, dir, keyRange("b", 3), false)
	var buf bytes.Buffer
	sw := newSnapshotWriter(&buf, snapshotHeader{created: time.Now().Unix(), generation: 2})
	_, err := sw.finish()
	require.NoError(t, err)
	data := buf.Bytes()
	data[4] = 3 // version 3, whatever its checksums say
	require.NoError(t, os.WriteFile(filepath.Join(dir, snapshotTmpName), data, 0o600))
	before := dirSnapshot(t, dir)
	_, err = New(durableConfig(dir))
	require.ErrorIs(t, err, ErrUnsupportedVersion)
	assert.Equal(t, before, dirSnapshot(t, dir), "never deleted")
	rep, err := InspectDir(dir)
	require.ErrorIs(t, err, ErrUnsupportedVersion)
	assert.Equal(t, VerdictUnsupported, rep.Files[len(rep.Files)-1].Verdict)
}

// TestAttackFileOfAnotherDirectory: a snapshot or journal copied over from
// another engine's directory (a restore from the wrong backup, two
// services' directories mixed up) verifies whenever its generation fits;
// the directory id in its header makes New refuse it instead of starting
// with the other engine's revocations.
func TestAttackFileOfAnotherDirectory(t *testing.T) {
	for _, name := range []string{snapshotName, journalName(3)} {
		t.Run(name, func(t *testing.T) {
			mine, theirs := t.TempDir(), t.TempDir()
			session(t, mine, keyRange("mine", 3), true)
			session(t, mine, keyRange("mine-later", 3), false)
			session(t, theirs, keyRange("theirs", 3), true)
			session(t, theirs, keyRange("theirs-later", 3), false)
			data, err := os.ReadFile(filepath.Join(theirs, name))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(mine, name), data, 0o600))
			_, err = New(durableConfig(mine))
			require.ErrorIs(t, err, ErrCorrupt)
			require.ErrorContains(t, err, "belongs to another directory")
			rep, err := InspectDir(mine)
			require.ErrorIs(t, err, ErrCorrupt)
			require.NotEmpty(t, rep.Files)
		})
	}
}

// TestAttackForgedAndMisplacedSeals: a seal anywhere but at the very end of
// a journal with the sealed flag, a seal whose count is off, and a seal of
// another generation are refused; they never let a cut journal pass for a
// complete one, or hide frames behind them.
func TestAttackForgedAndMisplacedSeals(t *testing.T) {
	const gen = 1
	frames := func(n int) []byte {
		var b []byte
		for i := range n {
			f := sealedFrame(gen, 1)
			binary.LittleEndian.PutUint64(f[journalFrameHead:], uint64(2000+i))
			sealFrames(f, genSeed(gen))
			b = append(b, f...)
		}
		return b
	}
	seal := func(g uint64, records uint64) []byte {
		s := journalSeal(genSeed(g), records)
		return s[:]
	}
	header := func(flags uint32) []byte {
		h := journalHeader(gen, time.Now().Unix())
		binary.LittleEndian.PutUint32(h[24:], flags)
		binary.LittleEndian.PutUint32(h[28:], crc32.Checksum(h[:28], castagnoli))
		return h[:]
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"sealed at the end", cat(header(journalFlagSealed), frames(3), seal(gen, 3)), true},
		{"a seal in the middle", cat(header(journalFlagSealed), frames(1), seal(gen, 1), frames(2)), false},
		{"a seal in the middle and at the end", cat(header(journalFlagSealed), frames(1), seal(gen, 1), frames(2), seal(gen, 3)), false},
		{"a seal that counts too few (frames cut and a seal forged)", cat(header(journalFlagSealed), frames(2), seal(gen, 3)), false},
		{"a seal that counts too many", cat(header(journalFlagSealed), frames(3), seal(gen, 2)), false},
		{"a seal of another generation", cat(header(journalFlagSealed), frames(3), seal(gen+1, 3)), false},
		{"a seal in a journal without the sealed flag", cat(header(0), frames(3), seal(gen, 3)), false},
		{"two seals", cat(header(journalFlagSealed), frames(3), seal(gen, 3), seal(gen, 3)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Journal 1 is followed by journal 2, so it must be complete.
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, journalName(gen)), tc.data, 0o600))
			writeJournalFile(t, dir, gen+1, 1, false)
			e, err := New(durableConfig(dir))
			if !tc.ok {
				require.ErrorIs(t, err, ErrCorrupt)
				return
			}
			require.NoError(t, err)
			defer e.Close()
			for i := range 3 {
				assert.True(t, e.contains(uint64(2000+i)))
			}
		})
	}
}

// FuzzRecoverDir fuzzes a whole directory rather than one file: journal 1
// (complete and sealed, three records) followed by a newest journal 2 and
// a leftover snapshot.rvk.tmp made of the fuzzer's bytes. Whatever they
// hold, loadDir never panics; when it accepts, every record of journal 1
// is loaded, at most one frame is trimmed, and only from journal 2; the
// repair converges: after repairDir the directory loads again with nothing
// left to trim, the same records, and the generation New would start.
func FuzzRecoverDir(f *testing.F) {
	valid := func(n int) []byte {
		h := journalHeader(2, 1)
		return append(h[:], sealedFrame(2, n)...)
	}
	f.Add(valid(2), []byte(nil), false)
	f.Add(valid(2)[:50], []byte("half"), true)
	f.Add([]byte("RVKJ"), []byte(nil), true)
	seal := journalSeal(genSeed(2), 1)
	f.Add(append(valid(1), seal[:]...), []byte(nil), false)
	f.Add(valid(3)[:70], []byte(nil), false)
	f.Fuzz(func(t *testing.T, newest, tmp []byte, withTmp bool) {
		dir := t.TempDir()
		writeJournalFile(t, dir, 1, 3, true)
		require.NoError(t, os.WriteFile(filepath.Join(dir, journalName(2)), newest, 0o600))
		if withTmp {
			require.NoError(t, os.WriteFile(filepath.Join(dir, snapshotTmpName), tmp, 0o600))
		}
		load := func() (map[uint64]bool, []FileReport, dirPlan, error) {
			got := map[uint64]bool{}
			var files []FileReport
			plan, err := loadDir(osFS{}, dir, func(recs []record) {
				for _, r := range recs {
					got[r.fp] = true
				}
			}, func(r FileReport) { files = append(files, r) })
			return got, files, plan, err
		}
		got, files, plan, err := load()
		if err != nil {
			return
		}
		for i := range 3 {
			require.True(t, got[uint64(1000+i)], "a record of the sealed journal 1")
		}
		for _, r := range files {
			if r.Verdict == VerdictTorn {
				require.Equal(t, journalName(2), r.Name, "only the newest journal is trimmed")
				require.LessOrEqual(t, r.TornBytes, int64(journalFrameHead+journalFrameMax*recordSize))
			}
		}
		require.NoError(t, repairDir(osFS{}, dir, plan))
		again, files2, plan2, err := load()
		require.NoError(t, err, "a repaired directory loads")
		require.Equal(t, got, again, "the same records")
		for _, r := range files2 {
			require.NotEqual(t, VerdictTorn, r.Verdict, "nothing left to trim: %s", r.Problem)
			require.NotEqual(t, VerdictLeftover, r.Verdict)
		}
		require.False(t, plan2.trim || plan2.removeTmp)
		if plan.trim && plan.trimEnd == 0 {
			require.Equal(t, uint64(2), plan2.next, "a torn header's generation is reused, never skipped")
		} else {
			require.Equal(t, uint64(3), plan2.next)
		}
	})
}

// TestAttackCloseDuringSnapshotsAndRevocations: SyncAlways revocations from
// several goroutines, snapshots (and so rotations) back to back, and Close
// in the middle of both. Every revocation that returned nil must be in the
// directory afterwards; those that failed must have failed with ErrClosed.
func TestAttackCloseDuringSnapshotsAndRevocations(t *testing.T) {
	for round := range 3 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			dir := t.TempDir()
			e, err := New(durableConfig(dir))
			require.NoError(t, err)
			exp := time.Now().Add(time.Hour)
			var (
				mu    sync.Mutex
				acked []string
				wg    sync.WaitGroup
			)
			for g := range 4 {
				wg.Go(func() {
					for i := 0; ; i++ {
						k := fmt.Sprintf("r%d-g%d-%d", round, g, i)
						if err := e.Revoke(k, exp); err != nil {
							assert.ErrorIs(t, err, ErrClosed)
							return
						}
						mu.Lock()
						acked = append(acked, k)
						mu.Unlock()
					}
				})
			}
			wg.Go(func() {
				for {
					if err := e.Snapshot(); err != nil {
						assert.ErrorIs(t, err, ErrClosed)
						return
					}
				}
			})
			time.Sleep(time.Duration(50+round*40) * time.Millisecond)
			require.NoError(t, e.Close())
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, acked)
			e2 := openTest(t, durableConfig(dir))
			requireRevoked(t, e2, acked)
		})
	}
}
