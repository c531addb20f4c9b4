package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/crypto/dpop"
	"github.com/revocd/revocd/crypto/dpop/dpoptest"
	"github.com/revocd/revocd/index"
)

func indexReady() *index.Index {
	ix := index.New(index.Options{})
	ix.SetReady()
	return ix
}

// proofKey makes ES256 DPoP proofs.
type proofKey struct{ k *dpoptest.Key }

func newProofKey(t *testing.T) *proofKey {
	k, err := dpoptest.NewKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	return &proofKey{k: k}
}

func (p *proofKey) jkt(*testing.T) string { return p.k.JKT() }

func (p *proofKey) proof(t *testing.T, htm, htu string, iat time.Time, ath string) string {
	extra := map[string]any{}
	if ath != "" {
		extra["ath"] = ath
	}
	return p.proofWith(t, htm, htu, iat, extra)
}

func (p *proofKey) proofWith(t *testing.T, htm, htu string, iat time.Time, extra map[string]any) string {
	c := dpoptest.Claims(htm, htu, iat, "")
	for k, v := range extra {
		c[k] = v
	}
	proof, err := p.k.Proof(c)
	if err != nil {
		t.Fatal(err)
	}
	return proof
}

func validateBody(tok, proof, htm, htu string) string {
	b, _ := json.Marshal(map[string]string{"token": tok, "dpop_proof": proof, "htm": htm, "htu": htu})
	return string(b)
}

// TestValidateDPoPBound: a token carrying cnf.jkt is valid only with a
// fresh proof by that key, for the request the resource server saw, with
// ath over the token; each refusal names its reason. Bearer tokens are
// unaffected.
func TestValidateDPoPBound(t *testing.T) {
	f := newOracleFixture(t)
	a := f.api(false)
	key, other := newProofKey(t), newProofKey(t)
	c := claimsFor("alice", "dpop-jti-1", f.now, f.now.Add(time.Hour))
	c["cnf"] = map[string]string{"jkt": key.jkt(t)}
	tok := sign(t, curSecret, "hs-current", c)
	bearer := sign(t, curSecret, "hs-current", claimsFor("bob", "bearer-jti-1", f.now, f.now.Add(time.Hour)))
	const htu = "https://rs.example/api/things"
	ath := dpop.ATH(tok)
	now := time.Now()
	replayed := key.proof(t, "GET", htu, now, ath)

	for _, tc := range []struct {
		name, body string
		valid      bool
		message    string
	}{
		{"no proof", `{"token":"` + tok + `"}`, false, msgDPoPRequired},
		{"valid", validateBody(tok, replayed, "GET", htu), true, msgValid},
		{"valid, htu normalised", validateBody(tok, key.proof(t, "GET", "HTTPS://RS.example:443/api/things", now, ath), "GET", htu+"?x=1"), true, msgValid},
		{"other key", validateBody(tok, other.proof(t, "GET", htu, now, ath), "GET", htu), false, msgDPoPPrefix + dpop.ErrKeyMismatch.Error()},
		{"replayed", validateBody(tok, replayed, "GET", htu), false, msgDPoPPrefix + dpop.ErrReplay.Error()},
		{"wrong htm", validateBody(tok, key.proof(t, "POST", htu, now, ath), "GET", htu), false, msgDPoPPrefix + dpop.ErrHTM.Error()},
		{"wrong htu", validateBody(tok, key.proof(t, "GET", "https://evil.example/api/things", now, ath), "GET", htu), false, msgDPoPPrefix + dpop.ErrHTU.Error()},
		{"stale iat", validateBody(tok, key.proof(t, "GET", htu, now.Add(-5*time.Minute), ath), "GET", htu), false, msgDPoPPrefix + dpop.ErrIat.Error()},
		{"missing ath", validateBody(tok, key.proof(t, "GET", htu, now, ""), "GET", htu), false, msgDPoPPrefix + dpop.ErrATH.Error()},
		{"bearer without proof", `{"token":"` + bearer + `"}`, true, msgValid},
		{"bearer with proof", validateBody(bearer, key.proof(t, "GET", htu, now, dpop.ATH(bearer)), "GET", htu), true, msgValid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, a, "POST", "/token/validate", tc.body, "")
			if r.StatusCode() != http.StatusOK {
				t.Fatalf("status %d: %s", r.StatusCode(), r.Body())
			}
			var v verdictJSON
			if err := json.Unmarshal(r.Body(), &v); err != nil {
				t.Fatal(err)
			}
			if v.Valid != tc.valid || v.Message != tc.message {
				t.Fatalf("got valid=%v %q, want %v %q", v.Valid, v.Message, tc.valid, tc.message)
			}
		})
	}

	t.Run("proof without htm", func(t *testing.T) {
		r := do(t, a, "POST", "/token/validate", `{"token":"`+tok+`","dpop_proof":"x"}`, "")
		if r.StatusCode() != http.StatusUnprocessableEntity {
			t.Fatalf("status %d", r.StatusCode())
		}
	})

	t.Run("batch", func(t *testing.T) {
		body, _ := json.Marshal(map[string]any{
			"tokens":      []string{tok, tok, bearer},
			"dpop_proofs": []string{key.proof(t, "GET", htu, now, ath), ""},
			"htm":         "GET", "htu": htu,
		})
		r := do(t, a, "POST", "/token/validate/batch", string(body), "")
		var out struct{ Results []verdictJSON }
		if err := json.Unmarshal(r.Body(), &out); err != nil || len(out.Results) != 3 {
			t.Fatalf("%d %s", r.StatusCode(), r.Body())
		}
		if !out.Results[0].Valid || out.Results[1].Valid || out.Results[1].Message != msgDPoPRequired || !out.Results[2].Valid {
			t.Fatalf("batch results %+v", out.Results)
		}
	})
}

