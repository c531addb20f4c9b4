package redismirror_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/revocd/revocd/persistence/redismirror"
	"github.com/revocd/revocd/revocation"
)

func TestCheck(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const cutoff = 1_700_000_000
	f.deliver(t,
		f.ev(revocation.TypeJTI, "bad-jti", time.Hour, 0),
		f.ev(revocation.TypeKid, "bad-kid", time.Hour, 0),
		f.ev(revocation.TypeSub, "alice", time.Hour, cutoff),
	)
	f.rdb.Set(ctx, "revoked:sub:seed", "1", time.Hour)
	f.rdb.Set(ctx, "revoked:sub:broken", "abc", time.Hour)

	tests := []struct {
		name          string
		jti, sub, kid string
		iat           int64
		revoked       bool
		kind          string
		malformed     bool
	}{
		{"clean", "j", "bob", "k", cutoff, false, "", false},
		{"nothing to look up", "", "", "", cutoff, false, "", false},
		{"jti", "bad-jti", "bob", "k", cutoff, true, redismirror.KindJTI, false},
		{"kid", "j", "bob", "bad-kid", cutoff, true, redismirror.KindKid, false},
		{"sub iat before cutoff", "j", "alice", "k", cutoff - 1, true, redismirror.KindSub, false},
		{"sub iat at cutoff", "j", "alice", "k", cutoff, true, redismirror.KindSub, false},
		{"sub iat after cutoff", "j", "alice", "k", cutoff + 1, false, "", false},
		{"seed-era sub revokes all", "j", "seed", "k", 1 << 40, true, redismirror.KindSub, false},
		{"jti wins over sub", "bad-jti", "alice", "bad-kid", 0, true, redismirror.KindJTI, false},
		{"malformed sub errors", "j", "broken", "k", cutoff, false, "", true},
		{"malformed sub but kid revoked", "j", "broken", "bad-kid", cutoff, true, redismirror.KindKid, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			revoked, kind, err := f.m.Check(ctx, tc.jti, tc.sub, tc.kid, tc.iat)
			if tc.malformed != errors.Is(err, redismirror.ErrMalformed) || (!tc.malformed && err != nil) {
				t.Fatalf("err = %v, want malformed=%v", err, tc.malformed)
			}
			if revoked != tc.revoked || kind != tc.kind {
				t.Fatalf("Check = %v, %q; want %v, %q", revoked, kind, tc.revoked, tc.kind)
			}
		})
	}

	f.srv.Stop()
	if _, _, err := f.m.Check(ctx, "j", "s", "k", 0); err == nil {
		t.Fatal("Check with Redis stopped succeeded")
	}
}
