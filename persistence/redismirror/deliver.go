package redismirror

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/revocd/revocd/revocation"
)

// write is one prepared key write.
type write struct {
	key, value, ttlMs string
	eventID           string
}

// Deliver writes a batch of events in one pipeline, in order. Events whose
// ExpiresAt is not after now are skipped, and so are replicated-state
// events (revocation.Type.IsState: key_state, refresh_state), which revoke
// nothing. Each write merges with the stored key (see the package doc),
// so writes are idempotent and the whole batch may be retried.
//
// It returns a wrapped error if any write failed, so the caller's outbox
// retries the whole batch. If an event is invalid (errors.Is(err,
// ErrInvalidEvent)) nothing is written: a retry cannot succeed, and the
// caller should dead-letter the event. An empty batch is a no-op.
//
// Deliver is safe for concurrent use; concurrent writes to the same key
// are serialised by Redis and converge to the strongest value and the
// latest expiry.
func (m *Mirror) Deliver(ctx context.Context, events []revocation.Event) error {
	writes, err := m.prepare(events)
	if err != nil {
		return fmt.Errorf("redismirror: deliver: %w", err)
	}
	if len(writes) == 0 {
		return nil
	}
	err = m.exec(ctx, writes, false)
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		// Script cache empty (Redis restarted or SCRIPT FLUSH): EVAL the
		// batch once with the script body, which also re-caches it.
		err = m.exec(ctx, writes, true)
	}
	if err != nil {
		return fmt.Errorf("redismirror: deliver: %w", err)
	}
	return nil
}

// prepare validates events and computes keys, values and TTLs.
func (m *Mirror) prepare(events []revocation.Event) ([]write, error) {
	nowMs := m.now().UnixMilli()
	writes := make([]write, 0, len(events))
	for i := range events {
		e := &events[i]
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("%w: event %d (%q): %w", ErrInvalidEvent, i, e.EventID, err)
		}
		if e.ExpiresAt == 0 {
			return nil, fmt.Errorf("%w: event %d (%q): expires_at is 0", ErrInvalidEvent, i, e.EventID)
		}
		if e.Type.IsState() {
			continue // cluster state (key_state, refresh_state): no Redis key
		}
		ttl := e.ExpiresAt - nowMs
		if ttl <= 0 {
			continue // already expired: nothing left to revoke
		}
		writes = append(writes, write{
			key:     e.Type.RedisPrefix() + e.Value,
			value:   encodeValue(e),
			ttlMs:   strconv.FormatInt(ttl, 10),
			eventID: e.EventID,
		})
	}
	return writes, nil
}

// exec runs writes in one pipeline (EVALSHA, or EVAL when withBody) and
// returns the first failure. A NOSCRIPT reply is returned as is, so the
// caller can detect it with redis.HasErrorPrefix.
func (m *Mirror) exec(ctx context.Context, writes []write, withBody bool) error {
	pipe := m.client.Pipeline()
	cmds := make([]*redis.Cmd, len(writes))
	for i, w := range writes {
		keys := []string{w.key}
		if withBody {
			cmds[i] = mergeScript.Eval(ctx, pipe, keys, w.value, w.ttlMs)
		} else {
			cmds[i] = mergeScript.EvalSha(ctx, pipe, keys, w.value, w.ttlMs)
		}
	}
	_, err := pipe.Exec(ctx)
	if err == nil {
		return nil
	}
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return err // transport failure: the whole pipeline failed alike
	}
	for i, c := range cmds {
		cerr := c.Err()
		if cerr == nil {
			continue
		}
		if redis.HasErrorPrefix(cerr, "NOSCRIPT") {
			return cerr
		}
		return fmt.Errorf("write %d of %d (key %s, event %q): %w",
			i+1, len(writes), quoteKey(writes[i].key), writes[i].eventID, cerr)
	}
	return err
}

// quoteKey formats a key for error messages, bounded in length.
func quoteKey(key string) string {
	const limit = 128
	if len(key) > limit {
		return strconv.Quote(key[:limit]) + "..."
	}
	return strconv.Quote(key)
}
