package revoke

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The loaders read files that a crash, a disk or a person may have mangled:
// they must never panic, never allocate more than one block or frame
// whatever a length field says, and never return records that did not
// verify. Run with go test -fuzz FuzzReadSnapshot (or FuzzReadJournal).

func snapshotSeed(n int) []byte {
	var buf bytes.Buffer
	sw := newSnapshotWriter(&buf, snapshotHeader{created: 1700000000, generation: 3})
	recs := make([]record, n)
	for i := range recs {
		recs[i] = record{fp: uint64(i)*0x9e3779b97f4a7c15 + 1, deadline: 2000000000 + uint32(i), value: uint32(i % 3)}
	}
	sw.add(recs)
	if _, err := sw.finish(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func FuzzReadSnapshot(f *testing.F) {
	for _, n := range []int{0, 1, 5, snapshotBlockMax + 1} {
		f.Add(snapshotSeed(n))
	}
	bad := snapshotSeed(3)
	binary.LittleEndian.PutUint32(bad[snapshotHeaderSize:], 1<<31)
	f.Add(bad)
	f.Add([]byte(snapshotMagic))
	var v2 bytes.Buffer // a snapshot file of a directory with an id
	sw := newSnapshotWriter(&v2, snapshotHeader{generation: 3, dirID: 0x1234})
	sw.add([]record{{fp: 1, deadline: 2000000000}})
	if _, err := sw.finish(); err != nil {
		f.Fatal(err)
	}
	f.Add(v2.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []record
		_, n, err := readSnapshot(bytes.NewReader(data), "fuzz", func(recs []record) {
			require.LessOrEqual(t, len(recs), applyBatch)
			got = append(got, recs...)
		})
		require.LessOrEqual(t, n, int64(len(data)))
		if err != nil {
			return
		}
		// What verified re-encodes to a snapshot holding the same records.
		var buf bytes.Buffer
		sw := newSnapshotWriter(&buf, snapshotHeader{})
		sw.add(got)
		_, err = sw.finish()
		require.NoError(t, err)
		var again []record
		_, _, err = readSnapshot(&buf, "fuzz", func(recs []record) { again = append(again, recs...) })
		require.NoError(t, err)
		require.Equal(t, got, again)
	})
}

func journalSeed(frames int) []byte {
	h := journalHeader(1, 1700000000)
	data := h[:]
	j := &journal{frameAt: -1}
	for i := range frames {
		j.appendLocked([]record{{fp: uint64(i + 1), deadline: uint32(2000000000 + i)}})
		if i%2 == 1 {
			j.frameAt = -1 // next record starts a frame
		}
	}
	sealFrames(j.pending, genSeed(1))
	return append(data, j.pending...)
}

func FuzzReadJournal(f *testing.F) {
	for _, n := range []int{0, 1, 4} {
		f.Add(journalSeed(n))
	}
	torn := journalSeed(3)
	f.Add(torn[:len(torn)-5])
	sealed := journalSeed(3)
	seal := journalSeal(genSeed(1), 3)
	f.Add(append(sealed, seal[:]...))
	bad := journalSeed(3)
	binary.LittleEndian.PutUint32(bad[journalHeaderSize+4:], 1<<30)
	f.Add(bad)
	withID := journalSeed(3)
	h := journalHeaderID(1, 1700000000, 0x1234)
	f.Add(append(h[:], withID[journalHeaderSize:]...))
	f.Fuzz(func(t *testing.T, data []byte) {
		records := 0
		info, err := readJournal(bytes.NewReader(data), int64(len(data)), "fuzz", 1, func(recs []record) {
			require.LessOrEqual(t, len(recs), applyBatch)
			records += len(recs)
		})
		if err != nil {
			return
		}
		require.Equal(t, records, info.records)
		require.LessOrEqual(t, info.end, int64(len(data)))
		require.Equal(t, info.end != int64(len(data)) || len(data) < journalHeaderSize, info.torn)
		if info.torn {
			// At most what one interrupted write leaves: part of one frame.
			require.LessOrEqual(t, int64(len(data))-info.end, int64(journalFrameHead+journalFrameMax*recordSize))
			require.False(t, info.sealed)
			// Trimming is stable: the trimmed file reads the same, clean.
			again, err := readJournal(bytes.NewReader(data[:info.end]), info.end, "fuzz", 1, func([]record) {})
			require.NoError(t, err)
			require.Equal(t, info.records, again.records)
		}
	})
}

// TestInspectDirReportsFiles checks the inspection API on a directory with a
// snapshot, a journal and a torn tail.
func TestInspectDirReportsFiles(t *testing.T) {
	dir := t.TempDir()
	e := openTest(t, durableConfig(dir))
	now := time.Now()
	for i := range 5 {
		require.NoError(t, e.Revoke(string(rune('a'+i)), now.Add(30*time.Second)))
	}
	require.NoError(t, e.Snapshot())
	require.NoError(t, e.Revoke("late", now.Add(48*time.Hour)))
	require.NoError(t, e.put(fingerprint(kindKey, "expired"), uint32(now.Unix()-10), 0))
	require.NoError(t, e.Close())

	rep, err := InspectDir(dir)
	require.NoError(t, err)
	require.Len(t, rep.Files, 2)
	require.Equal(t, "snapshot", rep.Files[0].Kind)
	require.Equal(t, 5, rep.Files[0].Records)
	require.Equal(t, "journal", rep.Files[1].Kind)
	require.Equal(t, 2, rep.Files[1].Records)
	require.Equal(t, 6, rep.Live)
	require.Equal(t, 1, rep.Expired)
	require.Equal(t, 5, rep.Deadlines[0].Count, "under a minute")
	require.Equal(t, 1, rep.Deadlines[5].Count, "under a week")
}

// TestLoadersBoundAllocation feeds lengths that claim gigabytes: the
// loaders must refuse them having allocated no more than a block or frame.
func TestLoadersBoundAllocation(t *testing.T) {
	hostileJournal := journalSeed(3)
	fh := hostileJournal[journalHeaderSize:]
	binary.LittleEndian.PutUint32(fh[4:], 0xFFFFFFFF)
	binary.LittleEndian.PutUint32(fh[12:], frameHeaderCRC(genSeed(1), fh)) // a header that verifies
	hostileSnapshot := snapshotSeed(3)
	binary.LittleEndian.PutUint32(hostileSnapshot[snapshotHeaderSize:], 0xFFFFFFFF)
	for _, tc := range []struct {
		name string
		load func() error
	}{
		{"journal", func() error {
			_, err := readJournal(bytes.NewReader(hostileJournal), int64(len(hostileJournal)), "j", 1, func([]record) {})
			return err
		}},
		{"snapshot", func() error {
			_, _, err := readSnapshot(bytes.NewReader(hostileSnapshot), "s", func([]record) {})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := tc.load()
			runtime.ReadMemStats(&after)
			require.ErrorIs(t, err, ErrCorrupt)
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(2<<20), "bytes allocated")
		})
	}
}
