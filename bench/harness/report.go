package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Step is one measured load step.
type Step struct {
	Scenario string `json:"scenario"`
	Variant  string `json:"variant"`
	Conns    int    `json:"conns"`
	// Unit names what Throughput counts: req, tokens or revocations.
	Unit           string  `json:"unit"`
	Seconds        float64 `json:"seconds"`
	Requests       int64   `json:"requests"`
	Items          int64   `json:"items"`
	RequestsPerSec float64 `json:"requests_per_sec"`
	// Throughput is Items per second.
	Throughput float64 `json:"throughput"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	P999ms     float64 `json:"p999_ms"`
	MaxMs      float64 `json:"max_ms"`
	// ServerCPUus is the CPU time the measured servers (revocd, or the
	// reference server and its redis-server) used per request, and
	// ClientCPUus the load generator's: unlike throughput, they do not
	// depend on what else the machine is doing.
	ServerCPUus float64 `json:"server_cpu_us_per_req"`
	ClientCPUus float64 `json:"client_cpu_us_per_req"`
	// OthersCPUPct is the share of the machine's CPU used by processes
	// outside this benchmark during the step (noise).
	OthersCPUPct float64 `json:"others_cpu_pct"`
	// Errors counts wrong answers and transport errors (a subset, also
	// in TransportErrors). Any error fails the run.
	Errors          int64    `json:"errors"`
	TransportErrors int64    `json:"transport_errors"`
	Examples        []string `json:"examples,omitempty"`
	Note            string   `json:"note,omitempty"`
}

func (s *Step) setLatency(h *hdrhistogram.Histogram) {
	if h.TotalCount() == 0 {
		return
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	s.P50ms, s.P99ms, s.P999ms = ms(h.ValueAtQuantile(50)), ms(h.ValueAtQuantile(99)), ms(h.ValueAtQuantile(99.9))
	s.MaxMs = ms(h.Max())
}

// Measure is a single-valued result (start-up time, bytes per entry,
// propagation latency) with the target it is compared with.
type Measure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Note  string  `json:"note,omitempty"`
}

// Target is the verdict on one README performance target.
type Target struct {
	Name     string  `json:"name"`
	Measured float64 `json:"measured"`
	// Op and Bound express the target: Measured Op Bound (">=" or "<=").
	Op    string  `json:"op"`
	Bound float64 `json:"bound"`
	Unit  string  `json:"unit"`
	// Status is PASS, MISS or N/A (not measured in this run).
	Status string `json:"status"`
	Note   string `json:"note,omitempty"`
}

// Unavailable records a scenario that could not run on this build.
type Unavailable struct {
	Scenario string `json:"scenario"`
	Reason   string `json:"reason"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs        int    `json:"cpus"`
	GOMAXPROCS  int    `json:"gomaxprocs"`
	CPUModel    string `json:"cpu_model"`
	Kernel      string `json:"kernel"`
	GoVersion   string `json:"go_version"`
	LoadBefore  string `json:"loadavg_before"`
	LoadAfter   string `json:"loadavg_after"`
	MemTotalGiB int    `json:"mem_total_gib"`
}

// Report is everything one run measured.
type Report struct {
	Profile     string        `json:"profile"`
	Started     time.Time     `json:"started"`
	Seconds     float64       `json:"seconds"`
	Machine     Machine       `json:"machine"`
	Steps       []Step        `json:"steps"`
	Measures    []Measure     `json:"measures"`
	Targets     []Target      `json:"targets"`
	Unavailable []Unavailable `json:"unavailable,omitempty"`
	// Errors are correctness failures and scenario failures; any makes the
	// run fail.
	Errors []string `json:"errors,omitempty"`
}

// Failed reports whether any answer was wrong or a scenario broke.
func (r *Report) Failed() bool {
	if len(r.Errors) > 0 {
		return true
	}
	for _, s := range r.Steps {
		if s.Errors > 0 {
			return true
		}
	}
	return false
}

// step returns the first step of scenario with conns (0: any).
func (r *Report) step(scenario string, conns int) (Step, bool) {
	for _, s := range r.Steps {
		if s.Scenario == scenario && (conns == 0 || s.Conns == conns) {
			return s, true
		}
	}
	return Step{}, false
}

// measure returns the named measure.
func (r *Report) measure(name string) (Measure, bool) {
	for _, m := range r.Measures {
		if m.Name == name {
			return m, true
		}
	}
	return Measure{}, false
}

// writeJSON writes the report to path, creating its directory.
func (r *Report) writeJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
