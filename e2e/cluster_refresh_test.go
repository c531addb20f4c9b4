package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Refresh tokens across a cluster (issue #11, "Refresh works on any
// node"): three --dev nodes as the README's recipe starts them.

// refreshCluster starts three --dev nodes a, b, c of one cluster, each with
// the extra environment env.
func refreshCluster(t *testing.T, env ...string) (a, b, c *clusterMember) {
	t.Helper()
	ids := []string{"a", "b", "c"}
	recipe := newClusterRecipe(t, ids...)
	m := map[string]*clusterMember{}
	for _, id := range ids {
		m[id] = recipe.start(t, id, "", env)
	}
	for _, id := range ids {
		for _, p := range ids {
			if p != id {
				m[id].waitPeer(p, "connected")
			}
		}
	}
	return m["a"], m["b"], m["c"]
}

// propagationBound is how long the tests wait for state to reach another
// node (a few milliseconds in practice).
const propagationBound = 10 * time.Second

// refreshPair is what a create or a refresh answered.
type refreshPair struct{ refresh, access string }

func createRefresh(n *clusterMember, subject, binding string) refreshPair {
	m := n.post("/token/refresh/create", map[string]any{"subject": subject, "client_binding": binding}, 200)
	return refreshPair{m["refresh_token"].(string), m["access_token"].(string)}
}

// rotateOn refreshes tok on n and requires success.
func rotateOn(t *testing.T, n *clusterMember, tok, binding string) refreshPair {
	t.Helper()
	r := n.refreshOnce(tok, binding)
	if r.Status != 200 {
		t.Fatalf("refresh on %s: %d %s", n.id, r.Status, r.Body)
	}
	m := r.JSON(t)
	return refreshPair{m["refresh_token"].(string), m["access_token"].(string)}
}

// knows reports whether n holds tok's state as the live token of its
// family (introspection reads the node's own refresh-token state).
func knows(n *clusterMember, tok string) bool { return n.introspect(tok) == true }

// revokedOn reports whether an access token is revoked on n.
func revokedOn(n *clusterMember, access string) bool { return n.validate(access)["revoked"] == true }

// TestClusterRefreshAnyNode: created on A, refreshed on B, the retired
// token presented on C is reuse, and the family (refresh and access
// tokens) ends revoked on A, B and C. The old nodes kept refresh state per
// node: B answered the refresh with 401 (unknown token).
func TestClusterRefreshAnyNode(t *testing.T) {
	a, b, c := refreshCluster(t)
	p1 := createRefresh(a, "roaming", "device-1")
	start := time.Now()
	eventually(t, propagationBound, "the new refresh token known on b", func() bool { return knows(b, p1.refresh) })
	t.Logf("create on a reached b in %v", time.Since(start))
	p2 := rotateOn(t, b, p1.refresh, "device-1")
	eventually(t, propagationBound, "the rotation known on c and a", func() bool { return knows(c, p2.refresh) && knows(a, p2.refresh) && !knows(c, p1.refresh) })
	if r := c.refreshOnce(p1.refresh, "device-1"); r.Status != 401 || !strings.Contains(string(r.Body), "reuse") {
		t.Fatalf("retired token on c: %d %s, want 401 reuse", r.Status, r.Body)
	}
	start = time.Now()
	for _, n := range []*clusterMember{a, b, c} {
		eventually(t, propagationBound, "family revoked on "+n.id, func() bool {
			return revokedOn(n, p1.access) && revokedOn(n, p2.access) && !knows(n, p2.refresh)
		})
		if r := n.refreshOnce(p2.refresh, "device-1"); r.Status != 401 {
			t.Fatalf("live token of the revoked family on %s: %d %s, want 401", n.id, r.Status, r.Body)
		}
	}
	t.Logf("family revocation on c enforced on a, b, c within %v", time.Since(start))
	for _, n := range []*clusterMember{a, b, c} {
		if got := n.metric("revocd_events_dropped_total", `source="peer"`); got != 0 {
			t.Errorf("%s dropped %v peer events", n.id, got)
		}
	}
}

// TestClusterRefreshIssuerDown: with the issuing node killed, the others
// keep refreshing its tokens, from their own copy of the state.
func TestClusterRefreshIssuerDown(t *testing.T) {
	a, b, c := refreshCluster(t)
	p1 := createRefresh(a, "orphan", "device-2")
	eventually(t, propagationBound, "the refresh token known on b and c", func() bool { return knows(b, p1.refresh) && knows(c, p1.refresh) })
	a.kill()
	p2 := rotateOn(t, b, p1.refresh, "device-2")
	eventually(t, propagationBound, "the rotation known on c", func() bool { return knows(c, p2.refresh) })
	p3 := rotateOn(t, c, p2.refresh, "device-2")
	if r := b.refreshOnce(p3.refresh, "wrong-device"); r.Status != 401 {
		t.Fatalf("wrong binding on b: %d %s, want 401", r.Status, r.Body)
	}
	eventually(t, propagationBound, "the second rotation known on b", func() bool { return knows(b, p3.refresh) })
	rotateOn(t, b, p3.refresh, "device-2")
}

// TestClusterRefreshConcurrentRotation: one token refreshed on A and B at
// the same moment never leaves two live successors: once the nodes have
// exchanged their events, either one request failed and at most one
// successor lives (the same on both nodes), or both succeeded and the
// whole family is revoked on both.
func TestClusterRefreshConcurrentRotation(t *testing.T) {
	a, b, _ := refreshCluster(t)
	both := 0
	const trials = 12
	for i := range trials {
		p := createRefresh(a, "racer", "device-3")
		eventually(t, propagationBound, "the refresh token known on b", func() bool { return knows(b, p.refresh) })
		nodes := []*clusterMember{a, b}
		res := make([]refreshPair, 2)
		status := make([]int, 2)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for k, n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				r := n.do(http.MethodPost, "/token/refresh", map[string]any{"refresh_token": p.refresh, "client_binding": "device-3"})
				status[k] = r.Status
				if r.Status == 200 {
					m := r.JSON(t)
					res[k] = refreshPair{m["refresh_token"].(string), m["access_token"].(string)}
				}
			}()
		}
		close(gate)
		wg.Wait()
		var won []refreshPair
		for k := range nodes {
			if status[k] == 200 {
				won = append(won, res[k])
			} else if status[k] != 401 {
				t.Fatalf("trial %d: refresh on %s: %d", i, nodes[k].id, status[k])
			}
		}
		switch len(won) {
		case 2:
			both++
			eventually(t, propagationBound, "both successors and their access tokens revoked on a and b", func() bool {
				for _, n := range nodes {
					for _, w := range won {
						if knows(n, w.refresh) || !revokedOn(n, w.access) {
							return false
						}
					}
				}
				return true
			})
		case 1:
			// The winner's state is the same on both nodes once settled:
			// live on both, or (the loser's presentation came after the
			// rotation had replicated: reuse) revoked on both.
			w := won[0]
			eventually(t, propagationBound, "one verdict on a and b", func() bool {
				return knows(a, w.refresh) == knows(b, w.refresh) && revokedOn(a, w.access) == revokedOn(b, w.access) &&
					knows(a, w.refresh) != revokedOn(a, w.access)
			})
		case 0:
			t.Fatalf("trial %d: both refreshes refused", i)
		}
	}
	t.Logf("%d of %d trials rotated on both nodes at once (family revoked); the others were refused on one", both, trials)
}

