//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package revoke

import "io"

// lockDir does nothing on this platform: one engine per directory is then
// the user's responsibility (see Config.Dir).
func lockDir(dir string) (io.Closer, error) { return nopCloser{}, nil }

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
