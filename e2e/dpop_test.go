package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

type dpopVerdict struct {
	Status  int    `json:"status"`
	Valid   bool   `json:"valid"`
	Revoked bool   `json:"revoked"`
	Message string `json:"message"`
}

type dpopAnswer struct {
	Status          int               `json:"status"`
	WWWAuthenticate string            `json:"wwwAuthenticate"`
	Body            map[string]any    `json:"body"`
	TokenType       string            `json:"tokenType"`
	Cnf             map[string]string `json:"cnf"`
	AccessCnf       map[string]string `json:"accessCnf"`
	RefreshCnf      map[string]string `json:"refreshCnf"`
	JTI             string            `json:"jti"`
	Token           string            `json:"token"`
}

// TestDPoPWithNpmClient: a client using npm's dpop gets a DPoP-bound access
// token (cnf.jkt checked independently with jose), and a resource server
// validating it with the proof it received is told valid only for a fresh
// proof by that key over its request; each refusal names its reason. A
// bound refresh token refreshes only with a proof by the same key; the
// bound token is revoked by jti like any other. The proofs are ES256 and
// EdDSA (Ed25519), both made by npm's dpop.
func TestDPoPWithNpmClient(t *testing.T) {
	script := npmClient(t, "dpop", "dpop")
	n := startNode(t, "", cleanEnv())
	for _, alg := range []string{"ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) { testDPoPWithNpmClient(t, n, script, alg) })
	}
}

func testDPoPWithNpmClient(t *testing.T, n *node, script, alg string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script, n.URL, alg)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node client.mjs: %v\nstdout: %s\nstderr: %s\nrevocd log:\n%s", err, out, stderr, tail(n.log.String(), 40))
	}
	var rep struct {
		JKT            string                 `json:"jkt"`
		Kty            string                 `json:"kty"`
		Issue          dpopAnswer             `json:"issue"`
		Plain          dpopAnswer             `json:"plain"`
		BadIssue       dpopAnswer             `json:"badIssue"`
		Validate       map[string]dpopVerdict `json:"validate"`
		RefreshCreate  dpopAnswer             `json:"refreshCreate"`
		RefreshNoProof dpopAnswer             `json:"refreshNoProof"`
		RefreshOther   dpopAnswer             `json:"refreshOtherKey"`
		RefreshBound   dpopAnswer             `json:"refreshBound"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("report %s: %v", out, err)
	}
	if wantKty := map[string]string{"ES256": "EC", "EdDSA": "OKP"}[alg]; rep.Kty != wantKty {
		t.Fatalf("proof key kty %q, want %q for %s", rep.Kty, wantKty, alg)
	}

	if rep.Issue.Status != 200 || rep.Issue.TokenType != "DPoP" || rep.Issue.Cnf["jkt"] != rep.JKT || rep.JKT == "" {
		t.Fatalf("bound issuance: %+v (jose jkt %q)", rep.Issue, rep.JKT)
	}
	if rep.Plain.Status != 200 || rep.Plain.TokenType != "bearer" || rep.Plain.Cnf != nil {
		t.Fatalf("issuance without DPoP changed: %+v", rep.Plain)
	}
	if rep.BadIssue.Status != 400 || !strings.Contains(rep.BadIssue.WWWAuthenticate, `error="invalid_dpop_proof"`) ||
		rep.BadIssue.Body["detail"] != "Invalid DPoP proof: DPoP proof htm does not match the request method" {
		t.Fatalf("issuance with a bad proof: %+v", rep.BadIssue)
	}

	want := map[string]string{
		"valid":      "Token is valid and not revoked",
		"otherKey":   "Invalid DPoP proof: DPoP proof key does not match the token's cnf.jkt",
		"replayed":   "Invalid DPoP proof: DPoP proof has been used before",
		"wrongHtm":   "Invalid DPoP proof: DPoP proof htm does not match the request method",
		"wrongHtu":   "Invalid DPoP proof: DPoP proof htu does not match the request URL",
		"staleIat":   "Invalid DPoP proof: DPoP proof iat is outside the accepted window",
		"missingAth": "Invalid DPoP proof: DPoP proof ath is missing or does not match the access token",
		"noProof":    "DPoP proof required",
	}
	for name, msg := range want {
		v, ok := rep.Validate[name]
		if !ok || v.Status != 200 || v.Valid != (name == "valid") || v.Revoked || v.Message != msg {
			t.Errorf("validate %s: %+v, want valid=%v %q", name, v, name == "valid", msg)
		}
	}

	if rep.RefreshCreate.Status != 200 || rep.RefreshCreate.TokenType != "DPoP" || rep.RefreshCreate.RefreshCnf["jkt"] != rep.JKT || rep.RefreshCreate.AccessCnf["jkt"] != rep.JKT {
		t.Fatalf("refresh create: %+v", rep.RefreshCreate)
	}
	if rep.RefreshNoProof.Status != 400 || rep.RefreshNoProof.Body["detail"] != "DPoP proof required" || !strings.HasPrefix(rep.RefreshNoProof.WWWAuthenticate, "DPoP ") {
		t.Fatalf("refresh without proof: %+v", rep.RefreshNoProof)
	}
	if rep.RefreshOther.Status != 400 || rep.RefreshOther.Body["detail"] != "Invalid DPoP proof: DPoP proof key does not match the token's cnf.jkt" {
		t.Fatalf("refresh with another key: %+v", rep.RefreshOther)
	}
	if rep.RefreshBound.Status != 200 || rep.RefreshBound.TokenType != "DPoP" || rep.RefreshBound.AccessCnf["jkt"] != rep.JKT {
		t.Fatalf("refresh with the bound key: %+v", rep.RefreshBound)
	}

	// Revocation is unchanged: the bound token is revoked by jti.
	n.revoke("revoke_jti", rep.Issue.JTI)
	if v := n.validate(rep.Issue.Token); v["valid"] != false || v["revoked"] != true {
		t.Fatalf("revoked bound token: %v", v)
	}
}

// TestDPoPNonceWithNpmClient: with DPOP_NONCE_REQUIRED=true a proof
// without the server's nonce is refused with use_dpop_nonce and a
// DPoP-Nonce header; npm's dpop retrying with that nonce gets a bound
// token. Requests without DPoP stay bearer.
func TestDPoPNonceWithNpmClient(t *testing.T) {
	script := npmClient(t, "dpop", "dpop")
	n := startNode(t, "", append(cleanEnv(), "DPOP_NONCE_REQUIRED=true"))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "node", script, n.URL, "nonce").Output()
	if err != nil {
		t.Fatalf("node client.mjs nonce: %v\n%s", err, out)
	}
	var rep struct {
		JKT          string     `json:"jkt"`
		First        dpopAnswer `json:"first"`
		Nonce        string     `json:"nonce"`
		BearerStatus int        `json:"bearerStatus"`
		Retried      dpopAnswer `json:"retried"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("report %s: %v", out, err)
	}
	if rep.First.Status != 400 || !strings.Contains(rep.First.WWWAuthenticate, `error="use_dpop_nonce"`) || rep.Nonce == "" {
		t.Fatalf("proof without nonce: %+v (nonce %q)", rep.First, rep.Nonce)
	}
	if rep.BearerStatus != 200 {
		t.Fatalf("bearer issuance with DPOP_NONCE_REQUIRED: %d", rep.BearerStatus)
	}
	if rep.Retried.Status != 200 || rep.Retried.TokenType != "DPoP" || rep.Retried.Cnf["jkt"] != rep.JKT {
		t.Fatalf("retry with the nonce: %+v", rep.Retried)
	}
}
