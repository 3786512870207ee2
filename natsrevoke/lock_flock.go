//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package natsrevoke

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// lockState takes an exclusive advisory lock (flock) on the file at path,
// so that two Replicators of one stream, in one process or two, never share
// its outbox and position files. The operating system releases it when the
// process dies: a crash leaves no stale lock behind.
func lockState(path, dir string) (io.Closer, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("natsrevoke: locking %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s (%s)", ErrStateDirLocked, dir, path)
		}
		return nil, fmt.Errorf("natsrevoke: locking %s: %w", path, err)
	}
	return f, nil // closing the file releases the lock
}
