package natsrevoke

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func outboxBytes(recs ...revoke.Record) []byte {
	b := append([]byte(outboxMagic), outboxVersion, 0, 0, 0)
	for _, r := range recs {
		b = appendFrame(b, r)
	}
	return b
}

func TestDecodeOutbox(t *testing.T) {
	r1 := revoke.Record{Fingerprint: 1, Deadline: 1 << 31}
	r2 := revoke.Record{Fingerprint: 2, Deadline: 1 << 31, Value: 5}
	r3 := revoke.Record{Fingerprint: 3, Deadline: 1 << 31}
	good := outboxBytes(r1, r2, r3)
	badCRC := func(b []byte, frame int) []byte {
		b = bytes.Clone(b)
		b[outboxHeaderSize+frame*outboxFrameSize] ^= 0x40
		return b
	}
	otherVersion := bytes.Clone(good)
	otherVersion[4] = 2
	// A frame that verifies but holds no record (16 zero bytes).
	zeroRecord := binary.LittleEndian.AppendUint32(append(outboxBytes(r1), make([]byte, RecordSize)...),
		crc32.Checksum(make([]byte, RecordSize), castagnoli))
	for _, tc := range []struct {
		name    string
		b       []byte
		want    []revoke.Record
		torn    int
		damaged bool
	}{
		{"no file", nil, nil, 0, false},
		// The file is only created whole (temp file, fsync, rename): a
		// short one was cut by something else than a crash.
		{"cut inside the header", good[:5], nil, 0, true},
		{"header only", good[:outboxHeaderSize], nil, 0, false},
		{"three records", good, []revoke.Record{r1, r2, r3}, 0, false},
		{"torn last frame", good[:len(good)-3], []revoke.Record{r1, r2}, outboxFrameSize - 3, false},
		{"last frame does not verify", badCRC(good, 2), []revoke.Record{r1, r2}, outboxFrameSize, false},
		{"zero-filled tail", append(bytes.Clone(good), make([]byte, 3*outboxFrameSize+7)...), []revoke.Record{r1, r2, r3}, 3*outboxFrameSize + 7, false},
		{"a middle frame does not verify", badCRC(good, 1), nil, 0, true},
		{"another version", otherVersion, nil, 0, true},
		{"another magic", append([]byte("NRVP"), good[4:]...), nil, 0, true},
		{"a verified frame that is no record", zeroRecord, nil, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, torn, err := decodeOutbox(tc.b)
			if tc.damaged {
				require.ErrorIs(t, err, ErrOutboxDamaged)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, recs)
			assert.Equal(t, tc.torn, torn)
		})
	}
}

func TestOutboxKeepsWhatIsNotAcknowledged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.outbox")
	now := time.Now().Unix()
	o, entries, torn, err := openOutbox(path, true, now)
	require.NoError(t, err)
	assert.Empty(t, entries)
	assert.Zero(t, torn)
	live := []revoke.Record{{Fingerprint: 1, Deadline: now + 60}, {Fingerprint: 2, Deadline: now + 60}, {Fingerprint: 3, Deadline: now + 2}}
	var ids []uint64
	for _, rec := range live {
		id, err := o.add(rec)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	require.NoError(t, o.ack(ids[0]))
	assert.Equal(t, 2, o.len())
	require.NoError(t, o.close())

	o, entries, _, err = openOutbox(path, true, now)
	require.NoError(t, err)
	var back []revoke.Record
	for _, e := range entries {
		back = append(back, e.rec)
	}
	// Acknowledged frames leave the file when it is emptied or rewritten:
	// the acknowledged one may come back too (published once more,
	// harmlessly); the unacknowledged ones must.
	assert.Subset(t, back, live[1:], "the unacknowledged records come back")
	for _, e := range entries {
		require.NoError(t, o.ack(e.id))
	}
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.EqualValues(t, outboxHeaderSize, fi.Size(), "emptied once everything is acknowledged")
	require.NoError(t, o.close())

	t.Run("expired records are dropped at open", func(t *testing.T) {
		o, _, _, err := openOutbox(path, false, now)
		require.NoError(t, err)
		_, err = o.add(live[2])
		require.NoError(t, err)
		require.NoError(t, o.close())
		_, entries, _, err := openOutbox(path, false, now+10)
		require.NoError(t, err)
		assert.Empty(t, entries)
	})
	t.Run("compaction keeps the pending records", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "c.outbox")
		o, _, _, err := openOutbox(p, false, now)
		require.NoError(t, err)
		keep, err := o.add(revoke.Record{Fingerprint: 99, Deadline: now + 60})
		require.NoError(t, err)
		for i := range outboxCompactMin + 10 {
			id, err := o.add(revoke.Record{Fingerprint: uint64(i + 100), Deadline: now + 60})
			require.NoError(t, err)
			require.NoError(t, o.ack(id))
		}
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Less(t, fi.Size(), int64(outboxCompactMin*outboxFrameSize), "rewritten with the pending record only")
		require.NoError(t, o.close())
		_, entries, _, err := openOutbox(p, false, now)
		require.NoError(t, err)
		assert.Less(t, len(entries), 100, "acknowledged records were dropped by the rewrite")
		require.NotEmpty(t, entries)
		assert.EqualValues(t, 99, entries[0].rec.Fingerprint, "the pending record survived it")
		assert.NotZero(t, keep)
	})
	t.Run("a damaged outbox stops New", func(t *testing.T) {
		dir := t.TempDir()
		b := outboxBytes(live[0], live[1], live[0])
		b[outboxHeaderSize+3] ^= 1
		require.NoError(t, os.WriteFile(outboxPath(dir, DefaultStream), b, 0o600))
		e, err := revoke.New(revoke.Config{Dir: dir})
		require.NoError(t, err)
		defer e.Close()
		_, err = New(t.Context(), e, connect(t, "nats://127.0.0.1:1"), Config{})
		require.ErrorIs(t, err, ErrOutboxDamaged)
		assert.Contains(t, err.Error(), outboxPath(dir, DefaultStream))
	})
}

func FuzzDecodeOutbox(f *testing.F) {
	f.Add(outboxBytes(revoke.Record{Fingerprint: 1, Deadline: 1 << 31}))
	f.Add(outboxBytes())
	f.Add([]byte("NRVO\x01\x00\x00\x00garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, torn, err := decodeOutbox(b)
		if err != nil {
			require.True(t, errors.Is(err, ErrOutboxDamaged), "%v", err)
			return
		}
		require.GreaterOrEqual(t, torn, 0)
		require.LessOrEqual(t, torn, len(b))
		for _, r := range recs {
			require.NotZero(t, r.Fingerprint)
			require.NotZero(t, r.Deadline)
		}
		if len(b) >= outboxHeaderSize {
			require.Equal(t, len(b)-torn, outboxHeaderSize+len(recs)*outboxFrameSize, "what is kept is whole frames")
		}
	})
}
