package harness

import (
	"context"
	"fmt"
	"time"
)

// revokeScenario measures durable revocations per second over HTTP: many
// concurrent clients POST /revoke (a fresh jti each); every 200 means the
// event was committed to the audit log. With Options.RevokeRedis a second
// node mirrors to a fresh redis-server (REDIS_URL). Options.ExtraEnv (for
// example KAFKA_BOOTSTRAP) applies to every node.
func (r *runner) revokeScenario(ctx context.Context) error {
	variants := []struct {
		name  string
		redis bool
	}{{"embedded", false}}
	if r.opts.RevokeRedis {
		variants = append(variants, struct {
			name  string
			redis bool
		}{"redis", true})
	}
	for vi, v := range variants {
		spec := NodeSpec{Name: "revoke-" + v.name, Dir: r.dir}
		var pids []int
		if v.redis {
			rs, err := startRedis(ctx, r.dir)
			if err != nil {
				return err
			}
			defer rs.Stop()
			pids = append(pids, rs.PID())
			spec.Env = append(spec.Env, "REDIS_URL="+rs.URL())
		}
		n, err := r.startNode(ctx, spec, 30*time.Second)
		if err != nil {
			return err
		}
		pids = append(pids, n.PID())
		for ci, conns := range r.prof.RevokeConns {
			wl := revokeWorkload{run: uint32(time.Now().UnixNano()) ^ uint32(vi<<8|ci)}
			r.addStep(r.runLoad(ctx, LoadSpec{Scenario: ScenarioRevoke, Variant: fmt.Sprintf("%s c=%d", v.name, conns),
				Unit: "revocations", Addr: n.Addr, Path: "/revoke", Conns: conns, Warmup: r.prof.Warmup, Duration: r.prof.Step, PIDs: pids}, wl))
		}
		exited := n.Exited()
		n.Stop()
		if exited {
			return fmt.Errorf("revocd exited during the load:\n%s", tail(n.Output(), 3000))
		}
	}
	// The production stack (Redis and Kafka on), in the same run as the
	// embedded steps, with every event read back.
	return r.fullStackRevoke(ctx, len(variants))
}
