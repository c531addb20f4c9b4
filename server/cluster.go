package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/revocd/revocd/actors/cluster"
	"github.com/revocd/revocd/config"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/wire"
)

// clusterOptions are the cluster layer's settings (CLUSTER_*), read and
// checked once by clusterOptionsOf.
type clusterOptions struct {
	// NodeID (NODE_ID) is this node's id in the cluster.
	NodeID string
	// Listen (CLUSTER_LISTEN) is the remoting address; empty: a single
	// node, no cluster layer.
	Listen string
	// Peers (CLUSTER_PEERS) are the nodes replicated with.
	Peers []cluster.Peer
	// TLS is the remoting's mutual TLS (CLUSTER_TLS_*); nil: plaintext.
	TLS *tls.Config
	// Secret is CLUSTER_SECRET (config.DevClusterSecret in --dev when
	// unset); empty: no key announcements, trust only EVENT_TRUSTED_KEYS.
	Secret []byte
}

// clusterOptionsOf takes the cluster settings from cfg, loading the TLS
// files (see clusterTLS).
func clusterOptionsOf(cfg *config.Config) (clusterOptions, error) {
	tlsCfg, err := clusterTLS(cfg)
	if err != nil {
		return clusterOptions{}, err
	}
	peers := make([]cluster.Peer, len(cfg.ClusterPeers))
	for i, p := range cfg.ClusterPeers {
		peers[i] = cluster.Peer{ID: p.ID, Addr: p.Addr}
	}
	secret := cfg.ClusterSecret
	if secret == "" && cfg.Dev {
		secret = config.DevClusterSecret
	}
	return clusterOptions{NodeID: cfg.NodeID, Listen: cfg.ClusterListen, Peers: peers, TLS: tlsCfg, Secret: []byte(secret)}, nil
}

// clusterDeps are what the cluster layer needs from the node.
type clusterDeps struct {
	Options clusterOptions
	Engine  *actor.Engine
	Store   *sqlitestore.Store
	// Ingest is the node's intake (actors/intake.Client): it verifies
	// events received from peers (signature, replay) and commits them
	// through the audit writer; it returns once they are durable and
	// applied to the index.
	Ingest   cluster.Ingester
	Log      *slog.Logger
	Registry *prometheus.Registry
	// Verifier is the intake's event verifier: peers' announced keys are
	// trusted in it, each for its node's events only.
	Verifier *eventsig.Verifier
	// Signer is this node's event-signing key, announced to peers.
	Signer *eventsig.Signer
	// Trust is the node's announcement rule (shared with the Kafka
	// consumer); nil: one is made from Options.Secret and Verifier.
	Trust *eventsig.AnnouncementTrust
}

// clusterNode is the running cluster layer of a node.
type clusterNode interface {
	// Broadcast sends committed local events to every peer. It must not
	// block (it is called on the fan-out actor's goroutine).
	Broadcast(events []revocation.Event)
	// Status reports each peer for /ready.
	Status() map[string]wire.Check
	// Close stops the cluster layer.
	Close()
}

// newEngine returns the node's actor engine, with remoting on
// CLUSTER_LISTEN when set (mutual TLS when CLUSTER_TLS_* are set). The
// remoting listener starts with the replicator, in startCluster.
func newEngine(o clusterOptions) (*actor.Engine, error) {
	if o.Listen != "" {
		e, err := cluster.NewEngine(o.Listen, o.TLS)
		if err != nil {
			return nil, fmt.Errorf("server: CLUSTER_LISTEN %s: %w", o.Listen, err)
		}
		return e, nil
	}
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		return nil, fmt.Errorf("server: actor engine: %w", err)
	}
	return e, nil
}

