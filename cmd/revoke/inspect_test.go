package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// durableDir returns a directory holding a snapshot of three entries
// (generation 2), journal 2 (empty), journal 3 (one entry) and journal 4
// (empty, the last start).
func durableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := revoke.Config{Dir: dir, SnapshotInterval: -1, SnapshotJournalBytes: -1}
	e, err := revoke.New(cfg)
	require.NoError(t, err)
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, e.Revoke(k, time.Now().Add(2*time.Hour)))
	}
	require.NoError(t, e.Snapshot())
	require.NoError(t, e.Close())
	e, err = revoke.New(cfg)
	require.NoError(t, err)
	require.NoError(t, e.Revoke("d", time.Now().Add(10*24*time.Hour)))
	require.NoError(t, e.Close())
	e, err = revoke.New(cfg)
	require.NoError(t, err)
	require.NoError(t, e.Close())
	return dir
}

func runInspectCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"inspect"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func journalPath(dir string, gen int) string {
	return filepath.Join(dir, fmt.Sprintf("journal-%016x.rvk", gen))
}

func inspectJSON(t *testing.T, dir string) (int, inspectResult) {
	t.Helper()
	code, out, _ := runInspectCmd("--json", dir)
	var res inspectResult
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	assert.Equal(t, code, res.ExitCode)
	return code, res
}

func verdicts(res inspectResult) map[string]string {
	m := map[string]string{}
	for _, f := range res.Files {
		m[f.Name] = f.Verdict
	}
	return m
}

func TestInspect(t *testing.T) {
	t.Run("healthy", func(t *testing.T) {
		code, out, _ := runInspectCmd(durableDir(t))
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "entries: 4 live, 0 expired")
		assert.Regexp(t, `snapshot\.rvk\s+snapshot\s+0000000000000002\s+ok`, out, "generations in hex, as in file names")
		assert.Regexp(t, `journal-0000000000000003\.rvk\s+journal\s+0000000000000003\s+ok\s+96\s+1\s+1`, out)
		assert.Contains(t, out, "journal: 3 file(s), 224 bytes, 1 records")
		assert.Regexp(t, `< 6h\s+3  #+`, out)
		assert.Regexp(t, `< 30d\s+1  #+`, out)
		assert.Contains(t, out, "OK: New starts on this directory")
	})
	t.Run("torn tail", func(t *testing.T) {
		dir := durableDir(t)
		path := journalPath(dir, 4)
		require.NoError(t, os.Truncate(path, 48)) // a crash, not a Close: no seal
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		_, err = f.Write([]byte("RVKF\x02\x00"))
		require.NoError(t, err)
		require.NoError(t, f.Close())
		code, out, _ := runInspectCmd(dir)
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "journal-0000000000000004.rvk: TORN\n    6 bytes from offset 48 (short frame header) are what an interrupted write leaves")
		assert.Contains(t, out, "what to do: nothing")
		st, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, int64(54), st.Size(), "inspect changes nothing")
	})
	t.Run("random bytes are corruption, not a crash", func(t *testing.T) {
		dir := durableDir(t)
		f, err := os.OpenFile(journalPath(dir, 3), os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		_, err = f.Write(bytes.Repeat([]byte{0xa5, 0x3c}, 300))
		require.NoError(t, err)
		require.NoError(t, f.Close())
		code, out, _ := runInspectCmd(dir)
		assert.Equal(t, 1, code, out)
		assert.NotContains(t, out, "interrupted write leaves:")
		assert.Contains(t, out, "journal-0000000000000003.rvk: CORRUPT")
		assert.Contains(t, out, "what to do: New refuses to start")
	})
	t.Run("corrupt snapshot: every file listed with its own verdict", func(t *testing.T) {
		dir := durableDir(t)
		path := filepath.Join(dir, "snapshot.rvk")
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		data[50] ^= 0x04
		require.NoError(t, os.WriteFile(path, data, 0o600))
		code, out, _ := runInspectCmd(dir)
		assert.Equal(t, 1, code, out)
		assert.Contains(t, out, "CORRUPT: New refuses to start on this directory (fail closed), with\n  revoke: corrupt state: "+path+" at offset 40: block checksum mismatch")
		_, res := inspectJSON(t, dir)
		assert.Equal(t, map[string]string{
			"snapshot.rvk": "corrupt", "journal-0000000000000002.rvk": "ok",
			"journal-0000000000000003.rvk": "ok", "journal-0000000000000004.rvk": "ok",
		}, verdicts(res))
		assert.Equal(t, "corrupt", res.Status)
	})
	t.Run("a gap is missing data", func(t *testing.T) {
		dir := durableDir(t)
		require.NoError(t, os.Remove(journalPath(dir, 3)))
		code, out, _ := runInspectCmd(dir)
		assert.Equal(t, 1, code, out)
		assert.NotContains(t, out, "OK")
		assert.Contains(t, out, "journal-0000000000000003.rvk: MISSING")
		assert.Contains(t, out, "Find the file")
		_, res := inspectJSON(t, dir)
		assert.Equal(t, "missing", res.Status)
		assert.Equal(t, "missing", verdicts(res)["journal-0000000000000003.rvk"])
		assert.Equal(t, "ok", verdicts(res)["journal-0000000000000004.rvk"], "the files after it are listed")
	})
	t.Run("newer release", func(t *testing.T) {
		dir := durableDir(t)
		path := journalPath(dir, 3)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		data[4] = 2
		require.NoError(t, os.WriteFile(path, data, 0o600))
		code, out, _ := runInspectCmd(dir)
		assert.Equal(t, 1, code, out)
		assert.Contains(t, out, "UNSUPPORTED")
		assert.Contains(t, out, "upgrade back")
	})
	t.Run("missing directory", func(t *testing.T) {
		code, out, _ := runInspectCmd(filepath.Join(t.TempDir(), "nope"))
		assert.Equal(t, 1, code, out)
		assert.NotContains(t, out, "CORRUPT")
		assert.Contains(t, out, "MISSING: the directory does not exist. New would create it")
		assert.NotContains(t, out, "refuses")
	})
	t.Run("empty directory", func(t *testing.T) {
		code, out, _ := runInspectCmd(t.TempDir())
		assert.Equal(t, 0, code, out)
		assert.Contains(t, out, "no snapshot and no journal")
	})
	t.Run("unreadable", func(t *testing.T) {
		notDir := filepath.Join(t.TempDir(), "file")
		require.NoError(t, os.WriteFile(notDir, nil, 0o600))
		code, out, _ := runInspectCmd(notDir)
		assert.Equal(t, 2, code, out)
		assert.Contains(t, out, "UNREADABLE")
		assert.NotContains(t, out, "CORRUPT")
	})
	t.Run("usage", func(t *testing.T) {
		code, _, errOut := runInspectCmd()
		assert.Equal(t, 3, code)
		assert.Contains(t, errOut, "usage: revoke inspect [--json] DIR")
	})
}
