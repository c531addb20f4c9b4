package harness

import "github.com/HdrHistogram/hdrhistogram-go"

// measured is the raw outcome of one load run.
type measured struct {
	step       Step
	hist       *hdrhistogram.Histogram
	cpu0, cpu1 cpuSample
}

// stepAccumulator merges the rounds of one step into a single Step.
type stepAccumulator struct {
	st                    Step
	hist                  *hdrhistogram.Histogram
	servers, self         float64 // CPU µs
	othersWeighted, total float64 // others' busy share × seconds, seconds
	n                     int
}

func (a *stepAccumulator) add(m measured) {
	if a.n == 0 {
		a.st = m.step
		a.st.Examples = nil
		a.hist = newHist()
	} else {
		a.st.Seconds += m.step.Seconds
		a.st.Requests += m.step.Requests
		a.st.Items += m.step.Items
		a.st.Errors += m.step.Errors
		a.st.TransportErrors += m.step.TransportErrors
	}
	for _, e := range m.step.Examples {
		if len(a.st.Examples) < maxExamples {
			a.st.Examples = append(a.st.Examples, e)
		}
	}
	a.hist.Merge(m.hist)
	a.servers += float64((m.cpu1.servers - m.cpu0.servers).Microseconds())
	a.self += float64((m.cpu1.self - m.cpu0.self).Microseconds())
	if m.cpu1.total > m.cpu0.total {
		a.othersWeighted += othersPct(m.cpu0, m.cpu1) / 100 * m.step.Seconds
		a.total += m.step.Seconds
	}
	a.n++
}

// step returns the merged step with its rates, latencies and CPU columns.
func (a *stepAccumulator) step() Step {
	st := a.st
	if a.hist != nil {
		st.setLatency(a.hist)
	}
	if st.Seconds > 0 {
		st.RequestsPerSec = float64(st.Requests) / st.Seconds
		st.Throughput = float64(st.Items) / st.Seconds
	}
	if st.Requests > 0 {
		st.ServerCPUus = a.servers / float64(st.Requests)
		st.ClientCPUus = a.self / float64(st.Requests)
	}
	if a.total > 0 {
		st.OthersCPUPct = 100 * a.othersWeighted / a.total
	}
	if a.n > 1 {
		st.Note = "merged from alternating rounds"
	}
	return st
}
