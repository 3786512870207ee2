package revoke

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fileDirID returns the directory id in the header of the journal or
// snapshot at path, 0 when it has none.
func fileDirID(t *testing.T, path string) uint64 {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	if filepath.Base(path) == snapshotName {
		h, _, err := readSnapshot(bytes.NewReader(data), path, func([]record) {})
		require.NoError(t, err)
		return h.dirID
	}
	gen, ok := parseJournalName(filepath.Base(path))
	require.True(t, ok)
	info, err := readJournal(bytes.NewReader(data), int64(len(data)), path, gen, func([]record) {})
	require.NoError(t, err)
	return info.dirID
}

// setDirID rewrites the directory id in the header of the journal or
// snapshot at path, with checksums that verify: a file of another directory.
func setDirID(t *testing.T, path string, id uint64) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	if filepath.Base(path) == snapshotName {
		require.Equal(t, uint32(snapshotVersion), binary.LittleEndian.Uint32(data[4:]))
		binary.LittleEndian.PutUint64(data[24:], id)
		binary.LittleEndian.PutUint32(data[36:], crc32c(data[:36]))
		// The trailer's CRC covers the whole file.
		end := len(data) - 4
		binary.LittleEndian.PutUint32(data[end:], crc32c(data[:end]))
	} else {
		require.NotZero(t, binary.LittleEndian.Uint32(data[24:])&journalFlagDirID)
		binary.LittleEndian.PutUint64(data[32:], id)
		binary.LittleEndian.PutUint32(data[44:], crc32c(data[:44]))
	}
	require.NoError(t, os.WriteFile(path, data, 0o600))
}

// TestDirIDWrittenInEveryFile: a new directory gets an id, every journal and
// the snapshot New writes carry it, and it survives restarts.
func TestDirIDWrittenInEveryFile(t *testing.T) {
	dir := t.TempDir()
	session(t, dir, keyRange("a", 3), false)
	id := fileDirID(t, filepath.Join(dir, journalName(1)))
	require.NotZero(t, id)
	session(t, dir, keyRange("b", 3), true) // journal 2, snapshot 3, journal 3
	session(t, dir, keyRange("c", 3), false)
	assert.Equal(t, id, fileDirID(t, filepath.Join(dir, snapshotName)))
	for _, gen := range journalGens(t, dir) {
		assert.Equalf(t, id, fileDirID(t, filepath.Join(dir, journalName(gen))), "journal %d", gen)
	}
	other := t.TempDir()
	session(t, other, nil, false)
	assert.NotEqual(t, id, fileDirID(t, filepath.Join(other, journalName(1))), "ids are drawn per directory")
	// Streams carry no id, in version 1 (which earlier releases read).
	e := openTest(t, durableConfig(dir))
	var buf bytes.Buffer
	_, err := e.WriteTo(&buf)
	require.NoError(t, err)
	assert.Equal(t, uint32(snapshotVersion1), binary.LittleEndian.Uint32(buf.Bytes()[4:]))
	requireRevoked(t, e, append(append(keyRange("a", 3), keyRange("b", 3)...), keyRange("c", 3)...))
}

// TestDirIDMismatchIsRefused: a journal or snapshot whose id is not the one
// of the other files is refused with ErrCorrupt naming it, by New and by
// InspectDir, and nothing in the directory changes.
func TestDirIDMismatchIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		victim string
	}{
		{"snapshot", snapshotName},
		{"journal the snapshot starts from", journalName(3)},
		{"newest journal", journalName(4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			session(t, dir, keyRange("a", 3), false)
			session(t, dir, keyRange("b", 3), true) // snapshot 3
			session(t, dir, keyRange("c", 3), false)
			require.Equal(t, []uint64{3, 4}, journalGens(t, dir))
			path := filepath.Join(dir, tc.victim)
			setDirID(t, path, fileDirID(t, path)^0x5a5a)
			before := dirSnapshot(t, dir)
			_, err := New(durableConfig(dir))
			require.ErrorIs(t, err, ErrCorrupt)
			assert.ErrorContains(t, err, "belongs to another directory")
			assert.ErrorContains(t, err, tc.victim)
			assert.Equal(t, before, dirSnapshot(t, dir), "nothing changed")
			rep, err := InspectDir(dir)
			require.ErrorIs(t, err, ErrCorrupt)
			corrupt := 0
			for _, f := range rep.Files {
				if f.Verdict == VerdictCorrupt {
					corrupt++
					assert.Contains(t, f.Problem, "belongs to another directory")
				}
			}
			assert.Equal(t, 1, corrupt)
		})
	}
}

