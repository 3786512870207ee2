//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package natsrevoke

import "io"

// lockState does nothing on this platform: one Replicator per stream and
// StateDir is then the user's responsibility (see Config.StateDir).
func lockState(path, dir string) (io.Closer, error) { return nopCloser{}, nil }

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
