// Package cli implements revoctl's commands on top of package client.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/revocd/revocd/client"
)

// Exit codes of Run, for scripts.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // usage error, network error or other failure
	ExitInvalid = 2 // validate: the token is not valid
	ExitRevoked = 3 // validate: the token is revoked
	ExitAPI     = 4 // the API answered 4xx/5xx (the detail is printed)
)

// globals are the flags every command accepts, before or after its name.
type globals struct {
	url      string
	adminKey string
	output   string
	timeout  time.Duration
}

func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.url, "url", g.url, "revocd base URL (env REVOCD_URL)")
	fs.StringVar(&g.adminKey, "admin-key", g.adminKey, "admin API key for admin endpoints (env REVOCD_ADMIN_KEY)")
	fs.StringVar(&g.output, "output", g.output, "output format: human or json")
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "per-request timeout")
}

// app is the state one command runs with.
type app struct {
	ctx    context.Context
	g      globals
	c      *client.Client
	out    *printer
	stderr io.Writer
}

// command is one revoctl command (or a group with subcommands).
type command struct {
	name    string
	args    string // usage synopsis after the name
	summary string
	flags   func(fs *flag.FlagSet) // registers the command's own flags
	nargs   int                    // exact number of positional arguments
	run     func(a *app, args []string) error
	sub     []*command
}

// usageError is a command-line mistake: exit code 1 with the usage text.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// exitCode is an error that carries its own exit code and was already
// reported (validate's verdicts).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// Run runs revoctl with args (without the program name) and returns the
// process exit code.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	g := globals{url: getenv("REVOCD_URL"), adminKey: getenv("REVOCD_ADMIN_KEY"), output: "human", timeout: 10 * time.Second}
	if g.url == "" {
		g.url = client.DefaultURL
	}
	root := commands()
	fs := flag.NewFlagSet("revoctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, "revoctl", root)
			return ExitOK
		}
		fmt.Fprintf(stderr, "revoctl: %v\n", err)
		printUsage(stderr, "revoctl", root)
		return ExitFailure
	}
	rest := fs.Args()
	if len(rest) == 0 || rest[0] == "help" {
		w := stdout
		code := ExitOK
		if len(rest) == 0 {
			w, code = stderr, ExitFailure
		}
		printUsage(w, "revoctl", root)
		return code
	}
	cmd, path, rest, err := resolve(root, rest)
	if err != nil {
		fmt.Fprintf(stderr, "revoctl: %v\n", err)
		printUsage(stderr, "revoctl", root)
		return ExitFailure
	}
	return execute(ctx, cmd, path, rest, &g, stdout, stderr)
}

// resolve walks command groups down to a leaf command.
func resolve(cmds []*command, args []string) (*command, string, []string, error) {
	path := "revoctl"
	for {
		var found *command
		for _, c := range cmds {
			if len(args) > 0 && c.name == args[0] {
				found = c
			}
		}
		if found == nil {
			if len(args) == 0 {
				return nil, "", nil, fmt.Errorf("%s: missing subcommand", path)
			}
			return nil, "", nil, fmt.Errorf("%s: unknown command %q", path, args[0])
		}
		path += " " + found.name
		args = args[1:]
		if found.sub == nil {
			return found, path, args, nil
		}
		cmds = found.sub
	}
}

func execute(ctx context.Context, cmd *command, path string, args []string, g *globals, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if cmd.flags != nil {
		cmd.flags(fs)
	}
	g.register(fs)
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: %s %s\n\n%s\n\nFlags:\n", path, cmd.args, cmd.summary)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return ExitOK
	}
	if err == nil && len(pos) != cmd.nargs {
		err = usagef("want %d argument(s), got %d", cmd.nargs, len(pos))
	}
	if err == nil && g.output != "human" && g.output != "json" {
		err = usagef("--output: want human or json, got %q", g.output)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		usage(stderr)
		return ExitFailure
	}
	c, err := client.New(g.url, client.WithAdminKey(g.adminKey), client.WithTimeout(g.timeout))
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return ExitFailure
	}
	a := &app{ctx: ctx, g: *g, c: c, out: &printer{w: stdout, json: g.output == "json"}, stderr: stderr}
	return report(stderr, path, cmd.run(a, pos), usage)
}

// report maps a command's error to an exit code, printing it.
func report(stderr io.Writer, path string, err error, usage func(io.Writer)) int {
	var code exitCode
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &code):
		return int(code)
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		usage(stderr)
		return ExitFailure
	}
	if ae, ok := client.IsAPIError(err); ok {
		fmt.Fprintf(stderr, "%s: API error %d: %s\n", path, ae.Status, ae.Detail)
		return ExitAPI
	}
	fmt.Fprintf(stderr, "%s: %v\n", path, err)
	return ExitFailure
}

func printUsage(w io.Writer, path string, cmds []*command) {
	fmt.Fprintf(w, `Usage: %s [global flags] <command> [arguments] [flags]

revoctl talks to a revocd node's HTTP API.

Commands:
`, path)
	var walk func(prefix string, cs []*command)
	walk = func(prefix string, cs []*command) {
		for _, c := range cs {
			if c.sub != nil {
				walk(prefix+c.name+" ", c.sub)
				continue
			}
			line := strings.TrimSpace(prefix + c.name + " " + c.args)
			fmt.Fprintf(w, "  %s\n      %s\n", line, c.summary)
		}
	}
	walk("", cmds)
	fmt.Fprintf(w, `
Global flags (also accepted after the command):
  --url URL           revocd base URL (env REVOCD_URL, default %s)
  --admin-key KEY     admin API key (env REVOCD_ADMIN_KEY)
  --output FORMAT     human (default) or json
  --timeout DURATION  per-request timeout (default 10s)

Exit codes: 0 ok; 1 usage or network error; 2 validate: token invalid;
3 validate: token revoked; 4 API error (4xx/5xx, detail printed).
`, client.DefaultURL)
}
