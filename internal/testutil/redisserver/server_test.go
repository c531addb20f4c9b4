package redisserver_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/revocd/revocd/internal/testutil/redisserver"
)

func TestStartStopRestart(t *testing.T) {
	s := redisserver.Start(t)
	if !strings.HasPrefix(s.URL(), "redis://127.0.0.1:") || !strings.HasSuffix(s.URL(), "/0") {
		t.Fatalf("URL() = %q", s.URL())
	}
	opt, err := redis.ParseURL(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()

	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}

	s.Stop()
	s.Stop() // idempotent
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Fatal("dial succeeded after Stop")
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING succeeded after Stop")
	}

	s.Restart()
	got, err := c.Get(ctx, "k").Result()
	if err != nil || got != "v" {
		t.Fatalf("GET after Restart = %q, %v; want \"v\" (appendonly)", got, err)
	}
}

func TestIndependentServers(t *testing.T) {
	a, b := redisserver.Start(t), redisserver.Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers share %s", a.Addr())
	}
	ca := redis.NewClient(&redis.Options{Addr: a.Addr()})
	cb := redis.NewClient(&redis.Options{Addr: b.Addr()})
	t.Cleanup(func() { _ = ca.Close(); _ = cb.Close() })
	ctx := context.Background()
	if err := ca.Set(ctx, "only-a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := cb.Get(ctx, "only-a").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET on b = %v, want redis.Nil", err)
	}
}

func TestWithArgs(t *testing.T) {
	s := redisserver.Start(t, redisserver.WithArgs("--databases", "3"))
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	got, err := c.ConfigGet(context.Background(), "databases").Result()
	if err != nil || got["databases"] != "3" {
		t.Fatalf("CONFIG GET databases = %v, %v", got, err)
	}
}

// fatalRecorder captures Fatalf without stopping the real test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = format
	if len(args) > 0 {
		f.msg = args[0].(string)
	}
	panic(f)
}

func TestMissingBinaryFails(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	func() {
		defer func() {
			if r := recover(); r != rec {
				t.Fatalf("recovered %v, want Fatalf", r)
			}
		}()
		redisserver.Start(rec, redisserver.WithBinary("redis-server-definitely-not-installed"))
	}()
	if rec.msg != redisserver.NotFoundMessage {
		t.Fatalf("Fatalf message = %q", rec.msg)
	}
}
