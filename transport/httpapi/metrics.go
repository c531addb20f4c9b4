package httpapi

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// Metrics are the HTTP layer's Prometheus collectors. Safe for concurrent use.
type Metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	validations *prometheus.CounterVec
	handler     fasthttp.RequestHandler

	mu        sync.RWMutex
	observers map[string]prometheus.Observer
	counters  map[routeCode]prometheus.Counter
	outcomes  map[string]prometheus.Counter
}

type routeCode struct {
	route string
	code  int
}

// NewMetrics registers the HTTP collectors on reg and serves reg on
// /metrics. The node builds reg (with the runtime and process collectors)
// and registers its other components' collectors on it; nil gives a new,
// otherwise empty registry (tests).
func NewMetrics(reg *prometheus.Registry) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocd_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "revocd_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"route"}),
		validations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocd_validations_total", Help: "Token validations by outcome.",
		}, []string{"outcome"}),
		observers: map[string]prometheus.Observer{},
		counters:  map[routeCode]prometheus.Counter{},
		outcomes:  map[string]prometheus.Counter{},
	}
	for _, o := range []string{outcomeValid, outcomeRevoked, outcomeExpired, outcomeInvalid} {
		m.outcomes[o] = m.validations.WithLabelValues(o)
	}
	reg.MustRegister(m.requests, m.latency, m.validations)
	m.handler = fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return m
}

// Registry returns the registry other packages register their collectors on.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// observe records one request. The metric children are cached per route
// and status so the hot path does no label hashing or allocation.
func (m *Metrics) observe(route string, code int, start time.Time) {
	rc := routeCode{route, code}
	m.mu.RLock()
	o, c := m.observers[route], m.counters[rc]
	m.mu.RUnlock()
	if o == nil || c == nil {
		m.mu.Lock()
		if o = m.observers[route]; o == nil {
			o = m.latency.WithLabelValues(route)
			m.observers[route] = o
		}
		if c = m.counters[rc]; c == nil {
			c = m.requests.WithLabelValues(route, strconv.Itoa(code))
			m.counters[rc] = c
		}
		m.mu.Unlock()
	}
	o.Observe(time.Since(start).Seconds())
	c.Inc()
}

// validation outcomes
const (
	outcomeValid   = "valid"
	outcomeRevoked = "revoked"
	outcomeExpired = "expired"
	outcomeInvalid = "invalid"
)

func (m *Metrics) validation(outcome string) { m.outcomes[outcome].Inc() }
