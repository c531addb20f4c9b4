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

// Modes (subcommands) of the revocd command.
const (
	modeServe    = "serve"
	modeConsume  = "consume"
	modeEventKey = "event-key"
	modeBackup   = "backup"
)

// Main parses args (without the program name) and runs the node until ctx
// ends. It returns the process exit code: 2 for configuration errors
// (including an insecure production configuration), 1 for runtime failures.
func Main(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	return MainIO(ctx, args, getenv, os.Stdout, stderr)
}

// MainIO is Main with an explicit standard output (for subcommands that
// print results). Subcommands: "consume" (the Kafka → Redis consumer
// service), "event-key" (print this node's event-signature public key,
// creating it on first use, for EVENT_TRUSTED_KEYS of other nodes) and
// "backup FILE [--force]" (an online backup of SQLITE_PATH).
//
// Every configuration error, whenever it is found, is a *config.Error; it
// is mapped to exit code 2 here and only here (see exitCode), so systemd's
// RestartPreventExitStatus=2 stops a node that cannot start as configured.
func MainIO(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	mode := modeServe
	if len(args) > 0 {
		switch args[0] {
		case modeServe, modeConsume, modeEventKey, modeBackup:
			mode, args = args[0], args[1:]
		}
	}
	fs := flag.NewFlagSet("revocd "+mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		if mode == modeBackup {
			fmt.Fprintf(stderr, "Usage: revocd backup [flags] FILE [--force]\n\nWrites a consistent copy of SQLITE_PATH to FILE while the node runs.\n\n")
		} else {
			fmt.Fprintf(stderr, "Usage: revocd [serve|consume|event-key|backup] [flags]\n\nEvery flag can also be set by the environment variable named in its help.\n\n")
		}
		fs.PrintDefaults()
	}
	var force *bool
	if mode == modeBackup {
		force = fs.Bool("force", false, "overwrite FILE if it exists")
	}
	var opts []config.LoadOption
	if mode != modeServe {
		opts = append(opts, config.WithoutServerSecrets())
	}
	switch mode {
	case modeConsume:
		opts = append(opts, config.Require("KAFKA_BOOTSTRAP", "REDIS_URL"),
			config.SkipFileChecks("TLS_CERT", "CLUSTER_TLS_CERT"))
	case modeEventKey, modeBackup:
		// They read only SQLITE_PATH; event-key runs before the trusted
		// keys file it helps build exists (docker-compose.yml, step 2).
		opts = append(opts, config.SkipFileChecks())
	}
	cfg, err := config.Load(fs, args, getenv, opts...)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "revocd: %v\n", err)
		return exitCode(err)
	}
	log := NewLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	var runErr error
	switch mode {
	case modeEventKey:
		if runErr = prepareSQLite(cfg.SQLitePath, log); runErr == nil {
			runErr = printEventKey(ctx, cfg, stdout)
		}
	case modeConsume:
		runErr = Consume(ctx, cfg, log)
	case modeBackup:
		runErr = backup(ctx, cfg, fs.Args(), *force, stdout, log)
	default:
		if runErr = prepareSQLite(cfg.SQLitePath, log); runErr == nil {
			runErr = Run(ctx, cfg, log, nil)
		}
	}
	if runErr != nil {
		log.Error("revocd failed", "err", runErr)
	}
	return exitCode(runErr)
}

// exitCode maps the outcome of a run to the process exit code: 2 for a
// configuration error (config.ErrInvalid, config.ErrInsecure), 1 for any
// other failure.
func exitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case config.IsConfig(err):
		return ExitConfig
	default:
		return ExitFailed
	}
}

// prepareSQLite creates SQLITE_PATH's directory (0700) and file (0600) when
// missing, before anything listens. Failing that is a configuration error
// naming SQLITE_PATH. An existing database that other users may read is
// allowed but logged as a warning: it holds every private key of the node.
func prepareSQLite(path string, log *slog.Logger) error {
	exposed, err := sqlitestore.Prepare(path)
	if err != nil {
		return config.Errorf("SQLITE_PATH", "SQLITE_PATH=%s: %w (create it, or set SQLITE_PATH to a writable location)", path, err)
	}
	for _, f := range exposed {
		log.Warn("SQLite file is accessible to other users; it holds the node's private keys: chmod 600 it",
			"path", f.Path, "mode", fmt.Sprintf("%#o", uint32(f.Mode)), "variable", "SQLITE_PATH")
	}
	return nil
}

// backup implements `revocd backup FILE [--force]`: an online, consistent
// copy of SQLITE_PATH, safe while the node runs (see sqlitestore.Backup).
// A missing FILE argument, a missing database, a FILE that exists (without
// --force) or whose directory cannot be created are configuration errors.
func backup(ctx context.Context, cfg *config.Config, args []string, force bool, stdout io.Writer, log *slog.Logger) error {
	// Go's flag package stops at FILE: accept --force after it too.
	var file string
	for _, a := range args {
		switch {
		case a == "--force" || a == "-force":
			force = true
		case file == "":
			file = a
		default:
			return &config.Error{Err: fmt.Errorf("backup: unexpected argument %q; usage: revocd backup [flags] FILE [--force]", a)}
		}
	}
	if file == "" {
		return &config.Error{Err: errors.New("backup: missing FILE; usage: revocd backup [flags] FILE [--force]")}
	}
	err := sqlitestore.Backup(ctx, cfg.SQLitePath, file, force)
	switch {
	case errors.Is(err, sqlitestore.ErrNoDatabase), errors.Is(err, sqlitestore.ErrBadPath):
		return config.Errorf("SQLITE_PATH", "backup: SQLITE_PATH=%s: %w", cfg.SQLitePath, err)
	case errors.Is(err, sqlitestore.ErrBackupExists), errors.Is(err, sqlitestore.ErrDirectory), errors.Is(err, sqlitestore.ErrCreate):
		return &config.Error{Err: fmt.Errorf("backup: FILE %s: %w", file, err)}
	case err != nil:
		return err
	}
	log.Info("backup written", "file", file, "from", cfg.SQLitePath)
	_, err = fmt.Fprintln(stdout, file)
	return err
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
