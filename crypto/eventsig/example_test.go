package eventsig_test

import (
	"fmt"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/revocation"
)

// A node signs a group commit once; a peer verifies each event.
func Example() {
	signer, err := eventsig.NewSigner("events-2026-01", nil)
	if err != nil {
		panic(err)
	}
	batch := []*revocation.Event{
		{EventID: "e1", Type: revocation.TypeJTI, Value: "jti-1", TS: 1, ExpiresAt: 2, Origin: "a", Seq: 1},
		{EventID: "e2", Type: revocation.TypeSub, Value: "alice", TS: 1, ExpiresAt: 2, Origin: "a", Seq: 2},
		{EventID: "e3", Type: revocation.TypeKid, Value: "old-kid", TS: 1, ExpiresAt: 2, Origin: "a", Seq: 3},
	}
	if err := signer.SignBatch(batch); err != nil {
		panic(err)
	}

	doc, _ := eventsig.PublicKeysJSON(signer) // served at GET /events/keys
	peer := eventsig.NewVerifier()
	if err := peer.TrustJSON(doc); err != nil {
		panic(err)
	}
	for _, e := range batch {
		fmt.Println(e.EventID, e.Alg, peer.Verify(e))
	}
	batch[1].Value = "bob"
	fmt.Println(peer.Verify(batch[1]) != nil)
	// Output:
	// e1 ML-DSA-65 <nil>
	// e2 ML-DSA-65 <nil>
	// e3 ML-DSA-65 <nil>
	// true
}
