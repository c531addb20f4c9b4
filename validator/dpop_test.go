package validator

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/revocd/revocd/crypto/dpop"
	"github.com/revocd/revocd/crypto/dpop/dpoptest"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/revocation"
)

// proofKey makes DPoP proofs (RFC 9449 §4.2) with one key.
type proofKey struct {
	t testing.TB
	k *dpoptest.Key
}

func newProofKey(t testing.TB, alg string) *proofKey {
	t.Helper()
	k, err := dpoptest.NewKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return &proofKey{t: t, k: k}
}

// proof returns a proof for htm and htu at iat, with ath of tok when tok
// is not empty.
func (k *proofKey) proof(htm, htu, tok string, iat time.Time) string {
	p, err := k.k.Proof(dpoptest.Claims(htm, htu, iat, tok))
	if err != nil {
		k.t.Fatal(err)
	}
	return p
}

func (k *proofKey) jkt(testing.TB) string { return k.k.JKT() }

// issueBound returns a token for sub bound to jkt.
func (f *fixture) issueBound(sub, jkt string) string {
	f.t.Helper()
	tok, _, err := f.issuer.Issue(token.Spec{Subject: sub, TTL: time.Hour, Jkt: jkt, JTI: fmt.Sprintf("jti-%d", f.jti.Add(1))})
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

const rsURL = "https://rs.example/api/things"

// TestValidateDPoP: a DPoP-bound token validates only with a fresh proof
// by its key over the request's method and URL and the token's hash; each
// refusal wraps ErrDPoP and crypto/dpop's reason, worded as revocd's
// /token/validate words it. Validate refuses a bound token (no proof);
// a bearer token validates through ValidateDPoP with JKT empty.
func TestValidateDPoP(t *testing.T) {
	for _, alg := range []string{"ES256", "EdDSA", "Ed25519", "ML-DSA-65"} {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, token.AlgEdDSA, time.Hour)
			clock := newClock()
			v := f.open(Options{MaxStaleness: time.Hour, Now: clock.Now})
			key, other := newProofKey(t, alg), newProofKey(t, alg)
			tok := f.issueBound("alice", key.jkt(t))
			plain := f.issue("bob", time.Hour, "")
			revoked := f.issueBound("carol", key.jkt(t))
			f.revoke(revocation.TypeSub, "carol", nil)
			waitApplied(t, v, 1)
			now := clock.Now()
			replayed := key.proof("GET", rsURL, tok, now)

			tests := []struct {
				name        string
				tok, proof  string
				htm, htu    string
				want        error // nil: valid
				reason      error // crypto/dpop's sentinel
				wantMessage string
			}{
				{"valid", tok, replayed, "GET", rsURL, nil, nil, ""},
				{"replayed", tok, replayed, "GET", rsURL, ErrDPoP, dpop.ErrReplay, "Invalid DPoP proof: DPoP proof has been used before"},
				{"valid with query and default port in htu", tok, key.proof("GET", "HTTPS://RS.example:443/api/things", tok, now), "GET", rsURL + "?a=1", nil, nil, ""},
				{"other key", tok, other.proof("GET", rsURL, tok, now), "GET", rsURL, ErrDPoP, dpop.ErrKeyMismatch, "Invalid DPoP proof: DPoP proof key does not match the token's cnf.jkt"},
				{"wrong htm", tok, key.proof("POST", rsURL, tok, now), "GET", rsURL, ErrDPoP, dpop.ErrHTM, "Invalid DPoP proof: DPoP proof htm does not match the request method"},
				{"wrong htu", tok, key.proof("GET", "https://evil.example/api/things", tok, now), "GET", rsURL, ErrDPoP, dpop.ErrHTU, "Invalid DPoP proof: DPoP proof htu does not match the request URL"},
				{"stale iat", tok, key.proof("GET", rsURL, tok, now.Add(-2*time.Minute)), "GET", rsURL, ErrDPoP, dpop.ErrIat, "Invalid DPoP proof: DPoP proof iat is outside the accepted window"},
				{"future iat", tok, key.proof("GET", rsURL, tok, now.Add(2*time.Minute)), "GET", rsURL, ErrDPoP, dpop.ErrIat, "Invalid DPoP proof: DPoP proof iat is outside the accepted window"},
				{"missing ath", tok, key.proof("GET", rsURL, "", now), "GET", rsURL, ErrDPoP, dpop.ErrATH, "Invalid DPoP proof: DPoP proof ath is missing or does not match the access token"},
				{"ath of another token", tok, key.proof("GET", rsURL, plain, now), "GET", rsURL, ErrDPoP, dpop.ErrATH, "Invalid DPoP proof: DPoP proof ath is missing or does not match the access token"},
				{"not a JWT", tok, "x.y", "GET", rsURL, ErrDPoP, dpop.ErrMalformed, "Invalid DPoP proof: DPoP proof is not a well-formed JWT"},
				{"no proof", tok, "", "GET", rsURL, ErrDPoPRequired, nil, "DPoP proof required"},
				{"revoked bound token", revoked, key.proof("GET", rsURL, revoked, now), "GET", rsURL, ErrRevoked, nil, ""},
				{"bearer token, proof not needed", plain, "", "GET", rsURL, nil, nil, ""},
			}
			for _, tt := range tests {
				c, err := v.ValidateDPoP(tt.tok, tt.proof, tt.htm, tt.htu)
				switch {
				case tt.want == nil && err != nil:
					t.Errorf("%s: %v, want valid", tt.name, err)
				case tt.want != nil && !errors.Is(err, tt.want):
					t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
				case tt.reason != nil && !errors.Is(err, tt.reason):
					t.Errorf("%s: %v, want reason %v", tt.name, err, tt.reason)
				case DPoPReason(err) != tt.wantMessage:
					t.Errorf("%s: reason %q, want %q", tt.name, DPoPReason(err), tt.wantMessage)
				case err == nil && tt.tok == tok && (c.JKT != key.jkt(t) || c.Subject != "alice"):
					t.Errorf("%s: claims %+v, want alice bound to %s", tt.name, c, key.jkt(t))
				case err == nil && tt.tok == plain && c.JKT != "":
					t.Errorf("%s: bearer token with JKT %q", tt.name, c.JKT)
				}
			}
			// Validate (no proof) refuses the bound token, cold and warm.
			for range 2 {
				if _, err := v.Validate(tok); !errors.Is(err, ErrDPoPRequired) || DPoPReason(err) != "DPoP proof required" {
					t.Fatalf("Validate of a bound token: %v, want ErrDPoPRequired", err)
				}
			}
		})
	}
}

