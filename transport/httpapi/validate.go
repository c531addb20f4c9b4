package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/transport/wire"
)

// Validation messages (the seed's wording where it had one). The messages
// of invalid tokens are token.Message's.
const (
	msgValid        = "Token is valid and not revoked"
	msgValidNoCheck = "Token is valid (revocation not checked)"
	msgRevoked      = "Token has been revoked"
	msgRefreshToken = "Refresh tokens are not accepted as access tokens"
)

// verdict is the outcome of validating one token.
type verdict struct {
	valid   bool
	revoked bool
	kind    index.Kind
	// err is the verification error of an invalid token (a token
	// sentinel; token.ErrSignature when it did not verify), nil otherwise.
	err     error
	message string
	claims  []byte // JSON object to embed, or nil for null
}

var (
	tokenPool = sync.Pool{New: func() any { return new(token.Token) }}
	bufPool   = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}
	listPool  = sync.Pool{New: func() any { l := make([][]byte, 0, 64); return &l }}
)

func outcomeIndex(o string) int {
	switch o {
	case outcomeValid:
		return 0
	case outcomeRevoked:
		return 1
	case outcomeExpired:
		return 2
	}
	return 3
}

// check validates tok: structure, algorithm, key and signature first; then,
// only for a token whose signature verified, revocation (jti → sub → kid),
// which beats expired, not-yet-valid and wrong issuer; then those.
//
// A token whose signature does not verify (forged, unknown kid, "none",
// malformed) reveals nothing about revocation state: revoked is false and
// the message is the signature or format error. Otherwise anyone could ask
// which subjects and jtis are revoked with unsigned tokens. A token signed
// by a key revoked in the ring is revoked whatever checkRevocation says: the
// key is never trusted again. The kid checked in the index is the verifying
// key's, so a seed-era token without "kid" is revoked by a revoke_kid of
// the legacy key. t must be a reset Token; v.claims aliases t's buffer.
func (a *API) check(tok []byte, checkRevocation bool, t *token.Token) verdict {
	err := a.d.Verifier.Verify(tok, t)
	if t.Key == nil { // the signature did not verify (or was never checked)
		if err == nil { // cannot happen: Verify sets Key before succeeding
			err = token.ErrSignature
		}
		return verdict{err: err, message: token.Message(err)}
	}
	if err != nil && errors.Is(err, token.ErrKeyRevoked) {
		return verdict{revoked: true, kind: index.Kid, message: msgRevoked, claims: t.Payload}
	}
	if checkRevocation {
		if k := a.d.Index.CheckBytes(t.JTI, t.Sub, keyID(t.Key), t.Iat); k != index.None {
			return verdict{revoked: true, kind: k, message: msgRevoked, claims: t.Payload}
		}
	}
	if err != nil {
		return verdict{err: err, message: token.Message(err)}
	}
	if t.IsRefresh() {
		// Refresh tokens are credentials for /token/refresh only.
		return verdict{message: msgRefreshToken}
	}
	msg := msgValid
	if !checkRevocation {
		msg = msgValidNoCheck
	}
	return verdict{valid: true, message: msg, claims: t.Payload}
}

// keyID returns k.ID as a byte slice sharing its memory (no allocation). The
// slice must not be modified or retained: index.CheckBytes only reads it.
func keyID(k *token.Key) []byte {
	return unsafe.Slice(unsafe.StringData(k.ID), len(k.ID))
}

