package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/revocd/revocd/config"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/persistence/sqlitestore"
)

// Exit codes of Main.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitConfig = 2
)

// Main parses args (without the program name) and runs the node until ctx
// ends. It returns the process exit code: 2 for configuration errors
// (including an insecure production configuration), 1 for runtime failures.
func Main(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	return MainIO(ctx, args, getenv, os.Stdout, stderr)
}

// MainIO is Main with an explicit standard output (for subcommands that
// print results). Subcommands: "consume" (the Kafka → Redis consumer
// service) and "event-key" (print this node's event-signature public key,
// creating it on first use, for EVENT_TRUSTED_KEYS of other nodes).
func MainIO(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	mode := "serve"
	if len(args) > 0 && (args[0] == "consume" || args[0] == "event-key" || args[0] == "serve") {
		mode, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("revocd "+mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: revocd [flags]\n\nEvery flag can also be set by the environment variable named in its help.\n\n")
		fs.PrintDefaults()
	}
	var opts []config.LoadOption
	if mode != "serve" {
		opts = append(opts, config.WithoutServerSecrets())
	}
	cfg, err := config.Load(fs, args, getenv, opts...)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "revocd: %v\n", err)
		return ExitConfig
	}
	log := NewLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	var runErr error
	switch mode {
	case "event-key":
		runErr = printEventKey(ctx, cfg, stdout)
	case "consume":
		runErr = Consume(ctx, cfg, log)
	default:
		runErr = Run(ctx, cfg, log, nil)
	}
	if err := runErr; err != nil {
		log.Error("revocd failed", "err", err)
		return ExitFailed
	}
	return ExitOK
}

// NewLogger returns a slog logger writing text or JSON at level.
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// printEventKey prints the /events/keys document of the node whose SQLite
// file is SQLITE_PATH, creating the key on first use.
func printEventKey(ctx context.Context, cfg *config.Config, stdout io.Writer) error {
	store, err := sqlitestore.Open(ctx, cfg.SQLitePath)
	if err != nil {
		return err
	}
	defer store.Close()
	sec, err := loadSecrets(ctx, store, cfg.PQCSigningKeyID)
	if err != nil {
		return err
	}
	b, err := eventsig.PublicKeysJSON(sec.signer)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}
