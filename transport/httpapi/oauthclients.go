package httpapi

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"

	"github.com/valyala/fasthttp"
)

// validClient reports whether id and secret are a registered client's
// (Options.OAuthClients). It compares the hashes of every registered
// client in constant time, so the answer's timing tells neither which ids
// exist nor how much of a secret matched.
func (a *API) validClient(id, secret []byte) bool {
	if len(id) == 0 || len(secret) == 0 {
		return false
	}
	idSum, secretSum := sha256.Sum256(id), sha256.Sum256(secret)
	ok := 0
	for cid, sum := range a.cfg.OAuthClients {
		cidSum := sha256.Sum256([]byte(cid))
		ok |= subtle.ConstantTimeCompare(idSum[:], cidSum[:]) & subtle.ConstantTimeCompare(secretSum[:], sum[:])
	}
	return ok == 1
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
// form-decoded (both checks always run).
func (a *API) validBasic(id, secret []byte) bool {
	ok := a.validClient(id, secret)
	uid, err1 := url.QueryUnescape(string(id))
	usecret, err2 := url.QueryUnescape(string(secret))
	decoded := err1 == nil && err2 == nil && a.validClient([]byte(uid), []byte(usecret))
	return ok || decoded
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
		if !a.validBasic(id, secret) {
			a.invalidClient(ctx)
			return false
		}
		return true
	case len(h) > 0:
		a.writeError(ctx, ErrUnauthorized)
		return false
	case len(postID) > 0:
		if !a.validClient(postID, postSecret) {
			a.invalidClient(ctx)
			return false
		}
		return true
	}
	a.writeError(ctx, ErrUnauthorized)
	return false
}

// invalidClient answers a failed client authentication (RFC 6749 §5.2).
func (a *API) invalidClient(ctx *fasthttp.RequestCtx) {
	a.log.Debug("oauth client authentication failed", "path", string(ctx.Path()), "request_id", requestID(ctx))
	ctx.Response.Header.Set("WWW-Authenticate", `Basic realm="revocd"`)
	oauthError(ctx, http.StatusUnauthorized, "invalid_client", "client authentication failed: send a registered client's id and secret, or an admin API key")
}

// oauthError writes an RFC 6749 §5.2 error response; "detail" repeats the
// description for clients of revocd's own error shape.
func oauthError(ctx *fasthttp.RequestCtx, status int, code, description string) {
	ctx.Response.Header.Set("Cache-Control", "no-store")
	writeJSON(ctx, status, map[string]string{"error": code, "error_description": description, "detail": code + ": " + description})
}