// TestClusterRefreshGraceAcrossNodes: with REFRESH_REUSE_GRACE_SECONDS,
// a client retry of the just-rotated token on another node is tolerated
// once the rotation reached that node: the retry's successor is the
// family's one live token on every node. (A retry that reaches another
// node before the rotation does is a concurrent rotation: the family is
// revoked, as TestClusterRefreshConcurrentRotation shows.)
func TestClusterRefreshGraceAcrossNodes(t *testing.T) {
	a, b, c := refreshCluster(t, "REFRESH_REUSE_GRACE_SECONDS=60")
	p1 := createRefresh(a, "retrier", "device-4")
	p2 := rotateOn(t, a, p1.refresh, "device-4")
	eventually(t, propagationBound, "the rotation known on b", func() bool { return knows(b, p2.refresh) })
	p2b := rotateOn(t, b, p1.refresh, "device-4")
	for _, n := range []*clusterMember{a, b, c} {
		eventually(t, propagationBound, "the retry's successor the live token on "+n.id, func() bool {
			return knows(n, p2b.refresh) && !knows(n, p2.refresh)
		})
	}
	if revokedOn(c, p2b.access) {
		t.Fatal("the retry revoked the family")
	}
	rotateOn(t, c, p2b.refresh, "device-4")
}