// TestDirIDOfACoveredJournal: a journal the snapshot covers is not read, and
// New deletes it; it is still refused when it belongs to another directory,
// and deleted when it is this directory's.
func TestDirIDOfACoveredJournal(t *testing.T) {
	for _, foreign := range []bool{false, true} {
		t.Run(fmt.Sprint("foreign=", foreign), func(t *testing.T) {
			dir := t.TempDir()
			session(t, dir, keyRange("a", 3), false)
			session(t, dir, keyRange("b", 3), true) // snapshot 3
			id := fileDirID(t, filepath.Join(dir, snapshotName))
			if foreign {
				id ^= 1
			}
			h := journalHeaderID(1, time.Now().Unix(), id)
			require.NoError(t, os.WriteFile(filepath.Join(dir, journalName(1)), h[:], 0o600))
			e, err := New(durableConfig(dir))
			if foreign {
				require.ErrorIs(t, err, ErrCorrupt)
				assert.ErrorContains(t, err, journalName(1))
				assert.ErrorContains(t, err, "belongs to another directory")
				return
			}
			require.NoError(t, err)
			defer e.Close()
			assert.NotContains(t, journalGens(t, dir), uint64(1))
			requireRevoked(t, e, keyRange("a", 3))
		})
	}
}

// TestDirIDOldFilesStillLoad: files of the current versions without an id
// (journals without the flag, a version 1 snapshot: what earlier releases
// wrote) load; the files written next carry a new id, and the mix loads.
func TestDirIDOldFilesStillLoad(t *testing.T) {
	dir := t.TempDir()
	fp := func(i int) uint64 { return uint64(5000 + i) }
	writeSnapshotFile(t, dir, 2, []record{liveRecord(fp(0)), liveRecord(fp(1))})
	writeJournalFile(t, dir, 2, 3, true)
	writeJournalFile(t, dir, 3, 2, false) // the newest, not sealed (kill -9)
	for _, name := range []string{snapshotName, journalName(2), journalName(3)} {
		require.Zerof(t, fileDirID(t, filepath.Join(dir, name)), "%s has no id", name)
	}
	e, err := New(durableConfig(dir))
	require.NoError(t, err)
	for i := range 2 {
		assert.True(t, e.contains(fp(i)))
	}
	for i := range 3 {
		assert.True(t, e.contains(uint64(i+1000)))
	}
	require.NoError(t, e.Revoke("new", time.Now().Add(time.Hour)))
	require.NoError(t, e.Close())
	id := fileDirID(t, filepath.Join(dir, journalName(4)))
	require.NotZero(t, id, "the id-less directory adopted an id")
	assert.Zero(t, fileDirID(t, filepath.Join(dir, journalName(3))), "old files are not rewritten")

	// The mix: id-less journals 2 and 3, journal 4 with the id.
	e = openTest(t, durableConfig(dir))
	assert.True(t, e.IsRevoked("new"))
	assert.True(t, e.contains(fp(1)))
	require.NoError(t, e.Snapshot())
	require.NoError(t, e.Close())
	assert.Equal(t, id, fileDirID(t, filepath.Join(dir, snapshotName)), "the adopted id is kept")
	e = openTest(t, durableConfig(dir))
	assert.True(t, e.IsRevoked("new"))
	assert.True(t, e.contains(fp(0)))
}

// TestDirIDMixedWithAForeignFile: id-less files never vouch for an id; the
// file whose id is not the one most files carry is refused, and when as
// many files carry one id as another, every one of them is.
func TestDirIDMixedWithAForeignFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		victim  uint64
		journal int // journals written with the id
		blamed  int
	}{
		{"one against two", 3, 3, 1},
		{"one against one", 3, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeJournalFile(t, dir, 1, 2, true) // id-less
			for i := range tc.journal {
				session(t, dir, keyRange(fmt.Sprint(i), 2), false)
			}
			path := filepath.Join(dir, journalName(tc.victim))
			setDirID(t, path, fileDirID(t, path)+1)
			_, err := New(durableConfig(dir))
			require.ErrorIs(t, err, ErrCorrupt)
			assert.ErrorContains(t, err, "another directory")
			rep, err := InspectDir(dir)
			require.ErrorIs(t, err, ErrCorrupt)
			var blamed []string
			for _, f := range rep.Files {
				if f.Verdict == VerdictCorrupt {
					blamed = append(blamed, f.Name)
				}
			}
			assert.Len(t, blamed, tc.blamed)
			assert.Contains(t, blamed, journalName(tc.victim))
			assert.NotContains(t, blamed, journalName(1), "an id-less file is not blamed")
		})
	}
}

