package httpapi

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/crypto/dpop"
	"github.com/revocd/revocd/transport/wire"
)

// DPoP (RFC 9449) on the token endpoints and in validation.
const (
	// dpopWindow bounds |now - iat| of a proof, and how long its jti is
	// remembered.
	dpopWindow = 60 * time.Second
	// dpopReplayMax bounds the replay cache (entries; ~70 bytes each,
	// allocated as used): a 60 s window of proofs at over 16,000 per
	// second. The bench's validate-dpop steps filled a 100,000-entry cache
	// at 7,500 proofs per second and were refused with "replay cache is full".
	dpopReplayMax = 1_000_000
	// msgDPoPRequired is the validation message of a DPoP-bound token
	// presented without a proof.
	msgDPoPRequired = "DPoP proof required"
	// msgDPoPPrefix prefixes the refusal reason of a proof in validation.
	msgDPoPPrefix = "Invalid DPoP proof: "
)

// errDPoPRequired refuses a bound refresh token presented without a proof.
var errDPoPRequired = errors.New(msgDPoPRequired)

// errDPoP wraps a proof refusal of a token endpoint (400, RFC 9449 §7.1:
// WWW-Authenticate: DPoP error="invalid_dpop_proof"; the body keeps the
// seed's {"detail": ...} shape).
type errDPoP struct{ err error }

func (e *errDPoP) Error() string { return e.err.Error() }
func (e *errDPoP) Unwrap() error { return e.err }

// newDPoPVerifier returns the per-API proof verifier with its own replay
// cache (one per process: see the README's cluster note).
func newDPoPVerifier() *dpop.Verifier {
	return &dpop.Verifier{Window: dpopWindow, Replay: dpop.NewReplayCache(dpopReplayMax)}
}

// requestURLs returns the URLs a proof's htu may name for this request:
// PUBLIC_BASE_URL + path when configured, and the URL from the request's
// own scheme and Host (X-Forwarded-* are not trusted).
func (a *API) requestURLs(ctx *fasthttp.RequestCtx) []string {
	path := string(ctx.Path())
	scheme := "http"
	if ctx.IsTLS() {
		scheme = "https"
	}
	urls := []string{scheme + "://" + string(ctx.Host()) + path}
	if a.cfg.PublicBaseURL != "" {
		urls = append(urls, a.cfg.PublicBaseURL+path)
	}
	return urls
}

// verifyProof checks proof for method and any of urls (with ath for
// accessToken when non-empty).
func (a *API) verifyProof(proof, method string, urls []string, accessToken string) (*dpop.Proof, error) {
	var err error
	for i, u := range urls {
		var p *dpop.Proof
		p, err = a.dpop.Verify(proof, dpop.Request{Method: method, URL: u, AccessToken: accessToken})
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, dpop.ErrHTU) || i == len(urls)-1 {
			break
		}
	}
	return nil, err
}

// tokenEndpointProof reads the DPoP header of a token endpoint request: no
// header gives "" (bearer tokens, as before); a valid proof gives its key's
// thumbprint; anything else an *errDPoP.
func (a *API) tokenEndpointProof(ctx *fasthttp.RequestCtx) (string, error) {
	var values [][]byte
	ctx.Request.Header.VisitAll(func(k, v []byte) {
		if strings.EqualFold(string(k), "DPoP") {
			values = append(values, v)
		}
	})
	switch len(values) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", &errDPoP{dpop.ErrMalformed}
	}
	proof := string(values[0])
	if a.cfg.DPoPNonceRequired {
		if err := checkNonce(proof, time.Now()); err != nil {
			return "", &errDPoP{err}
		}
		ctx.Response.Header.Set("DPoP-Nonce", dpopNonce(time.Now()))
	}
	p, err := a.verifyProof(proof, string(ctx.Method()), a.requestURLs(ctx), "")
	if err != nil {
		return "", &errDPoP{err}
	}
	return p.JKT, nil
}

