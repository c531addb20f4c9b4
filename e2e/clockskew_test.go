package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRevokeSubCoversNodeWithClockAhead (issue #11: clock skew does not
// reopen a revocation): two nodes joined by the cluster link; node A's
// clock runs 1.5 s ahead (REVOCD_TEST_CLOCK_OFFSET_MS, test only) of node
// B's, within the default MAX_CLOCK_SKEW_SECONDS (2). A issues a token, B
// acknowledges a revoke_sub of its subject right after: the token is
// revoked on B and on A, and tokens issued afterwards on either node are
// valid on both. The old cutoff was B's current second, one second before
// the iat A's clock gave the token, so the token stayed valid everywhere.
func TestRevokeSubCoversNodeWithClockAhead(t *testing.T) {
	addrs := map[string]string{"node-a": clusterAddr(t), "node-b": clusterAddr(t)}
	dir := t.TempDir()
	dbs := map[string]string{"node-a": filepath.Join(dir, "a.db"), "node-b": filepath.Join(dir, "b.db")}
	trusted := []string{clusterEventKey(t, dbs["node-a"], "node-a-key"), clusterEventKey(t, dbs["node-b"], "node-b-key")}
	start := func(id, peer string, extra ...string) *clusterMember {
		env := append([]string{
			"NODE_ID=" + id, "CLUSTER_LISTEN=" + addrs[id], "CLUSTER_PEERS=" + peer + "@" + addrs[peer],
			"PQC_SIGNING_KEY_ID=" + id + "-key", "EVENT_TRUSTED_KEYS=" + strings.Join(trusted, ","),
			"MAX_CLOCK_SKEW_SECONDS=2",
		}, extra...)
		return &clusterMember{node: startNode(t, dbs[id], env), id: id, cluster: addrs[id]}
	}
	a := start("node-a", "node-b", "REVOCD_TEST_CLOCK_OFFSET_MS=1500")
	b := start("node-b", "node-a")
	a.waitPeer(b.id, "connected")
	b.waitPeer(a.id, "connected")

	tok, _ := a.issue("zed")
	b.revoke("revoke_sub", "zed")
	if v := b.validate(tok); v["revoked"] != true || v["valid"] != false {
		t.Fatalf("B: token issued on A (clock +1.5 s) before B's revoke_sub: %v, want revoked", v)
	}
	a.waitRevoked(tok, "revoke_sub acknowledged on B")

	for _, issuer := range []*clusterMember{a, b} {
		after, _ := issuer.issue("zed")
		for _, m := range []*clusterMember{a, b} {
			if v := m.validate(after); v["valid"] != true {
				t.Fatalf("%s: token issued on %s after the revocation: %v, want valid", m.id, issuer.id, v)
			}
		}
	}
}
