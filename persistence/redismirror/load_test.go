package redismirror_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/revocd/revocd/persistence/redismirror"
	"github.com/revocd/revocd/revocation"
)

func TestLoadRoundTrip(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const n = 5000 // several SCAN pages of COUNT 1000
	types := []revocation.Type{revocation.TypeJTI, revocation.TypeSub, revocation.TypeKid}
	want := map[string]redismirror.Entry{}
	var batch []revocation.Event
	for i := range n {
		typ := types[i%3]
		ttl := time.Duration(1+i%48) * time.Hour
		e := f.ev(typ, fmt.Sprint("v", i), ttl, int64(1_700_000_000+i))
		batch = append(batch, e)
		we := redismirror.Entry{Type: typ, Value: e.Value, ExpiresAtMs: e.ExpiresAt}
		if typ == revocation.TypeSub {
			we.SubCutoff = e.SubCutoff()
		}
		want[typ.RedisPrefix()+e.Value] = we
		if len(batch) == 256 || i == n-1 {
			f.deliver(t, batch...)
			batch = batch[:0]
		}
	}
	// Keys outside revoked:* are not scanned.
	f.rdb.Set(ctx, "session:1", "x", 0)
	f.rdb.Set(ctx, "revokedX", "1", 0)

	got, st := f.loadAll(t)
	if st.Malformed != 0 || st.Vanished != 0 || st.Entries < n || len(got) != n {
		t.Fatalf("stats = %+v, distinct = %d; want %d entries, none malformed", st, len(got), n)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Fatalf("missing %s", k)
		}
		// ExpiresAtMs is rebuilt from PTTL: within slack below the original.
		if g.ExpiresAtMs > w.ExpiresAtMs || g.ExpiresAtMs <= w.ExpiresAtMs-slack.Milliseconds() {
			t.Fatalf("%s ExpiresAtMs = %d, want about %d", k, g.ExpiresAtMs, w.ExpiresAtMs)
		}
		g.ExpiresAtMs = w.ExpiresAtMs
		if g != w {
			t.Fatalf("%s = %+v, want %+v", k, g, w)
		}
	}
}

func TestLoadSeedEraAndMalformed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	set := func(k, v string, ttl time.Duration) {
		if err := f.rdb.Set(ctx, k, v, ttl).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Well-formed.
	set("revoked:sub:seed", "1", time.Hour)
	set("revoked:sub:zero", "0", time.Hour)
	set("revoked:jti:forever", "1", 0)
	set("revoked:kid:odd", "yes", time.Hour) // existence revokes
	// Malformed.
	for k, v := range map[string]string{
		"revoked:sub:word": "abc", "revoked:sub:neg": "-5", "revoked:sub:empty": "",
		"revoked:sub:float": "1.5", "revoked:sub:huge": "99999999999999999999",
		"revoked:sub:space": " 17", "revoked:foo:x": "1", "revoked:jti:": "1",
	} {
		set(k, v, time.Hour)
	}
	f.rdb.HSet(ctx, "revoked:kid:hash", "a", "b")

	got, st := f.loadAll(t)
	if st.Malformed != 9 || len(got) != 4 {
		t.Fatalf("stats = %+v, entries = %v; want 9 malformed, 4 entries", st, got)
	}
	tests := []struct {
		key     string
		cutoff  int64
		noTTL   bool
		typ     revocation.Type
		fromKey string
	}{
		{key: "revoked:sub:seed", cutoff: math.MaxInt64, typ: revocation.TypeSub, fromKey: "seed"},
		{key: "revoked:sub:zero", cutoff: 0, typ: revocation.TypeSub, fromKey: "zero"},
		{key: "revoked:jti:forever", noTTL: true, typ: revocation.TypeJTI, fromKey: "forever"},
		{key: "revoked:kid:odd", typ: revocation.TypeKid, fromKey: "odd"},
	}
	for _, tc := range tests {
		e := got[tc.key]
		if e.Type != tc.typ || e.Value != tc.fromKey || e.SubCutoff != tc.cutoff || (e.ExpiresAtMs == 0) != tc.noTTL {
			t.Errorf("%s = %+v", tc.key, e)
		}
	}
	if got["revoked:sub:seed"].SubCutoff != redismirror.AllTokens {
		t.Error("seed-era 1 must load as AllTokens")
	}
}

func TestLoadErrors(t *testing.T) {
	f := newFixture(t)
	f.deliver(t, f.ev(revocation.TypeJTI, "a", time.Hour, 0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.m.Load(ctx, func(redismirror.Entry) {}); err == nil {
		t.Fatal("Load with canceled context succeeded")
	}
	f.srv.Stop()
	if _, err := f.m.Load(context.Background(), func(redismirror.Entry) {}); err == nil {
		t.Fatal("Load with Redis stopped succeeded")
	}
}
