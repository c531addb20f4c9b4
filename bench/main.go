// Command bench is revocd's benchmark harness (make bench, make
// bench-quick). It builds the real binary, starts what it measures on free
// loopback ports, drives load with a fasthttp client, checks every answer
// and prints a table of throughput, latency, ratios and README performance target
// verdicts; it also writes bench/results/latest.json and latest.svg.
//
// Exit status: 0 when every answer was right (targets missed are
// reported, not fatal, unless -strict), 1 on any wrong answer or broken
// scenario, 2 on bad usage.
//
//	go run ./bench                       # full run (< 10 min)
//	go run ./bench -profile quick        # about a minute
//	go run ./bench -scenario validate,ceiling
//	go run ./bench -revoke-redis -env KAFKA_BOOTSTRAP=127.0.0.1:9092
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/revocd/revocd/bench/harness"
)

// envList collects repeated -env KEY=VALUE flags.
type envList []string

func (e *envList) String() string { return strings.Join(*e, ",") }

func (e *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	*e = append(*e, v)
	return nil
}

func main() {
	os.Exit(run())
}

func run() int {
	profiles := harness.Profiles()
	var env envList
	profile := flag.String("profile", "full", "run size: full, quick or smoke")
	smoke := flag.Bool("smoke", false, "shorthand for -profile smoke (correctness only, a few seconds)")
	scenarios := flag.String("scenario", "all", "comma list of scenarios: "+strings.Join(harness.AllScenarios(), ", "))
	revocd := flag.String("revocd", "", "use this revocd binary instead of building ./cmd/revocd")
	revokeRedis := flag.Bool("revoke-redis", false, "add a revoke step with the Redis mirror on (starts redis-server)")
	indexMem := flag.Bool("index-memory", false, "measure the in-process index heap at the profile's index size (10M for full)")
	step := flag.Duration("step", 0, "override the duration of each load step")
	results := flag.String("results", "bench/results", "directory for latest.json and latest.svg (empty: none)")
	strict := flag.Bool("strict", false, "exit 1 when a README performance target is missed, too")
	flag.Var(&env, "env", "KEY=VALUE added to every revocd's environment (repeatable), e.g. REDIS_URL=...")
	flag.Parse()

	if *smoke {
		*profile = "smoke"
	}
	prof, ok := profiles[*profile]
	if !ok {
		fmt.Fprintf(os.Stderr, "bench: unknown -profile %q\n", *profile)
		return 2
	}
	if *step > 0 {
		prof.Step = *step
	}
	sc, err := harness.ParseScenarios(*scenarios)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()

	rep, err := harness.Run(ctx, harness.Options{
		Profile: prof, Scenarios: sc, RevocdBin: *revocd, ExtraEnv: env, RevokeRedis: *revokeRedis,
		IndexMemory: *indexMem, ResultsDir: *results, Out: os.Stdout, Progress: os.Stderr,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if *results != "" {
		fmt.Printf("wrote %s/latest.json and %s/latest.svg\n", *results, *results)
	}
	if rep.Failed() {
		return 1
	}
	if *strict && slices.ContainsFunc(rep.Targets, func(t harness.Target) bool { return t.Status == "MISS" }) {
		return 1
	}
	return 0
}
