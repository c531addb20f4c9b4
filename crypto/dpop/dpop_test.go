package dpop

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

var b64 = base64.RawURLEncoding

// TestThumbprintGolden checks the RFC 7638 §3.1 example (RSA) and the RFC
// 9449 §6.1 example (EC P-256) thumbprints.
func TestThumbprintGolden(t *testing.T) {
	for _, tc := range []struct {
		name, jwk, want string
	}{
		{"RFC 7638 3.1", `{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{"RFC 9449 6.1", `{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}`, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
	} {
		var k JWK
		if err := json.Unmarshal([]byte(tc.jwk), &k); err != nil {
			t.Fatal(err)
		}
		got, err := k.Thumbprint()
		if err != nil || got != tc.want {
			t.Errorf("%s: Thumbprint() = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestThumbprintAKPMembers(t *testing.T) {
	k := JWK{Kty: "AKP", Alg: "ML-DSA-65", Pub: "cHVi"}
	got, err := k.Thumbprint()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(`{"alg":"ML-DSA-65","kty":"AKP","pub":"cHVi"}`))
	if want := b64.EncodeToString(sum[:]); got != want {
		t.Fatalf("AKP thumbprint %q, want %q", got, want)
	}
}

func TestNormalizeHTU(t *testing.T) {
	for in, want := range map[string]string{
		"HTTPS://Server.Example.COM:443/token?x=1#f": "https://server.example.com/token",
		"http://a:80/p":      "http://a/p",
		"http://a:8080/p":    "http://a:8080/p",
		"https://a:80/p":     "https://a:80/p",
		"http://[::1]:80/x":  "http://[::1]/x",
		"http://127.0.0.1:9": "http://127.0.0.1:9/",
	} {
		if got, err := NormalizeHTU(in); err != nil || got != want {
			t.Errorf("NormalizeHTU(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/token", "ftp://a/x", "http://user@a/x"} {
		if _, err := NormalizeHTU(bad); err == nil {
			t.Errorf("NormalizeHTU(%q) accepted", bad)
		}
	}
}

// signer makes proofs with one key.
type signer struct {
	alg  string
	jwk  map[string]any
	sign func(msg []byte) []byte
}

func newSigner(t testing.TB, alg string) *signer {
	switch alg {
	case "ES256":
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		pub, _ := k.PublicKey.ECDH()
		raw := pub.Bytes() // 0x04 || X || Y
		return &signer{alg: alg, jwk: map[string]any{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(raw[1:33]), "y": b64.EncodeToString(raw[33:])},
			sign: func(m []byte) []byte {
				d := sha256.Sum256(m)
				r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
				if err != nil {
					t.Fatal(err)
				}
				out := make([]byte, 64)
				r.FillBytes(out[:32])
				s.FillBytes(out[32:])
				return out
			}}
	case "EdDSA", "Ed25519":
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		return &signer{alg: alg, jwk: map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(pub)},
			sign: func(m []byte) []byte { return ed25519.Sign(priv, m) }}
	case "ML-DSA-65":
		pub, priv, _ := mldsa65.GenerateKey(rand.Reader)
		raw, _ := pub.MarshalBinary()
		return &signer{alg: alg, jwk: map[string]any{"kty": "AKP", "alg": "ML-DSA-65", "pub": b64.EncodeToString(raw)},
			sign: func(m []byte) []byte {
				sig := make([]byte, mldsa65.SignatureSize)
				if err := mldsa65.SignTo(priv, m, nil, false, sig); err != nil {
					t.Fatal(err)
				}
				return sig
			}}
	}
	t.Fatalf("alg %s", alg)
	return nil
}

func (s *signer) proof(hdr map[string]any, claims map[string]any) string {
	h := map[string]any{"typ": "dpop+jwt", "alg": s.alg, "jwk": s.jwk}
	for k, v := range hdr {
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(claims)
	in := b64.EncodeToString(hb) + "." + b64.EncodeToString(cb)
	return in + "." + b64.EncodeToString(s.sign([]byte(in)))
}

func (s *signer) jkt(t testing.TB) string {
	b, _ := json.Marshal(s.jwk)
	var k JWK
	_ = json.Unmarshal(b, &k)
	j, err := k.Thumbprint()
	if err != nil {
		t.Fatal(err)
	}
	return j
}

var seq int

func claimsAt(now time.Time, over map[string]any) map[string]any {
	seq++
	c := map[string]any{"jti": fmt.Sprintf("jti-%d", seq), "htm": "POST", "htu": "https://rs.example/api", "iat": now.Unix()}
	for k, v := range over {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	v := &Verifier{Window: time.Minute, Replay: NewReplayCache(100), Now: func() time.Time { return now }}
	req := Request{Method: "POST", URL: "https://RS.example:443/api?q=1", AccessToken: "tok"}
	for _, alg := range []string{"ES256", "EdDSA", "Ed25519", "ML-DSA-65"} {
		s := newSigner(t, alg)
		other := newSigner(t, alg)
		ath := ATH("tok")
		t.Run(alg+"/valid", func(t *testing.T) {
			p, err := v.Verify(s.proof(nil, claimsAt(now, map[string]any{"ath": ath})), req)
			if err != nil || p.JKT != s.jkt(t) {
				t.Fatalf("Verify = %+v, %v", p, err)
			}
		})
		replayed := s.proof(nil, claimsAt(now, map[string]any{"ath": ath}))
		if _, err := v.Verify(replayed, req); err != nil {
			t.Fatal(err)
		}
		// A proof signed by another key than the header's.
		forged := s.proof(nil, claimsAt(now, map[string]any{"ath": ath}))
		otherSig := other.proof(nil, claimsAt(now, nil))
		forged = forged[:strings.LastIndexByte(forged, '.')] + otherSig[strings.LastIndexByte(otherSig, '.'):]
		privJWK := map[string]any{}
		for k, val := range s.jwk {
			privJWK[k] = val
		}
		privJWK["d"] = "AAAA"
		for _, tc := range []struct {
			name  string
			proof string
			want  error
		}{
			{"typ", s.proof(map[string]any{"typ": "JWT"}, claimsAt(now, map[string]any{"ath": ath})), ErrTyp},
			{"alg none", s.proof(map[string]any{"alg": "none"}, claimsAt(now, map[string]any{"ath": ath})), ErrAlg},
			{"alg HS256", s.proof(map[string]any{"alg": "HS256"}, claimsAt(now, map[string]any{"ath": ath})), ErrAlg},
			{"no jwk", s.proof(map[string]any{"jwk": nil}, claimsAt(now, map[string]any{"ath": ath})), ErrJWK},
			{"private jwk", s.proof(map[string]any{"jwk": privJWK}, claimsAt(now, map[string]any{"ath": ath})), ErrJWK},
			{"signature", forged, ErrSignature},
			{"htm", s.proof(nil, claimsAt(now, map[string]any{"ath": ath, "htm": "GET"})), ErrHTM},
			{"htu", s.proof(nil, claimsAt(now, map[string]any{"ath": ath, "htu": "https://other.example/api"})), ErrHTU},
			{"iat stale", s.proof(nil, claimsAt(now, map[string]any{"ath": ath, "iat": now.Add(-2 * time.Minute).Unix()})), ErrIat},
			{"iat future", s.proof(nil, claimsAt(now, map[string]any{"ath": ath, "iat": now.Add(2 * time.Minute).Unix()})), ErrIat},
			{"no iat", s.proof(nil, claimsAt(now, map[string]any{"ath": ath, "iat": nil})), ErrIat},
			{"no jti", s.proof(nil, claimsAt(now, map[string]any{"ath": ath, "jti": nil})), ErrJTI},
			{"no ath", s.proof(nil, claimsAt(now, nil)), ErrATH},
			{"wrong ath", s.proof(nil, claimsAt(now, map[string]any{"ath": ATH("other")})), ErrATH},
			{"replay", replayed, ErrReplay},
			{"malformed", "a.b", ErrMalformed},
		} {
			t.Run(alg+"/"+tc.name, func(t *testing.T) {
				_, err := v.Verify(tc.proof, req)
				if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidProof) {
					t.Fatalf("Verify: %v, want %v", err, tc.want)
				}
				if Reason(err) != tc.want.Error() {
					t.Fatalf("Reason = %q", Reason(err))
				}
			})
		}
	}
}

func TestVerifyNonce(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	v := &Verifier{Now: func() time.Time { return now }}
	s := newSigner(t, "EdDSA")
	req := Request{Method: "POST", URL: "https://rs.example/api", Nonce: "n1"}
	if _, err := v.Verify(s.proof(nil, claimsAt(now, nil)), req); !errors.Is(err, ErrNonce) {
		t.Fatalf("no nonce: %v", err)
	}
	if _, err := v.Verify(s.proof(nil, claimsAt(now, map[string]any{"nonce": "n1"})), req); err != nil {
		t.Fatalf("nonce: %v", err)
	}
}

func TestReplayCacheBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewReplayCache(2)
	if !c.Add("a", now.Add(time.Second), now) || !c.Add("b", now.Add(time.Minute), now) {
		t.Fatal("fresh entries refused")
	}
	if c.Add("a", now.Add(time.Second), now) {
		t.Fatal("replay accepted")
	}
	if err := c.add("c", now.Add(time.Minute), now); err != ErrReplayCacheFull {
		t.Fatalf("entry beyond the cap: %v", err)
	}
	later := now.Add(2 * time.Second) // "a" expired: its slot is reused
	if !c.Add("c", later.Add(time.Minute), later) || c.Len() != 2 {
		t.Fatalf("expired slot not reused (len %d)", c.Len())
	}
}

func BenchmarkVerifyES256(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	v := &Verifier{Replay: NewReplayCache(1 << 20), Now: func() time.Time { return now }}
	s := newSigner(b, "ES256")
	req := Request{Method: "POST", URL: "https://rs.example/api", AccessToken: "tok"}
	proofs := make([]string, b.N)
	for i := range proofs {
		proofs[i] = s.proof(nil, map[string]any{"jti": fmt.Sprint(i), "htm": "POST", "htu": "https://rs.example/api", "iat": now.Unix(), "ath": ATH("tok")})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(proofs[i], req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReplayCacheConcurrent: concurrent Verify calls with one proof accept
// it exactly once.
func TestReplayCacheConcurrent(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	v := &Verifier{Replay: NewReplayCache(100), Now: func() time.Time { return now }}
	s := newSigner(t, "EdDSA")
	proof := s.proof(nil, claimsAt(now, nil))
	req := Request{Method: "POST", URL: "https://rs.example/api"}
	const n = 8
	ok := make(chan bool, n)
	for range n {
		go func() {
			_, err := v.Verify(proof, req)
			ok <- err == nil
		}()
	}
	accepted := 0
	for range n {
		if <-ok {
			accepted++
		}
	}
	if accepted != 1 {
		t.Fatalf("proof accepted %d times", accepted)
	}
}

// TestReplayCacheSweepsBySecond: entries leave the cache when their
// expiry's second is over, whatever order they came in; a key added again
// after it expired lives until its new expiry; a long idle gap is crossed
// without stepping through every second.
func TestReplayCacheSweepsBySecond(t *testing.T) {
	base := time.Unix(1_800_000_000, 0)
	c := NewReplayCache(1000)
	for i := range 100 {
		// Expiries 1..100 s ahead, added in a shuffled order.
		d := time.Duration((i*37)%100+1) * time.Second
		if !c.Add(fmt.Sprint("k", d), base.Add(d), base) {
			t.Fatalf("entry %v refused", d)
		}
	}
	tests := []struct {
		at   time.Duration
		want int
	}{
		{0, 100},
		{500 * time.Millisecond, 100},
		{10*time.Second + time.Millisecond, 91}, // 10 s expired, held until its second is over
		{11 * time.Second, 90},
		{50 * time.Second, 51},
		{99*time.Second + 999*time.Millisecond, 2},
		{101 * time.Second, 0},
	}
	for _, tc := range tests {
		c.mu.Lock()
		c.sweep(base.Add(tc.at).UnixMilli())
		c.mu.Unlock()
		if got := c.Len(); got != tc.want {
			t.Fatalf("at +%v: %d entries, want %d", tc.at, got, tc.want)
		}
	}
	if !c.Add("k1s", base.Add(200*time.Second), base.Add(150*time.Second)) {
		t.Fatal("an expired key could not be added again")
	}
	if c.Add("k1s", base.Add(300*time.Second), base.Add(199*time.Second)) {
		t.Fatal("a key added again was forgotten with its old bucket")
	}
	far := base.Add(365 * 24 * time.Hour)
	if !c.Add("late", far.Add(time.Minute), far) || c.Len() > 2 {
		t.Fatalf("after a year idle: %d entries", c.Len())
	}
}
