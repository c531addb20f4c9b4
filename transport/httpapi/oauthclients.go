package httpapi

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// validClient reports whether id and secret are a registered client's
// (Options.OAuthClients), and whether id is registered at all (for the
// failure log). It compares the hashes of every registered client in
// constant time, so the answer's timing tells neither which ids exist nor
// how much of a secret matched.
func (a *API) validClient(id, secret []byte) (ok, known bool) {
	if len(id) == 0 {
		return false, false
	}
	idSum, secretSum := sha256.Sum256(id), sha256.Sum256(secret)
	match, idMatch := 0, 0
	for cid, sum := range a.cfg.OAuthClients {
		cidSum := sha256.Sum256([]byte(cid))
		sameID := subtle.ConstantTimeCompare(idSum[:], cidSum[:])
		idMatch |= sameID
		match |= sameID & subtle.ConstantTimeCompare(secretSum[:], sum[:])
	}
	return match == 1 && len(secret) > 0, idMatch == 1
}

// basicCredentials decodes "Basic base64(id:secret)". RFC 6749 §2.3.1
// form-encodes id and secret first; many clients (curl -u among them) do
// not, so validBasic tries both readings.
func basicCredentials(h []byte) (id, secret []byte, ok bool) {
	const prefix = "Basic "
	if len(h) <= len(prefix) || !equalFoldASCII(h[:len(prefix)], prefix) {
		return nil, nil, false
	}
	raw, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(h[len(prefix):])))
	if err != nil {
		return nil, nil, false
	}
	id, secret, found := bytes.Cut(raw, []byte(":"))
	return id, secret, found
}

// validBasic checks Basic credentials as sent and, when they decode,
// form-decoded (both checks always run). known reports whether either
// reading of id is registered.
func (a *API) validBasic(id, secret []byte) (ok, known bool) {
	ok, known = a.validClient(id, secret)
	uid, err1 := url.QueryUnescape(string(id))
	usecret, err2 := url.QueryUnescape(string(secret))
	if err1 == nil && err2 == nil {
		dok, dknown := a.validClient([]byte(uid), []byte(usecret))
		ok, known = ok || dok, known || dknown
	}
	return ok, known
}

// oauthAuthenticate authenticates the caller of /oauth2/introspect and
// /oauth2/revoke: an admin key ("Authorization: Bearer"), or a registered
// OAuth client with client_secret_basic or client_secret_post (RFC 6749
// §2.3.1); --dev accepts anyone. It reports false after writing the
// refusal: invalid_client (RFC 6749 §5.2, 401 with a Basic challenge) for
// failed client credentials, invalid_request for two methods at once, and
// the admin endpoints' 401 for no credentials or a wrong admin key.
func (a *API) oauthAuthenticate(ctx *fasthttp.RequestCtx) bool {
	if a.cfg.Dev {
		return true
	}
	h := ctx.Request.Header.Peek("Authorization")
	if a.validAdminKey(h) {
		return true
	}
	var postID, postSecret []byte
	if bytes.HasPrefix(ctx.Request.Header.ContentType(), []byte("application/x-www-form-urlencoded")) {
		postID, postSecret = ctx.PostArgs().Peek("client_id"), ctx.PostArgs().Peek("client_secret")
	}
	switch id, secret, isBasic := basicCredentials(h); {
	case isBasic && len(postSecret) > 0:
		oauthError(ctx, http.StatusBadRequest, "invalid_request", "use one client authentication method, not both")
		return false
	case isBasic:
		if uid, err := url.QueryUnescape(string(id)); len(postID) > 0 && !bytes.Equal(postID, id) && (err != nil || string(postID) != uid) {
			oauthError(ctx, http.StatusBadRequest, "invalid_request", "client_id does not match the authenticated client")
			return false
		}
		if ok, known := a.validBasic(id, secret); !ok {
			a.invalidClient(ctx, id, authBasic, known)
			return false
		}
		return true
	case len(h) > 0:
		a.writeError(ctx, ErrUnauthorized)
		return false
	case len(postID) > 0:
		if ok, known := a.validClient(postID, postSecret); !ok {
			a.invalidClient(ctx, postID, authPost, known)
			return false
		}
		return true
	}
	a.writeError(ctx, ErrUnauthorized)
	return false
}

