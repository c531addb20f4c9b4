package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/valyala/fasthttp"
)

// propagationSampleTimeout bounds the wait for each timed revocation after
// the probe showed the cluster propagates: a miss is an error.
const propagationSampleTimeout = 2 * time.Second

// pollPause is the pause between two polls of a node: the resolution of
// the propagation measurement is about a poll round trip plus this.
const pollPause = 100 * time.Microsecond

// propagationScenario starts three nodes clustered over actor remoting,
// revokes on A and times until B and C answer "revoked" for the token.
// When the cluster does not propagate (not built yet) it reports the
// scenario as not available instead of failing.
func (r *runner) propagationScenario(ctx context.Context) error {
	nodes, err := r.startCluster(ctx, []string{"bench-a", "bench-b", "bench-c"}, "")
	if err != nil {
		return fmt.Errorf("%w: %v", errNotAvailable, err)
	}
	err = r.timePropagation(ctx, nodes, "", "bench-prop")
	for _, n := range nodes {
		n.Stop()
	}
	if err != nil {
		return err
	}
	return r.kafkaPropagation(ctx)
}

// kafkaPropagation times revocations from A to B and C over Kafka only
// (kfake in this process, on loopback; no cluster link between the nodes).
func (r *runner) kafkaPropagation(ctx context.Context) error {
	kf, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "revocations", "token-events"))
	if err != nil {
		return fmt.Errorf("kfake: %w", err)
	}
	defer kf.Close()
	nodes, err := r.startCluster(ctx, []string{"bench-ka", "bench-kb", "bench-kc"}, strings.Join(kf.ListenAddrs(), ","))
	if err != nil {
		return err
	}
	defer func() {
		for _, n := range nodes {
			n.Stop()
		}
	}()
	return r.timePropagation(ctx, nodes, " (kafka)", "bench-kprop")
}