// appendVerdict appends the seed's validation response object.
func appendVerdict(dst []byte, v verdict) []byte {
	dst = append(dst, `{"valid":`...)
	dst = strconv.AppendBool(dst, v.valid)
	dst = append(dst, `,"claims":`...)
	if v.claims != nil {
		dst = append(dst, v.claims...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"revoked":`...)
	dst = strconv.AppendBool(dst, v.revoked)
	dst = append(dst, `,"message":`...)
	if plainJSON(v.message) {
		dst = append(append(append(dst, '"'), v.message...), '"')
	} else { // no message of the closed set (see TestVerdictMessagesArePlain)
		b, _ := json.Marshal(v.message)
		dst = append(dst, b...)
	}
	return append(dst, '}')
}

// plainJSON reports whether s is a JSON string's content as it stands:
// printable ASCII without '"' or '\\'. Every verdict message is (they are
// the constants above and token.Message's), so appendVerdict writes them
// without an escaper of its own.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// outcome is v's label in the revocd_validations_total metric.
func (a *API) outcome(v verdict) string {
	switch {
	case v.valid:
		return outcomeValid
	case v.revoked:
		return outcomeRevoked
	case errors.Is(v.err, token.ErrExpired):
		return outcomeExpired
	}
	return outcomeInvalid
}

// validateRequest is the server's presence-tracking mirror of
// wire.ValidateRequest, for the general decoder.
type validateRequest struct {
	Token           optString `json:"token"`
	CheckRevocation optBool   `json:"check_revocation"`
	// DPoP (RFC 9449), optional: the proof the resource server received
	// and the method and URL it saw the request with.
	DPoPProof optString `json:"dpop_proof"`
	HTM       optString `json:"htm"`
	HTU       optString `json:"htu"`
}

// dpopFields returns the request's DPoP members, or nil without a proof.
func (r *validateRequest) dpopFields() (*dpopRequest, error) {
	if !r.DPoPProof.Set || r.DPoPProof.Value == "" {
		return nil, nil
	}
	if !r.HTM.Set || r.HTM.Value == "" || !r.HTU.Set || r.HTU.Value == "" {
		return nil, requestError(ErrInvalidField, "htm, htu: required with dpop_proof")
	}
	return &dpopRequest{Proof: r.DPoPProof.Value, HTM: r.HTM.Value, HTU: r.HTU.Value}, nil
}

// validate serves POST /token/validate.
func (a *API) validate(ctx *fasthttp.RequestCtx) error {
	raw, check, hasToken, ok := decodeValidateFast(ctx.PostBody())
	var dp *dpopRequest
	if !ok {
		var req validateRequest
		if err := decodeBody(ctx.PostBody(), &req); err != nil {
			return err
		}
		raw, hasToken = []byte(req.Token.Value), req.Token.Set
		check = !req.CheckRevocation.Set || req.CheckRevocation.Value
		var err error
		if dp, err = req.dpopFields(); err != nil {
			return err
		}
	}
	if !hasToken {
		return requestError(ErrInvalidField, "token: field required")
	}
	if !a.d.Index.Ready() {
		return errNotReady
	}
	t := tokenPool.Get().(*token.Token)
	t.Reset()
	v := a.checkDPoP(a.check(raw, check, t), raw, t.Payload, dp)
	a.d.Metrics.validation(a.outcome(v))
	buf := bufPool.Get().(*[]byte)
	*buf = appendVerdict((*buf)[:0], v)
	tokenPool.Put(t)
	ctx.SetContentType("application/json")
	ctx.SetBody(*buf)
	bufPool.Put(buf)
	return nil
}

// batchRequest is the server's presence-tracking mirror of
// wire.BatchValidateRequest, for the general decoder.
type batchRequest struct {
	Tokens          []optString `json:"tokens"`
	CheckRevocation optBool     `json:"check_revocation"`
	// DPoPProofs, optional, holds a proof per token (same order; "" or
	// null for none); HTM and HTU are the request's, shared by all.
	DPoPProofs []optString `json:"dpop_proofs"`
	HTM        optString   `json:"htm"`
	HTU        optString   `json:"htu"`
}

// validateBatch serves POST /token/validate/batch: one result per token, in
// order.
func (a *API) validateBatch(ctx *fasthttp.RequestCtx) error {
	list := listPool.Get().(*[][]byte)
	defer func() { *list = (*list)[:0]; listPool.Put(list) }()
	tokens, check, hasTokens, ok := decodeBatchFast(ctx.PostBody(), *list)
	var proofs []optString
	var htm, htu string
	if !ok {
		var req batchRequest
		if err := decodeBody(ctx.PostBody(), &req); err != nil {
			return err
		}
		tokens, hasTokens = tokens[:0], req.Tokens != nil
		for i, tok := range req.Tokens {
			if !tok.Set {
				return requestError(ErrInvalidField, "tokens[%d]: expected a string", i)
			}
			tokens = append(tokens, []byte(tok.Value))
		}
		check = !req.CheckRevocation.Set || req.CheckRevocation.Value
		proofs, htm, htu = req.DPoPProofs, req.HTM.Value, req.HTU.Value
		if len(proofs) > len(req.Tokens) {
			return requestError(ErrInvalidField, "dpop_proofs: at most one proof per token")
		}
		if len(proofs) > 0 && (htm == "" || htu == "") {
			return requestError(ErrInvalidField, "htm, htu: required with dpop_proofs")
		}
	}
	*list = tokens
	if !hasTokens {
		return requestError(ErrInvalidField, "tokens: field required")
	}
	if len(tokens) > a.cfg.MaxBatchTokens {
		return requestError(ErrInvalidField, "tokens: at most %d tokens per request", a.cfg.MaxBatchTokens)
	}
	if !a.d.Index.Ready() {
		return errNotReady
	}
	t := tokenPool.Get().(*token.Token)
	buf := bufPool.Get().(*[]byte)
	out := append((*buf)[:0], `{"results":[`...)
	var counts [4]int
	for i, tok := range tokens {
		if i > 0 {
			out = append(out, ',')
		}
		t.Reset()
		var dp *dpopRequest
		if i < len(proofs) && proofs[i].Value != "" {
			dp = &dpopRequest{Proof: proofs[i].Value, HTM: htm, HTU: htu}
		}
		v := a.checkDPoP(a.check(tok, check, t), tok, t.Payload, dp)
		counts[outcomeIndex(a.outcome(v))]++
		out = appendVerdict(out, v)
	}
	tokenPool.Put(t)
	a.d.Metrics.outcomes[outcomeValid].Add(float64(counts[0]))
	a.d.Metrics.outcomes[outcomeRevoked].Add(float64(counts[1]))
	a.d.Metrics.outcomes[outcomeExpired].Add(float64(counts[2]))
	a.d.Metrics.outcomes[outcomeInvalid].Add(float64(counts[3]))
	ctx.SetContentType("application/json")
	*buf = append(out, "]}"...)
	ctx.SetBody(*buf)
	bufPool.Put(buf)
	return nil
}

// inspect serves GET /token/inspect: unverified claims plus revocation state.
// Because the claims are not verified, the answer would tell anyone which
// subjects and jtis are revoked: the route needs the admin key outside
// --dev (see routes).
func (a *API) inspect(ctx *fasthttp.RequestCtx) error {
	raw := ctx.QueryArgs().Peek("token")
	if len(raw) == 0 {
		return requestError(ErrInvalidField, "token: query parameter required")
	}
	if !a.d.Index.Ready() {
		return errNotReady
	}
	t := tokenPool.Get().(*token.Token)
	defer tokenPool.Put(t)
	t.Reset()
	resp := wire.Inspection{Note: "This is an unverified inspection. Use /token/validate for full validation."}
	if err := a.d.Verifier.ParseUnverified(raw, t); err != nil {
		resp.Error = token.Message(err)
		writeJSON(ctx, http.StatusOK, resp)
		return nil
	}
	// Numbers stay exact (json.Number); members come out in sorted order.
	dec := json.NewDecoder(bytes.NewReader(t.Payload))
	dec.UseNumber()
	if dec.Decode(&resp.Claims) != nil || dec.More() {
		resp.Claims = nil
	}
	if k := a.d.Index.CheckBytes(t.JTI, t.Sub, t.Kid, t.Iat); k != index.None {
		reason := "revoked by " + k.String()
		resp.Revoked, resp.RevocationReason = true, &reason
	}
	writeJSON(ctx, http.StatusOK, resp)
	return nil
}
