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
	"github.com/revocd/revocd/crypto/kex"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
)

// maxBindingLen bounds client_binding (bytes).
const maxBindingLen = 1024

type refreshCreateRequest struct {
	Subject          optString      `json:"subject"`
	ClientBinding    optString      `json:"client_binding"`
	AdditionalClaims map[string]any `json:"additional_claims"`
}

type refreshCreateResponse struct {
	RefreshToken     string `json:"refresh_token"`
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	RefreshExpiresIn int64  `json:"refresh_expires_in"`
	RefreshJTI       string `json:"refresh_jti"`
	AccessJTI        string `json:"access_jti"`
	Subject          string `json:"subject"`
	KyberPublicKey   string `json:"kyber_public_key"`
}

type refreshRequest struct {
	RefreshToken    optString `json:"refresh_token"`
	ClientBinding   optString `json:"client_binding"`
	ClientPublicKey optString `json:"client_public_key"`
}

type refreshResponse struct {
	AccessToken         string  `json:"access_token"`
	RefreshToken        *string `json:"refresh_token"`
	TokenType           string  `json:"token_type"`
	ExpiresIn           int64   `json:"expires_in"`
	ServerPublicKey     *string `json:"server_public_key"`
	EncryptedSessionKey *string `json:"encrypted_session_key"`
	AccessJTI           string  `json:"access_jti"`
}

func (a *API) bindingHash(binding string) []byte {
	m := hmac.New(sha256.New, a.d.BindingKey)
	m.Write([]byte(binding))
	return m.Sum(nil)
}

func checkBinding(b optString) error {
	switch {
	case !b.Set:
		return errorf(http.StatusUnprocessableEntity, "client_binding: field required")
	case b.Value == "":
		return errorf(http.StatusUnprocessableEntity, "client_binding: must not be empty")
	case len(b.Value) > maxBindingLen:
		return errorf(http.StatusUnprocessableEntity, "client_binding: at most %d bytes", maxBindingLen)
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
	pair, err := a.askPair(&msg.CreateRefresh{Subject: req.Subject.Value, BindingHash: a.bindingHash(req.ClientBinding.Value), Extra: req.AdditionalClaims})
	if err != nil {
		return err
	}
	writeJSON(ctx, http.StatusOK, refreshCreateResponse{
		RefreshToken: pair.Refresh.Token, AccessToken: pair.Access.Token, TokenType: "bearer",
		ExpiresIn: pair.Access.ExpiresIn, RefreshExpiresIn: pair.Refresh.ExpiresIn,
		RefreshJTI: pair.Refresh.JTI, AccessJTI: pair.Access.JTI, Subject: pair.Subject,
		KyberPublicKey: *b64(a.d.ServerKEM.PublicKey()),
	})
	return nil
}

// askPair sends request to the issuer and maps its typed answer, sent once the
// refresh token's state is durable.
func (a *API) askPair(request any) (*msg.Pair, error) {
	res, err := a.ask(a.d.Issuer, request)
	if err != nil {
		return nil, err
	}
	switch r := res.(type) {
	case *msg.Pair:
		return r, nil
	case *msg.Failed:
		switch {
		case errors.Is(r.Err, msg.ErrRefreshUnknown), errors.Is(r.Err, msg.ErrRefreshRevoked),
			errors.Is(r.Err, msg.ErrBindingMismatch), errors.Is(r.Err, msg.ErrRefreshReused):
			return nil, errorf(http.StatusUnauthorized, "%s", r.Err.Error())
		case errors.Is(r.Err, msg.ErrUnavailable):
			return nil, errorf(http.StatusServiceUnavailable, "Audit log unavailable; try again")
		}
		return nil, r.Err
	}
	return nil, fmt.Errorf("httpapi: unexpected answer %T from the issuer", res)
}

// verifyRefresh verifies a refresh token: signature, algorithm, issuer,
// expiry, type and revocation.
func (a *API) verifyRefresh(raw string, t *token.Token) error {
	if err := a.d.Verifier.Verify([]byte(raw), t); err != nil {
		return errorf(http.StatusUnauthorized, "Invalid refresh token: %s", token.Message(err))
	}
	if !t.IsRefresh() {
		return errorf(http.StatusUnauthorized, "Invalid refresh token: not a refresh token")
	}
	if a.d.Index.CheckBytes(t.JTI, t.Sub, keyID(t.Key), t.Iat) != index.None {
		return errorf(http.StatusUnauthorized, "Refresh token has been revoked")
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
		return errorf(http.StatusUnprocessableEntity, "refresh_token: field required")
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
	accessJTI := uuid.NewString()
	var kx *kex.ServerResult
	if req.ClientPublicKey.Set {
		res, err := kex.ServerExchange(req.ClientPublicKey.Value, accessJTI, rand.Reader)
		if err != nil {
			return errorf(http.StatusUnprocessableEntity, "client_public_key: %s", err.Error())
		}
		kx = &res
	}
	extra, err := extraClaims(t.Payload)
	if err != nil {
		return err
	}
	pair, err := a.askPair(&msg.Refresh{OldJTI: t.ID(), Subject: t.Subject(), BindingHash: a.bindingHash(req.ClientBinding.Value), AccessJTI: accessJTI, Extra: extra})
	if err != nil {
		return err
	}
	resp := refreshResponse{AccessToken: pair.Access.Token, TokenType: "bearer", ExpiresIn: pair.Access.ExpiresIn, AccessJTI: pair.Access.JTI}
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
		return nil, errorf(http.StatusUnauthorized, "Invalid refresh token")
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
			return errorf(http.StatusBadRequest, "Malformed JSON body: invalid UTF-8")
		}
		if err := json.Unmarshal(body, &raw); err != nil {
			return errorf(http.StatusBadRequest, "Malformed JSON body")
		}
	} else {
		var req struct {
			RefreshToken optString `json:"refresh_token"`
		}
		if err := decodeBody(body, &req); err != nil {
			return err
		}
		if !req.RefreshToken.Set {
			return errorf(http.StatusUnprocessableEntity, "refresh_token: field required")
		}
		raw = req.RefreshToken.Value
	}
	var t token.Token
	err := a.d.Verifier.Verify([]byte(raw), &t)
	expired := errors.Is(err, token.ErrExpired) && t.Key != nil
	if err != nil && !expired {
		return errorf(http.StatusUnauthorized, "Invalid refresh token: %s", token.Message(err))
	}
	if !t.IsRefresh() {
		return errorf(http.StatusUnprocessableEntity, "body: not a refresh token")
	}
	// The endpoint is open: a token that is dead already (expired, or
	// revoked in the index) is answered without a write, so repeating a
	// logout cannot amplify into events fanned out to every destination.
	// The answer keeps the seed's shape; see noEventID.
	if expired {
		writeJSON(ctx, http.StatusOK, revokeResponse{EventID: noEventID})
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
	writeJSON(ctx, http.StatusOK, revokeResponse{EventID: eventID, Published: a.published(ctx, logID)})
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
	resp := revokeResponse{EventID: noEventID}
	if a.d.Store != nil {
		id, logID, found, err := a.d.Store.JTIRevocation(ctx, t.ID(), t.ExpiresAt().UnixMilli())
		if err != nil {
			return err
		}
		if found {
			resp = revokeResponse{EventID: id, Published: a.published(ctx, logID)}
		}
	}
	writeJSON(ctx, http.StatusOK, resp)
	return nil
}
