package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/revocd/revocd/bench/harness"
)

// TestBenchSmoke runs every benchmark scenario for a fraction of a second
// against the binary TestMain built: it checks that the harness works and
// that every answer under concurrent load is right (a revoked token
// reported valid fails the test). It asserts nothing about speed. Needs
// redis-server (for the redis-baseline scenario).
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several processes; skipped with -short")
	}
	prof := harness.Profiles()["smoke"]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var progress strings.Builder
	rep, err := harness.Run(ctx, harness.Options{
		Profile: prof, ModuleDir: "..", RevocdBin: binPath, Progress: &progress,
	})
	if err != nil {
		t.Fatalf("bench harness: %v\n%s", err, progress.String())
	}
	if rep.Failed() {
		var out strings.Builder
		for _, s := range rep.Steps {
			for _, e := range s.Examples {
				out.WriteString(s.Scenario + " " + s.Variant + ": " + e + "\n")
			}
		}
		t.Fatalf("benchmark smoke run failed: %v\n%s\nprogress:\n%s", rep.Errors, out.String(), progress.String())
	}
	for _, want := range []string{harness.ScenarioCeiling, harness.ScenarioValidate, harness.ScenarioBaseline, harness.ScenarioBatch, harness.ScenarioRevoke} {
		found := false
		for _, s := range rep.Steps {
			if s.Scenario == want && s.Requests > 0 {
				found = true
			}
		}
		if !found {
			t.Errorf("scenario %s measured no request\n%s", want, progress.String())
		}
	}
	for _, u := range rep.Unavailable {
		t.Logf("not available: %s: %s", u.Scenario, u.Reason)
	}
}
