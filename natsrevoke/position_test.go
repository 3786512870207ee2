package natsrevoke

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPositionRoundTrip(t *testing.T) {
	path := positionPath(t.TempDir(), "S")
	_, ok, err := loadPosition(path)
	require.NoError(t, err)
	assert.False(t, ok, "no file: start from the beginning")

	for _, p := range []position{{seq: 1, created: 5}, {seq: 1 << 40, created: -1}, {seq: 7, created: 1_700_000_000_123_456_789}} {
		require.NoError(t, savePosition(path, p))
		got, ok, err := loadPosition(path)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, p, got)
	}
	_, err = os.Stat(path + ".tmp")
	assert.True(t, os.IsNotExist(err), "no temp file left behind")
	assert.Equal(t, "natsrevoke-S.pos", filepath.Base(path))
}

func TestPositionEveryBitFlipIsRefused(t *testing.T) {
	b := encodePosition(position{seq: 12345, created: 678})
	for i := range len(b) * 8 {
		c := append([]byte(nil), b...)
		c[i/8] ^= 1 << (i % 8)
		_, err := decodePosition(c)
		require.Error(t, err, "bit %d", i)
	}
	for n := range len(b) {
		_, err := decodePosition(b[:n])
		require.Error(t, err, "truncated to %d", n)
	}
}

func TestDamagedPositionFileIsAnErrorThatNamesIt(t *testing.T) {
	dir := t.TempDir()
	path := positionPath(dir, "S")
	require.NoError(t, os.WriteFile(path, []byte("garbage"), 0o600))
	_, ok, err := loadPosition(path)
	require.Error(t, err)
	assert.False(t, ok)
	assert.Contains(t, err.Error(), path, "the message names the file")
}

// FuzzDecodePosition: the loader never panics and what it accepts
// re-encodes to the same bytes.
func FuzzDecodePosition(f *testing.F) {
	f.Add(encodePosition(position{seq: 3, created: 4}))
	f.Add([]byte("NRVP"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePosition(b)
		if err != nil {
			return
		}
		require.Equal(t, b, encodePosition(p))
	})
}
