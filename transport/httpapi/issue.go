package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/actors/msg"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/transport/wire"
)

// maxSubjectLen bounds "subject" (bytes).
const maxSubjectLen = 256

// maxClaimsBytes bounds the JSON encoding of additional_claims, so that every
// issued token stays under the verifier's token size limit (16 KiB, also
// with ML-DSA-65's 3.3 KB signatures).
const maxClaimsBytes = 4 << 10

// reservedClaims are the claim names additional_claims may not use, in lower
// case; checkClaims refuses them in any letter case (token.IsReservedClaim).
var reservedClaims = token.ReservedClaims()

// issueRequest is the server's presence-tracking mirror of
// wire.IssueRequest.
type issueRequest struct {
	Subject          optString      `json:"subject"`
	ExpiresMinutes   optInt         `json:"expires_minutes"`
	AdditionalClaims map[string]any `json:"additional_claims"`
}

func checkSubject(s optString) error {
	switch {
	case !s.Set:
		return requestError(ErrInvalidField, "subject: field required")
	case s.Value == "":
		return requestError(ErrInvalidField, "subject: must not be empty")
	case len(s.Value) > maxSubjectLen:
		return requestError(ErrInvalidField, "subject: at most %d bytes", maxSubjectLen)
	case !utf8.ValidString(s.Value):
		return requestError(ErrInvalidField, "subject: must be valid UTF-8")
	}
	return nil
}

func checkClaims(m map[string]any) error {
	// Sorted, so that the refused name reported is deterministic.
	names := make([]string, 0, len(m))
	for name := range m {
		if token.IsReservedClaim(name) {
			names = append(names, name)
		}
	}
	if len(names) > 0 {
		slices.Sort(names)
		return requestError(ErrInvalidField, "additional_claims: %.64q is a registered or reserved claim name (in any letter case) and cannot be overridden", names[0])
	}
	if len(m) > 0 {
		if b, err := json.Marshal(m); err != nil || len(b) > maxClaimsBytes {
			return requestError(ErrInvalidField, "additional_claims: at most %d bytes of JSON", maxClaimsBytes)
		}
	}
	return nil
}

// issue serves POST /token.
func (a *API) issue(ctx *fasthttp.RequestCtx) error {
	var req issueRequest
	if err := decodeBody(ctx.PostBody(), &req); err != nil {
		return err
	}
	if err := checkSubject(req.Subject); err != nil {
		return err
	}
	ttl := a.cfg.AccessTTL
	if req.ExpiresMinutes.Set {
		max := int64(a.cfg.MaxAccessTTL / time.Minute)
		if req.ExpiresMinutes.Value < 1 || req.ExpiresMinutes.Value > max {
			return requestError(ErrInvalidField, "expires_minutes: must be between 1 and %d", max)
		}
		ttl = time.Duration(req.ExpiresMinutes.Value) * time.Minute
	}
	if err := checkClaims(req.AdditionalClaims); err != nil {
		return err
	}
	jkt, err := a.tokenEndpointProof(ctx)
	if err != nil {
		writeDPoPError(ctx, err)
		return nil
	}
	res, err := a.ask(a.d.Issuer, &msg.IssueAccess{Subject: req.Subject.Value, TTL: ttl, Extra: req.AdditionalClaims, Jkt: jkt})
	if err != nil {
		return err
	}
	iss, err := issued(res)
	if err != nil {
		return err
	}
	writeJSON(ctx, http.StatusOK, wire.IssueResponse{AccessToken: iss.Token, TokenType: tokenType(jkt), ExpiresIn: iss.ExpiresIn, JTI: iss.JTI, Subject: req.Subject.Value})
	return nil
}

// issued unpacks the issuer's answer to IssueAccess.
func issued(res any) (*msg.Issued, error) {
	switch r := res.(type) {
	case *msg.Issued:
		return r, nil
	case *msg.Failed:
		return nil, r.Err
	}
	return nil, fmt.Errorf("httpapi: unexpected answer %T from the issuer", res)
}

func b64(b []byte) *string {
	if b == nil {
		return nil
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s
}
