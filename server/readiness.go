package server

import (
	"context"
	"fmt"

	"github.com/revocd/revocd/actors/outbox"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/transport/wire"
)

// readiness gathers the node's /ready report (wire.Readiness; httpapi
// only renders it) from the components that know their own health.
type readiness struct {
	index   *index.Index
	sqlite  interface{ Ping(context.Context) error }
	prop    *propagation
	cluster clusterNode
}

// report is the /ready answer. Only the index and SQLite gate readiness:
// with Redis, Kafka or peers down the node still validates and accepts
// revocations (the outboxes hold the backlog), so those are reported with
// their reason but do not make the node unready.
func (r readiness) report(ctx context.Context) wire.Readiness {
	out := wire.Readiness{Checks: map[string]wire.Check{}}
	out.Checks["index"] = wire.Check{OK: r.index.Ready()}
	out.Checks["sqlite"] = checkOf(r.sqlite.Ping(ctx))
	out.Ready = out.Checks["index"].OK && out.Checks["sqlite"].OK
	r.prop.checks(ctx, &out)
	for name, ch := range r.cluster.Status() {
		out.Checks[name] = ch
	}
	return out
}

// checkOf is the check of a dependency that answered err to a ping.
func checkOf(err error) wire.Check {
	if err != nil {
		return wire.Check{OK: false, Detail: err.Error()}
	}
	return wire.Check{OK: true}
}

// deliveryCheck is the /ready entry of an outbox destination: not ok when
// its broker does not answer or lacks what delivery needs (pingErr), or
// when the last delivery attempt failed, with that error as the reason. A
// destination that answers pings but cannot deliver (a deleted topic, say)
// is not reported ok. It does not gate the node's readiness: the outbox
// holds the backlog and delivers it in order once the destination
// recovers.
func deliveryCheck(pingErr error, prog *outbox.Progress) wire.Check {
	if pingErr != nil {
		return wire.Check{OK: false, Detail: pingErr.Error()}
	}
	if prog != nil {
		if ok, lastErr := prog.Healthy(); !ok && lastErr != "" {
			return wire.Check{OK: false, Detail: fmt.Sprintf("cannot deliver (backlog %d): %s", prog.Backlog(), lastErr)}
		}
	}
	return wire.Check{OK: true}
}
