package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/revocd/revocd/persistence/redismirror"
	"github.com/revocd/revocd/revocation"
)

// validateFamily runs validate, ceiling, redis-baseline and batch against
// one prepared node: at each connection count the three single-token
// servers run back to back (so machine noise hits them alike), then the
// batch sizes.
func (r *runner) validateFamily(ctx context.Context) error {
	n, err := r.startNode(ctx, NodeSpec{Name: "validate", Dir: r.dir}, 30*time.Second)
	if err != nil {
		return err
	}
	defer n.Stop()
	r.progress.logf("preparing the token mix on %s", n.Addr)
	mix, err := r.prepareMix(ctx, n, r.prof.ValidTokens)
	if err != nil {
		return fmt.Errorf("prepare tokens: %w", err)
	}
	r.progress.logf("token mix: %d tokens %v (every answer checked)", len(mix.cases), mix.counts())

	var ceilAddr, baseAddr string
	var ceilPIDs, basePIDs []int
	if r.opts.wants(ScenarioCeiling) {
		p, addr, err := r.startCeiling(ctx, mix.validAnswer)
		if err != nil {
			return err
		}
		defer p.Stop()
		ceilAddr, ceilPIDs = addr, []int{p.PID()}
	}
	if r.opts.wants(ScenarioBaseline) {
		stop, addr, pids, err := r.startBaseline(ctx, n)
		if err != nil {
			return err
		}
		defer stop()
		baseAddr, basePIDs = addr, pids
	}

	wl := validateWorkload{mix: mix}
	spec := func(scenario, addr string, conns int, pids []int) LoadSpec {
		return LoadSpec{Scenario: scenario, Variant: fmt.Sprintf("c=%d", conns), Unit: "req", Addr: addr,
			Path: "/token/validate", Conns: conns, Warmup: r.prof.Warmup, Duration: r.prof.Step, PIDs: pids}
	}
	nodePIDs := []int{n.PID()}
	type server struct {
		scenario, addr string
		pids           []int
		wl             Workload
	}
	var servers []server
	if ceilAddr != "" {
		servers = append(servers, server{ScenarioCeiling, ceilAddr, ceilPIDs, validateWorkload{mix: mix, statusOnly: true}})
	}
	if r.opts.wants(ScenarioValidate) {
		servers = append(servers, server{ScenarioValidate, n.Addr, nodePIDs, wl})
	}
	if r.opts.wants(ScenarioValidateDPoP) {
		var issued struct {
			AccessToken string `json:"access_token"`
		}
		if err := newAPIClient(n.URL).do("POST", "/token", map[string]any{"subject": "bench-dpop"}, &issued); err != nil {
			return fmt.Errorf("validate-dpop: %w", err)
		}
		kid, err := headerKid(issued.AccessToken)
		if err != nil {
			return fmt.Errorf("validate-dpop: %w", err)
		}
		dw, err := newDPoPWorkload(kid)
		if err != nil {
			return fmt.Errorf("validate-dpop: %w", err)
		}
		servers = append(servers, server{ScenarioValidateDPoP, n.Addr, nodePIDs, dw})
	}
	if baseAddr != "" {
		servers = append(servers, server{ScenarioBaseline, baseAddr, basePIDs, wl})
	}
	rounds := max(r.prof.Rounds, 1)
	for _, conns := range r.prof.Conns {
		accs := make([]stepAccumulator, len(servers))
		for round := range rounds {
			for i, sv := range servers {
				sp := spec(sv.scenario, sv.addr, conns, sv.pids)
				sp.Duration = r.prof.Step / time.Duration(rounds)
				if round > 0 {
					sp.Warmup = 0
				}
				if rounds > 1 {
					sp.Variant += fmt.Sprintf(" (round %d/%d)", round+1, rounds)
				}
				accs[i].add(r.measureLoad(ctx, sp, sv.wl))
			}
		}
		for i := range accs {
			st := accs[i].step()
			st.Variant = fmt.Sprintf("c=%d", conns)
			r.addStep(st)
		}
	}
	if r.opts.wants(ScenarioBatch) {
		for _, size := range r.prof.BatchSizes {
			r.addStep(r.runLoad(ctx, LoadSpec{Scenario: ScenarioBatch, Variant: fmt.Sprintf("n=%d", size), Unit: "tokens",
				Addr: n.Addr, Path: "/token/validate/batch", Conns: r.prof.BatchConns, Warmup: r.prof.Warmup, Duration: r.prof.Step, PIDs: nodePIDs},
				newBatchWorkload(mix, size)))
		}
	}
	if n.Exited() {
		return fmt.Errorf("revocd exited during the load:\n%s", tail(n.Output(), 3000))
	}
	return nil
}