// TestValidateDPoPReplayCacheBounded: the replay cache holds at most
// DPoPReplayCacheSize unexpired proofs and then refuses (fails closed);
// once they expire, proofs are taken again.
func TestValidateDPoPReplayCacheBounded(t *testing.T) {
	f := newFixture(t, token.AlgEdDSA, time.Hour)
	clock := newClock()
	v := f.open(Options{MaxStaleness: time.Hour, Now: clock.Now, DPoPReplayCacheSize: 2, DPoPWindow: 10 * time.Second})
	key := newProofKey(t, "EdDSA")
	tok := f.issueBound("alice", key.jkt(t))
	for i := range 2 {
		if _, err := v.ValidateDPoP(tok, key.proof("GET", rsURL, tok, clock.Now()), "GET", rsURL); err != nil {
			t.Fatalf("proof %d: %v", i, err)
		}
	}
	if _, err := v.ValidateDPoP(tok, key.proof("GET", rsURL, tok, clock.Now()), "GET", rsURL); !errors.Is(err, dpop.ErrReplayCacheFull) {
		t.Fatalf("third proof with a full cache: %v, want ErrReplayCacheFull", err)
	}
	clock.Advance(11 * time.Second)
	if _, err := v.ValidateDPoP(tok, key.proof("GET", rsURL, tok, clock.Now()), "GET", rsURL); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// TestDPoPOptions: invalid DPoP options are refused by New.
func TestDPoPOptions(t *testing.T) {
	for _, o := range []Options{
		{PublicBaseURL: "api.example.com"},
		{PublicBaseURL: "ftp://api.example.com"},
		{PublicBaseURL: "https://api.example.com/?q=1"},
		{DPoPWindow: time.Millisecond},
		{DPoPReplayCacheSize: -1},
	} {
		o.URLs = []string{"http://127.0.0.1:1"}
		if err := o.setDefaults(); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: %v, want ErrOptions", o, err)
		}
	}
}

