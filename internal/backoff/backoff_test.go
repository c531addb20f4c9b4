package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPause(t *testing.T) {
	half := func() float64 { return 0.5 }
	cases := []struct {
		name string
		p    Policy
		want []time.Duration // pauses after attempts 1, 2, ...
	}{
		{"zero value", Policy{}, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond, 3200 * time.Millisecond, 5 * time.Second, 5 * time.Second}},
		{"capped", Policy{Initial: time.Second, Max: 3 * time.Second}, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}},
		{"max below initial", Policy{Initial: time.Second, Max: time.Millisecond}, []time.Duration{time.Second, time.Second}},
		{"jitter", Policy{Initial: time.Second, Max: 4 * time.Second, Jitter: 0.5, Rand: half}, []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 3 * time.Second}},
		{"jitter clamped", Policy{Initial: time.Second, Jitter: 7, Rand: half}, []time.Duration{500 * time.Millisecond}},
		{"negative jitter", Policy{Initial: time.Second, Jitter: -1, Rand: half}, []time.Duration{time.Second}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i, want := range tc.want {
				if got := tc.p.Pause(i + 1); got != want {
					t.Errorf("Pause(%d) = %v, want %v", i+1, got, want)
				}
			}
		})
	}
	// A huge attempt number neither overflows nor exceeds the cap.
	if got := (Policy{}).Pause(1 << 30); got != DefaultMax {
		t.Errorf("Pause(1<<30) = %v, want %v", got, DefaultMax)
	}
	// Jitter only ever shortens the pause.
	p := Policy{Initial: time.Second, Max: time.Second, Jitter: 1}
	for range 1000 {
		if d := p.Pause(1); d < 0 || d > time.Second {
			t.Fatalf("jittered pause %v outside [0, 1s]", d)
		}
	}
}

var errFlaky = errors.New("flaky")

func TestRetry(t *testing.T) {
	fast := Policy{Initial: time.Nanosecond, Max: time.Nanosecond}
	errFinal := errors.New("final")
	cases := []struct {
		name      string
		doneAt    int   // attempt that reports done
		final     error // its error
		wantCalls int
	}{
		{"first try", 1, nil, 1},
		{"after failures", 4, nil, 4},
		{"permanent error", 2, errFinal, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := Retry(context.Background(), fast, func(_ context.Context, n int) (bool, error) {
				calls++
				if n != calls {
					t.Fatalf("attempt numbered %d, want %d", n, calls)
				}
				if n == tc.doneAt {
					return true, tc.final
				}
				return false, errFlaky
			})
			if !errors.Is(err, tc.final) || (tc.final == nil && err != nil) {
				t.Fatalf("Retry = %v, want %v", err, tc.final)
			}
			if calls != tc.wantCalls {
				t.Fatalf("%d calls, want %d", calls, tc.wantCalls)
			}
		})
	}
}

// TestRetryStopsWithContext: a cancelled context ends the wait at once
// (the pause is an hour) with ctx's error and the last failure, and no
// further attempt is made.
func TestRetryStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Retry(ctx, Policy{Initial: time.Hour}, func(context.Context, int) (bool, error) {
		calls++
		cancel()
		return false, errFlaky
	})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errFlaky) {
		t.Fatalf("Retry = %v, want context.Canceled wrapping the last failure", err)
	}
	if calls != 1 {
		t.Fatalf("%d attempts, want 1", calls)
	}
	calls = 0
	if err := Retry(ctx, Policy{}, func(context.Context, int) (bool, error) { calls++; return true, nil }); !errors.Is(err, context.Canceled) || calls != 0 {
		t.Fatalf("Retry on an ended context = %v after %d attempts, want context.Canceled and none", err, calls)
	}
}
