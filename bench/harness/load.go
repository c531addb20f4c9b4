package harness

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"
)

// Workload produces the requests of a load step and checks every answer.
type Workload interface {
	// NewWorker returns the generator of worker id; a worker is used by
	// one goroutine only.
	NewWorker(id int) Worker
}

// Worker generates one closed-loop client's requests.
type Worker interface {
	// Next returns the body of the next request, valid until the next call.
	Next() []byte
	// Check verifies the answer to the last request and returns how many
	// items (tokens, revocations) it carried. A wrong answer is an error.
	Check(status int, body []byte) (items int, err error)
}

// LoadSpec is one load step: conns closed-loop workers, one connection
// each, POSTing to Addr+Path for Duration after Warmup.
type LoadSpec struct {
	Scenario string
	Variant  string
	Unit     string // what Items count: "req", "tokens", "revocations"
	Addr     string
	Path     string
	Conns    int
	Warmup   time.Duration
	Duration time.Duration
	// PIDs are the server processes whose CPU time is attributed to the
	// step.
	PIDs []int
}

// maxExamples bounds the wrong answers kept for the report.
const maxExamples = 5

// loadCounters are shared by the workers of one step.
type loadCounters struct {
	requests  atomic.Int64
	items     atomic.Int64
	wrong     atomic.Int64
	transport atomic.Int64

	mu       sync.Mutex
	examples []string
}

func (c *loadCounters) example(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.examples) < maxExamples {
		c.examples = append(c.examples, s)
	}
}

// runLoad runs spec against wl and returns the measured step. Wrong
// answers are counted in Step.Errors, never returned as an error.
func (r *runner) runLoad(ctx context.Context, spec LoadSpec, wl Workload) Step {
	var acc stepAccumulator
	acc.add(r.measureLoad(ctx, spec, wl))
	return acc.step()
}

// measureLoad runs one step (after waiting for a quiet machine) and
// returns its counters, latencies and CPU samples.
func (r *runner) measureLoad(ctx context.Context, spec LoadSpec, wl Workload) measured {
	r.waitQuiet(ctx)
	client := &fasthttp.HostClient{
		Addr: spec.Addr, MaxConns: spec.Conns, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
		MaxIdleConnDuration: time.Minute, NoDefaultUserAgentHeader: true, MaxConnWaitTimeout: 10 * time.Second,
		MaxResponseBodySize: 16 << 20, ReadBufferSize: 16 << 10,
	}
	defer client.CloseIdleConnections()
	workers := make([]Worker, spec.Conns)
	for i := range workers {
		workers[i] = wl.NewWorker(i)
	}
	label := spec.Scenario + " " + spec.Variant
	if spec.Warmup > 0 {
		r.progress.phase(label+" (warm-up)", spec.Warmup, nil)
		r.drive(ctx, client, spec, workers, spec.Warmup, &loadCounters{}, nil)
	}
	c := &loadCounters{}
	r.progress.phase(label, spec.Duration, &c.requests)
	hists := make([]*hdrhistogram.Histogram, spec.Conns)
	cpu0 := sampleCPU(spec.PIDs)
	elapsed := r.drive(ctx, client, spec, workers, spec.Duration, c, hists)
	cpu1 := sampleCPU(spec.PIDs)
	r.progress.done()

	h := newHist()
	for _, x := range hists {
		h.Merge(x)
	}
	st := Step{
		Scenario: spec.Scenario, Variant: spec.Variant, Conns: spec.Conns, Unit: spec.Unit,
		Seconds: elapsed.Seconds(), Requests: c.requests.Load(), Items: c.items.Load(),
		Errors: c.wrong.Load() + c.transport.Load(), TransportErrors: c.transport.Load(), Examples: c.examples,
	}
	return measured{step: st, hist: h, cpu0: cpu0, cpu1: cpu1}
}

// newHist returns a latency histogram in microseconds (1 µs .. 60 s).
func newHist() *hdrhistogram.Histogram { return hdrhistogram.New(1, 60_000_000, 3) }

// drive runs the workers for d and returns the wall time until the last
// one finished. hists, when not nil, receives each worker's latencies.
func (r *runner) drive(ctx context.Context, client *fasthttp.HostClient, spec LoadSpec, workers []Worker,
	d time.Duration, c *loadCounters, hists []*hdrhistogram.Histogram) time.Duration {
	uri := "http://" + spec.Addr + spec.Path
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i, w := range workers {
		var h *hdrhistogram.Histogram
		if hists != nil {
			h = newHist()
			hists[i] = h
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(ctx, client, uri, w, deadline, c, h)
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// maxRequestsPerWorker bounds a worker's loop whatever the clock does.
const maxRequestsPerWorker = 50_000_000

func work(ctx context.Context, client *fasthttp.HostClient, uri string, w Worker, deadline time.Time,
	c *loadCounters, h *hdrhistogram.Histogram) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.SetRequestURI(uri)
	req.Header.SetContentType("application/json")
	for range maxRequestsPerWorker {
		t0 := time.Now()
		if !t0.Before(deadline) || ctx.Err() != nil {
			return
		}
		req.SetBodyRaw(w.Next())
		err := client.Do(req, resp)
		lat := time.Since(t0)
		if err != nil {
			if c.transport.Add(1) == 1 {
				c.example(fmt.Sprintf("transport error: %v", err))
			}
			time.Sleep(time.Millisecond) // do not spin on a dead server
			continue
		}
		items, err := w.Check(resp.StatusCode(), resp.Body())
		c.requests.Add(1)
		c.items.Add(int64(items))
		if err != nil {
			c.wrong.Add(1)
			c.example(err.Error())
		}
		if h != nil {
			_ = h.RecordValue(max(lat.Microseconds(), 1))
		}
	}
}
