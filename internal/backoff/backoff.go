// Package backoff retries an operation with exponential, capped, jittered
// pauses until it succeeds, reports a permanent outcome, or its context
// ends. It replaces the hand-written retry loops of the Kafka intake,
// `revocd consume` and the initial Redis load.
//
// The n-th pause (n from 1) is min(Initial·2^(n-1), Max), less a random
// fraction of itself of at most Jitter: pauses never exceed Max, and
// retrying nodes spread out instead of hitting a recovering dependency in
// step. Randomness is injectable (Policy.Rand) and the pause schedule is
// a pure function of it (Policy.Pause), so schedules are tested without
// sleeping.
package backoff

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults of a zero Policy field.
const (
	DefaultInitial = 100 * time.Millisecond
	DefaultMax     = 5 * time.Second
)

// Policy is an exponential backoff schedule. The zero value is usable:
// DefaultInitial doubling up to DefaultMax, without jitter. A Policy is a
// value: safe to copy and to share between goroutines.
type Policy struct {
	// Initial is the first pause (DefaultInitial if <= 0).
	Initial time.Duration
	// Max caps every pause (DefaultMax if <= 0; raised to Initial if
	// smaller).
	Max time.Duration
	// Jitter, in [0, 1], is the largest fraction of a pause removed at
	// random; values outside the range are clamped. 0 disables jitter.
	Jitter float64
	// Rand returns a number in [0, 1) for the jitter (math/rand/v2's
	// Float64 if nil). It must be safe for concurrent use if the Policy
	// is shared by concurrent retries.
	Rand func() float64
}

// Pause returns the pause after the attempt-th failed attempt (attempt
// counts from 1; values below 1 are treated as 1).
func (p Policy) Pause(attempt int) time.Duration {
	initial, maxPause := p.Initial, p.Max
	if initial <= 0 {
		initial = DefaultInitial
	}
	if maxPause <= 0 {
		maxPause = DefaultMax
	}
	maxPause = max(maxPause, initial)
	d := initial
	for i := 1; i < attempt && d < maxPause; i++ {
		d *= 2
	}
	d = min(d, maxPause)
	if j := min(max(p.Jitter, 0), 1); j > 0 {
		r := p.Rand
		if r == nil {
			r = rand.Float64
		}
		d -= time.Duration(j * r() * float64(d))
	}
	return d
}

// Retry calls attempt (with the attempt number, from 1) until it reports
// done, pausing Policy.Pause(n) after the n-th call that did not. It
// returns the error of the call that reported done (nil for a success).
// If ctx ends first it returns an error wrapping ctx's error and the last
// attempt's error; attempt is not called once ctx has ended. attempt
// decides what is retryable; it typically logs its failures.
func Retry(ctx context.Context, p Policy, attempt func(ctx context.Context, n int) (done bool, err error)) error {
	var last error
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return stopped(err, last)
		}
		done, err := attempt(ctx, n)
		if done {
			return err
		}
		last = err
		t := time.NewTimer(p.Pause(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return stopped(ctx.Err(), last)
		case <-t.C:
		}
	}
}

func stopped(ctxErr, last error) error {
	if last == nil {
		return ctxErr
	}
	return fmt.Errorf("%w (last attempt: %w)", ctxErr, last)
}
