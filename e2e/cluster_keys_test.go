package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/revocd/revocd/revocation"
)

// waitValid polls n until tok validates (valid and not revoked).
func waitValid(t *testing.T, n *node, tok, what string) {
	t.Helper()
	waitValidWithin(t, n, tok, what, clusterBound)
}

// waitKidRevoked polls n until tok validates as revoked.
func waitKidRevoked(t *testing.T, n *node, tok, what string) {
	t.Helper()
	deadline := time.Now().Add(clusterBound)
	var last map[string]any
	for time.Now().Before(deadline) {
		if last = n.validate(tok); last["revoked"] == true {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not revoked within %v: %v", what, clusterBound, last)
}

// TestClusterKeys (issue #11: "with EdDSA, ES256 or ML-DSA-65, or after
// /admin/keys/rotate even with HS256, a token validates only on the node
// that issued it"): in a --dev cluster started as the README's recipe says,
// a token issued on A validates on B, before and after A rotates its key; a
// node started after the rotation catches up; B restarted still validates
// (its ring is persisted); a revoke_kid on B of A's key stops A signing
// with it and both nodes reject its tokens. The old nodes answered
// "Unknown signing key" on B.
func TestClusterKeys(t *testing.T) {
	for _, alg := range []string{"EdDSA", "ES256", "ML-DSA-65", "HS256"} {
		t.Run(alg, func(t *testing.T) {
			recipe := newClusterRecipe(t, "a", "b", "c")
			dir := t.TempDir()
			start := func(id string) *node {
				return recipe.start(t, id, filepath.Join(dir, id+".db"), []string{"JWT_ALGORITHM=" + alg}).node
			}
			a, b := start("a"), start("b")
			old, _ := a.issue("ann")
			waitValid(t, b, old, "A's token on B")

			rotatedAt := time.Now()
			rot := a.post("/admin/keys/rotate", `{}`, 200)
			kid, _ := rot["kid"].(string)
			if kid == "" || kid == headerKid(t, old) {
				t.Fatalf("rotate: %v", rot)
			}
			fresh, _ := a.issue("bob")
			if headerKid(t, fresh) != kid {
				t.Fatalf("token after the rotation signed with %q, want %q", headerKid(t, fresh), kid)
			}
			waitValid(t, b, fresh, "A's token after its rotation on B")
			t.Logf("%s: a key rotated on A verified on B %v after the rotation (polled every 20 ms)", alg, time.Since(rotatedAt).Round(time.Millisecond))
			if v := b.validate(old); v["valid"] != true {
				t.Fatalf("A's token from before the rotation on B: %v", v)
			}

			if alg != "HS256" { // B's JWKS lists A's public keys (HS256 has none to list)
				jwks := string(b.do("GET", "/.well-known/jwks.json", nil).Body)
				for _, k := range []string{headerKid(t, old), kid} {
					if !strings.Contains(jwks, `"kid":"`+k+`"`) {
						t.Fatalf("B's JWKS lacks A's key %s: %s", k, jwks)
					}
				}
			}

			c := start("c") // joins after the rotation: anti-entropy brings the keys
			waitValid(t, c, old, "A's old token on the late node C")
			waitValid(t, c, fresh, "A's new token on the late node C")

			b.restart()
			for name, tok := range map[string]string{"old": old, "new": fresh} {
				if v := b.validate(tok); v["valid"] != true {
					t.Fatalf("A's %s token on B after B's restart: %v", name, v)
				}
			}
			bTok, _ := b.issue("cy")
			waitValid(t, a, bTok, "B's token on A")

			b.revoke("revoke_kid", kid)
			for _, n := range []*node{a, b, c} {
				waitKidRevoked(t, n, fresh, "revoke_kid on B of A's key")
			}
			deadline := time.Now().Add(clusterBound)
			for {
				next, _ := a.issue("dee")
				if headerKid(t, next) != kid {
					waitValid(t, b, next, "A's token under its fresh key on B")
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("A still signs with the revoked kid %s after %v", kid, clusterBound)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if v := a.validate(fresh); v["revoked"] != true {
				t.Fatalf("the revoked key's token on A: %v", v)
			}
		})
	}
}

// TestKafkaOnlyKeys: two nodes that share only a Kafka topic (no cluster;
// event trust by EVENT_TRUSTED_KEYS) verify each other's EdDSA tokens,
// before and after a rotation.
func TestKafkaOnlyKeys(t *testing.T) {
	kf := startKafka(t)
	dir := t.TempDir()
	ids := []string{"a", "b"}
	dbs := map[string]string{}
	var trusted []string
	for _, id := range ids {
		dbs[id] = filepath.Join(dir, id+".db")
		trusted = append(trusted, clusterEventKey(t, dbs[id], id+"-key"))
	}
	n := map[string]*node{}
	for _, id := range ids {
		n[id] = startNode(t, dbs[id], []string{"KAFKA_BOOTSTRAP=" + kf.addr(), "NODE_ID=" + id, "JWT_ALGORITHM=EdDSA",
			"PQC_SIGNING_KEY_ID=" + id + "-key", "EVENT_TRUSTED_KEYS=" + strings.Join(trusted, ",")})
	}
	old, _ := n["a"].issue("ann")
	waitValidWithin(t, n["b"], old, "A's token on B over Kafka", kafkaKeysBound)
	n["a"].post("/admin/keys/rotate", `{}`, 200)
	fresh, _ := n["a"].issue("bob")
	waitValidWithin(t, n["b"], fresh, "A's token after its rotation on B over Kafka", kafkaKeysBound)
	bTok, _ := n["b"].issue("cy")
	waitValidWithin(t, n["a"], bTok, "B's token on A over Kafka", kafkaKeysBound)
}

// kafkaKeysBound bounds how long a key takes to cross the topic here.
const kafkaKeysBound = 20 * time.Second

// waitValidWithin is waitValid with its own bound.
func waitValidWithin(t *testing.T, n *node, tok, what string, bound time.Duration) {
	t.Helper()
	deadline := time.Now().Add(bound)
	var last map[string]any
	for time.Now().Before(deadline) {
		if last = n.validate(tok); last["valid"] == true {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not valid within %v: %v", what, bound, last)
}

// revocationEvents returns the events of a GET /revocations page that are
// revocations: a node's own key_state (published at start) and
// refresh_state events are cluster state, not changes a request made.
func revocationEvents(t *testing.T, page []byte) []any {
	t.Helper()
	var doc struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(page, &doc); err != nil {
		t.Fatalf("GET /revocations: %v: %s", err, page)
	}
	var out []any
	for _, e := range doc.Events {
		if typ, _ := e["type"].(string); !revocation.Type(typ).IsState() {
			out = append(out, e)
		}
	}
	return out
}
