package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/internal/backoff"
	"github.com/revocd/revocd/revocation"
)

// Client sends Ingest commands to an intake actor from outside the actor
// system: the Kafka consumer's goroutine, the cluster's ingest worker. A
// Client is a value, safe for concurrent use.
type Client struct {
	Engine *actor.Engine
	PID    *actor.PID
	// Timeout bounds one call; it should exceed the intake's
	// CommitTimeout (DefaultCommitTimeout plus 5 s if zero).
	Timeout time.Duration
}

// Ingest sends events from source to the intake and waits for its reply.
// It returns nil once every event is durable (or was this node's own), an
// error wrapping ErrDropped if some were refused (the others are durable),
// and any other error (ErrCommit, ErrStopped, a timeout, ctx's error) when
// nothing of the call is known to be durable: the caller retries, or the
// events come again (anti-entropy). Its signature is cluster.IngestFunc.
func (c Client) Ingest(ctx context.Context, events []revocation.Event, source string) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultCommitTimeout + 5*time.Second
	}
	resp := c.Engine.Request(c.PID, &Ingest{Events: events, Source: source}, timeout)
	type result struct {
		v   any
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := resp.Result()
		done <- result{v, err}
	}()
	var r result
	select {
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrCommit, ctx.Err())
	case r = <-done:
	}
	if r.err != nil {
		return fmt.Errorf("%w: %w", ErrCommit, r.err)
	}
	reply, ok := r.v.(*Ingested)
	if !ok {
		return fmt.Errorf("%w: unexpected intake reply %T", ErrCommit, r.v)
	}
	return reply.AsError()
}

// Handler returns a handler for an at-least-once source such as the Kafka
// consumer (transport/kafka.Handler): it ingests one event and returns nil
// once the event is durable here, or an error wrapping ErrDropped when it
// was refused; both let the consumer commit the record's offset. A failed
// commit is retried with policy p, logging "<source>: ingest failed;
// retrying", until it succeeds or ctx ends; then the handler returns an
// error wrapping ctx's error, which the consumer does not commit. So no
// offset is committed before its event is durable, and a failed commit is
// never turned into a "replay" by the retry, because the intake records an
// event as seen only after its commit.
func (c Client) Handler(source string, p backoff.Policy, log *slog.Logger) func(ctx context.Context, e *revocation.Event) error {
	return func(ctx context.Context, e *revocation.Event) error {
		return backoff.Retry(ctx, p, func(ctx context.Context, attempt int) (bool, error) {
			err := c.Ingest(ctx, []revocation.Event{*e}, source)
			if err == nil || errors.Is(err, ErrDropped) {
				return true, err
			}
			if ctx.Err() != nil {
				return false, err
			}
			log.Warn(source+": ingest failed; retrying", "event_id", e.EventID, "err", err, "attempt", attempt)
			return false, err
		})
	}
}
