//go:build unix

package revoke

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAttackNamedPipes: recovery opened every file named like one of its
// own for reading, and opening a named pipe for reading waits for a
// writer: a FIFO (or a symlink to one) named like a journal, the snapshot
// or the leftover made New, and the inspector an operator runs to find
// out why, hang forever. Each must be refused at once, by its name.
func TestAttackNamedPipes(t *testing.T) {
	for _, name := range []string{journalName(1), journalName(2), journalName(3), snapshotName, snapshotTmpName} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			session(t, dir, keyRange("a", 2), true) // snapshot 2, journal 2
			session(t, dir, keyRange("b", 2), false)
			path := filepath.Join(dir, name)
			_ = os.Remove(path)
			require.NoError(t, syscall.Mkfifo(path, 0o600))
			type result struct {
				err     error
				inspect error
			}
			done := make(chan result, 1)
			go func() {
				var r result
				e, err := New(durableConfig(dir))
				if err == nil {
					_ = e.Close()
				}
				r.err = err
				_, r.inspect = InspectDir(dir)
				done <- r
			}()
			select {
			case r := <-done:
				require.Error(t, r.err)
				assert.Contains(t, r.err.Error(), name)
				assert.Contains(t, r.err.Error(), "not a regular file")
				require.Error(t, r.inspect)
			case <-time.After(5 * time.Second):
				// Unblock the goroutine so that the test binary can end.
				if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					_ = f.Close()
				}
				t.Fatalf("New or InspectDir hangs on a named pipe called %s", name)
			}
		})
	}
}
