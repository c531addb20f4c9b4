package redismirror

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/revocd/revocd/revocation"
)

// scanCount is the COUNT hint for SCAN; each page is read in one pipeline.
const scanCount = 1000

// Entry is one revocation read from Redis.
type Entry struct {
	// Type is the revocation kind, from the key prefix.
	Type revocation.Type
	// Value is the jti, subject or key id: the key without its prefix.
	Value string
	// SubCutoff is, for TypeSub, the Unix second at or before which a
	// token's iat is revoked; AllTokens (math.MaxInt64) for the seed-era
	// value "1". It is 0 for TypeJTI and TypeKid.
	SubCutoff int64
	// ExpiresAtMs is when the key expires, in Unix milliseconds (now plus
	// PTTL at read time). 0 means the key has no expiry: the revocation
	// never lapses.
	ExpiresAtMs int64
}

// LoadStats counts what Load saw.
type LoadStats struct {
	// Keys is the number of keys SCAN returned (SCAN may repeat a key).
	Keys int
	// Entries is the number of times fn was called.
	Entries int
	// Malformed counts skipped keys: unknown revoked:* prefix, empty value
	// part, non-string key, or a sub value that is neither "1" nor a
	// non-negative decimal.
	Malformed int
	// Vanished counts keys that expired or were deleted between SCAN and
	// the read.
	Vanished int
}

func (s *LoadStats) add(o LoadStats) {
	s.Keys += o.Keys
	s.Entries += o.Entries
	s.Malformed += o.Malformed
	s.Vanished += o.Vanished
}

// Load SCANs revoked:* (COUNT 1000), reads each page's values and PTTLs in
// one pipeline, and calls fn for each well-formed entry. Malformed keys are
// skipped and counted. On a cluster or ring client every master/shard is
// scanned.
//
// fn is never called concurrently, but SCAN semantics apply: a key may be
// reported twice, and keys written during Load may or may not be reported,
// so applying entries must be idempotent. On error, fn may already have
// been called for part of the keyspace; the returned stats cover that part.
//
// Load is safe for concurrent use with Deliver and other Loads.
func (m *Mirror) Load(ctx context.Context, fn func(Entry)) (LoadStats, error) {
	var (
		mu    sync.Mutex
		stats LoadStats
	)
	emit := func(e Entry) {
		mu.Lock()
		defer mu.Unlock()
		fn(e)
	}
	node := func(ctx context.Context, c *redis.Client) error {
		var st LoadStats
		err := m.scanNode(ctx, c, emit, &st)
		mu.Lock()
		stats.add(st)
		mu.Unlock()
		return err
	}
	var err error
	switch c := m.client.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, node)
	case *redis.Ring:
		err = c.ForEachShard(ctx, node)
	default:
		err = m.scanNode(ctx, m.client, emit, &stats)
	}
	if err != nil {
		return stats, fmt.Errorf("redismirror: load: %w", err)
	}
	return stats, nil
}

// scanNode scans one node's keyspace.
func (m *Mirror) scanNode(ctx context.Context, c redis.Cmdable, emit func(Entry), st *LoadStats) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, "revoked:*", scanCount).Result()
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		st.Keys += len(keys)
		if len(keys) > 0 {
			if err := m.readPage(ctx, c, keys, emit, st); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// readPage reads GET and PTTL of keys in one pipeline and emits entries.
func (m *Mirror) readPage(ctx context.Context, c redis.Cmdable, keys []string, emit func(Entry), st *LoadStats) error {
	pipe := c.Pipeline()
	gets := make([]*redis.StringCmd, len(keys))
	ttls := make([]*redis.DurationCmd, len(keys))
	for i, k := range keys {
		gets[i] = pipe.Get(ctx, k)
		ttls[i] = pipe.PTTL(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !isReplyError(err) {
		return fmt.Errorf("read %d keys: %w", len(keys), err)
	}
	nowMs := m.now().UnixMilli()
	for i, k := range keys {
		typ, value, ok := parseKey(k)
		v, gerr := gets[i].Result()
		ttl, terr := ttls[i].Result()
		for _, e := range []error{gerr, terr} {
			if e != nil && !isReplyError(e) {
				return fmt.Errorf("read %q: %w", k, e)
			}
		}
		switch {
		case errors.Is(gerr, redis.Nil):
			st.Vanished++
			continue
		case gerr != nil || !ok: // WRONGTYPE, or a prefix we do not know
			st.Malformed++
			continue
		}
		switch {
		case terr != nil:
			st.Malformed++
			continue
		case ttl == -2:
			st.Vanished++
			continue
		}
		e := Entry{Type: typ, Value: value}
		if ttl != -1 {
			e.ExpiresAtMs = nowMs + ttl.Milliseconds()
		}
		if typ == revocation.TypeSub {
			cut, err := decodeSubCutoff(v)
			if err != nil {
				st.Malformed++
				continue
			}
			e.SubCutoff = cut
		}
		st.Entries++
		emit(e)
	}
	return nil
}

// isReplyError reports whether err is a per-command reply (redis.Nil or a
// server error such as WRONGTYPE) rather than a transport failure.
func isReplyError(err error) bool {
	if errors.Is(err, redis.Nil) {
		return true
	}
	var rerr redis.Error
	return errors.As(err, &rerr)
}