// invalidClient answers a failed client authentication (RFC 6749 §5.2)
// of client id with method, and records it (authFailures).
func (a *API) invalidClient(ctx *fasthttp.RequestCtx, id []byte, method string, known bool) {
	a.authFails.record(string(id), method, known, ctx.RemoteAddr().String(), string(ctx.Path()), requestID(ctx))
	ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="revocd"`)
	oauthError(ctx, http.StatusUnauthorized, "invalid_client", "client authentication failed: send a registered client's id and secret, or an admin API key")
}

// oauthError writes an RFC 6749 §5.2 error response; "detail" repeats the
// description for clients of revocd's own error shape.
func oauthError(ctx *fasthttp.RequestCtx, status int, code, description string) {
	ctx.Response.Header.Set("Cache-Control", "no-store")
	writeJSON(ctx, status, map[string]string{"error": code, "error_description": description, "detail": code + ": " + description})
}

// Client authentication methods, as RFC 8414 names them.
const (
	authBasic = "client_secret_basic"
	authPost  = "client_secret_post"
)

// Reasons of revocd_oauth_client_auth_failures_total.
const (
	authFailUnknownClient = "unknown_client"
	authFailWrongSecret   = "wrong_secret"
)

// authFailLogEvery is the least time between two WARN lines about the
// same client id; authFailMaxIDs bounds the ids remembered for it (and
// authFailMaxIDLen the length of an id logged: ids are the caller's).
const (
	authFailLogEvery = time.Minute
	authFailMaxIDs   = 1024
	authFailMaxIDLen = 64
)

// authFailures logs failed client logins at WARN, at most once per client
// id per authFailLogEvery (the line says how many were suppressed
// meanwhile), and counts every one in
// revocd_oauth_client_auth_failures_total{reason}: a brute force cannot
// flood the log. The secret is never logged. Safe for concurrent use.
type authFailures struct {
	log     *slog.Logger
	counter *prometheus.CounterVec
	now     func() time.Time

	mu   sync.Mutex
	seen map[string]*authFailState // by client id (truncated)
}

type authFailState struct {
	logged     time.Time
	suppressed int
}

// newAuthFailures registers the counter on reg (or takes the one already
// there, for several APIs on one registry).
func newAuthFailures(log *slog.Logger, reg *prometheus.Registry) *authFailures {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "revocd_oauth_client_auth_failures_total",
		Help: "Failed OAuth client authentications on /oauth2/*, by reason (unknown_client, wrong_secret).",
	}, []string{"reason"})
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				c = existing
			}
		}
	}
	return &authFailures{log: log, counter: c, now: time.Now, seen: map[string]*authFailState{}}
}

// record counts one failure and logs it unless the id was logged within
// authFailLogEvery. When authFailMaxIDs ids were logged within the
// interval, failures of further ids share one line per interval.
func (f *authFailures) record(id, method string, known bool, remote, path, reqID string) {
	reason := authFailWrongSecret
	if !known {
		reason = authFailUnknownClient
	}
	f.counter.WithLabelValues(reason).Inc()
	if len(id) > authFailMaxIDLen {
		id = id[:authFailMaxIDLen] + "..."
	}
	now := f.now()
	key := id
	f.mu.Lock()
	st := f.seen[key]
	if st == nil && len(f.seen) >= authFailMaxIDs {
		for k, s := range f.seen {
			if now.Sub(s.logged) >= authFailLogEvery {
				delete(f.seen, k)
			}
		}
		if len(f.seen) >= authFailMaxIDs {
			key = "\x00others" // not a client id: ids are never empty
			st = f.seen[key]
		}
	}
	if st == nil {
		st = &authFailState{}
		f.seen[key] = st
	}
	if !st.logged.IsZero() && now.Sub(st.logged) < authFailLogEvery {
		st.suppressed++
		f.mu.Unlock()
		return
	}
	suppressed := st.suppressed
	st.logged, st.suppressed = now, 0
	f.mu.Unlock()
	if key != id {
		id = "(many clients)"
	}
	f.log.Warn("oauth client authentication failed", "client_id", id, "auth_method", method, "reason", reason,
		"remote_addr", remote, "path", path, "request_id", reqID, "suppressed_since_last", suppressed)
}
