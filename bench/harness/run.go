// Package harness is revocd's benchmark harness: it builds the real binary,
// starts what it measures (revocd nodes, redis-server, reference servers)
// on free loopback ports, drives closed-loop load with a fasthttp client,
// checks every answer, and reports throughput, latency and the ratios and
// targets of the README (Performance, Targets).
//
// cmd bench (package main in bench/) is the command line; e2e's smoke test
// calls Run with the smoke profile.
package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// runner holds the state of one Run.
type runner struct {
	opts     Options
	prof     Profile
	bins     binaries
	dir      string
	progress *progress
	rep      *Report
	// quietBudget is what is left of Profile.QuietBudget.
	quietBudget time.Duration
}

// Run executes the selected scenarios and returns the report. The error
// is for set-up failures (build, missing redis-server); wrong answers are
// in the report (Report.Failed).
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.ModuleDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		if opts.ModuleDir, err = FindModuleRoot(wd); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "revocd-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench: temp dir: %w", err)
	}
	defer os.RemoveAll(dir)

	r := &runner{opts: opts, prof: opts.Profile, dir: dir, progress: newProgress(opts.Progress),
		rep: &Report{Profile: opts.Profile.Name, Started: time.Now(), Machine: readMachine()}, quietBudget: opts.Profile.QuietBudget}
	r.progress.logf("building revocd and the reference server")
	if r.bins, err = buildBinaries(ctx, opts.ModuleDir, dir, opts.RevocdBin); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}

	steps := []struct {
		name string
		on   bool
		fn   func(context.Context) error
	}{
		{"validate family", opts.wants(ScenarioValidate) || opts.wants(ScenarioValidateDPoP) || opts.wants(ScenarioCeiling) || opts.wants(ScenarioBaseline) || opts.wants(ScenarioBatch), r.validateFamily},
		{ScenarioRevoke, opts.wants(ScenarioRevoke), r.revokeScenario},
		{ScenarioPropagation, opts.wants(ScenarioPropagation), r.propagationScenario},
		{ScenarioRefreshCluster, opts.wants(ScenarioRefreshCluster), r.refreshClusterScenario},
		{ScenarioStartup, opts.wants(ScenarioStartup) || opts.wants(ScenarioMemory), r.startupScenario},
		{"index memory", opts.IndexMemory && opts.wants(ScenarioMemory), r.indexMemory},
	}
	for _, s := range steps {
		if !s.on {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.fn(ctx); err != nil {
			if errors.Is(err, errNotAvailable) {
				reason := strings.TrimPrefix(err.Error(), errNotAvailable.Error()+": ")
				r.rep.Unavailable = append(r.rep.Unavailable, Unavailable{Scenario: s.name, Reason: reason})
				r.progress.logf("%s NOT AVAILABLE: %s", s.name, reason)
				continue
			}
			r.rep.Errors = append(r.rep.Errors, fmt.Sprintf("%s: %v", s.name, err))
			r.progress.logf("%s FAILED: %v", s.name, err)
		}
	}
	r.rep.Machine.LoadAfter = loadAvg()
	r.rep.Seconds = time.Since(r.rep.Started).Seconds()
	r.rep.Targets = evaluateTargets(r.rep, r.prof)

	if opts.Out != nil {
		writeTable(opts.Out, r.rep)
	}
	if opts.ResultsDir != "" {
		if err := r.rep.writeJSON(filepath.Join(opts.ResultsDir, "latest.json")); err != nil {
			return r.rep, err
		}
		if err := writeSVG(filepath.Join(opts.ResultsDir, "latest.svg"), r.rep); err != nil {
			return r.rep, err
		}
	}
	return r.rep, nil
}

// addStep records a measured step and logs a one-line summary.
func (r *runner) addStep(s Step) {
	r.rep.Steps = append(r.rep.Steps, s)
	r.progress.logf("%-15s %-12s %10.0f %s/s  p50 %.3f ms  p99 %.3f ms  errors %d",
		s.Scenario, s.Variant, s.Throughput, s.Unit, s.P50ms, s.P99ms, s.Errors)
	for _, e := range s.Examples {
		r.progress.logf("  wrong answer: %s", e)
	}
}

// addMeasure records a single-valued result.
func (r *runner) addMeasure(m Measure) {
	r.rep.Measures = append(r.rep.Measures, m)
	r.progress.logf("%-30s %.3f %s %s", m.Name, m.Value, m.Unit, m.Note)
}