// Server nonces (RFC 9449 §8), when Options.DPoPNonceRequired: a nonce is
// an HMAC of the current nonceWindow under a per-process random key, so
// nothing is stored; the current and the previous window's are accepted.
// In a cluster a nonce from another node is refused with use_dpop_nonce
// and a fresh DPoP-Nonce, and the client retries with it.
const nonceWindow = 5 * time.Minute

var nonceKey = func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // never fails (Go 1.24+: crashes the program instead)
	return k
}()

// dpopNonce returns the nonce of t's window.
func dpopNonce(t time.Time) string {
	m := hmac.New(sha256.New, nonceKey)
	m.Write([]byte("revocd dpop nonce " + strconv.FormatInt(t.Unix()/int64(nonceWindow/time.Second), 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// checkNonce refuses a proof whose nonce is not the current or the
// previous window's (the signature is checked afterwards, by Verify).
func checkNonce(proof string, now time.Time) error {
	n := dpop.UnverifiedNonce(proof)
	if n != "" && (n == dpopNonce(now) || n == dpopNonce(now.Add(-nonceWindow))) {
		return nil
	}
	return fmt.Errorf("%w: %w", dpop.ErrInvalidProof, dpop.ErrNonce)
}

// writeDPoPError answers a proof refusal: 400, WWW-Authenticate per RFC
// 9449 §7.1, {"detail": "Invalid DPoP proof: <reason>"}.
func writeDPoPError(ctx *fasthttp.RequestCtx, err error) {
	code := "invalid_dpop_proof"
	if errors.Is(err, dpop.ErrNonce) {
		code = "use_dpop_nonce"
		ctx.Response.Header.Set("DPoP-Nonce", dpopNonce(time.Now()))
	}
	ctx.Response.Header.Set("WWW-Authenticate", `DPoP error="`+code+`", algs="`+strings.Join(dpop.Algs, " ")+`"`)
	detail := msgDPoPPrefix + dpop.Reason(err)
	if errors.Is(err, errDPoPRequired) {
		detail = msgDPoPRequired
	}
	writeJSON(ctx, http.StatusBadRequest, wire.Error{Detail: detail})
}

// tokenType is the token_type of an answer: "DPoP" for a bound token.
func tokenType(jkt string) string {
	if jkt != "" {
		return "DPoP"
	}
	return "bearer"
}

var cnfMember = []byte(`"cnf"`)

// boundJKT returns the cnf.jkt of a verified payload, or "" if it has none.
// The byte search keeps tokens without "cnf" off the JSON decoder (the
// validate hot path stays allocation-free for them).
func boundJKT(payload []byte) (string, bool) {
	if !bytes.Contains(payload, cnfMember) {
		return "", false
	}
	var c struct {
		Cnf *struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Cnf == nil {
		return "", false
	}
	return c.Cnf.JKT, c.Cnf.JKT != ""
}

// dpopRequest are the optional validation members: the proof the resource
// server received and the method and URL it saw the request with.
type dpopRequest struct {
	Proof string
	HTM   string
	HTU   string
}

// checkBinding applies DPoP to a valid verdict of token tok.
func (a *API) checkDPoP(v verdict, tok []byte, payload []byte, r *dpopRequest) verdict {
	if !v.valid {
		return v
	}
	jkt, bound := boundJKT(payload)
	if !bound {
		return v // bearer token: a proof, if any, is not needed
	}
	if r == nil || r.Proof == "" {
		return verdict{message: msgDPoPRequired, claims: v.claims}
	}
	p, err := a.dpop.Verify(r.Proof, dpop.Request{Method: r.HTM, URL: r.HTU, AccessToken: string(tok)})
	if err == nil && p.JKT != jkt {
		err = dpop.ErrKeyMismatch
	}
	if err != nil {
		return verdict{err: err, message: msgDPoPPrefix + dpop.Reason(err), claims: v.claims}
	}
	return v
}
