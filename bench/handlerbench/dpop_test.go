package handlerbench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/config"
	"github.com/revocd/revocd/crypto/dpop"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/transport/httpapi"
)

// BenchmarkValidateHandlerDPoP is POST /token/validate of a DPoP-bound
// token with a fresh ES256 proof per request (proof parsing, signature,
// thumbprint, replay cache), beside BenchmarkValidateHandler's plain
// validation. Proofs are made before the timer starts.
func BenchmarkValidateHandlerDPoP(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	pub, _ := key.PublicKey.ECDH()
	raw := pub.Bytes()
	enc := base64.RawURLEncoding.EncodeToString
	jwk := dpop.JWK{Kty: "EC", Crv: "P-256", X: enc(raw[1:33]), Y: enc(raw[33:])}
	jkt, _ := jwk.Thumbprint()

	hmac, _ := token.NewHMACKey("bench-kid", []byte(config.SeedDefaultSecret))
	ring := token.NewRing(hmac)
	ix := index.New(index.Options{})
	ix.SetReady()
	is := &token.Issuer{Ring: ring}
	tok, _, err := is.Issue(token.Spec{Subject: "user-1", JTI: uuid.NewString(), TTL: time.Hour, Jkt: jkt})
	if err != nil {
		b.Fatal(err)
	}
	api, err := httpapi.New(httpapi.Deps{
		Options: httpapi.Options{RequestTimeout: time.Second, AccessTTL: time.Hour, MaxAccessTTL: time.Hour, MaxBatchTokens: 10},
		Ring:    ring, Index: ix, Metrics: httpapi.NewMetrics(nil),
		Verifier: token.NewVerifier(ring, token.VerifierOptions{}),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	h := api.Handler()
	const htu = "https://rs.example/api"
	hdr, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk})
	ath := dpop.ATH(tok)
	bodies := make([][]byte, b.N)
	for i := range bodies {
		c, _ := json.Marshal(map[string]any{"jti": strconv.Itoa(i), "htm": "GET", "htu": htu, "iat": time.Now().Unix(), "ath": ath})
		in := enc(hdr) + "." + enc(c)
		d := sha256.Sum256([]byte(in))
		r, s, err := ecdsa.Sign(rand.Reader, key, d[:])
		if err != nil {
			b.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		bodies[i], _ = json.Marshal(map[string]string{"token": tok, "dpop_proof": in + "." + enc(sig), "htm": "GET", "htu": htu})
	}
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI("/token/validate")
	req.Header.SetContentType("application/json")
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		ctx.Request.SetBody(bodies[i])
		ctx.Response.Reset()
		h(&ctx)
		if i == 0 && !json.Valid(ctx.Response.Body()) {
			b.Fatalf("%s", ctx.Response.Body())
		}
	}
	b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.StopTimer()
	var v struct{ Valid bool }
	if json.Unmarshal(ctx.Response.Body(), &v) != nil || !v.Valid {
		b.Fatalf("last answer: %s", ctx.Response.Body())
	}
}
