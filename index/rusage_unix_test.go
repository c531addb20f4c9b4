//go:build unix

package index

import (
	"syscall"
	"time"
)

// processCPU returns the user+system CPU time consumed by the process. The
// benchmarks report CPU time per op besides wall time because the machine
// they run on is shared: wall time includes time spent descheduled.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
