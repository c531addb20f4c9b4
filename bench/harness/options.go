package harness

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Scenario names, in the order a full run executes them.
const (
	ScenarioValidate = "validate"
	// ScenarioValidateDPoP validates a DPoP-bound token with a fresh ES256
	// proof per request, beside ScenarioValidate in the same steps.
	ScenarioValidateDPoP = "validate-dpop"
	ScenarioCeiling      = "ceiling"
	ScenarioBaseline     = "redis-baseline"
	ScenarioBatch        = "batch"
	ScenarioRevoke       = "revoke"
	ScenarioPropagation  = "propagation"
	// ScenarioRefreshCluster times POST /token/refresh on the issuing
	// node and on another node of a two-node cluster, in one run.
	ScenarioRefreshCluster = "refresh-cluster"
	ScenarioStartup        = "startup"
	ScenarioMemory         = "memory"
)

// AllScenarios lists every scenario in run order.
func AllScenarios() []string {
	return []string{ScenarioCeiling, ScenarioValidate, ScenarioValidateDPoP, ScenarioBaseline, ScenarioBatch,
		ScenarioRevoke, ScenarioPropagation, ScenarioRefreshCluster, ScenarioStartup, ScenarioMemory}
}

// Profile sizes a run: how long each step lasts and how much data is made.
type Profile struct {
	Name string
	// Warmup and Step are the durations of each load step's phases.
	Warmup, Step time.Duration
	// Rounds splits each step of the validate family into rounds that
	// alternate between the servers compared (ceiling, validate,
	// redis-baseline), so a burst of outside load hits them alike.
	Rounds int
	// QuietBudget is the total time the run may spend waiting for the
	// machine to be quiet before steps (0: never wait).
	QuietBudget time.Duration
	// Conns are the connection counts of the validate family; the
	// ratios' headline uses HeadlineConns.
	Conns         []int
	HeadlineConns int
	// BatchSizes are the tokens per batch request; BatchConns the
	// connections of the batch steps.
	BatchSizes []int
	BatchConns int
	// RevokeConns are the connection counts of the revoke steps.
	RevokeConns []int
	// ValidTokens is how many valid tokens are issued for the mix (the
	// other classes are sized from it).
	ValidTokens int
	// PropagationSamples is the number of revocations timed across nodes.
	PropagationSamples int
	// PropagationProbe bounds the wait for the first revocation to reach
	// the other nodes; past it the scenario is "not available".
	PropagationProbe time.Duration
	// StartupEntries is the number of active revocations pre-loaded for
	// the start-up and RSS measurement.
	StartupEntries int
	// IndexEntries is the in-process index size for the heap measurement
	// (only with Options.IndexMemory).
	IndexEntries int
}

// Profiles by name: full (make bench, < 10 min), quick (about a minute)
// and smoke (a few seconds, correctness only).
func Profiles() map[string]Profile {
	return map[string]Profile{
		"full": {Name: "full", Warmup: 1 * time.Second, Step: 9 * time.Second, Rounds: 3, QuietBudget: 2 * time.Minute, Conns: []int{8, 32, 64}, HeadlineConns: 32,
			BatchSizes: []int{100, 1000}, BatchConns: 8, RevokeConns: []int{64, 256}, ValidTokens: 2000,
			PropagationSamples: 300, PropagationProbe: 5 * time.Second, StartupEntries: 1_000_000, IndexEntries: 10_000_000},
		"quick": {Name: "quick", Warmup: 500 * time.Millisecond, Step: 2 * time.Second, Rounds: 1, QuietBudget: 10 * time.Second, Conns: []int{32}, HeadlineConns: 32,
			BatchSizes: []int{1000}, BatchConns: 8, RevokeConns: []int{128}, ValidTokens: 600,
			PropagationSamples: 50, PropagationProbe: 3 * time.Second, StartupEntries: 200_000, IndexEntries: 1_000_000},
		"smoke": {Name: "smoke", Warmup: 0, Step: 400 * time.Millisecond, Rounds: 1, Conns: []int{8}, HeadlineConns: 8,
			BatchSizes: []int{100}, BatchConns: 4, RevokeConns: []int{16}, ValidTokens: 120,
			PropagationSamples: 5, PropagationProbe: 2 * time.Second, StartupEntries: 5_000, IndexEntries: 100_000},
	}
}

// Options configure Run.
type Options struct {
	Profile Profile
	// Scenarios to run (nil: all). "validate" implies preparing the token
	// mix; "ceiling" and "redis-baseline" reuse it.
	Scenarios []string
	// ModuleDir is the repository root (found from the working directory
	// when empty).
	ModuleDir string
	// RevocdBin is a prebuilt revocd; empty means go build ./cmd/revocd.
	RevocdBin string
	// ExtraEnv is added to every revocd's environment (KEY=VALUE).
	ExtraEnv []string
	// RevokeRedis adds a revoke step with a Redis mirror (REDIS_URL).
	RevokeRedis bool
	// IndexMemory runs the in-process index heap measurement at
	// Profile.IndexEntries entries.
	IndexMemory bool
	// ResultsDir receives latest.json and latest.svg ("" : not written).
	ResultsDir string
	// Out receives the table; Progress the progress lines (either may be
	// nil).
	Out, Progress io.Writer
}

// wants reports whether scenario s is selected.
func (o *Options) wants(s string) bool {
	return len(o.Scenarios) == 0 || slices.Contains(o.Scenarios, s)
}

// ParseScenarios splits a comma list and checks every name.
func ParseScenarios(list string) ([]string, error) {
	if list == "" || list == "all" {
		return nil, nil
	}
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(AllScenarios(), s) {
			return nil, fmt.Errorf("unknown scenario %q (want %s)", s, strings.Join(AllScenarios(), ", "))
		}
		out = append(out, s)
	}
	return out, nil
}
