package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/remote"
)

// TestSlowIngestDoesNotStallOtherPeers: each peer's batches are ingested
// by that peer's worker, so an Ingest call that does not return for peer
// b's events delays neither peer c's events nor the replicator (Status,
// Hellos); b's events are applied once its call returns.
func TestSlowIngestDoesNotStallOtherPeers(t *testing.T) {
	aAddr, bAddr, cAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	var a *testNode
	blocked, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release) // before the node closes: Close abandons, not awaits
	slowB := func(cfg *Config) {
		cfg.Ingest = IngestFunc(func(ctx context.Context, events []revocation.Event, source string) error {
			if source == "peer:b" {
				select {
				case blocked <- struct{}{}:
				default:
				}
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return a.ingest(ctx, events, source)
		})
	}
	a = startTestNode(t, "a", aAddr, map[string]string{"b": bAddr, "c": cAddr}, nil, slowB)
	r := rogue(t)
	r.Send(PIDFor(aAddr), &remote.EventBatch{NodeId: "b", Events: ToProto([]revocation.Event{event("b", 1)})})
	select {
	case <-blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("b's events never reached Ingest")
	}
	r.Send(PIDFor(aAddr), &remote.EventBatch{NodeId: "c", Events: ToProto([]revocation.Event{event("c", 1), event("c", 2)})})
	eventually(t, 5*time.Second, "c's events applied while b's Ingest is stuck", func() bool { return a.store.count("c") == 2 })
	r.Send(PIDFor(aAddr), &remote.Hello{NodeId: "c", Have: map[string]uint64{"a": 0}})
	eventually(t, 5*time.Second, "the replicator takes c's Hello", func() bool { return a.node.peerDigest("c") != nil })
	if n := a.store.count("b"); n != 0 {
		t.Fatalf("b's events applied before its Ingest returned: %d", n)
	}
	release <- struct{}{} // not closed yet: the deferred close still runs
	eventually(t, 5*time.Second, "b's events applied once its Ingest returns", func() bool { return a.store.count("b") == 1 })
}
