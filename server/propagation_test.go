package server

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/internal/testutil/redisserver"
	"github.com/revocd/revocd/persistence/sqlitestore"
)

// TestRedisStartupRequire: with REDIS_STARTUP=require and Redis down at
// start, the index is not marked ready and /ready's redis check says why;
// the load is retried in the background and, once Redis answers, the
// Redis-only revocation is in the index and the index turns ready. With
// best-effort the index is ready at once, without that revocation.
func TestRedisStartupRequire(t *testing.T) {
	cases := []struct {
		name     string
		required bool
	}{
		{"require", true},
		{"best-effort", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			rs := redisserver.Start(t)
			rdb := redis.NewClient(&redis.Options{Addr: rs.Addr()})
			if err := rdb.Set(ctx, "revoked:sub:rita", "1", time.Hour).Err(); err != nil {
				t.Fatal(err)
			}
			rdb.Close()
			rs.Stop()

			store, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "revocation.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			engine, err := actor.NewEngine(actor.NewEngineConfig())
			if err != nil {
				t.Fatal(err)
			}
			ix := index.New(index.Options{})
			p, err := startPropagation(ctx, propagationDeps{
				Options: propagationOptions{RedisURL: rs.URL(), RedisStartupRequired: tc.required, NodeID: "n1"}, Engine: engine, Store: store, Index: ix, MaxLifetime: time.Hour,
				Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				p.close(cctx)
			}()
			ready := make(chan struct{})
			p.whenRedisLoaded(func() { ix.SetReady(); close(ready) })
			revoked := func() bool { return ix.Check("", "rita", "", time.Now().Unix()) == index.Sub }

			if !tc.required {
				select {
				case <-ready:
				default:
					t.Fatal("best-effort: index not ready at once")
				}
				if revoked() {
					t.Fatal("best-effort: Redis-only revocation loaded although Redis is down")
				}
				return
			}
			if ix.Ready() {
				t.Fatal("require: index ready with Redis down")
			}
			check := p.redisCheck(ctx)
			if check.OK || !(strings.HasPrefix(check.Detail, "unreachable:") || strings.HasPrefix(check.Detail, "loading:")) {
				t.Fatalf("require: redis check = %+v, want not OK with the reason", check)
			}

			rs.Restart()
			select {
			case <-ready:
			case <-time.After(30 * time.Second):
				t.Fatal("require: index not ready 30 s after Redis returned")
			}
			if !revoked() {
				t.Fatal("require: index ready without the Redis-only revocation")
			}
			if check := p.redisCheck(ctx); !check.OK {
				t.Fatalf("redis check after the load = %+v", check)
			}
		})
	}
}
