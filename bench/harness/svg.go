package harness

import (
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// SVG layout.
const (
	svgLabelW = 190
	svgPanelW = 430
	svgGap    = 40
	svgRowH   = 22
	svgTop    = 84
)

// scenarioColor gives each scenario a fixed color.
func scenarioColor(s string) string {
	switch s {
	case ScenarioValidate:
		return "#2b7bb9"
	case ScenarioCeiling:
		return "#9e9e9e"
	case ScenarioBaseline:
		return "#d9822b"
	case ScenarioBatch:
		return "#3a9d5d"
	case ScenarioRevoke:
		return "#8e5ea2"
	}
	return "#555"
}

// logPos maps v onto [0, width] on a log10 axis from lo to hi.
func logPos(v, lo, hi, width float64) float64 {
	if v <= lo {
		return 0
	}
	return math.Min(1, math.Log10(v/lo)/math.Log10(hi/lo)) * width
}

// writeSVG draws throughput per step (log scale) and p50/p99 latency per
// step (log scale), with the target verdicts underneath.
func writeSVG(path string, r *Report) error {
	var b strings.Builder
	rows := len(r.Steps)
	height := svgTop + rows*svgRowH + 50 + 18*len(r.Targets) + 20
	width := svgLabelW + 2*svgPanelW + svgGap + 130
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="15" font-weight="bold">revocd benchmark (%s profile, %s)</text>`+"\n",
		html.EscapeString(r.Profile), r.Started.Format("2006-01-02 15:04"))
	fmt.Fprintf(&b, `<text x="10" y="38" fill="#555">%d CPUs, %s; servers and load generator share the machine over loopback</text>`+"\n",
		r.Machine.CPUs, html.EscapeString(r.Machine.GoVersion))

	x1 := float64(svgLabelW)
	x2 := x1 + svgPanelW + svgGap
	axis(&b, x1, "throughput per second (log)", 100, 1e6, []float64{1e2, 1e3, 1e4, 1e5, 1e6}, rows)
	axis(&b, x2, "latency ms: p50 (dark), p99 (light) (log)", 0.01, 1000, []float64{0.01, 0.1, 1, 10, 100, 1000}, rows)
	for i, s := range r.Steps {
		y := float64(svgTop + i*svgRowH)
		col := scenarioColor(s.Scenario)
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" text-anchor="end">%s %s</text>`+"\n", svgLabelW-8, y+14,
			html.EscapeString(s.Scenario), html.EscapeString(s.Variant))
		w := logPos(s.Throughput, 100, 1e6, svgPanelW)
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.1f" height="16" fill="%s"/>`+"\n", x1, y+2, w, col)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="#222">%s %s/s</text>`+"\n", x1+w+4, y+14, thousands(s.Throughput), s.Unit)
		w99 := logPos(s.P99ms, 0.01, 1000, svgPanelW)
		w50 := logPos(s.P50ms, 0.01, 1000, svgPanelW)
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.1f" height="16" fill="%s" opacity="0.35"/>`+"\n", x2, y+2, w99, col)
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.1f" height="16" fill="%s"/>`+"\n", x2, y+2, w50, col)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="#222">%.3f / %.3f</text>`+"\n", x2+w99+4, y+14, s.P50ms, s.P99ms)
	}
	y := svgTop + rows*svgRowH + 40
	fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">Targets (README.md, Performance)</text>`+"\n", y)
	for i, t := range r.Targets {
		col := map[string]string{statusPass: "#2e7d32", statusMiss: "#c62828"}[t.Status]
		if col == "" {
			col = "#777"
		}
		measured := "not measured"
		if t.Status != statusNA || t.Measured != 0 {
			measured = formatValue(t.Measured) + " " + t.Unit
		}
		fmt.Fprintf(&b, `<text x="10" y="%d"><tspan fill="%s" font-weight="bold">%s</tspan> %s: %s (target %s %s %s) %s</text>`+"\n",
			y+18*(i+1), col, t.Status, html.EscapeString(t.Name), html.EscapeString(measured), html.EscapeString(t.Op),
			formatValue(t.Bound), t.Unit, html.EscapeString(t.Note))
	}
	b.WriteString("</svg>\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("write chart: %w", err)
	}
	return nil
}

// axis draws a panel title and its log grid.
func axis(b *strings.Builder, x float64, title string, lo, hi float64, ticks []float64, rows int) {
	bottom := float64(svgTop + rows*svgRowH)
	fmt.Fprintf(b, `<text x="%.0f" y="%d" font-weight="bold">%s</text>`+"\n", x, svgTop-22, html.EscapeString(title))
	for _, t := range ticks {
		tx := x + logPos(t, lo, hi, svgPanelW)
		if t == lo {
			tx = x
		}
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%.0f" stroke="#ddd"/>`+"\n", tx, svgTop-4, tx, bottom)
		fmt.Fprintf(b, `<text x="%.1f" y="%.0f" text-anchor="middle" fill="#777" font-size="10">%s</text>`+"\n", tx, bottom+14, tickLabel(t))
	}
}

func tickLabel(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}
