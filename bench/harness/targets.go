package harness

import (
	"fmt"
	"strings"
)

// Target statuses.
const (
	statusPass = "PASS"
	statusMiss = "MISS"
	statusNA   = "N/A"
)

// ratio is validate's request rate over another server's at conns.
func (r *Report) ratio(other string, conns int) (float64, bool) {
	v, ok1 := r.step(ScenarioValidate, conns)
	o, ok2 := r.step(other, conns)
	if !ok1 || !ok2 || o.RequestsPerSec == 0 {
		return 0, false
	}
	return v.RequestsPerSec / o.RequestsPerSec, true
}

// cpuRatio estimates the same ratio from CPU time per request (server
// plus load generator): what the throughput ratio would be on a machine
// whose two cores served only this benchmark.
func (r *Report) cpuRatio(other string, conns int) (float64, bool) {
	v, ok1 := r.step(ScenarioValidate, conns)
	o, ok2 := r.step(other, conns)
	vc, oc := v.ServerCPUus+v.ClientCPUus, o.ServerCPUus+o.ClientCPUus
	if !ok1 || !ok2 || vc == 0 || oc == 0 {
		return 0, false
	}
	return oc / vc, true
}

// cpuCapacity is the items per second the step's CPU cost per request
// (server plus load generator) allows on cpus otherwise idle CPUs.
func cpuCapacity(s Step, cpus int) float64 {
	perReq := s.ServerCPUus + s.ClientCPUus
	if perReq <= 0 || s.Requests == 0 {
		return 0
	}
	return float64(s.Items) / float64(s.Requests) * float64(cpus) * 1e6 / perReq
}

// evaluateTargets compares the report with the README's performance targets.
func evaluateTargets(r *Report, p Profile) []Target {
	var ts []Target
	add := func(name string, measured float64, ok bool, op string, bound float64, unit, note string) {
		t := Target{Name: name, Measured: measured, Op: op, Bound: bound, Unit: unit, Status: statusNA, Note: note}
		if ok {
			pass := (op == ">=" && measured >= bound) || (op == "<=" && measured <= bound)
			t.Status = map[bool]string{true: statusPass, false: statusMiss}[pass]
		}
		ts = append(ts, t)
	}
	hc := p.HeadlineConns
	cpuNote := func(other string) string {
		note := fmt.Sprintf("req/s ratio at %d connections", hc)
		if c, ok := r.cpuRatio(other, hc); ok {
			note += fmt.Sprintf("; CPU-time estimate %.2fx", c)
		}
		return note
	}
	v, ok := r.ratio(ScenarioCeiling, hc)
	add("validate vs fixed-body ceiling", v, ok, ">=", 0.7, "x", cpuNote(ScenarioCeiling))
	v, ok = r.ratio(ScenarioBaseline, hc)
	add("validate vs Redis-per-request", v, ok, ">=", 2.5, "x", cpuNote(ScenarioBaseline))

	best, found, est := 0.0, false, 0.0
	for _, s := range r.Steps {
		if s.Scenario == ScenarioBatch {
			est = max(est, cpuCapacity(s, r.Machine.CPUs))
			if s.Throughput > best {
				best, found = s.Throughput, true
			}
		}
	}
	add("batch validation", best, found, ">=", 300_000, "tokens/s", fmt.Sprintf("best batch size; CPU-time estimate %s/s", thousands(est)))

	best, found, est = 0, false, 0
	for _, s := range r.Steps {
		if s.Scenario == ScenarioRevoke && strings.HasPrefix(s.Variant, "embedded") {
			est = max(est, cpuCapacity(s, r.Machine.CPUs))
			if s.Throughput > best {
				best, found = s.Throughput, true
			}
		}
	}
	add("durable revocations (embedded)", best, found, ">=", 10_000, "/s",
		fmt.Sprintf("best connection count; CPU-time bound %s/s (fsync waits not included)", thousands(est)))

	full, fullFound := 0.0, false
	for _, s := range r.Steps {
		if s.Scenario == ScenarioRevoke && strings.HasPrefix(s.Variant, "redis+kafka") && s.Throughput > full {
			full, fullFound = s.Throughput, true
		}
	}
	fr := 0.0
	if fullFound && found && best > 0 {
		fr = full / best
	}
	add("durable revocations, Redis+Kafka vs embedded", fr, fullFound && found && best > 0, ">=", 0.5, "x",
		fmt.Sprintf("best connection count each, same run (%s/s)", thousands(full)))
	m, ok := r.measure("kafka bytes per event")
	add("bytes per event on the topic", m.Value, ok, "<=", 600, "B", "compressed record batches as stored")

	m, ok = r.measure("propagation p99")
	add("propagation A→B,C p99 (remoting)", m.Value, ok, "<=", 5, "ms", "")
	m, ok = r.measure("propagation p99 (kafka)")
	add("propagation A→B,C p99 (Kafka only)", m.Value, ok, "<=", 20, "ms", "no cluster link; kfake on loopback")

	m, ok = r.measure("startup ready")
	note := ""
	if ok && p.StartupEntries < 1_000_000 {
		ok, note = false, fmt.Sprintf("measured with %s entries, target is at 1M", humanCount(p.StartupEntries))
	}
	add("start-up with 1M active revocations", m.Value, ok, "<=", 3, "s", note)

	m, ok = r.measure("index heap per entry")
	note = "in-process Go heap (-index-memory)"
	if ok && p.IndexEntries < 10_000_000 {
		ok, note = false, fmt.Sprintf("measured at %s entries, target is at 10M", humanCount(p.IndexEntries))
	}
	add("memory per revoked jti at 10M", m.Value, ok, "<=", 100, "B", note)

	var wrong int64
	for _, s := range r.Steps {
		wrong += s.Errors
	}
	add("wrong answers and scenario errors", float64(wrong+int64(len(r.Errors))), true, "<=", 0, "", "every answer is checked")
	return ts
}
