package revoker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/revocd/revocd/actors/issuer"
	"github.com/revocd/revocd/revocation"
)

// storedCurrentKid returns the current kid of the key ring as the audit
// log holds it.
func (f *fixture) storedCurrentKid() string {
	f.t.Helper()
	blob, ok, err := f.store.GetKV(context.Background(), issuer.RingKV)
	if err != nil || !ok {
		f.t.Fatalf("stored key ring: %v, %v", ok, err)
	}
	var rec struct {
		Current string `json:"current"`
	}
	if err := json.Unmarshal(blob, &rec); err != nil {
		f.t.Fatal(err)
	}
	return rec.Current
}

// decodeSegment returns the decoded i-th dot-separated segment of a JWT.
func decodeSegment(t *testing.T, tok string, i int) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRevokeKidOfCurrentKeyRotatesBeforeAck: revoke_kid of the signing key
// is answered only after a fresh key is current in memory and in the audit
// log, and the old key is gone from the ring.
func TestRevokeKidOfCurrentKeyRotatesBeforeAck(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	old := f.ring.Current().ID
	ev := f.revoke(revocation.TypeKid, old)
	if ev.Type != revocation.TypeKid || ev.Value != old {
		t.Fatalf("event = %+v, want revoke_kid %s", ev, old)
	}
	cur := f.ring.Current().ID
	if cur == old {
		t.Fatal("the revoked key is still current when the revocation is acknowledged")
	}
	if _, ok := f.ring.Lookup(old); ok {
		t.Fatal("the revoked key is still in the ring")
	}
	if stored := f.storedCurrentKid(); stored != cur {
		t.Fatalf("stored ring's current key = %q, want %q", stored, cur)
	}
	// A token issued now is signed with the new key.
	tok := f.issueAccess("kate")
	var hdr struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(decodeSegment(t, tok, 0), &hdr); err != nil || hdr.Kid != cur {
		t.Fatalf("token kid = %q (%v), want %q", hdr.Kid, err, cur)
	}
}

// TestRevokeKidDoesNotBlockOtherRevocations: while a revoke_kid waits for
// the key ring's commit (held at the gate), the revocation actor keeps
// taking requests: a revoke_jti sent meanwhile reaches the audit writer,
// and both succeed once the writes go through. The old actor waited inside
// Receive for the issuer (which waited inside Receive for the audit
// writer): the revoke_jti queued behind it and the revoke_kid failed with
// a timeout (checked against the old code with this test's steps).
func TestRevokeKidDoesNotBlockOtherRevocations(t *testing.T) {
	f := newFixture(t, fixtureOpts{gated: true})
	old := f.ring.Current().ID
	kid := f.engine.Request(f.revoker, &Revoke{Type: revocation.TypeKid, Value: old}, 10*time.Second)
	f.waitArrived() // the key ring write
	jti := f.engine.Request(f.revoker, &Revoke{Type: revocation.TypeJTI, Value: "jti-while-rotating"}, 10*time.Second)
	f.waitArrived() // the jti revocation, while the ring write is held
	f.releaseGate()
	f.waitArrived() // the kid revocation, sent once the ring is durable
	f.releaseGate()
	if r := result(t, jti); r.Err != nil || r.Value.(*revocation.Event).Value != "jti-while-rotating" {
		t.Fatalf("jti revocation = %+v", r)
	}
	if r := result(t, kid); r.Err != nil || r.Value.(*revocation.Event).Value != old {
		t.Fatalf("kid revocation = %+v", r)
	}
	if f.ring.Current().ID == old {
		t.Fatal("the revoked key is still current")
	}
}
