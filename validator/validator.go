package validator

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/revocd/revocd/crypto/dpop"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
)

// Options configure a Validator. URLs is required; every other field has
// a default. New copies and validates them once.
type Options struct {
	// URLs are the base URLs of revocd nodes ("http://revocd:8000"). The
	// validator bootstraps from the first that answers and, when a stream
	// breaks, reconnects to the next one in turn.
	URLs []string
	// APIKey is sent as "Authorization: Bearer <key>" to the feed: a
	// read-only key from revocd's FEED_API_KEYS (or an admin key).
	APIKey string
	// Issuer, if set, must equal the tokens' "iss" (revocd's JWT_ISSUER).
	Issuer string
	// Leeway is the clock skew tolerated on exp and nbf (revocd's
	// JWT_LEEWAY_SECONDS); revocations stay in force for it too.
	Leeway time.Duration
	// MaxStaleness is how long the validator trusts its view without an
	// event or a heartbeat (revocd sends one every 2s). Beyond it
	// Validate fails closed with ErrStale. Default 5s; at least 100ms.
	MaxStaleness time.Duration
	// RemoteFallback, when the view is stale, asks revocd's
	// POST /token/validate instead of returning ErrStale (the answer's
	// latency is then a network round trip; its failure is ErrStale).
	RemoteFallback bool
	// HMACSecret is revocd's JWT_SECRET_KEY, for HS256 deployments (a
	// shared secret is never published in the JWKS). It verifies tokens
	// signed with that secret's key, with or without a kid. Tokens signed
	// with keys from later HS256 rotations are unknown to the validator.
	HMACSecret string
	// EventKeys pins the trusted event-signing keys: a GET /events/keys
	// document. Empty: the document is fetched from the node bootstrapped
	// from (trust on first use: use https).
	EventKeys []byte
	// KeyRefreshInterval is the least time between two JWKS fetches made
	// for an unknown kid (default 1s); the JWKS is also refreshed every
	// 5 minutes.
	KeyRefreshInterval time.Duration
	// HTTPClient makes the requests (a client without timeout for the
	// stream; requests carry their own deadlines). Default: a new client.
	HTTPClient *http.Client
	// Now is the clock (time.Now if nil): staleness and token times.
	Now func() time.Time
	// Logger receives connection and verification events (slog.Default).
	Logger *slog.Logger
	// CacheSize is the number of validated tokens whose claims are
	// remembered, so a warm token is not parsed again (default 65536;
	// negative: no cache). Revocation, expiry and staleness are checked
	// on every call all the same.
	CacheSize int
	// Source, if set, delivers the revocation events instead of revocd's
	// event stream (GET /events/stream): e.g. kafkasource.New follows the
	// Kafka topic directly. Bootstrap and the JWKS still come from URLs,
	// and every event's signature is still verified. See Source.
	Source Source
	// PublicBaseURL is the resource server's external base URL
	// ("https://api.example.com", no trailing slash), for the middlewares'
	// DPoP htu behind a proxy: htu is PublicBaseURL + the request path.
	// Empty: the request's own scheme (TLS or not) and Host header.
	// X-Forwarded-* headers are never trusted.
	PublicBaseURL string
	// DPoPWindow bounds |now - iat| of a DPoP proof, and how long its jti
	// is remembered (default 60s, as revocd).
	DPoPWindow time.Duration
	// DPoPReplayCacheSize bounds the proofs remembered against replay
	// (default 1,000,000: a minute of proofs at over 16,000 per second;
	// about 70 bytes each, allocated as used). When it is full of
	// unexpired proofs, new proofs are refused until some expire.
	DPoPReplayCacheSize int
}

// Claims are a valid token's claims. The strings share one allocation;
// Raw is the verified payload JSON, verbatim.
type Claims struct {
	Subject   string    // "sub"
	ID        string    // "jti"
	Issuer    string    // "iss"
	KeyID     string    // the verifying key's id
	IssuedAt  time.Time // "iat"
	ExpiresAt time.Time // "exp"
	// JKT is "cnf"."jkt", the RFC 7638 thumbprint of the key a DPoP-bound
	// token is bound to (RFC 9449 §6); "" for a bearer token.
	JKT string
	// Raw is the claims JSON (every claim, extra ones included).
	Raw json.RawMessage
}

