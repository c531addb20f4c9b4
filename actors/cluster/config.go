package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/revocd/revocd/revocation"
)

// Replicator actor name: peers address it as NewPID(addr, Kind+"/"+ID).
const (
	Kind = "replicator"
	ID   = "1"
)

// Defaults of Config's tunables.
const (
	// DefaultSyncInterval is how often connected peers exchange digests.
	DefaultSyncInterval = 5 * time.Second
	// DefaultProbeInterval is how often a disconnected peer is probed.
	DefaultProbeInterval = time.Second
	// PageSize is the number of events per anti-entropy EventBatch.
	PageSize = 256
	// ResendBudget bounds the events resent to one peer per resend round;
	// the peer asks for more once it has applied them.
	ResendBudget = 8 * PageSize
)

// PIDFor returns the replicator PID of the node listening at addr.
func PIDFor(addr string) *actor.PID { return actor.NewPID(addr, Kind+"/"+ID) }

// Peer is one other node: its NODE_ID and the remoting address to reach it.
type Peer struct {
	ID   string
	Addr string
}

// Store is the read side of the audit log the replicator uses;
// *sqlitestore.Store implements it. Implementations must be safe for
// concurrent use.
type Store interface {
	MaxSeqByOrigin(ctx context.Context) (map[string]uint64, error)
	EventsFromOrigin(ctx context.Context, origin string, afterSeq uint64, limit int) ([]revocation.Event, error)
	CountEvents(ctx context.Context) (int64, error)
}

// Ingester verifies events received from source ("peer:<id>"), commits
// the valid ones durably and applies them. A nil error means every event
// is now stored; an error means some may not be. Each peer's worker calls
// it from one goroutine at a time (never from inside an actor's Receive),
// so it may block until the events are durable, e.g. by a request to an
// intake actor; calls for different peers run concurrently.
type Ingester interface {
	Ingest(ctx context.Context, events []revocation.Event, source string) error
}

// IngestFunc adapts a function to Ingester.
type IngestFunc func(ctx context.Context, events []revocation.Event, source string) error

// Ingest calls f.
func (f IngestFunc) Ingest(ctx context.Context, events []revocation.Event, source string) error {
	return f(ctx, events, source)
}

// Config configures a Node. NodeID, Engine (made by NewEngine), Store and
// Ingest are required.
type Config struct {
	NodeID string
	Peers  []Peer
	Engine *actor.Engine
	Store  Store
	Ingest Ingester
	// TLS, when set, is the client side of the cluster's mutual TLS
	// (the same config hollywood's remote uses); probes handshake with it.
	TLS      *tls.Config
	Logger   *slog.Logger
	Registry prometheus.Registerer
	// SyncInterval (DefaultSyncInterval when 0) paces digests; a peer
	// silent for 3 intervals counts as disconnected.
	SyncInterval time.Duration
	// ProbeInterval (DefaultProbeInterval when 0) paces reconnect probes.
	ProbeInterval time.Duration
	// StartupGrace (SyncInterval when 0) bounds how long a reachable peer
	// keeps the node's start-up catch-up (its Status Ready) pending.
	StartupGrace time.Duration
	// ResendInterval (SyncInterval/2 when 0) is the least time between two
	// resend rounds that sent events to one peer, unless the peer's digest
	// shows it applied all of the previous round and that round stopped at
	// its budget (a catch-up continues at once). Hellos that arrive sooner
	// are counted as suppressed; the newest is answered when the interval
	// ends. This bounds what spoofed Hellos can make a node resend to a
	// peer to ResendBudget events per interval; half the sync interval
	// leaves a peer's periodic Hellos, jitter included, unsuppressed.
	ResendInterval time.Duration
	// Announcement, when set, is this node's sealed event-key announcement
	// (eventsig.SealAnnouncement): it is sent to each peer with every
	// Hello.
	Announcement []byte
	// TrustAnnouncement, when set, checks a peer's sealed announcement
	// (its MAC under the cluster secret) and, if allowed accepts the
	// announced node id, trusts the announced key for that node's events
	// only. It returns the announced node id (when it could be read) and
	// an error if the key is not trusted. allowed accepts only configured
	// peers and, with TLS, only the node the connection's certificate
	// names. It runs on the replicator's goroutine and must not block.
	TrustAnnouncement func(data []byte, allowed func(nodeID string) bool) (string, error)
}

func (c *Config) validate() error {
	switch {
	case c.NodeID == "":
		return errors.New("cluster: NODE_ID is empty")
	case c.Engine == nil:
		return errors.New("cluster: no actor engine")
	case c.Engine.Address() == actor.LocalLookupAddr || c.Engine.Registry.GetPID(remoteKind, ID) == nil:
		return errors.New("cluster: actor engine has no remoting (CLUSTER_LISTEN): make it with cluster.NewEngine")
	case c.Store == nil || c.Ingest == nil || isNilFunc(c.Ingest):
		return errors.New("cluster: store and ingest are required")
	}
	seen := map[string]bool{}
	for _, p := range c.Peers {
		switch {
		case p.ID == "" || p.Addr == "":
			return fmt.Errorf("cluster: CLUSTER_PEERS: peer %q@%q: id and address are required", p.ID, p.Addr)
		case p.ID == c.NodeID:
			return fmt.Errorf("cluster: CLUSTER_PEERS: peer %q has this node's NODE_ID", p.ID)
		case p.Addr == c.Engine.Address():
			return fmt.Errorf("cluster: CLUSTER_PEERS: peer %q has this node's CLUSTER_LISTEN address %s", p.ID, p.Addr)
		case seen[p.ID]:
			return fmt.Errorf("cluster: CLUSTER_PEERS: peer %q listed twice", p.ID)
		}
		seen[p.ID] = true
	}
	if c.SyncInterval <= 0 {
		c.SyncInterval = DefaultSyncInterval
	}
	if c.ProbeInterval <= 0 {
		c.ProbeInterval = DefaultProbeInterval
	}
	if c.StartupGrace <= 0 {
		c.StartupGrace = c.SyncInterval
	}
	if c.ResendInterval <= 0 {
		c.ResendInterval = c.SyncInterval / 2
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	return nil
}

// isNilFunc reports whether in is a nil IngestFunc.
func isNilFunc(in Ingester) bool {
	f, ok := in.(IngestFunc)
	return ok && f == nil
}
