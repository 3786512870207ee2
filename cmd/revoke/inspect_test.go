package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// durableDir returns a directory holding a snapshot of three entries and a
// journal of one more.
func durableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	e, err := revoke.New(revoke.Config{Dir: dir, SnapshotInterval: -1, SnapshotJournalBytes: -1})
	require.NoError(t, err)
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, e.Revoke(k, time.Now().Add(time.Hour)))
	}
	require.NoError(t, e.Snapshot())
	require.NoError(t, e.Revoke("d", time.Now().Add(10*24*time.Hour)))
	require.NoError(t, e.Close())
	return dir
}

func inspect(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"inspect"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestInspect(t *testing.T) {
	t.Run("healthy", func(t *testing.T) {
		code, out, _ := inspect(durableDir(t))
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "entries: 4 live, 0 expired")
		assert.Contains(t, out, "snapshot.rvk")
		assert.Contains(t, out, "journal: 1 file(s), 64 bytes, 1 records")
		assert.Regexp(t, `< 6h\s+3  #+`, out)
		assert.Regexp(t, `< 30d\s+1  #+`, out)
		assert.Contains(t, out, "OK: every file verifies")
	})
	t.Run("torn tail", func(t *testing.T) {
		dir := durableDir(t)
		path := filepath.Join(dir, "journal-0000000000000002.rvk")
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		_, err = f.Write([]byte("RVKF\x02\x00"))
		require.NoError(t, err)
		require.NoError(t, f.Close())
		code, out, _ := inspect(dir)
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "torn tail: journal-0000000000000002.rvk has 6 bytes after offset 64")
		st, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, int64(70), st.Size(), "inspect changes nothing")
	})
	t.Run("corrupt snapshot", func(t *testing.T) {
		dir := durableDir(t)
		path := filepath.Join(dir, "snapshot.rvk")
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		data[50] ^= 0x04
		require.NoError(t, os.WriteFile(path, data, 0o600))
		code, out, _ := inspect(dir)
		assert.Equal(t, 1, code, out)
		assert.Contains(t, out, "CORRUPT: revoke: corrupt state: "+path+" at offset 32: block checksum mismatch")
	})
	t.Run("usage", func(t *testing.T) {
		code, _, errOut := inspect()
		assert.Equal(t, 2, code)
		assert.Contains(t, errOut, "usage: revoke inspect DIR")
	})
	t.Run("missing directory", func(t *testing.T) {
		code, out, _ := inspect(filepath.Join(t.TempDir(), "nope"))
		assert.Equal(t, 1, code, out)
	})
}
