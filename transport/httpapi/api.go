// Package httpapi is revocd's HTTP API on fasthttp: the seed's REST endpoints
// plus readiness, metrics, JWKS, OAuth 2.0 revocation and introspection,
// batch validation, the event feed and the docs page.
//
// Validation never crosses an actor: handlers parse and verify the token and
// check the revocation index directly. Issuance, revocation and refresh are
// requests to the issuer and revocation actors, answered after the audit
// writer's commit.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/crypto/dpop"
	"github.com/revocd/revocd/crypto/kex"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/transport/wire"
)

// Check is one dependency's readiness (the wire type).
type Check = wire.Check

// Readiness is the /ready report (the wire type).
type Readiness = wire.Readiness

// Deps are the settings and collaborators of the API. Options, Verifier,
// Ring and Index are required; Engine, Issuer, Revoker, Store, ServerKEM
// and BindingKey are required by the write endpoints (issue, revoke,
// refresh, key rotation, event feed). KafkaOutbox, Ready, EventKeys,
// Metrics and Logger are optional.
type Deps struct {
	// Options are the API's settings, validated by New.
	Options  Options
	Engine   *actor.Engine
	Issuer   *actor.PID
	Revoker  *actor.PID
	Verifier *token.Verifier
	Ring     *token.Ring
	Index    *index.Index
	// Store is the read side of the audit log (AuditLog).
	Store AuditLog
	// ServerKEM is the long-term X-Wing key advertised as kyber_public_key.
	ServerKEM *kex.StaticKey
	// BindingKey keys the hash under which client bindings are stored
	// (cluster-wide: the same on every node).
	BindingKey []byte
	// LegacyBindingKey, if set, is the node's former per-node binding key:
	// a refresh token stored under it still matches its binding here.
	LegacyBindingKey []byte
	// KafkaOutbox is the Kafka bridge (outbox) actor, asked with a
	// msg.AwaitDelivered whether a revocation was published within
	// PublishWait. Nil: Kafka is off.
	KafkaOutbox *actor.PID
	// Ready reports dependency readiness for /ready.
	Ready func(ctx context.Context) Readiness
	// EventKeys returns the /events/keys document.
	EventKeys func() []byte
	// Feed serves the event stream and the active-revocations snapshot
	// (stream.go); nil: those routes answer 404.
	Feed    *Feed
	Metrics *Metrics
	Logger  *slog.Logger
}

// API serves revocd's HTTP API. It is safe for concurrent use.
type API struct {
	d       Deps
	cfg     *Options
	log     *slog.Logger
	admin   [][32]byte
	limit   *limiter
	nextID  atomic.Uint64
	started time.Time
	dpop    *dpop.Verifier // DPoP proofs (dpop.go)
	// authFails logs and counts failed client logins (oauthclients.go).
	authFails *authFailures
}

// New returns the API over d. It refuses invalid d.Options with an error
// wrapping ErrInvalidOptions, and missing required collaborators.
func New(d Deps) (*API, error) {
	if err := d.Options.validate(); err != nil {
		return nil, err
	}
	if d.Verifier == nil || d.Ring == nil || d.Index == nil {
		return nil, fmt.Errorf("%w: Deps.Verifier, Ring and Index are required", ErrInvalidOptions)
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics(nil)
	}
	d.Options.AdminAPIKeys = slices.Clone(d.Options.AdminAPIKeys)
	a := &API{d: d, log: d.Logger, started: time.Now(), limit: newLimiter(d.Options.RateLimitPerSecond, d.Options.RateLimitBurst), dpop: newDPoPVerifier()}
	a.cfg = &a.d.Options
	a.authFails = newAuthFailures(a.log, d.Metrics.Registry())
	for _, k := range d.Options.AdminAPIKeys {
		a.admin = append(a.admin, sha256.Sum256([]byte(k)))
	}
	return a, nil
}

// route is one endpoint.
type route struct {
	name    string
	method  string
	admin   bool
	handler func(ctx *fasthttp.RequestCtx) error
	// limited routes (issuance, revocation, refresh) are rate limited.
	limited bool
}

// Handler returns the fasthttp handler serving every route.
func (a *API) Handler() fasthttp.RequestHandler {
	routes := a.routes()
	byPath := map[string][]route{}
	for _, r := range routes {
		byPath[r.name] = append(byPath[r.name], r)
	}
	return func(ctx *fasthttp.RequestCtx) {
		start := time.Now()
		path := string(ctx.Path())
		rs, ok := byPath[path]
		if !ok && len(path) > len("/docs/") && path[:6] == "/docs/" {
			rs, ok = byPath["/docs"]
		}
		label := path
		if !ok {
			label = "unmatched"
			a.writeError(ctx, ErrNotFound)
			a.d.Metrics.observe(label, ctx.Response.StatusCode(), start)
			return
		}
		var r *route
		for i := range rs {
			if string(ctx.Method()) == rs[i].method || (rs[i].method == http.MethodGet && ctx.IsHead()) {
				r = &rs[i]
				break
			}
		}
		if r == nil {
			allow := ""
			for i, x := range rs {
				if i > 0 {
					allow += ", "
				}
				allow += x.method
			}
			ctx.Response.Header.Set("Allow", allow)
			a.writeError(ctx, ErrMethodNotAllowed)
			a.d.Metrics.observe(rs[0].name, ctx.Response.StatusCode(), start)
			return
		}
		a.setRequestID(ctx)
		if ok, wait := a.limitFor(ctx, r); !ok {
			a.writeError(ctx, errRateLimited(ctx, wait))
		} else if r.admin && !a.authorized(ctx) {
			a.writeError(ctx, ErrUnauthorized)
		} else if err := r.handler(ctx); err != nil {
			a.writeError(ctx, err)
		}
		a.d.Metrics.observe(r.name, ctx.Response.StatusCode(), start)
	}
}

