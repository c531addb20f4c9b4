package redismirror_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/revocd/revocd/internal/testutil/redisserver"
	"github.com/revocd/revocd/persistence/redismirror"
	"github.com/revocd/revocd/revocation"
)

// slack bounds how much a TTL may have elapsed between write and read on a
// slow machine. It is deliberately huge: these are not timing assertions.
const slack = 5 * time.Minute

type fixture struct {
	srv *redisserver.Server
	rdb *redis.Client
	m   *redismirror.Mirror
	now time.Time // the Mirror's fixed clock
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	srv := redisserver.Start(tb)
	opt, err := redismirror.ParseURL(srv.URL())
	if err != nil {
		tb.Fatal(err)
	}
	// Fail fast while Redis is stopped: the caller's outbox owns retries.
	opt.DialerRetries, opt.MaxRetries = 1, 1
	rdb := redis.NewClient(opt)
	tb.Cleanup(func() { _ = rdb.Close() })
	now := time.Now().Truncate(time.Millisecond)
	return &fixture{srv: srv, rdb: rdb, m: redismirror.New(rdb, func() time.Time { return now }), now: now}
}

// ev builds a valid event of typ for value with lifetime ttl from f.now.
// For TypeSub the cutoff is cutoff (Unix seconds).
func (f *fixture) ev(typ revocation.Type, value string, ttl time.Duration, cutoff int64) revocation.Event {
	ts := f.now.UnixMilli()
	if typ == revocation.TypeSub {
		ts = cutoff * 1000
	}
	return revocation.Event{
		EventID: fmt.Sprintf("%s-%s-%d", typ, value, cutoff), Type: typ, Value: value,
		TS: ts, ExpiresAt: f.now.Add(ttl).UnixMilli(), Origin: "node-a", Seq: 1,
	}
}

func (f *fixture) deliver(tb testing.TB, events ...revocation.Event) {
	tb.Helper()
	if err := f.m.Deliver(context.Background(), events); err != nil {
		tb.Fatalf("Deliver: %v", err)
	}
}

// assertKey checks a key's value and that its PTTL lies in (ttl-slack, ttl];
// ttl < 0 means "no expiry".
func (f *fixture) assertKey(tb testing.TB, key, value string, ttl time.Duration) {
	tb.Helper()
	ctx := context.Background()
	got, err := f.rdb.Get(ctx, key).Result()
	if err != nil || got != value {
		tb.Fatalf("GET %s = %q, %v; want %q", key, got, err, value)
	}
	pttl, err := f.rdb.PTTL(ctx, key).Result()
	if err != nil {
		tb.Fatalf("PTTL %s: %v", key, err)
	}
	if ttl < 0 {
		if pttl != -1 {
			tb.Fatalf("PTTL %s = %v, want no expiry", key, pttl)
		}
		return
	}
	if pttl > ttl || pttl <= ttl-slack {
		tb.Fatalf("PTTL %s = %v, want in (%v, %v]", key, pttl, ttl-slack, ttl)
	}
}

func (f *fixture) loadAll(tb testing.TB) (map[string]redismirror.Entry, redismirror.LoadStats) {
	tb.Helper()
	got := map[string]redismirror.Entry{}
	st, err := f.m.Load(context.Background(), func(e redismirror.Entry) {
		got[e.Type.RedisPrefix()+e.Value] = e
	})
	if err != nil {
		tb.Fatalf("Load: %v", err)
	}
	return got, st
}
