package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// devKid is the kid of the public default secret (config.SeedDefaultSecret).
const devKid = "hs-c1a84095da3e7f21"

// TestDevKeysNeverReachProduction (issue #11, item 3): a database used with
// --dev, then started in production with a strong secret and an admin key,
// no longer accepts the development node's tokens nor tokens anyone mints
// with the public default secret (golang-jwt, with its kid or without a
// kid), and signs new tokens with a non-development key; a second
// production restart keeps it so. The old revocd kept the default secret's
// key verifying for MaxLifetime (90 days) after the production secret
// became current: anyone could mint a token for any subject.
func TestDevKeysNeverReachProduction(t *testing.T) {
	dev := startNode(t, "", []string{"JWT_SECRET_KEY=" + devSecret, "JWT_ALGORITHM=HS256"})
	issued, _ := dev.issue("mallory")
	if kid := headerKid(t, issued); kid != devKid {
		t.Fatalf("--dev signs with kid %s, want the default secret's %s", kid, devKid)
	}
	dev.kill()

	now := time.Now()
	claims := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "root", "jti": uuid.NewString(), "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "iss": seedIssuer}
	}
	untrusted := []struct{ name, tok string }{
		{"issued in --dev", issued},
		{"minted with the default secret and its kid", signHS256(t, devSecret, devKid, claims())},
		{"minted with the default secret, no kid", signHS256(t, devSecret, "", claims())},
	}
	prod := prodNode(t, dev.DB)
	for restart := range 2 {
		for _, u := range untrusted {
			if v := prod.validate(u.tok); v["valid"] != false {
				t.Fatalf("restart %d: token %s: %v, want valid=false", restart, u.name, v)
			}
		}
		fresh := adminPost(t, prod, "/token", map[string]any{"subject": "mallory"})["access_token"].(string)
		if kid := headerKid(t, fresh); kid == devKid {
			t.Fatalf("restart %d: production signs with the development key %s", restart, kid)
		}
		if v := prod.validate(fresh); v["valid"] != true {
			t.Fatalf("restart %d: new production token: %v", restart, v)
		}
		prod.restart()
	}
}

// TestRevokedSecretKeyStaysRevokedAfterRestart (issue #11, item 2a): a
// revoke_kid of the key derived from JWT_SECRET_KEY with ttl_seconds 1; once
// that revocation's index entry has expired, a restart with the same secret
// neither accepts the key's tokens nor signs with it again. The old revocd
// decided from the (expired) index entry alone: the old token validated
// again and new tokens carried the revoked kid.
func TestRevokedSecretKeyStaysRevokedAfterRestart(t *testing.T) {
	n := startNode(t, "", []string{"JWT_SECRET_KEY=" + prodSecret, "ADMIN_API_KEYS=" + prodAdminKey, "JWT_LEEWAY_SECONDS=0"}, "--no-dev")
	old := adminPost(t, n, "/token", map[string]any{"subject": "ivan"})["access_token"].(string)
	kid := headerKid(t, old)
	adminPost(t, n, "/revoke", map[string]any{"type": "revoke_kid", "value": kid, "ttl_seconds": 1})
	expired := time.Now().Add(1500 * time.Millisecond)
	if v := n.validate(old); v["valid"] != false || v["revoked"] != true {
		t.Fatalf("token of the revoked key: %v", v)
	}
	// Not a synchronisation: the scenario needs the revocation's ttl_seconds
	// to have passed before the restart.
	time.Sleep(time.Until(expired))
	for restart := range 2 {
		n.restart()
		if v := n.validate(old); v["valid"] != false || v["revoked"] != true {
			t.Fatalf("restart %d: token of the revoked key: %v, want revoked", restart, v)
		}
		fresh := adminPost(t, n, "/token", map[string]any{"subject": "ivan"})["access_token"].(string)
		if k := headerKid(t, fresh); k == kid {
			t.Fatalf("restart %d: new token signed with the revoked kid %s", restart, kid)
		}
		if v := n.validate(fresh); v["valid"] != true {
			t.Fatalf("restart %d: new token: %v", restart, v)
		}
	}
}

// TestReceivedRevokeKidStaysRevoked (issue #11, item 2: revoke_kid "stays
// local"): two nodes joined by the cluster link sign with the key of the
// JWT_SECRET_KEY they share. A revoke_kid of it with ttl_seconds 1 on B
// reaches A, which stops signing with the key; once the revocation's
// entry has expired, A (running, then restarted) still reports the key's
// tokens revoked and signs with another key. The old A only indexed the
// event: after the entry expired it signed with the revoked key again and
// its tokens validated.
func TestReceivedRevokeKidStaysRevoked(t *testing.T) {
	addrs := map[string]string{"node-a": clusterAddr(t), "node-b": clusterAddr(t)}
	dir := t.TempDir()
	dbs := map[string]string{"node-a": filepath.Join(dir, "a.db"), "node-b": filepath.Join(dir, "b.db")}
	trusted := []string{clusterEventKey(t, dbs["node-a"], "node-a-key"), clusterEventKey(t, dbs["node-b"], "node-b-key")}
	start := func(id, peer string) *clusterMember {
		env := []string{
			"NODE_ID=" + id, "CLUSTER_LISTEN=" + addrs[id], "CLUSTER_PEERS=" + peer + "@" + addrs[peer],
			"PQC_SIGNING_KEY_ID=" + id + "-key", "EVENT_TRUSTED_KEYS=" + strings.Join(trusted, ","),
			"JWT_SECRET_KEY=" + prodSecret, "JWT_LEEWAY_SECONDS=0",
		}
		return &clusterMember{node: startNode(t, dbs[id], env), id: id, cluster: addrs[id]}
	}
	a := start("node-a", "node-b")
	b := start("node-b", "node-a")
	a.waitPeer(b.id, "connected")
	b.waitPeer(a.id, "connected")

	old, _ := a.issue("ivan")
	kid := headerKid(t, old)
	b.post("/revoke", map[string]any{"type": "revoke_kid", "value": kid, "ttl_seconds": 1}, 200)
	expired := time.Now().Add(1500 * time.Millisecond)
	a.waitRevoked(old, "revoke_kid on B")
	// Not a synchronisation: the scenario needs the revocation's
	// ttl_seconds to have passed.
	time.Sleep(time.Until(expired))
	for restart := range 2 {
		if v := a.validate(old); v["valid"] != false || v["revoked"] != true {
			t.Fatalf("A, restart %d: token of the key revoked on B: %v, want revoked", restart, v)
		}
		fresh, _ := a.issue("ivan")
		if k := headerKid(t, fresh); k == kid {
			t.Fatalf("A, restart %d: new token signed with the kid revoked on B", restart)
		}
		a.restart()
	}
}
