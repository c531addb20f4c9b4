package validator

import (
	"errors"
	"fmt"
)

// Errors of Validate, checked with errors.Is. Every error Validate returns
// wraps exactly one of them (the token package's error is wrapped too).
var (
	// ErrInvalid: the token is malformed, its signature or algorithm is
	// wrong, its issuer is not Options.Issuer, it is not yet valid, or it
	// is a refresh token. Answer 401.
	ErrInvalid = errors.New("validator: invalid token")
	// ErrExpired: the token's exp has passed (beyond Options.Leeway).
	// Answer 401.
	ErrExpired = errors.New("validator: token expired")
	// ErrRevoked: the token is authentic but revoked (by jti, subject or
	// key). Answer 401.
	ErrRevoked = errors.New("validator: token revoked")
	// ErrUnknownKey: the token names a key the validator does not know,
	// even after refreshing the JWKS. Answer 401.
	ErrUnknownKey = errors.New("validator: unknown signing key")
	// ErrStale: no event or heartbeat arrived from revocd for
	// Options.MaxStaleness, so a revocation may be missing: the validator
	// fails closed. Answer 503; the view recovers by itself on reconnect.
	ErrStale = errors.New("validator: revocation view is stale")
	// ErrDPoPRequired: the token is DPoP-bound (cnf.jkt) but came without
	// a proof: through Validate, as a Bearer token, or to ValidateDPoP
	// with an empty proof (RFC 9449 §7.2). Answer 401.
	ErrDPoPRequired = errors.New("validator: DPoP proof required")
	// ErrDPoP: the token is valid and DPoP-bound but its proof is refused;
	// the error also wraps crypto/dpop's reason (dpop.ErrReplay,
	// dpop.ErrHTU, dpop.ErrKeyMismatch, ...): see DPoPReason. Answer 401
	// with WWW-Authenticate: DPoP error="invalid_dpop_proof".
	ErrDPoP = errors.New("validator: DPoP proof refused")
	// ErrClosed: Validate after Close.
	ErrClosed = errors.New("validator: closed")
	// ErrOptions wraps New's error for options it refuses.
	ErrOptions = errors.New("validator: invalid options")
	// ErrBootstrap wraps New's error when no node could be bootstrapped from.
	ErrBootstrap = errors.New("validator: bootstrap failed")
)

// Static errors of the hot path (no allocation when returned).
var (
	errRevokedJTI = fmt.Errorf("%w: by jti", ErrRevoked)
	errRevokedSub = fmt.Errorf("%w: by subject", ErrRevoked)
	errRevokedKid = fmt.Errorf("%w: by signing key", ErrRevoked)
	errRefresh    = fmt.Errorf("%w: a refresh token is not an access token", ErrInvalid)
	errStale      = fmt.Errorf("%w: no event or heartbeat within MaxStaleness", ErrStale)
)
