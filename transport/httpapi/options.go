package httpapi

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidOptions is wrapped by New's error for Options it refuses.
var ErrInvalidOptions = errors.New("httpapi: invalid options")

// Options are the API's settings. server/ builds them from the node's
// configuration (the variable setting each is named); New validates them
// once. The zero value is not valid: RequestTimeout, AccessTTL,
// MaxAccessTTL and MaxBatchTokens must be set.
type Options struct {
	// Dev (--dev) opens the admin endpoints without a key.
	Dev bool
	// AdminAPIKeys (ADMIN_API_KEYS) are the keys accepted as
	// "Authorization: Bearer <key>" on admin endpoints. None: admin
	// endpoints answer 401 (unless Dev).
	AdminAPIKeys []string
	// OAuthClients (OAUTH_CLIENTS) are the registered OAuth clients of
	// /oauth2/introspect and /oauth2/revoke: client id to the SHA-256 of
	// its secret. Not modified after New.
	OAuthClients map[string][32]byte
	// PublicBaseURL (PUBLIC_BASE_URL) is the URL clients reach the API
	// at, without a trailing slash: the issuer of the authorization server
	// metadata. Empty: no metadata document (404).
	PublicBaseURL string
	// DPoPNonceRequired (DPOP_NONCE_REQUIRED) makes the token endpoints
	// require a server nonce in DPoP proofs (RFC 9449 §8).
	DPoPNonceRequired bool
	// RequestTimeout (REQUEST_TIMEOUT_MS) bounds a request's round trip
	// to the issuer or revocation actor (503 beyond).
	RequestTimeout time.Duration
	// AccessTTL (JWT_ACCESS_TOKEN_EXPIRE_MINUTES) is the lifetime of an
	// access token issued without expires_minutes.
	AccessTTL time.Duration
	// MaxAccessTTL (JWT_MAX_ACCESS_TOKEN_EXPIRE_MINUTES) bounds
	// expires_minutes (422 beyond); at least a minute, at least AccessTTL.
	MaxAccessTTL time.Duration
	// Leeway (JWT_LEEWAY_SECONDS) is the verifier's clock-skew allowance,
	// added to the lifetime of a revocation made through /oauth2/revoke.
	Leeway time.Duration
	// PublishWait (PUBLISH_WAIT_MS) is how long a revocation's answer
	// waits for Kafka's acknowledgement (published=false after it).
	PublishWait time.Duration
	// MaxBatchTokens (VALIDATE_BATCH_MAX) bounds the tokens of one batch
	// validation (422 beyond).
	MaxBatchTokens int
	// RateLimitPerSecond (RATE_LIMIT_PER_SECOND) is the per-client rate
	// of issuance, revocation and refresh requests; 0 disables the limit.
	RateLimitPerSecond float64
	// RateLimitBurst (RATE_LIMIT_BURST) is the rate limiter's burst; at
	// least 1 when the limit is on.
	RateLimitBurst int
}

// validate reports the first setting it refuses, naming the field.
func (o *Options) validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidOptions, field, fmt.Sprintf(format, args...))
	}
	switch {
	case o.RequestTimeout <= 0:
		return bad("RequestTimeout", "%v, want > 0", o.RequestTimeout)
	case o.MaxAccessTTL < time.Minute:
		return bad("MaxAccessTTL", "%v, want at least 1m", o.MaxAccessTTL)
	case o.AccessTTL < time.Second || o.AccessTTL > o.MaxAccessTTL:
		return bad("AccessTTL", "%v, want between 1s and MaxAccessTTL (%v)", o.AccessTTL, o.MaxAccessTTL)
	case o.Leeway < 0:
		return bad("Leeway", "%v, want >= 0", o.Leeway)
	case o.PublishWait < 0:
		return bad("PublishWait", "%v, want >= 0", o.PublishWait)
	case o.MaxBatchTokens < 1:
		return bad("MaxBatchTokens", "%d, want >= 1", o.MaxBatchTokens)
	case o.RateLimitPerSecond < 0:
		return bad("RateLimitPerSecond", "%v, want >= 0", o.RateLimitPerSecond)
	case o.RateLimitPerSecond > 0 && o.RateLimitBurst < 1:
		return bad("RateLimitBurst", "%d, want >= 1 when RateLimitPerSecond is set", o.RateLimitBurst)
	}
	for id := range o.OAuthClients {
		if id == "" {
			return bad("OAuthClients", "a client id is empty")
		}
	}
	for i, k := range o.AdminAPIKeys {
		if k == "" {
			return bad("AdminAPIKeys", "key %d is empty", i)
		}
	}
	return nil
}
