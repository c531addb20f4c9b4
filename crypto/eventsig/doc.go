// Package eventsig signs and verifies revocation events with ML-DSA-65
// (FIPS 204, via circl), one signature per batch.
//
// # Batch signatures
//
// ML-DSA-65 signing costs a few hundred microseconds, too much per event at
// the required commit rate, so a Signer signs a whole batch (a group commit)
// at once: it builds a SHA-256 Merkle tree over the events' canonical
// encodings (revocation.Event.AppendCanonical) and signs its root once.
//
//	leaf = SHA-256(0x00 || Canonical(e))
//	node = SHA-256(0x01 || left || right)     (a level's odd last node is promoted unchanged)
//	msg  = "revocd/event-batch/v1" || key_id || root
//	sig  = ML-DSA-65.Sign(sk, msg, ctx = "")  (hedged)
//
// Every event carries in its Sig field (format version 1):
//
//	version (1 byte, 0x01) || sig (3309 bytes) || leaf index (uint32 BE) ||
//	leaf count (uint32 BE) || proof (32-byte sibling hashes, bottom up)
//
// The proof has exactly one hash per level where the leaf's ancestor has a
// sibling, so its length follows from (index, count); a single event is a
// batch of one with an empty proof. KeyID and Alg are part of the canonical
// encoding and hence signed.
//
// Everything before the leaf index is the same in every event of a batch:
// SplitSig separates that batch part from the event's own remainder so that
// storage can keep it once, and JoinSig puts the Sig back together.
//
// A Verifier recomputes the leaf, walks the proof to the root and verifies
// the root signature once per (key, root, signature); later events of the
// same batch hit a bounded cache and cost only hashes.
//
// ReplayGuard remembers the ids of events made durable within a TTL, so
// receivers drop duplicates; receivers record an id only after its commit.
//
// The package is pure: it performs no I/O and imports no network library.
package eventsig
