package harness

import (
	"context"
	"time"
)

// Quiet-wait settings: before a measured step the harness waits, within
// a budget, for the machine to be mostly idle, so that other users of a
// shared machine distort fewer steps.
const (
	quietThreshold = 0.40 // busy share of all CPUs below which we start
	quietSample    = 300 * time.Millisecond
	quietPerStep   = 8 * time.Second
)

// waitQuiet waits until the machine's CPUs are less than quietThreshold
// busy (our own servers idle between steps), for at most quietPerStep and
// what remains of the run's budget. It returns the busy share last seen.
func (r *runner) waitQuiet(ctx context.Context) float64 {
	if r.quietBudget <= 0 {
		return -1
	}
	start := time.Now()
	limit := min(quietPerStep, r.quietBudget)
	busy := 1.0
	for range 1000 {
		b0, t0 := machineCPU()
		select {
		case <-ctx.Done():
			return busy
		case <-time.After(quietSample):
		}
		b1, t1 := machineCPU()
		if t1 > t0 {
			busy = float64(b1-b0) / float64(t1-t0)
		}
		if busy < quietThreshold || time.Since(start) >= limit {
			break
		}
	}
	waited := time.Since(start)
	r.quietBudget -= waited
	if waited > 2*quietSample {
		r.progress.logf("waited %v for a quieter machine (busy %.0f%%; budget left %v)", waited.Round(100*time.Millisecond),
			100*busy, r.quietBudget.Round(time.Second))
	}
	return busy
}
