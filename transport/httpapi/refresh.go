package httpapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/actors/msg"
	"github.com/revocd/revocd/crypto/dpop"
	"github.com/revocd/revocd/crypto/kex"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/transport/wire"
)

// maxBindingLen bounds client_binding (bytes).
const maxBindingLen = 1024

// msgBadClientKey is the detail of a client_public_key that kex refuses
// (kex.ErrInvalidKey): what the field must hold, without the parser's
// internals.
const msgBadClientKey = "not a valid public key (want base64 of a 32-byte X25519, 1184-byte ML-KEM-768 or 1216-byte X-Wing key)"

type refreshCreateRequest struct {
	Subject          optString      `json:"subject"`
	ClientBinding    optString      `json:"client_binding"`
	AdditionalClaims map[string]any `json:"additional_claims"`
}

type refreshRequest struct {
	RefreshToken    optString `json:"refresh_token"`
	ClientBinding   optString `json:"client_binding"`
	ClientPublicKey optString `json:"client_public_key"`
}

func (a *API) bindingHash(binding string) []byte {
	return keyedHash(a.d.BindingKey, binding)
}

// legacyBindingHash is the binding's hash under the node's former
// per-node key, or nil when it has none.
func (a *API) legacyBindingHash(binding string) []byte {
	if len(a.d.LegacyBindingKey) == 0 {
		return nil
	}
	return keyedHash(a.d.LegacyBindingKey, binding)
}

func keyedHash(key []byte, binding string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(binding))
	return m.Sum(nil)
}

func checkBinding(b optString) error {
	switch {
	case !b.Set:
		return requestError(ErrInvalidField, "client_binding: field required")
	case b.Value == "":
		return requestError(ErrInvalidField, "client_binding: must not be empty")
	case len(b.Value) > maxBindingLen:
		return requestError(ErrInvalidField, "client_binding: at most %d bytes", maxBindingLen)
	}
	return nil
}

// refreshCreate serves POST /token/refresh/create.
func (a *API) refreshCreate(ctx *fasthttp.RequestCtx) error {
	var req refreshCreateRequest
	if err := decodeBody(ctx.PostBody(), &req); err != nil {
		return err
	}
	if err := checkSubject(req.Subject); err != nil {
		return err
	}
	if err := checkBinding(req.ClientBinding); err != nil {
		return err
	}
	if err := checkClaims(req.AdditionalClaims); err != nil {
		return err
	}
	jkt, err := a.tokenEndpointProof(ctx)
	if err != nil {
		writeDPoPError(ctx, err)
		return nil
	}
	pair, err := a.askPair(&msg.CreateRefresh{Subject: req.Subject.Value, BindingHash: a.bindingHash(req.ClientBinding.Value), Extra: req.AdditionalClaims, Jkt: jkt})
	if err != nil {
		return err
	}
	writeJSON(ctx, http.StatusOK, wire.RefreshCreateResponse{
		RefreshToken: pair.Refresh.Token, AccessToken: pair.Access.Token, TokenType: tokenType(jkt),
		ExpiresIn: pair.Access.ExpiresIn, RefreshExpiresIn: pair.Refresh.ExpiresIn,
		RefreshJTI: pair.Refresh.JTI, AccessJTI: pair.Access.JTI, Subject: pair.Subject,
		KyberPublicKey: *b64(a.d.ServerKEM.PublicKey()),
	})
	return nil
}

// askPair sends request to the issuer and maps its typed answer, sent once the
// refresh token's state is durable. A *Failed answer's error (a refusal
// such as msg.ErrRefreshReused, or msg.ErrUnavailable) is returned as it
// is: errorTable gives its status and text.
func (a *API) askPair(request any) (*msg.Pair, error) {
	res, err := a.ask(a.d.Issuer, request)
	if err != nil {
		return nil, err
	}
	switch r := res.(type) {
	case *msg.Pair:
		return r, nil
	case *msg.Failed:
		return nil, r.Err
	}
	return nil, fmt.Errorf("httpapi: unexpected answer %T from the issuer", res)
}

// verifyRefresh verifies a refresh token: signature, algorithm, issuer,
// expiry, type and revocation.
func (a *API) verifyRefresh(raw string, t *token.Token) error {
	if err := a.d.Verifier.Verify([]byte(raw), t); err != nil {
		return requestError(ErrInvalidRefreshToken, "Invalid refresh token: %s", token.Message(err))
	}
	if !t.IsRefresh() {
		return requestError(ErrInvalidRefreshToken, "Invalid refresh token: not a refresh token")
	}
	if a.d.Index.CheckBytes(t.JTI, t.Sub, keyID(t.Key), t.Iat) != index.None {
		return fmt.Errorf("httpapi: refresh token revoked in the index: %w", msg.ErrRefreshRevoked)
	}
	return nil
}

