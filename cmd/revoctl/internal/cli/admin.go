package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/revocd/revocd/client"
)

func keysRotateCmd() *command {
	return &command{
		name: "rotate", summary: "make a fresh token signing key current (admin)",
		run: func(a *app, _ []string) error {
			res, err := a.c.RotateKey(a.ctx)
			if err != nil {
				return err
			}
			return a.out.result(res, field{"rotated", res.Rotated}, field{"kid", res.Kid})
		},
	}
}

func keysJWKSCmd() *command {
	return &command{
		name: "jwks", summary: "print the public token keys (JWKS)",
		run: func(a *app, _ []string) error {
			raw, err := a.c.JWKS(a.ctx)
			if err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := json.Indent(&buf, raw, "", "  "); err != nil {
				return fmt.Errorf("JWKS is not JSON: %w", err)
			}
			_, err = fmt.Fprintln(a.out.w, buf.String())
			return err
		},
	}
}

func eventsTailCmd() *command {
	var after int64
	var limit int
	var follow, state bool
	var interval time.Duration
	return &command{
		name: "tail", args: "[--after N] [--limit M] [--follow] [--state]",
		summary: "print committed revocation events after feed position N (admin)",
		flags: func(fs *flag.FlagSet) {
			fs.Int64Var(&after, "after", 0, "feed position to start after")
			fs.IntVar(&limit, "limit", 100, "events per request (1-1000)")
			fs.BoolVar(&follow, "follow", false, "keep polling for new events until interrupted")
			fs.DurationVar(&interval, "interval", time.Second, "poll interval with --follow")
			fs.BoolVar(&state, "state", false, "also print the cluster's replicated-state events (key_state, refresh_state)")
		},
		run: func(a *app, _ []string) error {
			if limit < 1 || limit > 1000 || interval <= 0 {
				return usagef("--limit must be 1-1000 and --interval positive")
			}
			return tail(a, after, limit, follow, state, interval)
		},
	}
}

// tail prints pages of the feed; with follow it polls until a.ctx ends.
// Network errors while following are reported and retried; API errors stop.
// Replicated-state events (key_state, refresh_state) are printed only with
// state: they are cluster state in the signed log, not revocations.
func tail(a *app, after int64, limit int, follow, state bool, interval time.Duration) error {
	for {
		page, err := a.c.Events(a.ctx, after, limit)
		switch {
		case a.ctx.Err() != nil && follow:
			return nil
		case err != nil:
			if _, api := client.IsAPIError(err); api || !follow {
				return err
			}
			fmt.Fprintf(a.stderr, "revoctl events tail: %v (retrying)\n", err)
		default:
			for i := range page.Events {
				if page.Events[i].Type.IsState() && !state {
					continue
				}
				if err := printEvent(a, &page.Events[i]); err != nil {
					return err
				}
			}
			after = page.Next
			if len(page.Events) == limit {
				continue // more is waiting
			}
			if !follow {
				return nil
			}
		}
		select {
		case <-a.ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

func printEvent(a *app, e *client.Event) error {
	text := fmt.Sprintf("%s  %-10s %s  origin=%s seq=%d event_id=%s",
		e.Time().UTC().Format(time.RFC3339Nano), e.Type, e.Value, e.Origin, e.Seq, e.EventID)
	if e.Reason != "" {
		text += fmt.Sprintf(" reason=%q", e.Reason)
	}
	return a.out.line(e, text)
}

func healthCmd() *command {
	return &command{
		name: "health", summary: "check that the node is up",
		run: func(a *app, _ []string) error {
			res, err := a.c.Health(a.ctx)
			if err != nil {
				return err
			}
			if err := a.out.result(res, field{"ok", res.OK}); err != nil {
				return err
			}
			if !res.OK {
				return errors.New("node reports ok=false")
			}
			return nil
		},
	}
}

func readyCmd() *command {
	return &command{
		name: "ready", summary: "show per-dependency readiness (exit 4 when not ready)",
		run: func(a *app, _ []string) error {
			res, err := a.c.Ready(a.ctx)
			if res != nil {
				fields := []field{{"ready", res.Ready}}
				for _, name := range sortedChecks(res.Checks) {
					c := res.Checks[name]
					v := "ok"
					if !c.OK {
						v = "FAIL"
					}
					if c.Detail != "" {
						v += " (" + c.Detail + ")"
					}
					fields = append(fields, field{"  " + name, v})
				}
				if perr := a.out.result(res, fields...); perr != nil {
					return perr
				}
			}
			return err
		},
	}
}

func sortedChecks(m map[string]client.Check) []string {
	return slices.Sorted(maps.Keys(m))
}
