// Package redismirror writes revocations to, and reads them back from, the
// seed's Redis keys.
//
// Key layout (unchanged from the seed, so seed-era readers keep working):
//
//	revoked:jti:{jti}  "1"            one token revoked
//	revoked:kid:{kid}  "1"            every token signed with the key revoked
//	revoked:sub:{sub}  "{cutoff}"     tokens of the subject with iat <= cutoff
//	                                  (Unix seconds, decimal) revoked
//	revoked:sub:{sub}  "1"            seed-era marker: every token of the
//	                                  subject revoked until the key expires
//
// Every key carries a TTL equal to the revocation's remaining lifetime
// (Event.ExpiresAt minus now); events already expired are not written.
// Writes go through one Lua script that merges with what is already stored:
// the value never weakens ("1" wins, otherwise the larger cutoff) and the
// TTL never shrinks. Writes are therefore idempotent and commutative, so a
// batch may be retried or raced by another writer safely.
//
// For jti and kid keys the existence of the key is what revokes; readers
// accept any string value there (fail closed). A sub value that is not a
// non-negative decimal integer is malformed: Load skips and counts it, Check
// reports ErrMalformed.
package redismirror
