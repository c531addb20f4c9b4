package validator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/crypto/dpop"
)

// claimsKey is the context key of the request's Claims.
type claimsKey struct{}

// ClaimsFromContext returns the Claims Middleware stored for the request.
func ClaimsFromContext(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(Claims)
	return c, ok
}

// ClaimsUserValue is the fasthttp user value under which FastHTTPMiddleware
// stores the request's Claims.
const ClaimsUserValue = "revocd.claims"

// StatusFor returns the HTTP status a resource server answers for err from
// Validate or ValidateDPoP: 200 for nil, 503 for ErrStale (the view may
// lack a revocation: retry later), 401 otherwise.
func StatusFor(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrStale), errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// Answers of a refused request.
const (
	detailInvalid     = `{"detail":"Invalid or revoked token"}`
	detailUnavailable = `{"detail":"Revocation state unavailable; retry later"}`
	// challengeBearer is offered for a request without (usable)
	// credentials, with challengeDPoPAlgs: both schemes are accepted.
	challengeBearer = `Bearer error="invalid_token"`
)

var (
	// algsParam lists the proof algorithms accepted (RFC 9449 §7.1).
	algsParam         = `algs="` + strings.Join(dpop.Algs, " ") + `"`
	challengeDPoPAlgs = `DPoP ` + algsParam
	// challengeDPoPToken answers a DPoP-scheme request whose token is
	// invalid, revoked or not DPoP-bound, and a bound token presented as
	// Bearer (RFC 9449 §7.1, §7.2).
	challengeDPoPToken = `DPoP error="invalid_token", ` + algsParam
	// challengeDPoPProof answers a refused proof.
	challengeDPoPProof = `DPoP error="invalid_dpop_proof", ` + algsParam
)

// refusal is a middleware's answer to a refused request.
type refusal struct {
	status     int
	challenges []string // WWW-Authenticate values (401 only)
	body       string
}

var (
	refuseNoCredentials = &refusal{http.StatusUnauthorized, []string{challengeBearer, challengeDPoPAlgs}, detailInvalid}
	refuseBearerToken   = &refusal{http.StatusUnauthorized, []string{challengeBearer}, detailInvalid}
	refuseDPoPToken     = &refusal{http.StatusUnauthorized, []string{challengeDPoPToken}, detailInvalid}
	refuseNotBound      = &refusal{http.StatusUnauthorized, []string{challengeDPoPToken}, `{"detail":"Token is not DPoP-bound"}`}
	refuseStale         = &refusal{status: http.StatusServiceUnavailable, body: detailUnavailable}
)

// refuseDPoP answers a DPoP refusal with its reason (as revocd's
// /token/validate words it) in the detail.
func refuseDPoP(err error, challenge string) *refusal {
	b, _ := json.Marshal(struct {
		Detail string `json:"detail"`
	}{DPoPReason(err)})
	return &refusal{http.StatusUnauthorized, []string{challenge}, string(b)}
}

// authorize decides a request from its Authorization header, its DPoP
// header values (n of them; proof is the first), and its method and htu
// (req, called only for a DPoP request). "Bearer <token>" takes bearer tokens
// and refuses DPoP-bound ones (RFC 9449 §7.2); "DPoP <token>" needs
// exactly one DPoP header and a DPoP-bound token whose proof verifies
// (§7.1). The bearer path allocates nothing beyond Validate's.
func (v *Validator) authorize(auth string, n int, proof string, req func() (method, htu string)) (Claims, *refusal) {
	scheme, tok, _ := strings.Cut(auth, " ")
	switch {
	case tok != "" && strings.EqualFold(scheme, "Bearer"):
		c, err := v.validate(unsafe.Slice(unsafe.StringData(tok), len(tok)), nil)
		switch {
		case err == nil && c.JKT != "":
			return Claims{}, refuseDPoP(ErrDPoPRequired, challengeDPoPToken)
		case err == nil:
			return c, nil
		case StatusFor(err) == http.StatusServiceUnavailable:
			return Claims{}, refuseStale
		case errors.Is(err, ErrDPoPRequired): // the remote fallback's word
			return Claims{}, refuseDPoP(err, challengeDPoPToken)
		}
		return Claims{}, refuseBearerToken
	case tok != "" && strings.EqualFold(scheme, "DPoP"):
		switch n {
		case 0:
			return Claims{}, refuseDPoP(ErrDPoPRequired, challengeDPoPProof)
		case 1:
		default: // RFC 9449 §4.3 check 1: not more than one DPoP header
			return Claims{}, refuseDPoP(fmt.Errorf("%w: %w: %w", ErrDPoP, dpop.ErrInvalidProof, dpop.ErrMalformed), challengeDPoPProof)
		}
		method, htu := req()
		c, err := v.ValidateDPoP(tok, proof, method, htu)
		switch {
		case err == nil && c.JKT == "":
			return Claims{}, refuseNotBound
		case err == nil:
			return c, nil
		case StatusFor(err) == http.StatusServiceUnavailable:
			return Claims{}, refuseStale
		case errors.Is(err, ErrDPoP), errors.Is(err, ErrDPoPRequired):
			return Claims{}, refuseDPoP(err, challengeDPoPProof)
		}
		return Claims{}, refuseDPoPToken
	}
	return Claims{}, refuseNoCredentials
}

