package harness

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// writeTable prints the human-readable report.
func writeTable(w io.Writer, r *Report) {
	m := r.Machine
	fmt.Fprintf(w, "\nrevocd benchmark — profile %s — %s — %.0f s\n", r.Profile, r.Started.Format("2006-01-02 15:04:05"), r.Seconds)
	fmt.Fprintf(w, "machine: %d CPUs (%s), GOMAXPROCS %d, %d GiB, Linux %s, %s; load avg before %s, after %s\n",
		m.CPUs, m.CPUModel, m.GOMAXPROCS, m.MemTotalGiB, m.Kernel, m.GoVersion, m.LoadBefore, m.LoadAfter)
	fmt.Fprintf(w, "note: servers and load generator share these CPUs over loopback (shared, noisy machine): compare ratios, not absolutes.\n")
	fmt.Fprintf(w, "srv/gen µs/req: CPU time of the measured server processes / of the load generator per request; others: machine CPU used by unrelated processes.\n\n")

	if len(r.Steps) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "scenario\tvariant\tthroughput\tunit\treq/s\tp50 ms\tp99 ms\tp99.9 ms\tmax ms\tsrv µs/req\tgen µs/req\tothers\terrors\t")
		for _, s := range r.Steps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s/s\t%s\t%.3f\t%.3f\t%.3f\t%.1f\t%.1f\t%.1f\t%.0f%%\t%d\t\n", s.Scenario, s.Variant,
				thousands(s.Throughput), s.Unit, thousands(s.RequestsPerSec), s.P50ms, s.P99ms, s.P999ms, s.MaxMs,
				s.ServerCPUus, s.ClientCPUus, s.OthersCPUPct, s.Errors)
		}
		tw.Flush()
	}

	var ratios []string
	for _, s := range r.Steps {
		if s.Scenario != ScenarioValidate {
			continue
		}
		for _, other := range []string{ScenarioCeiling, ScenarioBaseline} {
			if v, ok := r.ratio(other, s.Conns); ok {
				c, _ := r.cpuRatio(other, s.Conns)
				ratios = append(ratios, fmt.Sprintf("validate/%s c=%d: %.2fx (CPU-time estimate %.2fx)", other, s.Conns, v, c))
			}
		}
	}
	if len(ratios) > 0 {
		fmt.Fprintf(w, "\nratios:\n  %s\n", strings.Join(ratios, "\n  "))
	}
	if len(r.Measures) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, x := range r.Measures {
			fmt.Fprintf(tw, "%s\t%.3f %s\t%s\n", x.Name, x.Value, x.Unit, x.Note)
		}
		tw.Flush()
	}

	fmt.Fprintf(w, "\ntargets (README.md, Performance, Targets):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, t := range r.Targets {
		measured := "-"
		if t.Status != statusNA || t.Measured != 0 {
			measured = formatValue(t.Measured) + " " + t.Unit
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s %s %s\t%s\n", t.Status, t.Name, measured, t.Op, formatValue(t.Bound), t.Unit, t.Note)
	}
	tw.Flush()
	for _, u := range r.Unavailable {
		fmt.Fprintf(w, "\nNOT AVAILABLE %s: %s\n", u.Scenario, u.Reason)
	}
	for _, s := range r.Steps {
		for _, e := range s.Examples {
			fmt.Fprintf(w, "WRONG ANSWER %s %s: %s\n", s.Scenario, s.Variant, e)
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "ERROR %s\n", e)
	}
	verdict := "PASS (no wrong answer)"
	if r.Failed() {
		verdict = "FAIL (wrong answers or scenario errors: see above)"
	}
	fmt.Fprintf(w, "\nresult: %s\n", verdict)
}

// formatValue prints large values with separators and small ones with
// three significant digits.
func formatValue(v float64) string {
	if math.Abs(v) >= 100 {
		return thousands(v)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// thousands formats v rounded, with thousands separators; small values
// keep decimals.
func thousands(v float64) string {
	if v < 10 && v != float64(int64(v)) {
		return fmt.Sprintf("%.2f", v)
	}
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
