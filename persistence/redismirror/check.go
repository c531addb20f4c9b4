package redismirror

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/revocd/revocd/revocation"
)

// Kinds returned by Check.
const (
	KindJTI = "jti" // revoked by revoked:jti:{jti}
	KindSub = "sub" // revoked by revoked:sub:{sub} (iat <= cutoff)
	KindKid = "kid" // revoked by revoked:kid:{kid}
)

// Check asks Redis whether a token is revoked: the seed's "ask Redis per
// request" design, kept as the benchmark baseline and for tests. It reads
// the (up to) three keys with one pipelined round trip; an empty jti, sub or
// kid is not looked up. The token is revoked if its jti or kid key exists,
// or if its sub key holds a cutoff >= iat ("1" = all tokens).
//
// kind is KindJTI, KindSub or KindKid for the first match in that order, ""
// when not revoked. A malformed sub value with no other match returns an
// error wrapping ErrMalformed; callers should fail closed on any error.
// Check is safe for concurrent use.
func (m *Mirror) Check(ctx context.Context, jti, sub, kid string, iat int64) (revoked bool, kind string, err error) {
	type probe struct {
		kind string
		typ  revocation.Type
		id   string
		cmd  *redis.StringCmd
	}
	probes := []probe{
		{kind: KindJTI, typ: revocation.TypeJTI, id: jti},
		{kind: KindSub, typ: revocation.TypeSub, id: sub},
		{kind: KindKid, typ: revocation.TypeKid, id: kid},
	}
	pipe := m.client.Pipeline()
	n := 0
	for i := range probes {
		if probes[i].id != "" {
			probes[i].cmd = pipe.Get(ctx, probes[i].typ.RedisPrefix()+probes[i].id)
			n++
		}
	}
	if n == 0 {
		return false, "", nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		var rerr redis.Error
		if !errors.As(err, &rerr) {
			return false, "", fmt.Errorf("redismirror: check: %w", err)
		}
	}
	var bad error
	for _, p := range probes {
		if p.cmd == nil {
			continue
		}
		v, err := p.cmd.Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case err != nil: // e.g. WRONGTYPE: the key exists but is unreadable
			bad = fmt.Errorf("redismirror: check: %s key: %w: %w", p.kind, ErrMalformed, err)
			continue
		}
		if p.typ != revocation.TypeSub {
			return true, p.kind, nil
		}
		cut, err := decodeSubCutoff(v)
		if err != nil {
			bad = fmt.Errorf("redismirror: check: sub value %.64q: %w", v, err)
			continue
		}
		if iat <= cut {
			return true, p.kind, nil
		}
	}
	return false, "", bad
}
