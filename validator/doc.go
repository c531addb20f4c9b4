// Package validator validates revocd tokens inside a resource server's own
// process and keeps its view of revocations current by following revocd's
// signed event stream.
//
// New bootstraps from one or more revocd nodes: the token keys from
// /.well-known/jwks.json, the event-signing keys from /events/keys (or the
// ones configured), the revocations in force from GET /revocations/active
// (paged); then a goroutine follows GET /events/stream from the snapshot's
// position, reconnecting (to the next node, with capped backoff) from the
// last event it applied, so nothing is missed across a disconnect or a
// revocd restart. Every event's ML-DSA-65 signature is verified before it
// is applied; a revoke_kid event also revokes the key in the validator's
// key ring. A token signed by a key the ring does not know triggers a
// JWKS refresh, at most one per Options.KeyRefreshInterval.
//
// Validate reuses revocd's own verifier (crypto/token) and revocation
// index (index/): a warm asymmetric token costs a cache lookup, an index
// probe and one allocation. It fails closed: when no event and no
// heartbeat arrived for Options.MaxStaleness, it returns ErrStale (or asks
// revocd's POST /token/validate, with Options.RemoteFallback).
//
// DPoP (RFC 9449): ValidateDPoP takes a DPoP-bound token (cnf.jkt) with
// the proof the resource server received and the request's method and
// URL, and runs revocd's proof checks (crypto/dpop) with a per-validator
// replay cache; Validate refuses a bound token (ErrDPoPRequired). The
// middlewares accept "Authorization: DPoP" with a "DPoP" header as well as
// "Authorization: Bearer", and answer RFC 9449 §7.1 challenges.
//
// A *Validator is safe for concurrent use. Close stops the stream.
package validator
