package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// sdkAnswer is GET /protected's answer of the example resource server as
// the node client saw it.
type sdkAnswer struct {
	Status          int    `json:"status"`
	WWWAuthenticate string `json:"wwwAuthenticate"`
	Detail          string `json:"detail"`
	Sub             string `json:"sub"`
}

// check reports whether a matches want: status, challenge (substring of
// WWW-Authenticate, "" for none required) and detail (exact, "" for any).
func (a sdkAnswer) check(status int, challenge, detail string) bool {
	return a.Status == status && strings.Contains(a.WWWAuthenticate, challenge) && (detail == "" || a.Detail == detail)
}

// runNode runs the DPoP node client with args and decodes its report.
func runNode(t *testing.T, script string, rep any, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "node", append([]string{script}, args...)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node client.mjs %v: %v\nstdout: %s\nstderr: %s", args, err, out, stderr)
	}
	if err := json.Unmarshal(out, rep); err != nil {
		t.Fatalf("report %s: %v", out, err)
	}
}

// TestSDKDPoPWithNpmClient: the Go SDK (examples/resource-server, its
// net/http middleware) checks DPoP proofs made by npm's dpop, ES256 and
// EdDSA, for a DPoP-bound token the real revocd issued: a fresh proof by
// the token's key over GET <resource server>/protected passes; a replayed
// proof, another key, wrong htm or htu, a stale iat, a missing ath and a
// missing proof are refused with 401, WWW-Authenticate: DPoP
// error="invalid_dpop_proof" and revocd's reason; the bound token sent as
// Bearer and a bearer token sent as DPoP get error="invalid_token"; a
// bearer token as Bearer still passes.
func TestSDKDPoPWithNpmClient(t *testing.T) {
	script := npmClient(t, "dpop", "dpop")
	n := startNode(t, "", append(cleanEnv(), "JWT_ALGORITHM=EdDSA", "FEED_API_KEYS="+sdkFeedKey))
	ex := startExample(t, n.URL)
	for _, alg := range []string{"ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			var rep struct {
				JKT       string            `json:"jkt"`
				TokenType string            `json:"tokenType"`
				Cnf       map[string]string `json:"cnf"`
				Answers   map[string]sdkAnswer
			}
			var raw map[string]json.RawMessage
			runNode(t, script, &raw, n.URL, "sdk", alg, ex.URL)
			b, _ := json.Marshal(raw)
			_ = json.Unmarshal(b, &rep)
			rep.Answers = map[string]sdkAnswer{}
			for k, v := range raw {
				var a sdkAnswer
				if json.Unmarshal(v, &a) == nil && a.Status != 0 {
					rep.Answers[k] = a
				}
			}
			if rep.TokenType != "DPoP" || rep.Cnf["jkt"] != rep.JKT || rep.JKT == "" {
				t.Fatalf("bound issuance: token_type %q cnf %v, want DPoP bound to %q", rep.TokenType, rep.Cnf, rep.JKT)
			}
			const proofErr, tokenErr = `DPoP error="invalid_dpop_proof"`, `DPoP error="invalid_token"`
			want := []struct {
				name      string
				status    int
				challenge string
				detail    string
			}{
				{"valid", 200, "", ""},
				{"replayed", 401, proofErr, "Invalid DPoP proof: DPoP proof has been used before"},
				{"otherKey", 401, proofErr, "Invalid DPoP proof: DPoP proof key does not match the token's cnf.jkt"},
				{"wrongHtm", 401, proofErr, "Invalid DPoP proof: DPoP proof htm does not match the request method"},
				{"wrongHtu", 401, proofErr, "Invalid DPoP proof: DPoP proof htu does not match the request URL"},
				{"staleIat", 401, proofErr, "Invalid DPoP proof: DPoP proof iat is outside the accepted window"},
				{"missingAth", 401, proofErr, "Invalid DPoP proof: DPoP proof ath is missing or does not match the access token"},
				{"noProof", 401, proofErr, "DPoP proof required"},
				{"boundAsBearer", 401, tokenErr, "DPoP proof required"},
				{"unboundAsDPoP", 401, tokenErr, "Token is not DPoP-bound"},
				{"plainBearer", 200, "", ""},
			}
			for _, w := range want {
				a, ok := rep.Answers[w.name]
				if !ok || !a.check(w.status, w.challenge, w.detail) {
					t.Errorf("%s: %+v, want %d %q %q", w.name, a, w.status, w.challenge, w.detail)
				}
			}
			if a := rep.Answers["valid"]; a.Sub != "sdk-alice" {
				t.Errorf("valid: claims sub %q, want sdk-alice", a.Sub)
			}
			if t.Failed() {
				t.Logf("example log:\n%s", tail(ex.log.String(), 2000))
			}
		})
	}
}
