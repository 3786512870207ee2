//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/jwtrevoke/revoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAttackInspectAgreesWithNew damages a directory in many ways and
// checks that the inspector's exit status says what New then does: 0 when
// New starts, 1 when New refuses with ErrCorrupt or ErrUnsupportedVersion,
// 2 when New fails otherwise (a file it cannot read). A verdict that
// disagrees with New is a false verdict for the operator who acts on it.
func TestAttackInspectAgreesWithNew(t *testing.T) {
	write := func(name string, data []byte) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
		}
	}
	remove := func(name string) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, name))) }
	}
	truncate := func(name string, cut int64) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			path := filepath.Join(dir, name)
			st, err := os.Stat(path)
			require.NoError(t, err)
			if cut < 0 {
				cut += st.Size()
			}
			require.NoError(t, os.Truncate(path, cut))
		}
	}
	j := func(gen int) string { return fmt.Sprintf("journal-%016x.rvk", gen) }
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"nothing", func(*testing.T, string) {}},
		{"a leftover", write("snapshot.rvk.tmp", []byte("half"))},
		{"a covered journal", write(j(1), []byte("covered"))},
		{"a torn newest journal", truncate(j(4), -1)},
		{"a torn newest header", write(j(5), []byte("RVKJ"))},
		{"a journal deleted", remove(j(3))},
		{"the newest journal deleted", remove(j(4))},
		{"the snapshot deleted", remove("snapshot.rvk")},
		{"a cut journal", truncate(j(3), -16)},
		{"the snapshot cut", truncate("snapshot.rvk", -1)},
		{"a journal far ahead", write(j(9), []byte("RVKJ"))},
		{"an upper-case journal name", func(t *testing.T, dir string) {
			require.NoError(t, os.Rename(filepath.Join(dir, j(4)), filepath.Join(dir, "journal-0000000000000004.RVK")))
			require.NoError(t, os.Rename(filepath.Join(dir, j(3)), filepath.Join(dir, "journal-00000000000000A3.rvk")))
		}},
		{"a directory named like the next journal", func(t *testing.T, dir string) {
			require.NoError(t, os.Mkdir(filepath.Join(dir, j(5)), 0o700))
		}},
		{"a directory named like the leftover", func(t *testing.T, dir string) {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "snapshot.rvk.tmp", "x"), 0o700))
		}},
		{"a named pipe for the newest journal", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(filepath.Join(dir, j(4))))
			require.NoError(t, syscall.Mkfifo(filepath.Join(dir, j(4)), 0o600))
		}},
		{"a symlink to the snapshot of another directory", func(t *testing.T, dir string) {
			other := durableDir(t)
			require.NoError(t, os.Remove(filepath.Join(dir, "snapshot.rvk")))
			require.NoError(t, os.Symlink(filepath.Join(other, "snapshot.rvk"), filepath.Join(dir, "snapshot.rvk")))
		}},
		{"a dangling symlink for a covered journal", func(t *testing.T, dir string) {
			require.NoError(t, os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, j(1))))
		}},
		{"only the leftover remains", func(t *testing.T, dir string) {
			for _, n := range []string{"snapshot.rvk", j(2), j(3), j(4)} {
				require.NoError(t, os.Remove(filepath.Join(dir, n)))
			}
			require.NoError(t, os.WriteFile(filepath.Join(dir, "snapshot.rvk.tmp"), nil, 0o600))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := durableDir(t)
			tc.damage(t, dir)
			code, res := inspectJSON(t, dir)
			e, err := revoke.New(revoke.Config{Dir: dir, SnapshotInterval: -1, SnapshotJournalBytes: -1})
			if err == nil {
				require.NoError(t, e.Close())
			}
			want := inspectHealthy
			switch {
			case err == nil:
			case errors.Is(err, revoke.ErrCorrupt), errors.Is(err, revoke.ErrUnsupportedVersion):
				want = inspectDamaged
			default:
				want = inspectUnreadable
			}
			assert.Equalf(t, want, code, "New: %v\ninspect: %s %s", err, res.Status, res.Error)
			if err != nil {
				assert.NotEmpty(t, res.Error, "the inspector says why")
			}
			t.Logf("exit %d (%s); New: %v", code, res.Status, err)
		})
	}
}
