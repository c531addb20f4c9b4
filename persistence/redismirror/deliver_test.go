package redismirror_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/revocd/revocd/persistence/redismirror"
	"github.com/revocd/revocd/revocation"
)

func TestDeliverWritesKeys(t *testing.T) {
	f := newFixture(t)
	const cutoff = 1_700_000_123
	tests := []struct {
		name  string
		ev    revocation.Event
		key   string
		value string
		ttl   time.Duration
	}{
		{"jti", f.ev(revocation.TypeJTI, "tok-1", time.Hour, 0), "revoked:jti:tok-1", "1", time.Hour},
		{"kid", f.ev(revocation.TypeKid, "key-1", 24*time.Hour, 0), "revoked:kid:key-1", "1", 24 * time.Hour},
		{"sub", f.ev(revocation.TypeSub, "alice", 2*time.Hour, cutoff), "revoked:sub:alice", strconv.Itoa(cutoff), 2 * time.Hour},
		{"sub cutoff from ms TS", func() revocation.Event {
			e := f.ev(revocation.TypeSub, "bob", time.Hour, 0)
			e.TS = cutoff*1000 + 999 // same second: still cutoff
			return e
		}(), "revoked:sub:bob", strconv.Itoa(cutoff), time.Hour},
		{"value with colons and spaces", f.ev(revocation.TypeJTI, "a:b c", time.Minute, 0), "revoked:jti:a:b c", "1", time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.deliver(t, tc.ev)
			f.assertKey(t, tc.key, tc.value, tc.ttl)
		})
	}
}

func TestDeliverSkipsExpired(t *testing.T) {
	f := newFixture(t)
	for _, ttl := range []time.Duration{0, -time.Millisecond, -time.Hour} {
		f.deliver(t, f.ev(revocation.TypeJTI, "old"+ttl.String(), ttl, 0))
	}
	f.deliver(t, nil...) // empty batch is a no-op
	if n := f.rdb.DBSize(context.Background()).Val(); n != 0 {
		t.Fatalf("DBSIZE = %d, want 0", n)
	}
}

func TestDeliverRejectsInvalidBatch(t *testing.T) {
	f := newFixture(t)
	good := f.ev(revocation.TypeJTI, "good", time.Hour, 0)
	noExpiry := f.ev(revocation.TypeJTI, "x", time.Hour, 0)
	noExpiry.ExpiresAt = 0
	tests := map[string]revocation.Event{
		"unknown type": {Type: "revoke_all", Value: "x", ExpiresAt: good.ExpiresAt},
		"empty value":  {Type: revocation.TypeSub, ExpiresAt: good.ExpiresAt},
		"expires 0":    noExpiry,
	}
	for name, bad := range tests {
		t.Run(name, func(t *testing.T) {
			err := f.m.Deliver(context.Background(), []revocation.Event{good, bad})
			if !errors.Is(err, redismirror.ErrInvalidEvent) {
				t.Fatalf("Deliver = %v, want ErrInvalidEvent", err)
			}
			if n := f.rdb.DBSize(context.Background()).Val(); n != 0 {
				t.Fatalf("DBSIZE = %d after rejected batch, want 0", n)
			}
		})
	}
}

