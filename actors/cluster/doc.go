// Package cluster replicates revocation events between revocd nodes over
// hollywood actor remoting.
//
// Every node runs one replicator actor (kind "replicator", id "1"), so a
// peer addresses it as actor.NewPID(peerAddr, "replicator/1") with the
// address from CLUSTER_PEERS. Nothing relies on the sender PID carried by
// hollywood: every message names its sending node, and replies go to the
// configured address of that node (which may be a proxy or load balancer).
//
// # Receiving
//
// Messages are sent by the node's own per-peer senders (sender.go) and
// received by its own drpc server (receiver), speaking hollywood's remoting
// protocol (not its implementation) with bounds
// derived from the event format (limits.go): a frame beyond MaxFrameBytes
// is refused while it is read and its connection closed, a message beyond
// MaxBatchBytes before it is decoded, an EventBatch of more than
// MaxBatchEvents events after; only EventBatch and Hello for the
// replicator are decoded. With TLS, the receiver completes each handshake
// itself, so a client certificate that does not verify is refused before
// any frame is read. Refusals are counted in
// revocd_cluster_messages_rejected_total (by reason) and logged.
//
// # Actors
//
// The replicator actor owns the peers' state (connected, last seen,
// settled, their last digest) and this node's digest ("have", below).
// Each peer has a worker, a child actor of the replicator ("peer/<id>"),
// which runs that peer's resend rounds and the ingest of its batches.
// Nothing blocks inside Receive: store reads (resend pages, digest
// refreshes), reconnect probes and Ingest calls run on goroutines that
// report back with a message. After each message the replicator publishes
// an immutable snapshot of the peers' state, which Broadcast and Status
// read without talking to the actor. State survives a restart after a
// panic (each incarnation gets the same state).
//
// # Live path
//
// After the audit writer commits a batch, Node.Broadcast sends the node's
// own new events as EventBatches straight to every peer the snapshot shows
// connected. The receiving replicator drops events it already holds or is
// ingesting already (an exact copy: see below) and hands the rest to the
// sending peer's worker, which calls the node's Ingester (signature and
// replay checks, commit through the audit writer, apply to the index), one
// call at a time per peer, merging batches queued meanwhile; calls for
// different peers run concurrently and share a group commit. The worker
// reports back and the replicator records the events in its digest.
//
// # Anti-entropy
//
// Each node tracks per origin the highest seq s such that it holds every
// event 1..s of that origin ("have", computed from SQLite). On start, on
// (re)connect and every SyncInterval a node sends each peer a remote.Hello
// with that digest; the peer answers with every event of every origin
// except the asker's own that follows the digest, read from its audit log
// in pages and bounded per round (the asker pulls the next round with a new
// Hello). A node that was down or cut off therefore converges from any peer
// that has the events, even one that is not their origin. Events that do
// not verify under the trusted keys are dropped by Ingest, so a relay
// cannot forge; and as nothing before Ingest verifies, the replicator
// drops only exact copies, so a forged event carrying a genuine event's id
// never shadows it.
//
// A Hello can claim any NodeId, so resends are rate-limited per peer: one
// round runs at a time and stays in flight until the peer's digest covers
// it (or shows no progress through it for a few sync intervals); a new
// round starts at most once per Config.ResendInterval, unless the peer's
// digest shows it applied the whole previous round and that round stopped
// at its budget (a catch-up proceeds at the pace the peer applies it).
// Other Hellos are counted in revocd_cluster_resends_suppressed_total and
// the newest is answered when the wait ends. Spoofed Hellos thus make a
// node resend at most ResendBudget events per interval to a configured
// peer's configured address, not one round per Hello (a spoofer who also
// forges digests acknowledging each round can make it send its log once
// per interval, each event once; only binding NODE_ID to the sender's TLS
// identity prevents that).
//
// # Connectivity
//
// A peer counts as connected once a message from it arrived and until
// either nothing arrived for 3 SyncIntervals or its sender could not
// connect or lost its connection. Broadcast sends only to connected peers:
// the others catch up by anti-entropy. A disconnected peer is probed with a
// plain TCP (or TLS) connection every ProbeInterval (an accepted connection
// must stay open, which a proxy without a backend does not). Each peer's
// sender dials on its own goroutine when it has something to send, packs
// queued messages into frames of at most 1 MiB and reports a failure to
// the replicator; its queue is bounded and drops what does not fit. None
// of this uses hollywood's stream writers, which dial on the router's
// goroutine for about 3 s (stalling every peer) and, with TLS, crash the
// process after a dial that keeps failing.
package cluster