// Validator validates tokens in process. It is safe for concurrent use.
type Validator struct {
	opts     Options
	log      *slog.Logger
	ring     *token.Ring
	verifier *token.Verifier
	ix       *index.Index
	events   *eventsig.Verifier
	pinned   bool
	client   *http.Client
	pool     sync.Pool
	cache    *claimsCache // nil: off
	dpop     *dpop.Verifier

	lastBeat atomic.Int64 // unix nanos of the last event or heartbeat
	lastID   atomic.Int64 // audit-log position of the last applied event
	applied  atomic.Int64 // events applied since New
	rejected atomic.Int64 // events refused (bad signature, unknown key)
	beats    atomic.Int64 // heartbeats received since New
	closed   atomic.Bool

	keyMu       sync.Mutex
	keyInflight chan struct{}
	keyLast     time.Time

	node   atomic.Int64 // index into opts.URLs of the node in use
	cancel context.CancelFunc
	done   chan struct{}
}

// New bootstraps a Validator from opts.URLs and starts following the
// event stream. It returns once the keys and the snapshot are loaded (so
// Validate answers at once), or an error wrapping ErrOptions or
// ErrBootstrap. ctx bounds the bootstrap only; Close stops the stream.
func New(ctx context.Context, opts Options) (*Validator, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	v := &Validator{opts: opts, log: opts.Logger, client: opts.HTTPClient, events: eventsig.NewVerifier(), done: make(chan struct{})}
	v.ring = token.NewRing(nil)
	v.ix = index.New(index.Options{ExpiryGrace: opts.Leeway, Now: opts.Now, ExpectedEntries: 1 << 16})
	v.verifier = token.NewVerifier(v.ring, token.VerifierOptions{
		Issuer: opts.Issuer, Leeway: opts.Leeway, Now: opts.Now,
	})
	if opts.CacheSize > 0 {
		v.cache = newClaimsCache(opts.CacheSize)
	}
	v.pool.New = func() any { return new(token.Token) }
	v.dpop = &dpop.Verifier{Window: opts.DPoPWindow, Replay: dpop.NewReplayCache(opts.DPoPReplayCacheSize), Now: opts.Now}
	if opts.HMACSecret != "" {
		k, err := token.NewHMACKey(hmacKeyID(opts.HMACSecret), []byte(opts.HMACSecret))
		if err != nil {
			return nil, fmt.Errorf("%w: HMACSecret: %w", ErrOptions, err)
		}
		v.ring.Add(k)
		v.ring.SetLegacy(k)
	}
	if len(opts.EventKeys) > 0 {
		if err := v.events.TrustJSON(opts.EventKeys); err != nil {
			return nil, fmt.Errorf("%w: EventKeys: %w", ErrOptions, err)
		}
		v.pinned = true
	}
	var errs []error
	for i := range opts.URLs {
		err := v.bootstrap(ctx, i)
		if err == nil {
			v.node.Store(int64(i))
			sctx, cancel := context.WithCancel(context.Background())
			v.cancel = cancel
			go v.follow(sctx)
			return v, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("%w: %w", ErrBootstrap, errors.Join(errs...))
}

// setDefaults fills the defaults and refuses invalid settings.
func (o *Options) setDefaults() error {
	if len(o.URLs) == 0 {
		return fmt.Errorf("%w: URLs: at least one revocd URL is required", ErrOptions)
	}
	o.URLs = append([]string(nil), o.URLs...)
	for i, u := range o.URLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("%w: URLs[%d] %q: want http(s)://host[:port]", ErrOptions, i, u)
		}
		o.URLs[i] = strings.TrimRight(u, "/")
	}
	switch {
	case o.MaxStaleness == 0:
		o.MaxStaleness = 5 * time.Second
	case o.MaxStaleness < 100*time.Millisecond:
		return fmt.Errorf("%w: MaxStaleness %v, want at least 100ms", ErrOptions, o.MaxStaleness)
	}
	if o.Leeway < 0 {
		return fmt.Errorf("%w: Leeway %v, want >= 0", ErrOptions, o.Leeway)
	}
	if o.KeyRefreshInterval <= 0 {
		o.KeyRefreshInterval = time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CacheSize == 0 {
		o.CacheSize = 1 << 16
	}
	if o.PublicBaseURL != "" {
		p, err := url.Parse(o.PublicBaseURL)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.RawQuery != "" || p.Fragment != "" {
			return fmt.Errorf("%w: PublicBaseURL %q: want http(s)://host[:port][/prefix]", ErrOptions, o.PublicBaseURL)
		}
		o.PublicBaseURL = strings.TrimRight(o.PublicBaseURL, "/")
	}
	switch {
	case o.DPoPWindow == 0:
		o.DPoPWindow = 60 * time.Second
	case o.DPoPWindow < time.Second:
		return fmt.Errorf("%w: DPoPWindow %v, want at least 1s", ErrOptions, o.DPoPWindow)
	}
	switch {
	case o.DPoPReplayCacheSize == 0:
		o.DPoPReplayCacheSize = 1_000_000
	case o.DPoPReplayCacheSize < 0:
		return fmt.Errorf("%w: DPoPReplayCacheSize %d, want > 0", ErrOptions, o.DPoPReplayCacheSize)
	}
	return nil
}

// hmacKeyID is the kid revocd gives the key of JWT_SECRET_KEY
// (actors/issuer.SecretKeyID; a test keeps them equal).
func hmacKeyID(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("revocd/kid/v1"))
	return "hs-" + hex.EncodeToString(m.Sum(nil)[:8])
}

