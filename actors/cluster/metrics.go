package cluster

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the replicator's Prometheus collectors; all are safe for
// concurrent use.
type metrics struct {
	connected *prometheus.GaugeVec
	lag       *prometheus.GaugeVec
	sent      *prometheus.CounterVec
	skipped   *prometheus.CounterVec
	resent    *prometheus.CounterVec
	// suppressed counts Hellos that did not start a resend round at once.
	suppressed *prometheus.CounterVec
	received   *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	ingestErr  *prometheus.CounterVec
	// ingestDelay is receipt-to-applied time of received batches.
	ingestDelay prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "revocd_cluster_peer_connected", Help: "1 while the peer is connected (a message from it arrived recently), else 0.",
		}, []string{"peer"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "revocd_cluster_peer_lag_events", Help: "Events this node holds that the peer's last digest lacks.",
		}, []string{"peer"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocd_cluster_events_sent_total", Help: "Local events broadcast live to a peer.",
		}, []string{"peer"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocd_cluster_broadcast_skipped_total", Help: "Local events not broadcast because the peer was disconnected (delivered later by anti-entropy).",
		}, []string{"peer"}),
		resent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocd_cluster_resent_total", Help: "Events resent to a peer by anti-entropy.",
		}, []string{"peer"}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocd_cluster_resends_suppressed_total",
			Help: "Resend requests (Hellos) from a peer that did not start a resend round at once: a round to that peer ran less than the resend interval ago and was not being continued. The newest is answered when the interval ends.",
		}, []string{"peer"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocd_cluster_events_received_total", Help: "Events received from a peer, before deduplication and verification.",
		}, []string{"peer"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocd_cluster_messages_rejected_total", Help: "Peer connections, frames and messages refused or ignored, by reason (unknown_peer, queue_full, frame_too_large, message_too_large, batch_too_large, malformed, unknown_type, unknown_target, tls_handshake).",
		}, []string{"reason"}),
		ingestErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revocd_cluster_ingest_errors_total", Help: "Ingest calls for peer events that returned an error (dropped events are also counted in revocd_events_dropped_total).",
		}, []string{"peer"}),
		ingestDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "revocd_cluster_ingest_seconds",
			Help:    "Time from receiving a peer's batch to its events being durable and applied (queueing, verification, group commit).",
			Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, 1},
		}),
	}
	for _, c := range []prometheus.Collector{m.connected, m.lag, m.sent, m.skipped, m.resent, m.suppressed, m.received, m.rejected, m.ingestErr, m.ingestDelay} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("cluster: register metrics: %w", err)
		}
	}
	return m, nil
}