// htu returns the URL a proof of this request must name: PublicBaseURL +
// path, or the request's own scheme and host + path.
func (v *Validator) htu(tls bool, host, path string) string {
	if v.opts.PublicBaseURL != "" {
		return v.opts.PublicBaseURL + path
	}
	if tls {
		return "https://" + host + path
	}
	return "http://" + host + path
}

// Middleware guards next with "Authorization: Bearer <token>" for bearer
// tokens and "Authorization: DPoP <token>" plus a "DPoP: <proof>" header
// for DPoP-bound ones (RFC 9449 §7.1; the proof's htu is
// Options.PublicBaseURL + the request path, or the request's own scheme
// and Host). A refused request gets 401 with WWW-Authenticate (for DPoP:
// error="invalid_token" or error="invalid_dpop_proof", the reason in the
// body's detail), or 503 with Retry-After while the view is stale; a valid
// one reaches next with its Claims in the context (ClaimsFromContext).
func (v *Validator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proofs := r.Header["Dpop"] // canonical form of "DPoP"
		proof := ""
		if len(proofs) > 0 {
			proof = proofs[0]
		}
		c, ref := v.authorize(r.Header.Get("Authorization"), len(proofs), proof, func() (string, string) {
			return r.Method, v.htu(r.TLS != nil, r.Host, r.URL.EscapedPath())
		})
		if ref != nil {
			h := w.Header()
			h.Set("Content-Type", "application/json")
			for _, ch := range ref.challenges {
				h.Add("WWW-Authenticate", ch)
			}
			if ref.status == http.StatusServiceUnavailable {
				h.Set("Retry-After", "1")
			}
			w.WriteHeader(ref.status)
			_, _ = w.Write([]byte(ref.body))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
	})
}

// FastHTTPMiddleware is Middleware for fasthttp: a valid request reaches
// next with its Claims as the user value ClaimsUserValue.
func (v *Validator) FastHTTPMiddleware(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		proofs := ctx.Request.Header.PeekAll("DPoP")
		var proof string
		if len(proofs) > 0 {
			proof = string(proofs[0])
		}
		n := len(proofs) // PeekAll's slice is reused by the next Peek
		auth := ctx.Request.Header.Peek("Authorization")
		c, ref := v.authorize(unsafe.String(unsafe.SliceData(auth), len(auth)), n, proof, func() (string, string) {
			return string(ctx.Method()), v.htu(ctx.IsTLS(), string(ctx.Host()), string(ctx.URI().PathOriginal()))
		})
		if ref == nil {
			ctx.SetUserValue(ClaimsUserValue, c)
			next(ctx)
			return
		}
		ctx.SetContentType("application/json")
		for _, ch := range ref.challenges {
			ctx.Response.Header.Add("WWW-Authenticate", ch)
		}
		if ref.status == http.StatusServiceUnavailable {
			ctx.Response.Header.Set("Retry-After", "1")
		}
		ctx.SetStatusCode(ref.status)
		ctx.SetBodyString(ref.body)
	}
}