// Validate checks tok: signature, algorithm and key; then, for an
// authentic token, revocation (which beats expiry); then exp, nbf and iss.
// The error wraps ErrInvalid, ErrExpired, ErrRevoked, ErrUnknownKey,
// ErrStale or ErrClosed; a DPoP-bound token (one with cnf.jkt) is refused
// with ErrDPoPRequired, since only ValidateDPoP can check its proof (RFC
// 9449 §7.2). tok may carry a "Bearer " prefix.
func (v *Validator) Validate(tok string) (Claims, error) {
	return v.ValidateBytes(unsafe.Slice(unsafe.StringData(tok), len(tok)))
}

// ValidateBytes is Validate for a token in a byte slice, which it neither
// modifies nor retains.
func (v *Validator) ValidateBytes(tok []byte) (Claims, error) {
	if len(tok) > 7 && (string(tok[:7]) == "Bearer " || string(tok[:7]) == "bearer ") {
		tok = tok[7:]
	}
	c, err := v.validate(tok, nil)
	if err == nil && c.JKT != "" {
		return Claims{}, ErrDPoPRequired
	}
	return c, err
}

// validate is one validation of tok, bound or not; dp, if not nil, goes
// to the remote fallback with the token.
func (v *Validator) validate(tok []byte, dp *dpopArgs) (Claims, error) {
	if v.closed.Load() {
		return Claims{}, ErrClosed
	}
	if v.cache != nil {
		if e := v.cache.get(tok); e != nil {
			if c, err, ok := v.hit(tok, e); ok {
				return c, err
			}
		}
	}
	t := v.pool.Get().(*token.Token)
	defer v.pool.Put(t)
	t.Reset()
	c, err := v.check(tok, t)
	if errors.Is(err, token.ErrUnknownKey) && v.refreshKeys(t.Kid) {
		t.Reset()
		c, err = v.check(tok, t)
	}
	if err == errStale && v.opts.RemoteFallback {
		return v.remote(tok, dp)
	}
	if err == nil && v.cache != nil {
		e := &cachedClaims{c: c, iat: t.Iat, expiresNs: math.MaxInt64,
			jti: view(c.ID), sub: view(c.Subject), kidB: view(c.KeyID)}
		if t.HasExp {
			e.expiresNs = t.Exp*int64(time.Second) + int64(v.opts.Leeway)
		}
		v.cache.put(tok, e)
	}
	return c, err
}

// hit answers for a token validated before: revoked, or its claims while
// fresh and unexpired. ok false sends the caller down the full path
// (which reports staleness and expiry).
func (v *Validator) hit(tok []byte, e *cachedClaims) (Claims, error, bool) {
	now := v.opts.Now().UnixNano()
	if now-v.lastBeat.Load() > int64(v.opts.MaxStaleness) {
		return Claims{}, nil, false
	}
	switch v.ix.CheckBytes(e.jti, e.sub, e.kidB, e.iat) {
	case index.JTI:
		return Claims{}, errRevokedJTI, true
	case index.Sub:
		return Claims{}, errRevokedSub, true
	case index.Kid:
		return Claims{}, errRevokedKid, true
	}
	if now >= e.expiresNs {
		v.cache.drop(tok)
		return Claims{}, nil, false
	}
	return e.c, nil, true
}

