package redismirror

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// Mirror writes revocation events to Redis and reads them back.
//
// A Mirror is safe for concurrent use by multiple goroutines; it holds no
// mutable state besides the client, which is itself concurrency-safe.
type Mirror struct {
	client redis.UniversalClient
	now    func() time.Time
}

// New returns a Mirror over client. now is the clock used to turn
// Event.ExpiresAt into a TTL and PTTLs back into ExpiresAtMs; nil means
// time.Now. The Mirror does not own client: closing it is the caller's job.
func New(client redis.UniversalClient, now func() time.Time) *Mirror {
	if now == nil {
		now = time.Now
	}
	return &Mirror{client: client, now: now}
}

// ParseURL parses a REDIS_URL value ("redis://[user:pass@]host:port/db",
// "rediss://..." or "unix://...") into client options. It wraps
// redis.ParseURL with an error that names REDIS_URL and never echoes the
// password. It is safe for concurrent use.
func ParseURL(rawURL string) (*redis.Options, error) {
	if rawURL == "" {
		return nil, errors.New("redismirror: REDIS_URL is empty (want redis://host:port/db)")
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		// *url.Error repeats the whole URL, password included: keep only
		// its cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("redismirror: invalid REDIS_URL %s: %w", redact(rawURL), err)
	}
	return opt, nil
}

// redact returns rawURL with any password replaced, or a placeholder when
// the URL does not even parse (it might contain a secret anywhere).
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparseable URL)"
	}
	return fmt.Sprintf("%q", u.Redacted())
}

// Ping checks that Redis answers. It is safe for concurrent use.
func (m *Mirror) Ping(ctx context.Context) error {
	if err := m.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redismirror: ping: %w", err)
	}
	return nil
}