// refresh serves POST /token/refresh: rotation, reuse detection, binding,
// and forward secrecy when client_public_key is given.
func (a *API) refresh(ctx *fasthttp.RequestCtx) error {
	var req refreshRequest
	if err := decodeBody(ctx.PostBody(), &req); err != nil {
		return err
	}
	if !req.RefreshToken.Set {
		return requestError(ErrInvalidField, "refresh_token: field required")
	}
	if err := checkBinding(req.ClientBinding); err != nil {
		return err
	}
	if !a.d.Index.Ready() {
		return errNotReady
	}
	var t token.Token
	if err := a.verifyRefresh(req.RefreshToken.Value, &t); err != nil {
		return err
	}
	// A DPoP-bound refresh token (signed cnf.jkt) needs a proof by its
	// key; a proof with an unbound one binds the new tokens to its key.
	jkt, err := a.tokenEndpointProof(ctx)
	if err != nil {
		writeDPoPError(ctx, err)
		return nil
	}
	if bound, ok := boundJKT(t.Payload); ok && jkt != bound {
		if jkt == "" {
			writeDPoPError(ctx, errDPoPRequired)
		} else {
			writeDPoPError(ctx, dpop.ErrKeyMismatch)
		}
		return nil
	}
	accessJTI := uuid.NewString()
	var kx *kex.ServerResult
	if req.ClientPublicKey.Set {
		res, err := kex.ServerExchange(req.ClientPublicKey.Value, accessJTI, rand.Reader)
		if errors.Is(err, kex.ErrInvalidKey) {
			return requestError(ErrInvalidField, "client_public_key: %s", msgBadClientKey)
		}
		if err != nil {
			return err
		}
		kx = &res
	}
	extra, err := extraClaims(t.Payload)
	if err != nil {
		return err
	}
	pair, err := a.askPair(&msg.Refresh{OldJTI: t.ID(), Subject: t.Subject(), BindingHash: a.bindingHash(req.ClientBinding.Value),
		LegacyBindingHash: a.legacyBindingHash(req.ClientBinding.Value), AccessJTI: accessJTI, Extra: extra, Jkt: jkt})
	if err != nil {
		return err
	}
	resp := wire.RefreshResponse{AccessToken: pair.Access.Token, TokenType: tokenType(jkt), ExpiresIn: pair.Access.ExpiresIn, AccessJTI: pair.Access.JTI}
	if pair.Refresh != nil {
		resp.RefreshToken = &pair.Refresh.Token
	}
	if kx != nil {
		resp.ServerPublicKey, resp.EncryptedSessionKey = b64(kx.ServerPublicKey), b64(kx.EncryptedSessionKey)
	}
	writeJSON(ctx, http.StatusOK, resp)
	return nil
}

// extraClaims returns the non-registered claims of a verified payload, to be
// carried into tokens issued from it.
func extraClaims(payload []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("httpapi: refresh token payload: %w: %w", ErrInvalidRefreshToken, err)
	}
	for name := range m {
		if token.IsReservedClaim(name) {
			delete(m, name)
		}
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

// refreshRevoke serves POST /token/refresh/revoke. The body is a bare JSON
// string holding the refresh token (the seed's form) or {"refresh_token": ...}.
func (a *API) refreshRevoke(ctx *fasthttp.RequestCtx) error {
	body := bytes.TrimSpace(ctx.PostBody())
	var raw string
	if len(body) > 0 && body[0] == '"' {
		if !utf8.Valid(body) {
			return requestError(ErrMalformedBody, "Malformed JSON body: invalid UTF-8")
		}
		if err := json.Unmarshal(body, &raw); err != nil {
			return fmt.Errorf("httpapi: refresh token string: %w: %w", ErrMalformedBody, err)
		}
	} else {
		var req struct {
			RefreshToken optString `json:"refresh_token"`
		}
		if err := decodeBody(body, &req); err != nil {
			return err
		}
		if !req.RefreshToken.Set {
			return requestError(ErrInvalidField, "refresh_token: field required")
		}
		raw = req.RefreshToken.Value
	}
	var t token.Token
	err := a.d.Verifier.Verify([]byte(raw), &t)
	expired := errors.Is(err, token.ErrExpired) && t.Key != nil
	if err != nil && !expired {
		return requestError(ErrInvalidRefreshToken, "Invalid refresh token: %s", token.Message(err))
	}
	if !t.IsRefresh() {
		return requestError(ErrInvalidField, "body: not a refresh token")
	}
	// The endpoint is open: a token that is dead already (expired, or
	// revoked in the index) is answered without a write, so repeating a
	// logout cannot amplify into events fanned out to every destination.
	// The answer keeps the seed's shape; see noEventID.
	if expired {
		writeJSON(ctx, http.StatusOK, wire.RevokeResponse{EventID: noEventID})
		return nil
	}
	if a.d.Index.Ready() && a.d.Index.CheckBytes(t.JTI, t.Sub, keyID(t.Key), t.Iat) != index.None {
		return a.answerRevokedBefore(ctx, &t)
	}
	eventID, logID, err := a.commitRevocation(&msg.RevokeRefresh{JTI: t.ID(), ExpiresAt: t.ExpiresAt()})
	if err != nil {
		return err
	}
	if eventID == "" {
		eventID = noEventID
	}
	writeJSON(ctx, http.StatusOK, wire.RevokeResponse{EventID: eventID, Published: a.published(ctx, logID)})
	return nil
}

// noEventID is the event_id of a POST /token/refresh/revoke answer for a
// token that was dead already and whose revocation has no revoke_jti event
// of its own (expired; revoked by subject or key, or by a revoke_jti with
// an explicit ttl_seconds): the nil UUID, with published false. Nothing
// was written for such a request.
const noEventID = "00000000-0000-0000-0000-000000000000"

// answerRevokedBefore answers POST /token/refresh/revoke for a refresh token
// the index reports revoked: with the event id of the stored revocation of
// its jti when there is one (published as that event is), else noEventID.
func (a *API) answerRevokedBefore(ctx *fasthttp.RequestCtx, t *token.Token) error {
	resp := wire.RevokeResponse{EventID: noEventID}
	if a.d.Store != nil {
		id, logID, found, err := a.d.Store.JTIRevocation(ctx, t.ID(), t.ExpiresAt().UnixMilli())
		if err != nil {
			return err
		}
		if found {
			resp = wire.RevokeResponse{EventID: id, Published: a.published(ctx, logID)}
		}
	}
	writeJSON(ctx, http.StatusOK, resp)
	return nil
}
