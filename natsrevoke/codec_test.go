package natsrevoke

import (
	"encoding/binary"
	"testing"

	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range []revoke.Record{
		{Fingerprint: 1, Deadline: 1},
		{Fingerprint: 0xdeadbeefcafef00d, Deadline: 1_800_000_000, Value: 1_700_000_000},
		{Fingerprint: ^uint64(0), Deadline: 1<<32 - 1, Value: ^uint32(0)},
	} {
		b := EncodeRecord(nil, r)
		require.Len(t, b, RecordSize)
		got, err := DecodeRecord(FormatVersion, b)
		require.NoError(t, err)
		assert.Equal(t, r, got)
	}
}

func TestRecordLayoutIsLittleEndian(t *testing.T) {
	b := EncodeRecord(nil, revoke.Record{Fingerprint: 0x0102030405060708, Deadline: 0x0a0b0c0d, Value: 0x11121314})
	assert.Equal(t, []byte{8, 7, 6, 5, 4, 3, 2, 1, 0x0d, 0x0c, 0x0b, 0x0a, 0x14, 0x13, 0x12, 0x11}, b)
	assert.Equal(t, "08070605040302010d0c0b0a14131211", msgID(b))
}

func TestDecodeRecordRefuses(t *testing.T) {
	good := EncodeRecord(nil, revoke.Record{Fingerprint: 9, Deadline: 99})
	zeroFP := append([]byte(nil), good...)
	binary.LittleEndian.PutUint64(zeroFP, 0)
	zeroDeadline := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(zeroDeadline[8:], 0)
	for _, tc := range []struct {
		name, version string
		payload       []byte
	}{
		{"unknown version", "v2", good},
		{"no version", "revoke", good},
		{"short", FormatVersion, good[:15]},
		{"long", FormatVersion, append(good, 0)},
		{"empty", FormatVersion, nil},
		{"zero fingerprint", FormatVersion, zeroFP},
		{"zero deadline", FormatVersion, zeroDeadline},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRecord(tc.version, tc.payload)
			require.ErrorIs(t, err, ErrBadMessage)
			assert.Contains(t, err.Error(), "natsrevoke: ")
		})
	}
}

func TestEncodeRecordPanicsOnImpossibleDeadline(t *testing.T) {
	assert.Panics(t, func() { EncodeRecord(nil, revoke.Record{Fingerprint: 1, Deadline: 1 << 32}) })
	assert.Panics(t, func() { EncodeRecord(nil, revoke.Record{Fingerprint: 1, Deadline: 0}) })
}

func TestDecodeRecordDoesNotAllocate(t *testing.T) {
	b := EncodeRecord(nil, revoke.Record{Fingerprint: 9, Deadline: 99})
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := DecodeRecord(FormatVersion, b); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func TestSubjectVersion(t *testing.T) {
	assert.Equal(t, "v1", subjectVersion("revoke.v1"))
	assert.Equal(t, "v1", subjectVersion("a.b.c.v1"))
	assert.Equal(t, "v1", subjectVersion("v1"))
}

// FuzzDecodeRecord: the decoder never panics, accepts exactly the 16-byte
// payloads of v1 with a fingerprint and a deadline, and what it accepts
// re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add("v1", EncodeRecord(nil, revoke.Record{Fingerprint: 1, Deadline: 2, Value: 3}))
	f.Add("v1", []byte{})
	f.Add("v2", make([]byte, 16))
	f.Add("v1", make([]byte, 17))
	f.Fuzz(func(t *testing.T, version string, payload []byte) {
		r, err := DecodeRecord(version, payload)
		if err != nil {
			require.ErrorIs(t, err, ErrBadMessage)
			return
		}
		require.Equal(t, FormatVersion, version)
		require.NotZero(t, r.Fingerprint)
		require.Positive(t, r.Deadline)
		require.Equal(t, payload, EncodeRecord(nil, r))
	})
}
