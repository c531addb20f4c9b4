package issuer

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
	"github.com/revocd/revocd/revocation"
)

// TestReceivedRevokeKidRevokesRingForGood (issue #11 item 2: "revoke_kid
// stays local"): a revoke_kid of this node's current key (the key of a
// JWT_SECRET_KEY the cluster shares) committed from another node, with
// ttl_seconds 2, makes the issuer switch keys and persist the revocation:
// once the event's index entry is gone, the node neither signs with the key
// nor trusts its tokens, and a restart keeps it so. The old issuer ignored
// received events: the key stayed current and its tokens became valid again
// when the entry expired.
func TestReceivedRevokeKidRevokesRingForGood(t *testing.T) {
	st := openStore(t)
	o := RingOptions{Algorithm: token.AlgHS256, Secret: testSecret}
	ring := loadRing(t, st, o)
	kid := ring.Current().ID
	tok := mint(t, ring)

	signer, err := eventsig.NewSigner("ev1", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	e, err := actor.NewEngine(actor.NewEngineConfig())
	if err != nil {
		t.Fatal(err)
	}
	ix := index.New(index.Options{})
	auditPID := e.Spawn(audit.New(audit.Config{Store: st, Signer: signer, Index: ix, Origin: "node-1"}), "audit")
	issuerPID := e.Spawn(New(Config{
		Issuer: &token.Issuer{Ring: ring, Issuer: "test"}, Ring: ring, Audit: auditPID,
		Algorithm: token.AlgHS256, AccessTTL: time.Minute, RefreshTTL: time.Hour, Index: ix,
	}), "issuer")
	t.Cleanup(func() {
		for _, pid := range []*actor.PID{issuerPID, auditPID} {
			<-e.Poison(pid).Done()
		}
	})
	e.Send(auditPID, &audit.Subscribe{PID: issuerPID})

	now := time.Now()
	ev := revocation.Event{
		EventID: "remote-kid-1", Type: revocation.TypeKid, Value: kid, TS: now.UnixMilli(),
		ExpiresAt: now.Add(2 * time.Second).UnixMilli(), Origin: "node-2", Seq: 1,
		KeyID: "ev2", Alg: "ML-DSA-65", Sig: []byte("verified by the intake"),
	}
	res, err := e.Request(auditPID, &audit.ApplyRemote{Events: []revocation.Event{ev}}, 10*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := res.(*audit.Result); !ok || r.Err != nil || r.Inserted != 1 {
		t.Fatalf("ApplyRemote answer %T %+v", res, res)
	}
	// The issuer handled the *Committed (sent before the Result) before this
	// request, and the audit writer stores rings in order: once it is
	// answered, the ring written for the received event is durable too.
	if _, err := e.Request(issuerPID, &RotateKey{IfCurrent: "hs-sync", ID: 7}, 10*time.Second).Result(); err != nil {
		t.Fatal(err)
	}
	if cur := ring.Current(); cur == nil || cur.ID == kid || !ring.IsRevoked(kid) {
		t.Fatalf("after the received revoke_kid: current %v, revoked %v; want another key and %s revoked", cur, ring.IsRevoked(kid), kid)
	}
	restarted := loadRing(t, st, o) // the index entry has expired: o.Revoked is nil
	if cur := restarted.Current(); cur == nil || cur.ID == kid {
		t.Fatalf("restart: current key %v, want a key other than the revoked %s", cur, kid)
	}
	if !restarted.IsRevoked(kid) {
		t.Fatalf("restart: %s not revoked", kid)
	}
	if err := verify(restarted, tok); err == nil {
		t.Fatal("restart: a token of the revoked key verifies")
	}
}