func (a *API) routes() []route {
	return []route{
		{"/health", http.MethodGet, false, a.health, false},
		{"/ready", http.MethodGet, false, a.ready, false},
		{"/metrics", http.MethodGet, false, a.metrics, false},
		{"/docs", http.MethodGet, false, a.docs, false},
		{"/openapi.json", http.MethodGet, false, a.openapi, false},
		{"/token", http.MethodPost, true, a.issue, true},
		{"/token/validate", http.MethodPost, false, a.validate, false},
		{"/token/validate/batch", http.MethodPost, false, a.validateBatch, false},
		// Inspect reports revocation state for unverified claims: admin only
		// (open in --dev), or it is a revocation oracle.
		{"/token/inspect", http.MethodGet, true, a.inspect, false},
		{"/revoke", http.MethodPost, true, a.revoke, true},
		{"/token/refresh/create", http.MethodPost, true, a.refreshCreate, true},
		{"/token/refresh", http.MethodPost, false, a.refresh, true},
		{"/token/refresh/revoke", http.MethodPost, false, a.refreshRevoke, true},
		// The OAuth endpoints take an admin key or a registered client's
		// credentials (oauthAuthenticate).
		{"/oauth2/revoke", http.MethodPost, false, a.oauthRevoke, true},
		{"/oauth2/introspect", http.MethodPost, false, a.oauthIntrospect, false},
		{"/.well-known/oauth-authorization-server", http.MethodGet, false, a.oauthMetadata, false},
		{"/revocations", http.MethodGet, true, a.feed, false},
		{"/events/keys", http.MethodGet, false, a.eventKeys, false},
		// Feed routes check an admin or a read-only FEED_API_KEYS key
		// themselves (feedAuthorized).
		{"/events/stream", http.MethodGet, false, a.stream, false},
		{"/revocations/active", http.MethodGet, false, a.activeSnapshot, false},
		{"/.well-known/jwks.json", http.MethodGet, false, a.jwks, false},
		{"/admin/keys/rotate", http.MethodPost, true, a.rotateKey, false},
	}
}

// limitFor applies the rate limit of limited routes.
func (a *API) limitFor(ctx *fasthttp.RequestCtx, r *route) (bool, time.Duration) {
	if !r.limited {
		return true, 0
	}
	var key []byte
	if h := ctx.Request.Header.Peek("Authorization"); a.validAdminKey(h) {
		key = h
	}
	return a.limit.allow(ctx, key)
}

// authorized checks the admin bearer key in constant time against every
// configured key (dev mode: always authorized).
func (a *API) authorized(ctx *fasthttp.RequestCtx) bool {
	return a.cfg.Dev || a.validAdminKey(ctx.Request.Header.Peek("Authorization"))
}

// validAdminKey reports whether h is "Bearer <configured admin key>".
func (a *API) validAdminKey(h []byte) bool {
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !equalFoldASCII(h[:len(prefix)], prefix) {
		return false
	}
	sum := sha256.Sum256(h[len(prefix):])
	ok := 0
	for i := range a.admin {
		ok |= subtle.ConstantTimeCompare(sum[:], a.admin[i][:])
	}
	return ok == 1
}

func equalFoldASCII(b []byte, s string) bool {
	for i := range b {
		c, d := b[i]|0x20, s[i]|0x20
		if c != d {
			return false
		}
	}
	return true
}

// setRequestID sets the response's X-Request-Id: the client's (bounded,
// printable) or a new process-unique one. It does not allocate.
func (a *API) setRequestID(ctx *fasthttp.RequestCtx) {
	if id := ctx.Request.Header.Peek("X-Request-Id"); len(id) > 0 && len(id) <= 64 && printable(id) {
		ctx.Response.Header.SetBytesV("X-Request-Id", id)
		return
	}
	var buf [40]byte
	b := strconv.AppendInt(buf[:0], a.started.UnixNano()%1e9, 36)
	b = append(b, '-')
	b = strconv.AppendUint(b, a.nextID.Add(1), 36)
	ctx.Response.Header.SetBytesV("X-Request-Id", b)
}

// requestID returns the request id set by setRequestID.
func requestID(ctx *fasthttp.RequestCtx) string {
	return string(ctx.Response.Header.Peek("X-Request-Id"))
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// ask sends msg to pid and waits for the reply within the request timeout.
func (a *API) ask(pid *actor.PID, msg any) (any, error) {
	res, err := a.d.Engine.Request(pid, msg, a.cfg.RequestTimeout).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: %T: %w", ErrTimeout, msg, err)
	}
	return res, nil
}
