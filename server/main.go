package server

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/revocd/revocd/config"
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
	fs := flag.NewFlagSet("revocd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: revocd [flags]\n\nEvery flag can also be set by the environment variable named in its help.\n\n")
		fs.PrintDefaults()
	}
	cfg, err := config.Load(fs, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "revocd: %v\n", err)
		return ExitConfig
	}
	log := NewLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	if err := Run(ctx, cfg, log, nil); err != nil {
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
