//go:build unix

package revoke

import (
	"syscall"
	"time"
)

// processCPU returns the user and system CPU time the process has used: on
// a shared, noisy machine, CPU time per operation compares runs that wall
// time cannot.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
