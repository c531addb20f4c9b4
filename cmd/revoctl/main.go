// Command revoctl is the command-line client of revocd: it issues,
// validates, inspects and revokes tokens, drives the refresh flow with its
// forward-secret key exchange, rotates keys and tails the revocation feed.
// Run `revoctl help` for the commands and exit codes.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/revocd/revocd/cmd/revoctl/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
