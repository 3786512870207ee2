//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package revoke

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive advisory lock (flock) on dir/LOCK, so that two
// engines, in one process or two, never append to the same journal. The
// operating system releases it when the process dies, so a crash leaves no
// stale lock behind.
func lockDir(dir string) (io.Closer, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		// On a read-only file system an existing LOCK can still be
		// flocked through a read-only descriptor (see Config.AllowReadOnly).
		var rerr error
		if f, rerr = os.Open(filepath.Join(dir, lockName)); rerr != nil {
			return nil, fmt.Errorf("revoke: locking %s: %w", dir, err)
		}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrDirLocked, dir)
		}
		return nil, fmt.Errorf("revoke: locking %s: %w", dir, err)
	}
	return f, nil // closing the file releases the lock
}
