package revoke

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
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
