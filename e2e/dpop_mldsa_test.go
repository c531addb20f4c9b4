package e2e

import (
	"testing"
)

// TestDPoPMLDSA65WithNobleClient: ML-DSA-65 proofs with AKP keys (revocd's
// extension) made by an independent ML-DSA implementation, npm's
// @noble/post-quantum (node has no WebCrypto ML-DSA here, so jose cannot
// sign them), against the real binary: the token endpoint binds the token
// to the key (cnf.jkt equals the RFC 7638 thumbprint computed in
// JavaScript); /token/validate takes a fresh proof and refuses a replayed
// one, another key's and a stale one; a bound refresh token refreshes only
// with its key; and the Go SDK (examples/resource-server) takes a fresh
// proof and refuses a replayed one and another key's.
func TestDPoPMLDSA65WithNobleClient(t *testing.T) {
	script := npmClient(t, "dpop", "dpop")
	n := startNode(t, "", append(cleanEnv(), "JWT_ALGORITHM=EdDSA", "FEED_API_KEYS="+sdkFeedKey))
	ex := startExample(t, n.URL)
	var rep struct {
		JKT          string                 `json:"jkt"`
		Issue        dpopAnswer             `json:"issue"`
		Validate     map[string]dpopVerdict `json:"validate"`
		RefreshOther dpopAnswer             `json:"refreshOtherKey"`
		RefreshBound dpopAnswer             `json:"refreshBound"`
		SDK          map[string]sdkAnswer   `json:"sdk"`
	}
	runNode(t, script, &rep, n.URL, "mldsa", ex.URL)
	if rep.Issue.Status != 200 || rep.Issue.TokenType != "DPoP" || rep.JKT == "" || rep.Issue.Cnf["jkt"] != rep.JKT {
		t.Fatalf("ML-DSA-65 bound issuance: %+v (thumbprint computed in JS %q)", rep.Issue, rep.JKT)
	}
	want := map[string]string{
		"valid":    "Token is valid and not revoked",
		"replayed": "Invalid DPoP proof: DPoP proof has been used before",
		"otherKey": "Invalid DPoP proof: DPoP proof key does not match the token's cnf.jkt",
		"staleIat": "Invalid DPoP proof: DPoP proof iat is outside the accepted window",
		"noProof":  "DPoP proof required",
	}
	for name, msg := range want {
		v, ok := rep.Validate[name]
		if !ok || v.Status != 200 || v.Valid != (name == "valid") || v.Message != msg {
			t.Errorf("validate %s: %+v, want valid=%v %q", name, v, name == "valid", msg)
		}
	}
	if rep.RefreshOther.Status != 400 || rep.RefreshOther.Body["detail"] != "Invalid DPoP proof: DPoP proof key does not match the token's cnf.jkt" {
		t.Errorf("refresh with another ML-DSA-65 key: %+v", rep.RefreshOther)
	}
	if rep.RefreshBound.Status != 200 || rep.RefreshBound.TokenType != "DPoP" || rep.RefreshBound.AccessCnf["jkt"] != rep.JKT {
		t.Errorf("refresh with the bound ML-DSA-65 key: %+v", rep.RefreshBound)
	}
	for name, w := range map[string]struct {
		status            int
		challenge, detail string
	}{
		"valid":    {200, "", ""},
		"replayed": {401, `DPoP error="invalid_dpop_proof"`, "Invalid DPoP proof: DPoP proof has been used before"},
		"otherKey": {401, `DPoP error="invalid_dpop_proof"`, "Invalid DPoP proof: DPoP proof key does not match the token's cnf.jkt"},
	} {
		if a, ok := rep.SDK[name]; !ok || !a.check(w.status, w.challenge, w.detail) {
			t.Errorf("SDK %s: %+v, want %d %q %q", name, a, w.status, w.challenge, w.detail)
		}
	}
}
