package handlerbench

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/revocd/revocd/config"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/transport/httpapi"
	"github.com/valyala/fasthttp"
)

// fixture is an in-process API over an HS256 ring with the dev secret and
// an index holding revocations, plus tokens to validate.
type fixture struct {
	handler fasthttp.RequestHandler
	tokens  []string // valid tokens
	revoked []string // tokens revoked by jti
}

func newFixture(tb testing.TB, revokedEntries int) *fixture {
	tb.Helper()
	cfg, err := config.Load(flag.NewFlagSet("bench", flag.ContinueOnError), []string{"--dev"}, func(string) string { return "" })
	if err != nil {
		tb.Fatal(err)
	}
	key, err := token.NewHMACKey("bench-kid", []byte(config.SeedDefaultSecret))
	if err != nil {
		tb.Fatal(err)
	}
	ring := token.NewRing(key)
	ix := index.New(index.Options{})
	exp := time.Now().Add(time.Hour).UnixMilli()
	for i := range revokedEntries {
		ix.RevokeJTI(fmt.Sprintf("b0b0b0b0-0000-4000-8000-%012x", i), exp)
	}
	is := &token.Issuer{Ring: ring, Issuer: cfg.JWTIssuer}
	f := &fixture{}
	for i := range 256 {
		tok, c, err := is.Issue(token.Spec{Subject: "user-" + strconv.Itoa(i), JTI: uuid.NewString(), TTL: time.Hour})
		if err != nil {
			tb.Fatal(err)
		}
		if i%16 == 0 {
			ix.RevokeJTI(c.ID, exp)
			f.revoked = append(f.revoked, tok)
			continue
		}
		f.tokens = append(f.tokens, tok)
	}
	ix.SetReady()
	api, err := httpapi.New(httpapi.Deps{
		Options: httpapi.Options{
			Dev: cfg.Dev, RequestTimeout: cfg.RequestTimeout, AccessTTL: cfg.AccessTTL, MaxAccessTTL: cfg.MaxAccessTTL,
			Leeway: cfg.Leeway, MaxBatchTokens: cfg.MaxBatchTokens,
		},
		Ring: ring, Index: ix, Metrics: httpapi.NewMetrics(nil),
		Verifier: token.NewVerifier(ring, token.VerifierOptions{Issuer: cfg.JWTIssuer, Leeway: cfg.Leeway}),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatal(err)
	}
	f.handler = api.Handler()
	return f
}

// validateBody is a POST /token/validate body.
func validateBody(tok string) []byte {
	return []byte(`{"token":"` + tok + `","check_revocation":true}`)
}

// batchBody is a POST /token/validate/batch body of n tokens.
func (f *fixture) batchBody(n int) []byte {
	b := []byte(`{"tokens":[`)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, f.tokens[i%len(f.tokens)])
	}
	return append(b, `],"check_revocation":true}`...)
}