// clusterTLS loads the mutual-TLS configuration of the remoting layer, nil
// when none of CLUSTER_TLS_CERT/KEY/CA is set. Both directions present the
// node certificate and require the other side's to chain to the CA; the
// dialling side also checks the peer certificate's name against the host of
// its CLUSTER_PEERS address, so node certificates need that name or IP as a
// SAN and both serverAuth and clientAuth usages (or none).
func clusterTLS(cfg *config.Config) (*tls.Config, error) {
	// config.Load has checked that CLUSTER_TLS_CERT, _KEY and _CA come
	// together, with CLUSTER_LISTEN, and that the files parse.
	if cfg.ClusterTLSCert == "" {
		return nil, nil
	}
	certPEM, err := os.ReadFile(cfg.ClusterTLSCert)
	if err != nil {
		return nil, fmt.Errorf("server: CLUSTER_TLS_CERT: %w", err)
	}
	keyPEM, err := os.ReadFile(cfg.ClusterTLSKey)
	if err != nil {
		return nil, fmt.Errorf("server: CLUSTER_TLS_KEY: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("server: CLUSTER_TLS_CERT/CLUSTER_TLS_KEY (%s, %s): %w", cfg.ClusterTLSCert, cfg.ClusterTLSKey, err)
	}
	caPEM, err := os.ReadFile(cfg.ClusterTLSCA)
	if err != nil {
		return nil, fmt.Errorf("server: CLUSTER_TLS_CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("server: CLUSTER_TLS_CA %s: no PEM certificate found", cfg.ClusterTLSCA)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{pair},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, nil
}

// startCluster starts replication with the configured peers (a no-op node
// without CLUSTER_LISTEN).
func startCluster(ctx context.Context, d clusterDeps) (clusterNode, error) {
	o := d.Options
	if o.Listen == "" {
		return singleNode{}, nil
	}
	if o.TLS == nil {
		d.Log.Warn("cluster traffic is neither encrypted nor authenticated: set CLUSTER_TLS_CERT, CLUSTER_TLS_KEY and CLUSTER_TLS_CA")
	}
	if len(o.Peers) == 0 {
		d.Log.Warn("CLUSTER_LISTEN is set but CLUSTER_PEERS is empty: this node only answers peers that are not configured, i.e. none")
	}
	ccfg := cluster.Config{
		NodeID: o.NodeID, Peers: o.Peers, Engine: d.Engine, Store: d.Store, Ingest: d.Ingest,
		TLS: o.TLS, Logger: d.Log, Registry: d.Registry,
	}
	if err := announceTrust(&ccfg, o, d); err != nil {
		return nil, err
	}
	n, err := cluster.Start(ctx, ccfg)
	if err != nil {
		return nil, fmt.Errorf("server: start cluster: %w", err)
	}
	return &multiNode{n: n}, nil
}

// announceTrust makes the node announce its event-signing key to its
// peers, sealed with CLUSTER_SECRET, and trust each peer's announced key
// for that peer's events only (a no-op without a secret).
func announceTrust(c *cluster.Config, o clusterOptions, d clusterDeps) error {
	if len(o.Secret) == 0 || d.Signer == nil || d.Verifier == nil {
		return nil
	}
	a, err := eventsig.SealAnnouncement(o.Secret, eventsig.Announcement{
		NodeID: o.NodeID, KeyID: d.Signer.KeyID(), Pub: d.Signer.PublicKey(), IssuedAt: time.Now().Unix(),
	})
	if err != nil {
		return fmt.Errorf("server: cluster key announcement: %w", err)
	}
	c.Announcement = a
	trust, log := d.Trust, d.Log
	if trust == nil {
		trust = eventsig.NewAnnouncementTrust(o.Secret, d.Verifier, o.NodeID)
	}
	c.TrustAnnouncement = func(data []byte, allowed func(string) bool) (string, error) {
		an, fresh, err := trust.Accept(data, allowed)
		if err != nil {
			return an.NodeID, err
		}
		if fresh {
			log.Info("trusting peer event key", "peer", an.NodeID, "key_id", an.KeyID)
		}
		return an.NodeID, nil
	}
	return nil
}

// multiNode adapts cluster.Node to clusterNode.
type multiNode struct{ n *cluster.Node }

func (m *multiNode) Broadcast(events []revocation.Event) { m.n.Broadcast(events) }

// Status reports "peer:<id>" checks. OK is false only while this node is
// still catching up with a reachable peer after its start (bounded by the
// cluster's start-up grace); a disconnected peer is OK with Detail
// "disconnected (...)": this node keeps validating from its own index and
// accepting revocations, and the peer converges by anti-entropy when it
// returns. Detail also gives the peer's lag ("connected, lag=0 events").
func (m *multiNode) Status() map[string]wire.Check {
	out := map[string]wire.Check{}
	for _, s := range m.n.Status() {
		out["peer:"+s.ID] = wire.Check{OK: s.Settled && s.Problem == "", Detail: s.Detail()}
	}
	return out
}

func (m *multiNode) Close() { m.n.Close() }

type singleNode struct{}

func (singleNode) Broadcast([]revocation.Event)  {}
func (singleNode) Status() map[string]wire.Check { return nil }
func (singleNode) Close()                        {}