// TestDeliverMerges covers the Lua merge: value never weakens, TTL never
// shrinks, seed-era "1" is never downgraded.
func TestDeliverMerges(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		setup     func(f *fixture) // existing state of key
		key       string
		ev        func(f *fixture) revocation.Event
		wantValue string
		wantTTL   time.Duration // < 0: no expiry
	}{
		{
			name:  "larger cutoff wins",
			setup: func(f *fixture) { f.rdb.Set(ctx, "revoked:sub:s", "1700000000", time.Hour) },
			key:   "revoked:sub:s", ev: func(f *fixture) revocation.Event { return f.ev(revocation.TypeSub, "s", time.Hour, 1800000000) },
			wantValue: "1800000000", wantTTL: time.Hour,
		},
		{
			name:  "smaller cutoff does not downgrade",
			setup: func(f *fixture) { f.rdb.Set(ctx, "revoked:sub:s", "1800000000", time.Hour) },
			key:   "revoked:sub:s", ev: func(f *fixture) revocation.Event { return f.ev(revocation.TypeSub, "s", time.Hour, 1700000000) },
			wantValue: "1800000000", wantTTL: time.Hour,
		},
		{
			name:  "seed-era 1 stays 1, expiry extended",
			setup: func(f *fixture) { f.rdb.Set(ctx, "revoked:sub:s", "1", time.Hour) },
			key:   "revoked:sub:s", ev: func(f *fixture) revocation.Event { return f.ev(revocation.TypeSub, "s", 3*time.Hour, 1800000000) },
			wantValue: "1", wantTTL: 3 * time.Hour,
		},
		{
			name:  "later existing expiry kept",
			setup: func(f *fixture) { f.rdb.Set(ctx, "revoked:sub:s", "1700000000", 5*time.Hour) },
			key:   "revoked:sub:s", ev: func(f *fixture) revocation.Event { return f.ev(revocation.TypeSub, "s", time.Hour, 1800000000) },
			wantValue: "1800000000", wantTTL: 5 * time.Hour,
		},
		{
			name:  "key without expiry keeps none",
			setup: func(f *fixture) { f.rdb.Set(ctx, "revoked:sub:s", "1700000000", 0) },
			key:   "revoked:sub:s", ev: func(f *fixture) revocation.Event { return f.ev(revocation.TypeSub, "s", time.Hour, 1800000000) },
			wantValue: "1800000000", wantTTL: -1,
		},
		{
			name:  "malformed value repaired",
			setup: func(f *fixture) { f.rdb.Set(ctx, "revoked:sub:s", "9e99", time.Hour) },
			key:   "revoked:sub:s", ev: func(f *fixture) revocation.Event { return f.ev(revocation.TypeSub, "s", time.Hour, 1800000000) },
			wantValue: "1800000000", wantTTL: time.Hour,
		},
		{
			name:  "wrong key type replaced",
			setup: func(f *fixture) { f.rdb.HSet(ctx, "revoked:sub:s", "a", "b") },
			key:   "revoked:sub:s", ev: func(f *fixture) revocation.Event { return f.ev(revocation.TypeSub, "s", time.Hour, 1800000000) },
			wantValue: "1800000000", wantTTL: time.Hour,
		},
		{
			name:  "jti keeps longer TTL",
			setup: func(f *fixture) { f.rdb.Set(ctx, "revoked:jti:j", "1", 4*time.Hour) },
			key:   "revoked:jti:j", ev: func(f *fixture) revocation.Event { return f.ev(revocation.TypeJTI, "j", time.Hour, 0) },
			wantValue: "1", wantTTL: 4 * time.Hour,
		},
		{
			name:  "sub cutoff in first second of 1970 widens to all",
			setup: func(f *fixture) {},
			key:   "revoked:sub:s", ev: func(f *fixture) revocation.Event { return f.ev(revocation.TypeSub, "s", time.Hour, 0) },
			wantValue: "1", wantTTL: time.Hour,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.setup(f)
			e := tc.ev(f)
			f.deliver(t, e)
			f.assertKey(t, tc.key, tc.wantValue, tc.wantTTL)
			f.deliver(t, e) // idempotent
			f.assertKey(t, tc.key, tc.wantValue, tc.wantTTL)
		})
	}
}

func TestDeliverRedisDownThenRestart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.deliver(t, f.ev(revocation.TypeJTI, "before", time.Hour, 0))

	f.srv.Stop()
	batch := []revocation.Event{f.ev(revocation.TypeSub, "during", time.Hour, 1800000000)}
	err := f.m.Deliver(ctx, batch)
	if err == nil {
		t.Fatal("Deliver with Redis stopped succeeded")
	}
	if !strings.HasPrefix(err.Error(), "redismirror: deliver: ") || errors.Is(err, redismirror.ErrInvalidEvent) {
		t.Fatalf("Deliver error = %v; want a retryable wrapped error", err)
	}
	if err := f.m.Ping(ctx); err == nil {
		t.Fatal("Ping with Redis stopped succeeded")
	}

	f.srv.Restart() // empty script cache: exercises the NOSCRIPT fallback
	if err := f.m.Deliver(ctx, batch); err != nil {
		t.Fatalf("Deliver after Restart: %v", err)
	}
	f.assertKey(t, "revoked:sub:during", "1800000000", time.Hour)
	f.assertKey(t, "revoked:jti:before", "1", time.Hour) // survived (appendonly)
}

func TestDeliverAfterScriptFlush(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.deliver(t, f.ev(revocation.TypeJTI, "a", time.Hour, 0))
	if err := f.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	f.deliver(t, f.ev(revocation.TypeJTI, "b", time.Hour, 0), f.ev(revocation.TypeKid, "k", time.Hour, 0))
	f.assertKey(t, "revoked:jti:b", "1", time.Hour)
	f.assertKey(t, "revoked:kid:k", "1", time.Hour)
}

// TestDeliverConcurrent races writers on the same keys; the result must be
// the strongest cutoff and the longest TTL regardless of interleaving.
func TestDeliverConcurrent(t *testing.T) {
	f := newFixture(t)
	const writers, rounds, subjects = 8, 20, 16
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				batch := make([]revocation.Event, 0, subjects+1)
				for s := range subjects {
					cutoff := int64(1_700_000_000 + w*rounds + r)
					ttl := time.Duration(w+1) * time.Hour
					batch = append(batch, f.ev(revocation.TypeSub, fmt.Sprint("s", s), ttl, cutoff))
				}
				batch = append(batch, f.ev(revocation.TypeJTI, fmt.Sprint("j", w, "-", r), time.Hour, 0))
				if err := f.m.Deliver(context.Background(), batch); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	maxCutoff := strconv.Itoa(1_700_000_000 + writers*rounds - 1)
	for s := range subjects {
		// Other writers' TTLs are at least one hour shorter than the slack bound.
		f.assertKey(t, fmt.Sprint("revoked:sub:s", s), maxCutoff, writers*time.Hour)
	}
	if n := f.rdb.DBSize(context.Background()).Val(); n != subjects+writers*rounds {
		t.Fatalf("DBSIZE = %d, want %d", n, subjects+writers*rounds)
	}
}