// TestValidateDPoPRevokedStaysRevoked: a revoked bound token is reported
// revoked (revocation is unchanged by DPoP).
func TestValidateDPoPRevokedStaysRevoked(t *testing.T) {
	f := newOracleFixture(t)
	a := f.api(false)
	key := newProofKey(t)
	c := claimsFor("alice", revokedJTI, f.now, f.now.Add(time.Hour))
	c["cnf"] = map[string]string{"jkt": key.jkt(t)}
	tok := sign(t, curSecret, "hs-current", c)
	r := do(t, a, "POST", "/token/validate", `{"token":"`+tok+`"}`, "")
	var v verdictJSON
	_ = json.Unmarshal(r.Body(), &v)
	if v.Valid || !v.Revoked || !strings.Contains(v.Message, "revoked") {
		t.Fatalf("%s", r.Body())
	}
}

// TestIntrospectionReturnsCnf: RFC 7662 introspection of a DPoP-bound
// token returns its cnf (RFC 9449 §6.2), so a resource server can check
// the binding itself.
func TestIntrospectionReturnsCnf(t *testing.T) {
	f := newOracleFixture(t)
	a := f.api(false)
	key := newProofKey(t)
	c := claimsFor("alice", "dpop-introspect-1", f.now, f.now.Add(time.Hour))
	c["cnf"] = map[string]string{"jkt": key.jkt(t)}
	tok := sign(t, curSecret, "hs-current", c)
	resp := serveOAuth(a, http.MethodPost, "/oauth2/introspect", "Bearer "+testAdminKey, "application/x-www-form-urlencoded", "token="+tok)
	var out struct {
		Active bool              `json:"active"`
		Cnf    map[string]string `json:"cnf"`
	}
	if err := json.Unmarshal(resp.Body(), &out); err != nil || !out.Active || out.Cnf["jkt"] != key.jkt(t) {
		t.Fatalf("introspection %d: %s", resp.StatusCode(), resp.Body())
	}
}

// TestDPoPNonceRequired: with DPoPNonceRequired, a token endpoint refuses a
// proof without the server's nonce with use_dpop_nonce and a DPoP-Nonce
// header; a proof carrying that nonce passes.
func TestDPoPNonceRequired(t *testing.T) {
	a := newTestAPI(t, Deps{Options: Options{DPoPNonceRequired: true}, Index: indexReady()})
	key := newProofKey(t)
	const htu = "http://revocd.example/token"
	run := func(proof string) *fasthttp.RequestCtx {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod("POST")
		ctx.Request.SetRequestURI(htu)
		ctx.Request.Header.Set("DPoP", proof)
		jkt, err := a.tokenEndpointProof(&ctx)
		if err != nil {
			writeDPoPError(&ctx, err)
		} else if jkt != key.jkt(t) {
			t.Fatalf("jkt %q", jkt)
		}
		return &ctx
	}
	ctx := run(key.proof(t, "POST", htu, time.Now(), ""))
	nonce := string(ctx.Response.Header.Peek("DPoP-Nonce"))
	if ctx.Response.StatusCode() != 400 || nonce == "" || !strings.Contains(string(ctx.Response.Header.Peek("WWW-Authenticate")), `error="use_dpop_nonce"`) {
		t.Fatalf("without nonce: %d %q %s", ctx.Response.StatusCode(), nonce, ctx.Response.Body())
	}
	ctx = run(key.proofWith(t, "POST", htu, time.Now(), map[string]any{"nonce": nonce}))
	if ctx.Response.StatusCode() != 200 || len(ctx.Response.Header.Peek("DPoP-Nonce")) == 0 {
		t.Fatalf("with nonce: %d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	ctx = run(key.proofWith(t, "POST", htu, time.Now(), map[string]any{"nonce": "stale"}))
	if ctx.Response.StatusCode() != 400 {
		t.Fatalf("wrong nonce accepted")
	}
}