// view is s as a byte slice sharing its memory; it must not be modified.
func view(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// check is one validation of tok into t.
func (v *Validator) check(tok []byte, t *token.Token) (Claims, error) {
	err := v.verifier.Verify(tok, t)
	if t.Key == nil { // nothing in the token is authentic
		if errors.Is(err, token.ErrUnknownKey) {
			return Claims{}, fmt.Errorf("%w: %w", ErrUnknownKey, err)
		}
		if err == nil {
			err = token.ErrSignature
		}
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if errors.Is(err, token.ErrKeyRevoked) {
		return Claims{}, errRevokedKid
	}
	if v.opts.Now().UnixNano()-v.lastBeat.Load() > int64(v.opts.MaxStaleness) {
		// Revocation cannot be ruled out; an expired or otherwise
		// invalid token is still refused as such.
		if err != nil {
			return Claims{}, tokenError(err)
		}
		return Claims{}, errStale
	}
	kid := unsafe.Slice(unsafe.StringData(t.Key.ID), len(t.Key.ID))
	switch v.ix.CheckBytes(t.JTI, t.Sub, kid, t.Iat) {
	case index.JTI:
		return Claims{}, errRevokedJTI
	case index.Sub:
		return Claims{}, errRevokedSub
	case index.Kid:
		return Claims{}, errRevokedKid
	}
	if err != nil {
		return Claims{}, tokenError(err)
	}
	if t.IsRefresh() {
		return Claims{}, errRefresh
	}
	return claimsOf(t), nil
}

// tokenError maps a verification error of an authentic token.
func tokenError(err error) error {
	if errors.Is(err, token.ErrExpired) {
		return fmt.Errorf("%w: %w", ErrExpired, err)
	}
	return fmt.Errorf("%w: %w", ErrInvalid, err)
}

// claimsOf copies t's claims into one allocation.
func claimsOf(t *token.Token) Claims {
	kid := t.Key.ID
	buf := make([]byte, 0, len(t.Payload)+len(t.Sub)+len(t.JTI)+len(t.Iss))
	buf = append(buf, t.Payload...)
	str := func(b []byte) string {
		if len(b) == 0 {
			return ""
		}
		start := len(buf)
		buf = append(buf, b...)
		return unsafe.String(&buf[start], len(b))
	}
	c := Claims{Subject: str(t.Sub), ID: str(t.JTI), Issuer: str(t.Iss), KeyID: kid}
	c.Raw = buf[:len(t.Payload):len(t.Payload)]
	c.JKT = boundJKT(c.Raw)
	if t.HasIat {
		c.IssuedAt = time.Unix(t.Iat, 0).UTC()
	}
	if t.HasExp {
		c.ExpiresAt = time.Unix(t.Exp, 0).UTC()
	}
	return c
}

// Status is a snapshot of the validator's view.
type Status struct {
	// Node is the URL of the node followed.
	Node string
	// LastEventID is the audit-log position of the last applied event.
	LastEventID int64
	// LastHeard is when the last event or heartbeat arrived.
	LastHeard time.Time
	// Stale reports whether Validate currently fails closed.
	Stale bool
	// Applied and Rejected count the events applied and refused (bad or
	// unknown signature) since New.
	Applied, Rejected int64
	// Heartbeats counts the stream heartbeats received since New.
	Heartbeats int64
	// ActiveRevocations is the number of revocations in force.
	ActiveRevocations int
}

// Status returns the validator's current view. Safe for concurrent use.
func (v *Validator) Status() Status {
	last := v.lastBeat.Load()
	return Status{
		Node:              v.opts.URLs[v.node.Load()],
		LastEventID:       v.lastID.Load(),
		LastHeard:         time.Unix(0, last),
		Stale:             v.opts.Now().UnixNano()-last > int64(v.opts.MaxStaleness),
		Applied:           v.applied.Load(),
		Rejected:          v.rejected.Load(),
		Heartbeats:        v.beats.Load(),
		ActiveRevocations: v.ix.Stats().Entries,
	}
}

// Close stops following the stream and waits for its goroutine. Validate
// answers ErrClosed afterwards. Close is idempotent.
func (v *Validator) Close() error {
	if v.closed.Swap(true) {
		return nil
	}
	v.cancel()
	<-v.done
	return nil
}
