package handlerbench

import (
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
	"github.com/revocd/revocd/crypto/dpop/dpoptest"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/transport/httpapi"
)

// BenchmarkValidateHandlerDPoP is POST /token/validate of a DPoP-bound
// token with a fresh ES256 proof per request (proof parsing, signature,
// thumbprint, replay cache), beside BenchmarkValidateHandler's plain
// validation. Proofs are made before the timer starts.
func BenchmarkValidateHandlerDPoP(b *testing.B) {
	key, err := dpoptest.NewKey("ES256")
	if err != nil {
		b.Fatal(err)
	}
	jkt := key.JKT()

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
	hdr := key.Header()
	ath := dpop.ATH(tok)
	bodies := make([][]byte, b.N)
	for i := range bodies {
		proof, err := key.Sign(hdr, map[string]any{"jti": strconv.Itoa(i), "htm": "GET", "htu": htu, "iat": time.Now().Unix(), "ath": ath})
		if err != nil {
			b.Fatal(err)
		}
		bodies[i], _ = json.Marshal(map[string]string{"token": tok, "dpop_proof": proof, "htm": "GET", "htu": htu})
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