// startCeiling starts the fixed-body server answering body.
func (r *runner) startCeiling(ctx context.Context, body []byte) (*Process, string, error) {
	if len(body) == 0 {
		return nil, "", fmt.Errorf("ceiling: no valid answer captured from revocd")
	}
	f := filepath.Join(r.dir, "ceiling-body.json")
	if err := os.WriteFile(f, body, 0o600); err != nil {
		return nil, "", fmt.Errorf("ceiling: %w", err)
	}
	return r.startRefServer(ctx, "ceiling", "-body-file", f)
}

// startBaseline starts redis-server, copies the node's revocations into
// it with the seed's key layout, and starts the Redis-per-request
// validator. stop stops both.
func (r *runner) startBaseline(ctx context.Context, n *Node) (stop func(), addr string, pids []int, err error) {
	rs, err := startRedis(ctx, r.dir)
	if err != nil {
		return nil, "", nil, err
	}
	copied, err := copyRevocationsToRedis(ctx, n.URL, rs.URL())
	if err != nil {
		rs.Stop()
		return nil, "", nil, err
	}
	r.progress.logf("redis-baseline: %d revocations copied from revocd's audit log to %s", copied, rs.Addr)
	p, addr, err := r.startRefServer(ctx, "redis-baseline", "-redis", rs.URL())
	if err != nil {
		rs.Stop()
		return nil, "", nil, err
	}
	return func() { p.Stop(); rs.Stop() }, addr, []int{p.PID(), rs.PID()}, nil
}

// startRefServer starts bench/refserver in mode and returns its address.
func (r *runner) startRefServer(ctx context.Context, mode string, args ...string) (*Process, string, error) {
	p, err := startProcess(mode, r.bins.refserver, append([]string{"-mode", mode, "-listen", "127.0.0.1:0"}, args...), nil)
	if err != nil {
		return nil, "", err
	}
	addr, err := p.waitLine(ctx, "listening ", 10*time.Second)
	if err != nil {
		p.Stop()
		return nil, "", err
	}
	return p, addr, nil
}

// copyRevocationsToRedis pages through GET /revocations and writes every
// event with redismirror.Deliver (the seed's revoked:{type}:{value} keys).
func copyRevocationsToRedis(ctx context.Context, nodeURL, redisURL string) (int, error) {
	opts, err := redismirror.ParseURL(redisURL)
	if err != nil {
		return 0, err
	}
	rc := redis.NewClient(opts)
	defer rc.Close()
	m := redismirror.New(rc, nil)
	api := newAPIClient(nodeURL)
	after, total := int64(0), 0
	for range 10_000 {
		var page struct {
			Events []revocation.Event `json:"events"`
			Next   int64              `json:"next"`
		}
		if err := api.do("GET", fmt.Sprintf("/revocations?after=%d&limit=1000", after), nil, &page); err != nil {
			return total, fmt.Errorf("read revocation feed: %w", err)
		}
		if len(page.Events) == 0 {
			return total, nil
		}
		if err := m.Deliver(ctx, page.Events); err != nil {
			return total, fmt.Errorf("copy revocations to redis: %w", err)
		}
		total += len(page.Events)
		after = page.Next
	}
	return total, fmt.Errorf("revocation feed did not end")
}
