package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"
	hremote "github.com/anthdm/hollywood/remote"
	"github.com/google/uuid"

	"github.com/revocd/revocd/actors/cluster"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/remote"
)

// clusterBound is how long a peer may take to enforce a revocation in
// these tests: generous, timing is measured by the benchmark, not asserted.
const clusterBound = 10 * time.Second

// clusterMember is one revocd process of a test cluster.
type clusterMember struct {
	*node
	id      string
	cluster string // its CLUSTER_LISTEN address
}

// clusterEventKey creates (in db) the event-signing key keyID and returns it as an
// EVENT_TRUSTED_KEYS entry "id=base64".
func clusterEventKey(t testing.TB, db, keyID string) string {
	t.Helper()
	cmd := exec.Command(binPath, "event-key", "--dev", "--sqlite-path", db, "--pqc-signing-key-id", keyID)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("revocd event-key: %v\n%s", err, stderr.String())
	}
	var doc eventsig.KeysDocument
	if err := json.Unmarshal(out, &doc); err != nil || len(doc.Keys) != 1 {
		t.Fatalf("revocd event-key output %q: %v", out, err)
	}
	return doc.Keys[0].KeyID + "=" + base64.StdEncoding.EncodeToString(doc.Keys[0].PublicKey)
}

// memberSpec describes a clusterMember to start: its id and how it reaches each peer.
type memberSpec struct {
	id    string
	peers map[string]string // peer id -> address (direct or a linkProxy)
}

// startMembers starts the members in order. Every clusterMember trusts every
// clusterMember's event key. addrs gives each clusterMember's CLUSTER_LISTEN address.
func startMembers(t testing.TB, addrs map[string]string, specs ...memberSpec) map[string]*clusterMember {
	t.Helper()
	dir := t.TempDir()
	var trusted []string
	dbs := map[string]string{}
	for _, s := range specs {
		dbs[s.id] = filepath.Join(dir, s.id+".db")
		trusted = append(trusted, clusterEventKey(t, dbs[s.id], s.id+"-key"))
	}
	out := map[string]*clusterMember{}
	for _, s := range specs {
		var peers []string
		for id, addr := range s.peers {
			peers = append(peers, id+"@"+addr)
		}
		sort.Strings(peers)
		env := []string{
			"NODE_ID=" + s.id, "CLUSTER_LISTEN=" + addrs[s.id], "CLUSTER_PEERS=" + strings.Join(peers, ","),
			"PQC_SIGNING_KEY_ID=" + s.id + "-key", "EVENT_TRUSTED_KEYS=" + strings.Join(trusted, ","),
		}
		out[s.id] = &clusterMember{node: startNode(t, dbs[s.id], env), id: s.id, cluster: addrs[s.id]}
	}
	return out
}

func clusterAddr(t testing.TB) string { return fmt.Sprintf("127.0.0.1:%d", freePort(t)) }

// clusterRecipe is the README's "Multi-node cluster" set-up for a set of
// nodes: a CLUSTER_LISTEN address each and one CLUSTER_PEERS list naming
// them all (every node skips its own entry), and nothing else.
type clusterRecipe struct {
	addrs map[string]string // node id -> CLUSTER_LISTEN address
	peers string            // the CLUSTER_PEERS value, the same for every node
}

// newClusterRecipe picks a cluster address for each of ids.
func newClusterRecipe(t testing.TB, ids ...string) clusterRecipe {
	t.Helper()
	c := clusterRecipe{addrs: map[string]string{}}
	var peers []string
	for _, id := range ids {
		c.addrs[id] = clusterAddr(t)
		peers = append(peers, id+"@"+c.addrs[id])
	}
	c.peers = strings.Join(peers, ",")
	return c
}

// env returns node id's recipe variables (NODE_ID, CLUSTER_LISTEN,
// CLUSTER_PEERS) followed by extra.
func (c clusterRecipe) env(id string, extra ...string) []string {
	return append([]string{"NODE_ID=" + id, "CLUSTER_LISTEN=" + c.addrs[id], "CLUSTER_PEERS=" + c.peers}, extra...)
}

