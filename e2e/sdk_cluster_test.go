package e2e

import (
	"testing"
)

// TestSDKFollowsOneNodeOfACluster: an SDK validator (the example resource
// server) follows node a of a two-node --dev cluster started as the README
// says, and a revocation made on node b reaches it through a's feed. a
// serves b's events with b's signature, so the SDK must learn b's event key
// from a's GET /events/keys, bound to node b (the key a learnt from b's
// announcement). Before, the document listed only a's own keys and the SDK
// refused every event of b ("event refused", unknown key).
func TestSDKFollowsOneNodeOfACluster(t *testing.T) {
	recipe := newClusterRecipe(t, "a", "b")
	env := []string{"FEED_API_KEYS=" + sdkFeedKey, "JWT_ALGORITHM=EdDSA"}
	a, b := recipe.start(t, "a", "", env), recipe.start(t, "b", "", env)
	a.waitPeer("b", "connected")
	b.waitPeer("a", "connected")
	ex := startExample(t, a.URL)

	tok, jti := a.issue("alice")
	ex.await(t, tok, 200, sdkBound)
	b.revoke("revoke_jti", jti)
	a.waitRevoked(tok, "b's revocation on a")
	d := ex.await(t, tok, 401, sdkBound)
	t.Logf("b's revocation enforced by the SDK following a after %v", d)
}