// timePropagation revokes on nodes[0] and times until the others answer
// "revoked"; measures are named "propagation p99"+suffix and so on.
func (r *runner) timePropagation(ctx context.Context, nodes []*Node, suffix, subjectPrefix string) error {
	a, peers := nodes[0], nodes[1:]
	api := newAPIClient(a.URL)
	subjects := make([]string, r.prof.PropagationSamples+1)
	for i := range subjects {
		subjects[i] = fmt.Sprintf("%s-%d", subjectPrefix, i)
	}
	toks, err := api.issueMany(subjects, issueConc)
	if err != nil {
		return err
	}
	for _, p := range peers {
		v, err := newAPIClient(p.URL).validate(toks[0].AccessToken)
		if err != nil {
			return err
		}
		if !v.Valid {
			return fmt.Errorf("%w: a token issued by A is not valid on %s (%s)", errNotAvailable, p.Name, v.Message)
		}
	}

	revokeA := &fasthttp.HostClient{Addr: a.Addr, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	pollers := make([]*fasthttp.HostClient, len(peers))
	for i, p := range peers {
		pollers[i] = &fasthttp.HostClient{Addr: p.Addr, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	}
	probe, err := timeRevocation(ctx, revokeA, pollers, toks[0], r.prof.PropagationProbe)
	if err != nil {
		return err
	}
	for i, seen := range probe.seen {
		if seen.IsZero() {
			return fmt.Errorf("%w: a revocation made on A was not seen on %s within %v (cluster layer not propagating yet)",
				errNotAvailable, peers[i].Name, r.prof.PropagationProbe)
		}
	}

	r.progress.phase(fmt.Sprintf("propagation%s (%d revocations A→B,C)", suffix, len(toks)-1), 0, nil)
	fromAck, fromSend := newHist(), newHist()
	missed := 0
	var pids []int
	for _, n := range nodes {
		pids = append(pids, n.PID())
	}
	cpu0 := sampleCPU(pids)
	for _, tok := range toks[1:] {
		if ctx.Err() != nil {
			break
		}
		s, err := timeRevocation(ctx, revokeA, pollers, tok, propagationSampleTimeout)
		if err != nil {
			return err
		}
		for _, seen := range s.seen {
			if seen.IsZero() {
				missed++
				continue
			}
			_ = fromAck.RecordValue(max(seen.Sub(s.ack).Microseconds(), 1))
			_ = fromSend.RecordValue(max(seen.Sub(s.sent).Microseconds(), 1))
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.progress.done()
	r.recordPropagation(suffix, fromAck, fromSend, missed, othersPct(cpu0, sampleCPU(pids)))
	if missed > 0 {
		return fmt.Errorf("%d of %d propagations not seen within %v", missed, 2*(len(toks)-1), propagationSampleTimeout)
	}
	return nil
}

func (r *runner) recordPropagation(suffix string, fromAck, fromSend *hdrhistogram.Histogram, missed int, others float64) {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	note := fmt.Sprintf("%d samples (B and C), from A's 200; others used %.0f%% of the machine", fromAck.TotalCount(), others)
	r.addMeasure(Measure{Name: "propagation p50" + suffix, Value: ms(fromAck.ValueAtQuantile(50)), Unit: "ms", Note: note})
	r.addMeasure(Measure{Name: "propagation p99" + suffix, Value: ms(fromAck.ValueAtQuantile(99)), Unit: "ms", Note: note})
	r.addMeasure(Measure{Name: "propagation max" + suffix, Value: ms(fromAck.Max()), Unit: "ms", Note: note})
	r.addMeasure(Measure{Name: "propagation p99 from send" + suffix, Value: ms(fromSend.ValueAtQuantile(99)), Unit: "ms",
		Note: "includes A's durable commit"})
	if missed > 0 {
		r.addMeasure(Measure{Name: "propagation missed" + suffix, Value: float64(missed), Unit: "revocations"})
	}
}

// revocationTiming is one timed revocation.
type revocationTiming struct {
	sent, ack time.Time
	seen      []time.Time // per poller; zero: not seen in time
}

// timeRevocation revokes tok's jti through a while each poller validates
// tok in a loop until it is reported revoked or timeout passes.
func timeRevocation(ctx context.Context, a *fasthttp.HostClient, pollers []*fasthttp.HostClient, tok issued,
	timeout time.Duration) (revocationTiming, error) {
	t := revocationTiming{seen: make([]time.Time, len(pollers))}
	body := fmt.Appendf(nil, `{"token":%q,"check_revocation":true}`, tok.AccessToken)
	t.sent = time.Now()
	deadline := t.sent.Add(timeout)
	var wg sync.WaitGroup
	errs := make([]error, len(pollers))
	for i, pc := range pollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.seen[i], errs[i] = pollRevoked(ctx, pc, body, deadline)
		}()
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://" + a.Addr + "/revoke")
	req.Header.SetContentType("application/json")
	req.SetBody(fmt.Appendf(nil, `{"type":"revoke_jti","value":%q}`, tok.JTI))
	err := a.Do(req, resp)
	t.ack = time.Now()
	if err == nil && resp.StatusCode() != 200 {
		err = fmt.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
	}
	wg.Wait()
	if err != nil {
		return t, fmt.Errorf("revoke on A: %w", err)
	}
	for _, e := range errs {
		if e != nil {
			return t, e
		}
	}
	return t, nil
}

// pollRevoked validates body on c until the answer is "revoked" and
// returns when it saw it (zero time if deadline passed first). Any answer
// other than valid or revoked is an error.
func pollRevoked(ctx context.Context, c *fasthttp.HostClient, body []byte, deadline time.Time) (time.Time, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://" + c.Addr + "/token/validate")
	req.Header.SetContentType("application/json")
	req.SetBodyRaw(body)
	for range 1_000_000 {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Time{}, nil
		}
		if err := c.Do(req, resp); err != nil {
			return time.Time{}, fmt.Errorf("poll %s: %w", c.Addr, err)
		}
		now := time.Now()
		cl, _, err := classify(resp.Body())
		if err != nil {
			return time.Time{}, fmt.Errorf("poll %s: %w", c.Addr, err)
		}
		switch cl {
		case classRevoked:
			return now, nil
		case classInvalid:
			return time.Time{}, fmt.Errorf("poll %s: token reported invalid: %s", c.Addr, resp.Body())
		}
		time.Sleep(pollPause) // leave the CPUs to the nodes between polls
	}
	return time.Time{}, nil
}

// startCluster creates each node's event-signing key, then starts all
// nodes at once (each may wait for its peers) with the cluster settings.
func (r *runner) startCluster(ctx context.Context, ids []string, kafkaBootstrap string) ([]*Node, error) {
	type member struct {
		id, db, keyID, pub, clusterAddr string
	}
	ms := make([]member, len(ids))
	for i, id := range ids {
		m := member{id: id, db: filepath.Join(r.dir, id+".db"), keyID: "bench-evkey-" + id}
		var err error
		if m.pub, err = r.eventKey(ctx, m.db, m.keyID); err != nil {
			return nil, err
		}
		if m.clusterAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		ms[i] = m
	}
	var nodes []*Node
	stopAll := func() {
		for _, n := range nodes {
			n.Stop()
		}
	}
	for i, m := range ms {
		var peers, trusted []string
		for j, o := range ms {
			if j != i {
				peers = append(peers, o.id+"@"+o.clusterAddr)
				trusted = append(trusted, o.keyID+"="+o.pub)
			}
		}
		env := []string{"NODE_ID=" + m.id, "PQC_SIGNING_KEY_ID=" + m.keyID, "EVENT_TRUSTED_KEYS=" + strings.Join(trusted, ",")}
		if kafkaBootstrap == "" {
			env = append(env, "CLUSTER_LISTEN="+m.clusterAddr, "CLUSTER_PEERS="+strings.Join(peers, ","))
		} else {
			env = append(env, "KAFKA_BOOTSTRAP="+kafkaBootstrap) // Kafka only, no cluster link
		}
		n, err := r.spawnNode(NodeSpec{Name: m.id, DB: m.db, Dir: r.dir, Env: env})
		if err != nil {
			stopAll()
			return nil, err
		}
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		if err := n.waitReady(ctx, 30*time.Second); err != nil {
			stopAll()
			return nil, err
		}
	}
	return nodes, nil
}

// eventKey runs `revocd event-key` for db and returns the base64 public key.
func (r *runner) eventKey(ctx context.Context, db, keyID string) (string, error) {
	cmd := exec.CommandContext(ctx, r.bins.revocd, "event-key", "--dev", "--sqlite-path", db, "--pqc-signing-key-id", keyID)
	cmd.Env = append(cleanEnv(), "LOG_LEVEL=warn")
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return "", fmt.Errorf("revocd event-key: %w: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("revocd event-key: %w", err)
	}
	var doc struct {
		Keys []struct {
			KeyID     string `json:"key_id"`
			PublicKey string `json:"public_key"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return "", fmt.Errorf("revocd event-key output %.200q: %w", out, err)
	}
	for _, k := range doc.Keys {
		if k.KeyID == keyID {
			return k.PublicKey, nil
		}
	}
	return "", fmt.Errorf("revocd event-key: no key %q in %.200s", keyID, out)
}
