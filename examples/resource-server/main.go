// Command resource-server is an example resource server that validates
// revocd tokens in its own process with package validator.
//
// Configuration (environment): REVOCD_URL, one or more comma-separated
// revocd base URLs (default http://127.0.0.1:8000); LISTEN_ADDR (default
// 127.0.0.1:8080); REVOCD_FEED_KEY, a key of revocd's FEED_API_KEYS (or
// an admin key); REVOCD_ISSUER, the required "iss" (revocd's JWT_ISSUER,
// default p4-revocation-service); REVOCD_MAX_STALENESS (a Go duration,
// default 5s); JWT_SECRET_KEY for HS256 deployments; RESOURCE_PUBLIC_URL,
// this server's external base URL behind a proxy (the DPoP proofs' htu is
// it + the path; default: the request's own scheme and Host).
//
// GET /protected answers 200 with the token's claims as JSON for a valid
// "Authorization: Bearer" token, or a DPoP-bound token sent as
// "Authorization: DPoP" with a valid "DPoP" proof header (RFC 9449); 401
// for an invalid, expired or revoked one (WWW-Authenticate: DPoP
// error="invalid_dpop_proof" and the reason for a refused proof), and 503
// while the revocation view is stale. GET /healthz reports the validator's
// status.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/revocd/revocd/validator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "resource-server:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends.
func run(ctx context.Context, getenv func(string) string) error {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	stale, err := time.ParseDuration(env("REVOCD_MAX_STALENESS", "5s"))
	if err != nil {
		return fmt.Errorf("REVOCD_MAX_STALENESS: %w", err)
	}
	v, err := validator.New(ctx, validator.Options{
		URLs:          strings.Split(env("REVOCD_URL", "http://127.0.0.1:8000"), ","),
		APIKey:        getenv("REVOCD_FEED_KEY"),
		Issuer:        env("REVOCD_ISSUER", "p4-revocation-service"),
		Leeway:        5 * time.Second,
		MaxStaleness:  stale,
		HMACSecret:    getenv("JWT_SECRET_KEY"),
		PublicBaseURL: getenv("RESOURCE_PUBLIC_URL"),
	})
	if err != nil {
		return err
	}
	defer v.Close()
	srv := &http.Server{Handler: Handler(v), ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", env("LISTEN_ADDR", "127.0.0.1:8080"))
	if err != nil {
		return err
	}
	slog.Info("resource server listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Handler routes the example: GET /protected behind the validator's
// middleware, GET /healthz with the validator's status.
func Handler(v *validator.Validator) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /protected", v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := validator.ClaimsFromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(c.Raw)
	})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		st := v.Status()
		w.Header().Set("Content-Type", "application/json")
		if st.Stale {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(st)
	})
	return mux
}
