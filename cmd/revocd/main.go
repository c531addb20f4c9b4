// Command revocd is the revocd server: it issues, validates and revokes JWTs
// and propagates revocations. Run `revocd --help` for its flags; every flag
// also reads the environment variable named in its help text.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/revocd/revocd/internal/clientsecret"
	"github.com/revocd/revocd/server"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "client-secret-hash" {
		os.Exit(clientsecret.Main(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := server.Main(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}