// TestJournalHeaderWithDirID: the 48-byte header. Cut anywhere within it,
// the file is a torn creation; a header that does not verify is torn only
// when the file holds nothing else; a reserved field set is a newer
// release's; id 0 is damage.
func TestJournalHeaderWithDirID(t *testing.T) {
	plain, _ := journalBytes(t, 4)
	h := journalHeaderID(1, 1700000000, 0xfeed)
	data := append(h[:], plain[journalHeaderSize:]...)
	info, all, err := readAllJournal(data)
	require.NoError(t, err)
	require.False(t, info.torn)
	assert.Equal(t, uint64(0xfeed), info.dirID)
	_, want, err := readAllJournal(plain)
	require.NoError(t, err)
	assert.Equal(t, want, all, "the same frames after either header")
	for cut := 0; cut <= journalHeaderIDSize; cut++ {
		info, got, err := readAllJournal(data[:cut])
		require.NoErrorf(t, err, "cut at %d", cut)
		assert.Emptyf(t, got, "cut at %d", cut)
		assert.Equalf(t, cut < journalHeaderIDSize, info.torn, "cut at %d", cut)
		assert.Equalf(t, int64(cut/journalHeaderIDSize*journalHeaderIDSize), info.end, "cut at %d", cut)
	}
	edit := func(f func(b []byte)) []byte {
		b := bytes.Clone(data)
		f(b)
		return b
	}
	resum := func(b []byte) { binary.LittleEndian.PutUint32(b[44:], crc32c(b[:44])) }
	for _, tc := range []struct {
		name string
		data []byte
		torn bool
		err  error
	}{
		{"extension checksum fails, header alone", edit(func(b []byte) { b[33] ^= 1 })[:journalHeaderIDSize], true, nil},
		{"extension checksum fails, frames follow", edit(func(b []byte) { b[33] ^= 1 }), false, ErrCorrupt},
		{"reserved set", edit(func(b []byte) { b[40] = 1; resum(b) }), false, ErrUnsupportedVersion},
		{"id 0", edit(func(b []byte) { clear(b[32:40]); resum(b) }), false, ErrCorrupt},
		{"flag cleared: frames at 32 do not verify", edit(func(b []byte) {
			b[24] &^= journalFlagDirID
			binary.LittleEndian.PutUint32(b[28:], crc32c(b[:28]))
		}), false, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, _, err := readAllJournal(tc.data)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.torn, info.torn)
			assert.Zero(t, info.end)
		})
	}
}

// TestSnapshotVersion2Header: reserved set is a newer release's, id 0 is
// damage, and a flipped id fails the header checksum.
func TestSnapshotVersion2Header(t *testing.T) {
	var buf bytes.Buffer
	sw := newSnapshotWriter(&buf, snapshotHeader{created: 1700000000, generation: 5, dirID: 0xbeef})
	sw.add([]record{{fp: 7, deadline: 2000000000}})
	_, err := sw.finish()
	require.NoError(t, err)
	data := buf.Bytes()
	h, _, err := readSnapshot(bytes.NewReader(data), "s", func([]record) {})
	require.NoError(t, err)
	assert.Equal(t, snapshotHeader{created: 1700000000, generation: 5, dirID: 0xbeef}, h)
	resum := func(b []byte) {
		binary.LittleEndian.PutUint32(b[36:], crc32c(b[:36]))
		binary.LittleEndian.PutUint32(b[len(b)-4:], crc32c(b[:len(b)-4]))
	}
	for _, tc := range []struct {
		name string
		edit func(b []byte)
		err  error
	}{
		{"reserved set", func(b []byte) { b[32] = 1; resum(b) }, ErrUnsupportedVersion},
		{"id 0", func(b []byte) { clear(b[24:32]); resum(b) }, ErrCorrupt},
		{"id flipped", func(b []byte) { b[25] ^= 1 }, ErrCorrupt},
		{"cut in the header", func(b []byte) {}, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(data)
			tc.edit(b)
			if tc.name == "cut in the header" {
				b = b[:snapshotHeader2Size-1]
			}
			_, _, err := readSnapshot(bytes.NewReader(b), "s", func([]record) {})
			require.ErrorIs(t, err, tc.err)
		})
	}
}

// TestDirIDLeftoverSnapshotOfVersion2: the unfinished snapshot New leaves
// behind is of version 2; its generation still proves which journals
// existed, and a header cut short proves nothing.
func TestDirIDLeftoverSnapshotOfVersion2(t *testing.T) {
	for _, tc := range []struct {
		name    string
		gen     uint64
		cut     int
		refused bool
	}{
		{"proves a deleted journal", 4, snapshotHeader2Size + 8, true},
		{"proves the journals that are there", 2, snapshotHeader2Size + 8, false},
		{"header cut short", 4, snapshotHeader2Size - 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			session(t, dir, keyRange("a", 2), false)
			session(t, dir, keyRange("b", 2), false)
			id := fileDirID(t, filepath.Join(dir, journalName(2)))
			var buf bytes.Buffer
			sw := newSnapshotWriter(&buf, snapshotHeader{created: time.Now().Unix(), generation: tc.gen, dirID: id})
			sw.add([]record{liveRecord(5)})
			sw.flush()
			require.NoError(t, os.WriteFile(filepath.Join(dir, snapshotTmpName), buf.Bytes()[:tc.cut], 0o600))
			e, err := New(durableConfig(dir))
			if tc.refused {
				require.ErrorIs(t, err, ErrCorrupt)
				assert.ErrorContains(t, err, snapshotTmpName)
				return
			}
			require.NoError(t, err)
			defer e.Close()
			requireRevoked(t, e, append(keyRange("a", 2), keyRange("b", 2)...))
		})
	}
}
