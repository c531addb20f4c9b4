package validator

import (
	"context"
	"time"

	"github.com/revocd/revocd/revocation"
)

// Source delivers signed revocation events to a Validator in place of
// revocd's server-sent-events feed: validator/kafkasource reads the Kafka
// revocation topic directly. Set it in Options.Source.
//
// The Validator still bootstraps from revocd (GET /events/keys unless
// EventKeys pins them, the JWKS and the /revocations/active snapshot)
// and then calls Run, again after a capped backoff whenever Run returns
// before ctx ends. Run must deliver every event published after the
// snapshot (replaying older ones is harmless: applies are idempotent),
// and call Sink.Fresh only for a moment up to which it has delivered
// everything: freshness is what keeps Validate from failing closed with
// ErrStale once MaxStaleness passes.
type Source interface {
	Run(ctx context.Context, sink Sink) error
}

// Sink is what a Source feeds. Safe for concurrent use.
type Sink interface {
	// Apply verifies e's signature against the trusted event keys and
	// applies it; it reports false for an event it refused (a forgery, an
	// unknown key, an unknown type), which the Source should skip.
	Apply(ctx context.Context, e *revocation.Event) bool
	// Fresh records that every event published before asOf has been
	// applied (the view is current as of asOf). An earlier asOf than one
	// recorded before is ignored.
	Fresh(asOf time.Time)
	// MaxStaleness is the Validator's Options.MaxStaleness, for the
	// Source to pace its liveness checks.
	MaxStaleness() time.Duration
}

// sink is the Validator's Sink.
type sink struct{ v *Validator }

func (s sink) Apply(ctx context.Context, e *revocation.Event) bool { return s.v.apply(ctx, e) }

func (s sink) MaxStaleness() time.Duration { return s.v.opts.MaxStaleness }

func (s sink) Fresh(asOf time.Time) {
	n := asOf.UnixNano()
	for {
		old := s.v.lastBeat.Load()
		if n <= old || s.v.lastBeat.CompareAndSwap(old, n) {
			break
		}
	}
	s.v.beats.Add(1)
}
