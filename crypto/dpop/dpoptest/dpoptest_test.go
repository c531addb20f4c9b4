package dpoptest_test

import (
	"testing"
	"time"

	"github.com/revocd/revocd/crypto/dpop"
	"github.com/revocd/revocd/crypto/dpop/dpoptest"
)

// TestProofsVerify: a proof of every algorithm verifies with crypto/dpop,
// for its request and token, under the key JKT names.
func TestProofsVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, alg := range []string{"ES256", "EdDSA", "Ed25519", "ML-DSA-65"} {
		t.Run(alg, func(t *testing.T) {
			k, err := dpoptest.NewKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			proof, err := k.Proof(dpoptest.Claims("POST", "https://rs.example/api", now, "tok"))
			if err != nil {
				t.Fatal(err)
			}
			v := &dpop.Verifier{Now: func() time.Time { return now }}
			p, err := v.Verify(proof, dpop.Request{Method: "POST", URL: "https://rs.example/api", AccessToken: "tok"})
			if err != nil || p.JKT != k.JKT() {
				t.Fatalf("Verify = %+v, %v; want the key %s", p, err, k.JKT())
			}
		})
	}
	if _, err := dpoptest.NewKey("RS256"); err == nil {
		t.Fatal("an unsupported alg made a key")
	}
}