// TestMiddlewaresDPoP: both middlewares take "Authorization: DPoP" with
// one DPoP header for bound tokens (htu from the request, or from
// PublicBaseURL), refuse a bound token sent as Bearer and a bearer token
// sent as DPoP, and answer RFC 9449 §7.1 challenges with the reason in
// the detail.
func TestMiddlewaresDPoP(t *testing.T) {
	f := newFixture(t, token.AlgEdDSA, time.Hour)
	clock := newClock()
	const public = "https://api.example.com/prefix"
	for _, base := range []string{"", public} {
		v := f.open(Options{MaxStaleness: time.Hour, Now: clock.Now, PublicBaseURL: base})
		key, other := newProofKey(t, "ES256"), newProofKey(t, "ES256")
		tok := f.issueBound("alice", key.jkt(t))
		plain := f.issue("bob", time.Hour, "")

		std := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := ClaimsFromContext(r.Context())
			_, _ = w.Write([]byte(c.Subject))
		}))
		srv := httptest.NewServer(std)
		ln := fasthttputil.NewInmemoryListener()
		go fasthttp.Serve(ln, v.FastHTTPMiddleware(func(ctx *fasthttp.RequestCtx) {
			c, _ := ctx.UserValue(ClaimsUserValue).(Claims)
			ctx.SetBodyString(c.Subject)
		}))
		fc := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
		const fastOrigin = "http://fast.example"

		type request struct {
			auth   string
			proofs []string
		}
		type want struct {
			status    int
			challenge string // in WWW-Authenticate
			body      string // substring
		}
		// cases builds the table for a server whose requests to
		// /protected?x=1 carry htu "self" (the request's own URL).
		cases := func(self string) []struct {
			name string
			req  request
			want want
		} {
			htu := self + "/protected"
			if base != "" {
				htu = base + "/protected"
			}
			now := clock.Now()
			good := key.proof("GET", htu, tok, now)
			return []struct {
				name string
				req  request
				want want
			}{
				{"bound, fresh proof", request{"DPoP " + tok, []string{good}}, want{200, "", "alice"}},
				{"replayed proof", request{"DPoP " + tok, []string{good}}, want{401, `DPoP error="invalid_dpop_proof"`, "has been used before"}},
				{"other key", request{"DPoP " + tok, []string{other.proof("GET", htu, tok, now)}}, want{401, `DPoP error="invalid_dpop_proof"`, "does not match the token's cnf.jkt"}},
				{"wrong htm", request{"DPoP " + tok, []string{key.proof("POST", htu, tok, now)}}, want{401, `DPoP error="invalid_dpop_proof"`, "htm does not match"}},
				{"wrong htu", request{"DPoP " + tok, []string{key.proof("GET", "https://evil.example/protected", tok, now)}}, want{401, `DPoP error="invalid_dpop_proof"`, "htu does not match"}},
				{"stale iat", request{"DPoP " + tok, []string{key.proof("GET", htu, tok, now.Add(-5*time.Minute))}}, want{401, `DPoP error="invalid_dpop_proof"`, "iat is outside"}},
				{"missing ath", request{"DPoP " + tok, []string{key.proof("GET", htu, "", now)}}, want{401, `DPoP error="invalid_dpop_proof"`, "ath is missing"}},
				{"no DPoP header", request{"DPoP " + tok, nil}, want{401, `DPoP error="invalid_dpop_proof"`, "DPoP proof required"}},
				{"two DPoP headers", request{"DPoP " + tok, []string{key.proof("GET", htu, tok, now), key.proof("GET", htu, tok, now)}}, want{401, `DPoP error="invalid_dpop_proof"`, "not a well-formed JWT"}},
				{"bound token as Bearer", request{"Bearer " + tok, nil}, want{401, `DPoP error="invalid_token"`, "DPoP proof required"}},
				{"bearer token with DPoP scheme", request{"DPoP " + plain, []string{key.proof("GET", htu, plain, now)}}, want{401, `DPoP error="invalid_token"`, "not DPoP-bound"}},
				{"bearer token as Bearer", request{"Bearer " + plain, nil}, want{200, "", "bob"}},
				{"invalid token with DPoP scheme", request{"DPoP a.b.c", []string{good}}, want{401, `DPoP error="invalid_token"`, "Invalid or revoked"}},
				{"no credentials", request{}, want{401, `DPoP algs=`, "Invalid or revoked"}},
			}
		}
		for _, tt := range cases(srv.URL) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/protected?x=1", nil)
			if tt.req.auth != "" {
				req.Header.Set("Authorization", tt.req.auth)
			}
			for _, p := range tt.req.proofs {
				req.Header.Add("DPoP", p)
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body strings.Builder
			_, _ = fmt.Fprint(&body, readAll(res))
			chal := strings.Join(res.Header.Values("WWW-Authenticate"), "; ")
			if res.StatusCode != tt.want.status || !strings.Contains(chal, tt.want.challenge) || !strings.Contains(body.String(), tt.want.body) {
				t.Errorf("net/http (base %q) %s: %d %q %s, want %d %q %q", base, tt.name, res.StatusCode, chal, body.String(), tt.want.status, tt.want.challenge, tt.want.body)
			}
		}
		for _, tt := range cases(fastOrigin) {
			freq, fres := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			freq.SetRequestURI(fastOrigin + "/protected?x=1")
			if tt.req.auth != "" {
				freq.Header.Set("Authorization", tt.req.auth)
			}
			for _, p := range tt.req.proofs {
				freq.Header.Add("DPoP", p)
			}
			if err := fc.Do(freq, fres); err != nil {
				t.Fatal(err)
			}
			var chals []string
			for _, c := range fres.Header.PeekAll("WWW-Authenticate") {
				chals = append(chals, string(c))
			}
			chal := strings.Join(chals, "; ")
			if fres.StatusCode() != tt.want.status || !strings.Contains(chal, tt.want.challenge) || !strings.Contains(string(fres.Body()), tt.want.body) {
				t.Errorf("fasthttp (base %q) %s: %d %q %s, want %d %q %q", base, tt.name, fres.StatusCode(), chal, fres.Body(), tt.want.status, tt.want.challenge, tt.want.body)
			}
			fasthttp.ReleaseRequest(freq)
			fasthttp.ReleaseResponse(fres)
		}
		srv.Close()
		ln.Close()
	}
}

