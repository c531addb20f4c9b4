package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/actors/msg"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/revocation"
)

// formToken reads the form-encoded "token" parameter of RFC 7009/7662.
func formToken(ctx *fasthttp.RequestCtx) ([]byte, error) {
	if !bytes.HasPrefix(ctx.Request.Header.ContentType(), []byte("application/x-www-form-urlencoded")) {
		return nil, requestError(ErrOAuthRequest, "invalid_request: Content-Type must be application/x-www-form-urlencoded")
	}
	tok := ctx.PostArgs().Peek("token")
	if len(tok) == 0 {
		return nil, requestError(ErrOAuthRequest, "invalid_request: token parameter required")
	}
	return tok, nil
}

// oauthRevoke serves POST /oauth2/revoke (RFC 7009). Tokens that are
// invalid, unknown or already expired get 200 as the RFC requires; a valid
// token is revoked by jti (refresh tokens also in the audit log's
// refresh-token state).
func (a *API) oauthRevoke(ctx *fasthttp.RequestCtx) error {
	if !a.oauthAuthenticate(ctx) {
		return nil
	}
	raw, err := formToken(ctx)
	if err != nil {
		return err
	}
	var t token.Token
	if err := a.d.Verifier.Verify(raw, &t); err != nil || len(t.JTI) == 0 {
		ctx.SetStatusCode(http.StatusOK)
		return nil
	}
	var cmd any
	if t.IsRefresh() {
		cmd = &msg.RevokeRefresh{JTI: t.ID(), ExpiresAt: t.ExpiresAt()}
	} else {
		ttl := time.Until(t.ExpiresAt()) + a.cfg.Leeway
		if !t.HasExp || ttl <= 0 {
			ttl = a.cfg.MaxAccessTTL
		}
		cmd = &msg.Revoke{Type: revocation.TypeJTI, Value: t.ID(), TTL: ttl.Round(time.Second) + time.Second, Reason: "oauth2 revocation"}
	}
	if _, _, err := a.commitRevocation(cmd); err != nil {
		return err
	}
	ctx.SetStatusCode(http.StatusOK)
	return nil
}

// refreshActive reports whether a verified refresh token is active: not
// revoked in the index, and this node's rotation state holds it as the
// live token of its family (known, not revoked, not retired by a
// rotation). A retired token is inactive even inside the reuse grace
// period: presenting it is at best a retry, never a normal use.
func (a *API) refreshActive(ctx context.Context, t *token.Token) (bool, error) {
	if a.d.Index.CheckBytes(t.JTI, t.Sub, keyID(t.Key), t.Iat) != index.None || a.d.Store == nil {
		return false, nil
	}
	st, ok, err := a.d.Store.RefreshState(ctx, t.ID())
	if err != nil {
		return false, err
	}
	return ok && !st.Revoked && !st.Retired, nil
}

// oauthIntrospect serves POST /oauth2/introspect (RFC 7662): active plus
// claims for a valid, unrevoked token (for a refresh token: the live one of
// its family); {"active": false} otherwise.
func (a *API) oauthIntrospect(ctx *fasthttp.RequestCtx) error {
	if !a.oauthAuthenticate(ctx) {
		return nil
	}
	raw, err := formToken(ctx)
	if err != nil {
		return err
	}
	if !a.d.Index.Ready() {
		return errNotReady
	}
	var t token.Token
	v := a.check(raw, true, &t)
	if !v.valid && !(t.IsRefresh() && !v.revoked && a.d.Verifier.Verify(raw, &t) == nil) {
		writeJSON(ctx, http.StatusOK, map[string]bool{"active": false})
		return nil
	}
	if t.IsRefresh() {
		active, err := a.refreshActive(ctx, &t)
		if err != nil {
			return err
		}
		if !active {
			writeJSON(ctx, http.StatusOK, map[string]bool{"active": false})
			return nil
		}
	}
	var claims map[string]any
	if err := json.Unmarshal(t.Payload, &claims); err != nil {
		return errors.New("httpapi: introspect: verified payload is not JSON")
	}
	claims["active"] = true
	claims["token_type"] = "access_token"
	if t.IsRefresh() {
		claims["token_type"] = "refresh_token"
	}
	if _, ok := claims["scope"]; !ok {
		delete(claims, "scope")
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	writeJSON(ctx, http.StatusOK, claims)
	return nil
}
