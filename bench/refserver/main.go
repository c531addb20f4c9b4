// Command refserver runs the benchmark's reference HTTP servers, each in its
// own process so that it competes for the CPU the way revocd does:
//
//   - ceiling: a fasthttp handler that answers every request with a fixed
//     JSON body (the upper bound of any fasthttp handler on this machine);
//   - redis-baseline: the seed's design — decode the JSON body with
//     encoding/json, golang-jwt's generic HS256 parse, then ask Redis per
//     request (redismirror.Check, one pipelined round trip of up to three
//     GETs) — answering in the shape of POST /token/validate.
//
// It prints "listening ADDR" on stdout once it serves and stops on SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "refserver:", err)
		os.Exit(1)
	}
}

func run() error {
	mode := flag.String("mode", "ceiling", "ceiling or redis-baseline")
	listen := flag.String("listen", "127.0.0.1:0", "listen address")
	bodyFile := flag.String("body-file", "", "ceiling: file holding the fixed response body")
	redisURL := flag.String("redis", "", "redis-baseline: Redis URL")
	secret := flag.String("secret", "your-secret-key-change-in-production", "redis-baseline: HS256 secret")
	issuer := flag.String("issuer", "p4-revocation-service", "redis-baseline: required iss claim")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	var handler fasthttp.RequestHandler
	switch *mode {
	case "ceiling":
		body, err := os.ReadFile(*bodyFile)
		if err != nil {
			return fmt.Errorf("read -body-file: %w", err)
		}
		handler = ceilingHandler(body)
	case "redis-baseline":
		h, closeFn, err := newBaseline(ctx, *redisURL, []byte(*secret), *issuer)
		if err != nil {
			return err
		}
		defer closeFn()
		handler = h
	default:
		return fmt.Errorf("unknown -mode %q", *mode)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &fasthttp.Server{
		Handler:        handler,
		Name:           "refserver",
		ReadTimeout:    10 * time.Second,
		WriteTimeout:   10 * time.Second,
		IdleTimeout:    60 * time.Second,
		ReadBufferSize: 8 << 10,
	}
	fmt.Printf("listening %s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		return srv.Shutdown()
	case err := <-errc:
		return err
	}
}

// ceilingHandler answers every request with body.
func ceilingHandler(body []byte) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	}
}