// TestRefreshLegacyBindingKey: a database of an older version, whose
// bindings were hashed under a random per-node key (kv binding_key), keeps
// refreshing its tokens after the upgrade to the cluster-wide key; the
// successor is stored under the cluster-wide key (so other nodes can check
// it), and a wrong binding is still refused.
func TestRefreshLegacyBindingKey(t *testing.T) {
	n := startNode(t, "", nil)
	p1 := n.post("/token/refresh/create", map[string]any{"subject": "upgrader", "client_binding": "device-5"}, 200)
	jti := p1["refresh_jti"].(string)
	clusterHash := storedBinding(t, n, jti)
	n.stop()
	// Make the row look as an older version stored it.
	legacyKey := []byte("legacy-per-node-binding-key-0123")
	m := hmac.New(sha256.New, legacyKey)
	m.Write([]byte("device-5"))
	db, err := sql.Open("sqlite", "file:"+n.DB)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO kv (name, value) VALUES ('binding_key', ?)", []any{legacyKey}},
		{"UPDATE refresh_tokens SET binding_hash = ? WHERE jti = ?", []any{m.Sum(nil), jti}},
	} {
		if _, err := db.Exec(q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	db.Close()
	n.start()
	if r := n.refreshOnce(p1["refresh_token"].(string), "device-6"); r.Status != 401 {
		t.Fatalf("wrong binding on a legacy row: %d %s, want 401", r.Status, r.Body)
	}
	r := n.refreshOnce(p1["refresh_token"].(string), "device-5")
	if r.Status != 200 {
		t.Fatalf("legacy row refresh: %d %s", r.Status, r.Body)
	}
	next := r.JSON(t)["refresh_token"].(string)
	var claims jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(next, &claims); err != nil {
		t.Fatal(err)
	}
	if got := storedBinding(t, n, claims.ID); !hmac.Equal(got, clusterHash) {
		t.Fatalf("successor's binding hash %x, want the cluster-wide hash %x", got, clusterHash)
	}
}

// storedBinding reads a refresh token's stored binding hash.
func storedBinding(t *testing.T, n *node, jti string) []byte {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+n.DB+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var h []byte
	if err := db.QueryRow("SELECT binding_hash FROM refresh_tokens WHERE jti = ?", jti).Scan(&h); err != nil {
		t.Fatalf("binding of %s: %v", jti, err)
	}
	return h
}

// TestKafkaOnlyRefresh: two --dev nodes that share only a Kafka topic
// replicate refresh state too: created on A, refreshed on B; the retired
// token presented on A is reuse and the family is revoked on B.
func TestKafkaOnlyRefresh(t *testing.T) {
	kf := startKafka(t)
	p := startKafkaPair(t, kf, true, "", "")
	create := p.a.post("/token/refresh/create", map[string]any{"subject": "kafka-roamer", "client_binding": "device-7"}, 200)
	r1 := create["refresh_token"].(string)
	eventually(t, kafkaBound, "a's refresh token known on b", func() bool { return p.b.introspect(r1) == true })
	r := p.b.refreshOnce(r1, "device-7")
	if r.Status != 200 {
		t.Fatalf("refresh on b: %d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	r2, access2 := m["refresh_token"].(string), m["access_token"].(string)
	eventually(t, kafkaBound, "b's rotation known on a", func() bool { return p.a.introspect(r2) == true })
	if r := p.a.refreshOnce(r1, "device-7"); r.Status != 401 || !strings.Contains(string(r.Body), "reuse") {
		t.Fatalf("retired token on a: %d %s, want 401 reuse", r.Status, r.Body)
	}
	eventually(t, kafkaBound, "the family revoked on b", func() bool {
		return p.b.validate(access2)["revoked"] == true && p.b.introspect(r2) == false
	})
}