// start starts node id on db (a fresh file when empty) with the recipe's
// variables, extra and args (see startNode).
func (c clusterRecipe) start(t testing.TB, id, db string, extra []string, args ...string) *clusterMember {
	t.Helper()
	return &clusterMember{node: startNode(t, db, c.env(id, extra...), args...), id: id, cluster: c.addrs[id]}
}

// waitRevoked polls m until tok validates as revoked.
func (m *clusterMember) waitRevoked(tok, what string) {
	m.t.Helper()
	deadline := time.Now().Add(clusterBound)
	for time.Now().Before(deadline) {
		if m.validate(tok)["revoked"] == true {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.t.Fatalf("%s: %s not enforced within %v", m.id, what, clusterBound)
}

// eventIDs returns the ids of every revocation event in m's audit log
// (not the replicated-state events: key_state, refresh_state).
func (m *clusterMember) eventIDs() []string {
	m.t.Helper()
	var ids []string
	for after := 0.0; ; {
		r := m.do(http.MethodGet, fmt.Sprintf("/revocations?after=%d&limit=1000", int64(after)), nil)
		if r.Status != 200 {
			m.t.Fatalf("%s: GET /revocations: %d %s", m.id, r.Status, r.Body)
		}
		var page struct {
			Events []revocation.Event `json:"events"`
			Next   float64            `json:"next"`
		}
		if err := json.Unmarshal(r.Body, &page); err != nil {
			m.t.Fatal(err)
		}
		for _, e := range page.Events {
			if !e.Type.IsState() {
				ids = append(ids, e.EventID)
			}
		}
		if len(page.Events) < 1000 {
			break
		}
		after = page.Next
	}
	slices.Sort(ids)
	return ids
}

// events returns m's audit-log events.
func (m *clusterMember) events() []revocation.Event {
	m.t.Helper()
	var page struct {
		Events []revocation.Event `json:"events"`
	}
	r := m.do(http.MethodGet, "/revocations?after=0&limit=1000", nil)
	if err := json.Unmarshal(r.Body, &page); err != nil {
		m.t.Fatal(err)
	}
	return page.Events
}

// metric returns the sum of the series of name whose labels include every
// `k="v"` in labels, from m's /metrics.
func (m *clusterMember) metric(name string, labels ...string) float64 {
	m.t.Helper()
	r := m.do(http.MethodGet, "/metrics", nil)
	var sum float64
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// peerCheck returns m's /ready check of peer id.
func (m *clusterMember) peerCheck(id string) (ok bool, detail string) {
	m.t.Helper()
	c := readyChecks(m.t, m.node)["peer:"+id]
	return c.OK, c.Detail
}

func (m *clusterMember) waitPeer(id, prefix string) {
	m.t.Helper()
	deadline := time.Now().Add(clusterBound)
	var detail string
	for time.Now().Before(deadline) {
		if _, detail = m.peerCheck(id); strings.HasPrefix(detail, prefix) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.t.Fatalf("%s: peer %s is %q, want %q…", m.id, id, detail, prefix)
}

// linkProxy forwards TCP connections from addr to target until cut; heal
// reopens it on the same address. It stands in for a network link.
type linkProxy struct {
	t            testing.TB
	addr, target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
}

func newLinkProxy(t testing.TB, target string) *linkProxy {
	p := &linkProxy{t: t, addr: clusterAddr(t), target: target, conns: map[net.Conn]struct{}{}}
	p.heal()
	t.Cleanup(p.cut)
	return p
}

func (p *linkProxy) heal() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("linkProxy %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(ln, c)
		}
	}()
}

func (p *linkProxy) pipe(ln net.Listener, c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln != ln { // cut meanwhile
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := func() {
		c.Close()
		u.Close()
		p.mu.Lock()
		delete(p.conns, c)
		delete(p.conns, u)
		p.mu.Unlock()
	}
	go func() { _, _ = io.Copy(u, c); done() }()
	_, _ = io.Copy(c, u)
	done()
}

// cut closes the listener and every forwarded connection.
func (p *linkProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// TestCluster runs three real nodes; A and C reach each other through
// proxies so the A↔C link can be cut. Phases run in order on one cluster.
func TestCluster(t *testing.T) {
	addrs := map[string]string{"node-a": clusterAddr(t), "node-b": clusterAddr(t), "node-c": clusterAddr(t)}
	aToC, cToA := newLinkProxy(t, addrs["node-c"]), newLinkProxy(t, addrs["node-a"])
	ms := startMembers(t, addrs,
		memberSpec{"node-a", map[string]string{"node-b": addrs["node-b"], "node-c": aToC.addr}},
		memberSpec{"node-b", map[string]string{"node-a": addrs["node-a"], "node-c": addrs["node-c"]}},
		memberSpec{"node-c", map[string]string{"node-a": cToA.addr, "node-b": addrs["node-b"]}},
	)
	a, b, c := ms["node-a"], ms["node-b"], ms["node-c"]
	for _, m := range []*clusterMember{a, b, c} {
		for _, p := range []*clusterMember{a, b, c} {
			if p != m {
				m.waitPeer(p.id, "connected")
			}
		}
	}

	t.Log("phase 1: a revocation on A is enforced by B and C")
	tok, jti := a.issue("alice")
	for _, m := range []*clusterMember{b, c} {
		if v := m.validate(tok); v["valid"] != true {
			t.Fatalf("%s rejects a token issued by A: %v", m.id, v)
		}
	}
	a.revoke("revoke_jti", jti)
	b.waitRevoked(tok, "jti revoked on A")
	c.waitRevoked(tok, "jti revoked on A")
	bobTok, _ := a.issue("bob")
	b.revoke("revoke_sub", "bob")
	a.waitRevoked(bobTok, "subject revoked on B")
	c.waitRevoked(bobTok, "subject revoked on B")

	t.Log("phase 2: C killed, revocations on A and B, C restarted")
	t1, j1 := a.issue("carol")
	t2, j2 := a.issue("dave")
	c.kill()
	a.revoke("revoke_jti", j1)
	b.revoke("revoke_jti", j2)
	c.start()
	c.waitRevoked(t1, "jti revoked on A while C was down")
	c.waitRevoked(t2, "jti revoked on B while C was down")
	a.waitPeer("node-c", "connected")

	t.Log("phase 3: A↔C partition, revocations on both sides, heal")
	tA, jA := a.issue("erin")
	tC, jC := a.issue("frank")
	aToC.cut()
	cToA.cut()
	a.waitPeer("node-c", "disconnected")
	c.waitPeer("node-a", "disconnected")
	a.revoke("revoke_jti", jA)
	c.revoke("revoke_jti", jC)
	// Across the cut, each side learns the other's revocation from B's log.
	c.waitRevoked(tA, "A's revocation relayed by B during the partition")
	a.waitRevoked(tC, "C's revocation relayed by B during the partition")
	aToC.heal()
	cToA.heal()
	a.waitPeer("node-c", "connected")
	c.waitPeer("node-a", "connected")
	deadline := time.Now().Add(clusterBound)
	for {
		ia, ib, ic := a.eventIDs(), b.eventIDs(), c.eventIDs()
		if slices.Equal(ia, ib) && slices.Equal(ib, ic) {
			if len(ia) != 6 {
				t.Fatalf("converged on %d events, want 6", len(ia))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not converged within %v:\nA %v\nB %v\nC %v", clusterBound, ia, ib, ic)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, m := range []*clusterMember{a, b, c} {
		for _, tk := range []string{tok, bobTok, t1, t2, tA, tC} {
			if v := m.validate(tk); v["revoked"] != true {
				t.Fatalf("%s: token not revoked after convergence: %v", m.id, v)
			}
		}
	}

	t.Log("phase 4: forged peer messages are rejected and counted")
	clusterRogueMessages(t, a, b)
}

// clusterRogueMessages sends forged EventBatches to A's replicator from a bare
// hollywood engine in the test process.
func clusterRogueMessages(t *testing.T, a, b *clusterMember) {
	r := hremote.New(clusterAddr(t), hremote.NewConfig())
	eng, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(r))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop().Wait()
	target := cluster.PIDFor(a.cluster)
	victim, victimJTI := a.issue("victim")
	forge := func(mut func(e *revocation.Event)) revocation.Event {
		now := time.Now()
		e := revocation.Event{
			EventID: uuid.NewString(), Type: revocation.TypeJTI, Value: victimJTI, TS: now.UnixMilli(),
			ExpiresAt: now.Add(time.Hour).UnixMilli(), Origin: "node-b", Seq: 1_000_000,
		}
		mut(&e)
		return e
	}
	// Signed by a key nobody trusts.
	untrusted := forge(func(e *revocation.Event) {
		s, err := eventsig.NewSigner("mallory-key", rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SignBatch([]*revocation.Event{e}); err != nil {
			t.Fatal(err)
		}
	})
	// B's genuine signature over another event.
	var genuine revocation.Event
	for _, e := range b.events() {
		if e.Origin == "node-b" {
			genuine = e
		}
	}
	tampered := forge(func(e *revocation.Event) { e.KeyID, e.Alg, e.Sig = genuine.KeyID, genuine.Alg, genuine.Sig })
	tests := []struct {
		name   string
		msg    *remote.EventBatch
		metric string
		labels []string
	}{
		{"unknown node id", &remote.EventBatch{NodeId: "mallory", Events: cluster.ToProto([]revocation.Event{untrusted})},
			"revocd_cluster_messages_rejected_total", []string{`reason="unknown_peer"`}},
		{"untrusted key", &remote.EventBatch{NodeId: "node-b", Events: cluster.ToProto([]revocation.Event{untrusted})},
			"revocd_events_dropped_total", []string{`source="peer"`, `reason="unknown_key"`}},
		{"tampered event", &remote.EventBatch{NodeId: "node-b", Events: cluster.ToProto([]revocation.Event{tampered})},
			"revocd_events_dropped_total", []string{`source="peer"`, `reason="bad_signature"`}},
	}
	for _, tc := range tests {
		before := a.metric(tc.metric, tc.labels...)
		eng.Send(target, tc.msg)
		deadline := time.Now().Add(clusterBound)
		for a.metric(tc.metric, tc.labels...) <= before {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s%v not incremented", tc.name, tc.metric, tc.labels)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if v := a.validate(victim); v["valid"] != true {
		t.Fatalf("a forged revocation was applied: %v", v)
	}
}

// BenchmarkClusterPropagation measures how long after POST /revoke on A
// answered 200 B and C enforce the revocation (polling /token/validate
// tightly), over loopback remoting. Run with -benchtime 200x; it reports
// p50/p99/max in ms ("both" = the later of B and C). Nothing is asserted.
func BenchmarkClusterPropagation(b *testing.B) {
	addrs := map[string]string{"node-a": clusterAddr(b), "node-b": clusterAddr(b), "node-c": clusterAddr(b)}
	ms := startMembers(b, addrs,
		memberSpec{"node-a", map[string]string{"node-b": addrs["node-b"], "node-c": addrs["node-c"]}},
		memberSpec{"node-b", map[string]string{"node-a": addrs["node-a"], "node-c": addrs["node-c"]}},
		memberSpec{"node-c", map[string]string{"node-a": addrs["node-a"], "node-b": addrs["node-b"]}},
	)
	a, pb, pc := ms["node-a"], ms["node-b"], ms["node-c"]
	for _, m := range []*clusterMember{pb, pc} {
		m.waitPeer("node-a", "connected")
	}
	a.waitPeer("node-b", "connected")
	a.waitPeer("node-c", "connected")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	revoked := func(url, tok string) bool {
		resp, err := client.Post(url+"/token/validate", "application/json",
			strings.NewReader(`{"token":"`+tok+`","check_revocation":true}`))
		if err != nil {
			return false // polled from goroutines: the deadline reports it
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return bytes.Contains(body, []byte(`"revoked":true`))
	}
	pollGap := 250 * time.Microsecond
	var lb, lc, lboth, lpost []time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		tok, jti := a.issue("bench")
		b.StartTimer()
		sent := time.Now()
		a.revoke("revoke_jti", jti)
		acked := time.Now()
		lpost = append(lpost, acked.Sub(sent))
		var wg sync.WaitGroup
		var db, dc time.Duration
		for _, x := range []struct {
			m *clusterMember
			d *time.Duration
		}{{pb, &db}, {pc, &dc}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				deadline := acked.Add(clusterBound)
				for !revoked(x.m.URL, tok) {
					if time.Now().After(deadline) {
						*x.d = clusterBound
						return
					}
					// Leave the 3 nodes some CPU: two spinning pollers
					// would dominate the measurement on a small machine.
					time.Sleep(pollGap)
				}
				*x.d = time.Since(acked)
			}()
		}
		wg.Wait()
		lb, lc, lboth = append(lb, db), append(lc, dc), append(lboth, max(db, dc))
	}
	b.StopTimer()
	for _, s := range []struct {
		name string
		d    []time.Duration
	}{{"B", lb}, {"C", lc}, {"both", lboth}, {"POST /revoke on A", lpost}} {
		slices.Sort(s.d)
		q := func(p float64) float64 { return float64(s.d[int(p*float64(len(s.d)-1))]) / 1e6 }
		if len(s.name) < 5 {
			b.ReportMetric(q(0.5), s.name+"-p50-ms")
			b.ReportMetric(q(0.99), s.name+"-p99-ms")
		}
		b.Logf("%s: n=%d p50=%.3fms p90=%.3fms p99=%.3fms max=%.3fms", s.name, len(s.d), q(0.5), q(0.9), q(0.99), q(1))
	}
}

// TestClusterConfigErrors: bad cluster settings stop the start with a
// message naming the variable.
func TestClusterConfigErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	listen := "CLUSTER_LISTEN=" + clusterAddr(t)
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"TLS cert without key and CA", []string{listen, "CLUSTER_TLS_CERT=" + missing}, "missing CLUSTER_TLS_KEY, CLUSTER_TLS_CA"},
		{"unreadable TLS cert", []string{listen, "CLUSTER_TLS_CERT=" + missing, "CLUSTER_TLS_KEY=" + missing, "CLUSTER_TLS_CA=" + missing}, "CLUSTER_TLS_CERT"},
		{"TLS without CLUSTER_LISTEN", []string{"CLUSTER_TLS_CERT=" + missing, "CLUSTER_TLS_KEY=" + missing, "CLUSTER_TLS_CA=" + missing}, "CLUSTER_LISTEN is not"},
		{"port 0", []string{"CLUSTER_LISTEN=127.0.0.1:0"}, "fixed port"},
		// A peer list naming this node itself is allowed (one CLUSTER_PEERS
		// value for every node): see TestClusterPeersMayListThisNode.
		{"peer listed twice", []string{"NODE_ID=node-a", listen, "CLUSTER_PEERS=node-b@127.0.0.1:1,node-b@127.0.0.1:2"}, "listed twice"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(binPath, "--dev", "--listen", clusterAddr(t), "--sqlite-path", filepath.Join(dir, fmt.Sprintf("%d.db", i)))
			cmd.Env = append(cleanEnv(), tc.env...)
			done := make(chan struct{})
			var out []byte
			var err error
			go func() { out, err = cmd.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("revocd kept running")
			}
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Fatalf("exit %v, output does not name %q:\n%s", err, tc.want, out)
			}
		})
	}
}
