package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/revocation"
)

// newRegistry returns the node's Prometheus registry, served on /metrics,
// with the Go runtime and process collectors; every component registers
// its own collectors on it.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// nodeMetrics are the node-level collectors: the revocation index and the
// audit writer's group commits.
type nodeMetrics struct {
	batchRequests prometheus.Histogram
	batchEvents   prometheus.Histogram
	commitSeconds prometheus.Histogram
	// stateDropped counts received state events whose payload failed
	// validation (the audit writer's OnBadState hook).
	stateDropped *prometheus.CounterVec
	// keyRefused counts received key_state events the issuer refused, by
	// reason (the issuer's OnKeyRefused hook).
	keyRefused *prometheus.CounterVec
}

// refusedKey is the issuer's OnKeyRefused hook.
func (m *nodeMetrics) refusedKey(reason string) { m.keyRefused.WithLabelValues(reason).Inc() }

// droppedState is the audit writer's OnBadState hook.
func (m *nodeMetrics) droppedState(e *revocation.Event, _ error) {
	m.stateDropped.WithLabelValues(string(e.Type)).Inc()
}

func registerNodeMetrics(reg *prometheus.Registry, ix *index.Index) *nodeMetrics {
	m := &nodeMetrics{
		batchRequests: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "revocd_audit_batch_requests", Help: "Requests per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "revocd_audit_batch_events", Help: "Revocation events per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "revocd_audit_commit_seconds", Help: "Group commit latency (sign + write + fsync).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		stateDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocd_state_events_dropped_total", Help: "Received state events dropped for a payload that fails validation, by type.",
		}, []string{"type"}),
		keyRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocd_key_state_refused_total", Help: "Signing keys published by other nodes (key_state events) refused, by reason (conflict, revoked, too_many, invalid).",
		}, []string{"reason"}),
	}
	// The index's statistics are read on scrape (Stats takes each shard's
	// read lock briefly; never on the validation path).
	stat := func(f func(index.Stats) float64) func() float64 {
		return func() float64 { return f(ix.Stats()) }
	}
	for kind, f := range map[string]func(index.Stats) float64{
		"jti": func(s index.Stats) float64 { return float64(s.JTI) },
		"sub": func(s index.Stats) float64 { return float64(s.Sub) },
		"kid": func(s index.Stats) float64 { return float64(s.Kid) },
	} {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "revocd_index_entries", Help: "Revocation index entries by kind (including expired entries not yet swept).",
			ConstLabels: prometheus.Labels{"kind": kind},
		}, stat(f)))
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "revocd_index_bloom_rebuilds_total", Help: "Bloom filter rebuilds (growth and stale-bit cleanup)."},
			stat(func(s index.Stats) float64 { return float64(s.BloomRebuilds) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "revocd_index_bloom_false_positives_total", Help: "Bloom filter positives that found no entry."},
			stat(func(s index.Stats) float64 { return float64(s.BloomFalsePositives) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "revocd_index_ready", Help: "1 once the index finished loading."},
			func() float64 {
				if ix.Ready() {
					return 1
				}
				return 0
			}),
		m.batchRequests, m.batchEvents, m.commitSeconds, m.stateDropped, m.keyRefused,
	)
	return m
}

// observeCommit is the audit writer's Observe hook.
func (m *nodeMetrics) observeCommit(requests, events int, took time.Duration) {
	m.batchRequests.Observe(float64(requests))
	m.batchEvents.Observe(float64(events))
	m.commitSeconds.Observe(took.Seconds())
}
