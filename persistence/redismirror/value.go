package redismirror

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/revocd/revocd/revocation"
)

// AllTokens is the SubCutoff of a subject revocation that covers every token
// of the subject: what the seed-era value "1" means.
const AllTokens int64 = math.MaxInt64

// seedMarker is the value seed-era writers stored in every key.
const seedMarker = "1"

// ErrMalformed reports a stored value that cannot be interpreted.
var ErrMalformed = errors.New("redismirror: malformed value")

// ErrInvalidEvent reports an event Deliver refuses to write (failed
// revocation.Event.Validate, or ExpiresAt is 0). Retrying cannot fix it.
var ErrInvalidEvent = errors.New("redismirror: invalid event")

// encodeValue returns the stored value for e.
//
// A sub cutoff <= 1 would be indistinguishable from the seed marker; it is
// widened to "1" (all tokens). Only events stamped in the first second of
// 1970 are affected, and widening fails closed.
func encodeValue(e *revocation.Event) string {
	if e.Type != revocation.TypeSub {
		return seedMarker
	}
	c := e.SubCutoff()
	if c <= 1 {
		return seedMarker
	}
	return strconv.FormatInt(c, 10)
}

// decodeSubCutoff interprets a stored sub value: "1" means AllTokens,
// otherwise a non-negative decimal Unix-second cutoff.
func decodeSubCutoff(v string) (int64, error) {
	if v == seedMarker {
		return AllTokens, nil
	}
	if v == "" || strings.TrimLeft(v, "0123456789") != "" {
		return 0, ErrMalformed
	}
	c, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, ErrMalformed
	}
	return c, nil
}

// parseKey splits a revoked:* key into its type and value.
func parseKey(key string) (revocation.Type, string, bool) {
	for _, t := range []revocation.Type{revocation.TypeJTI, revocation.TypeSub, revocation.TypeKid} {
		if v, ok := strings.CutPrefix(key, t.RedisPrefix()); ok && v != "" {
			return t, v, true
		}
	}
	return "", "", false
}