func readAll(res *http.Response) string {
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// TestValidateDPoPRemoteFallback: while stale, with RemoteFallback, the
// proof, method and URL go to revocd's /token/validate: a fresh proof is
// valid, revocd's refusals come back as ErrDPoP with the same reason, and
// a bound token without a proof as ErrDPoPRequired.
func TestValidateDPoPRemoteFallback(t *testing.T) {
	f := newFixture(t, token.AlgEdDSA, time.Hour)
	clock := newClock()
	v := f.open(Options{MaxStaleness: time.Second, Now: clock.Now, RemoteFallback: true})
	waitBeat(t, v)
	clock.Advance(time.Second + time.Millisecond)
	key, other := newProofKey(t, "ES256"), newProofKey(t, "ES256")
	tok := f.issueBound("alice", key.jkt(t))
	now := time.Now()
	if c, err := v.ValidateDPoP(tok, key.proof("GET", rsURL, tok, now), "GET", rsURL); err != nil || c.Subject != "alice" || c.JKT != key.jkt(t) {
		t.Fatalf("fresh proof through revocd: %+v, %v", c, err)
	}
	_, err := v.ValidateDPoP(tok, other.proof("GET", rsURL, tok, now), "GET", rsURL)
	if !errors.Is(err, ErrDPoP) || !errors.Is(err, dpop.ErrKeyMismatch) ||
		DPoPReason(err) != "Invalid DPoP proof: DPoP proof key does not match the token's cnf.jkt" {
		t.Fatalf("another key through revocd: %v (%q)", err, DPoPReason(err))
	}
	if _, err := v.Validate(tok); !errors.Is(err, ErrDPoPRequired) {
		t.Fatalf("bound token without a proof through revocd: %v, want ErrDPoPRequired", err)
	}
	if !v.Status().Stale {
		t.Fatal("the view is not stale: the remote path was not taken")
	}
}
