package cluster

import (
	"crypto/sha256"
	"math"
	"math/bits"
	"strings"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/revocation"
	"github.com/revocd/revocd/transport/remote"
)

// Bounds revocation.Event.Validate enforces but revocation does not export;
// TestEventBoundsMatchValidate pins them to Validate.
const (
	maxEventIDLen = 64
	maxOriginLen  = 256
	maxKeyIDLen   = 256
)

// MaxBatchEvents is the most events one EventBatch may carry: an
// anti-entropy page, and Broadcast splits larger commits into batches of at
// most this many. A batch with more is refused.
const MaxBatchEvents = PageSize

// frameBatches is how many largest revocation batches one frame of an
// older node may hold. revocd before its own sender used hollywood's stream
// writer, which packs every message queued for a peer while it is busy into
// one frame (an Envelope): a whole resend round (its pages go out back to
// back) plus as much live traffic. This node's sender packs at most
// frameBudget bytes per frame (a larger message goes alone), so only older
// nodes' frames, whose events carry no Data, need this allowance. A frame
// beyond MaxFrameBytes is refused and the connection dropped; what it
// carried reaches the peer again by anti-entropy once it reconnects.
const frameBatches = 2 * ResendBudget / PageSize

// frameMargin covers a frame's headers around its messages: the target and
// sender PIDs, the type names and each message's indices (well under 1 KiB
// in practice).
const frameMargin = 64 << 10

var (
	// MaxSigLen is the longest Sig a legitimate event carries: version,
	// ML-DSA-65 signature, leaf index and count, and a Merkle proof of one
	// hash per level of a batch of eventsig.MaxBatchSize events.
	MaxSigLen = eventsig.BatchSigSize + 4 + 4 + bits.Len(eventsig.MaxBatchSize-1)*sha256.Size
	// MaxEventBytes is the protobuf size of the largest event Validate
	// accepts, signed by this version's signer (see maxEvent).
	MaxEventBytes = ToProto([]revocation.Event{maxEvent()})[0].SizeVT()
	// MaxBatchBytes is the largest encoded EventBatch (MaxBatchEvents
	// largest events) and so the largest message a node accepts: a message
	// beyond it is refused before it is decoded.
	MaxBatchBytes = maxBatchBytes()
	// MaxFrameBytes is the largest remoting frame a node reads: drpc
	// refuses a longer one while reading it, before buffering more than
	// that. It is the larger of one largest batch (what this node's sender
	// puts in a frame at most) and an older node's packed resend round of
	// revocation events (legacyFrameBytes), so state events, whose Data
	// makes the largest event three times larger, do not raise it. It
	// replaces hollywood's 4 MiB default (which one resend round can
	// exceed) and the 128 MiB revocd used before.
	MaxFrameBytes = max(MaxBatchBytes+frameMargin, frameBudget+frameMargin, legacyFrameBytes())
)

// legacyFrameBytes is the largest frame of a node that packs a whole resend
// round into one frame (see frameBatches): frameBatches batches of the
// largest revocation events, which have no Data.
func legacyFrameBytes() int {
	e := maxEvent()
	e.Type, e.Data = revocation.TypeJTI, nil
	return frameBatches*batchBytes(e) + frameMargin
}

// maxEvent returns an event with every field at the longest Validate (and,
// for Sig, the signer) allows, and the widest varints: a replicated-state
// event (the longest type name) with Data of revocation.MaxDataLen.
func maxEvent() revocation.Event {
	longest := revocation.TypeJTI
	for _, t := range []revocation.Type{revocation.TypeSub, revocation.TypeKid, revocation.TypeKeyState, revocation.TypeRefreshState} {
		if len(t) > len(longest) {
			longest = t
		}
	}
	return revocation.Event{
		EventID: strings.Repeat("e", maxEventIDLen), Type: longest,
		Value: strings.Repeat("v", revocation.MaxValueLen), TS: math.MinInt64, ExpiresAt: math.MinInt64,
		Reason: strings.Repeat("r", revocation.MaxReasonLen), Origin: strings.Repeat("o", maxOriginLen),
		Seq: math.MaxUint64, KeyID: strings.Repeat("k", maxKeyIDLen), Alg: revocation.SigAlg,
		Sig: make([]byte, MaxSigLen), Data: make([]byte, revocation.MaxDataLen),
	}
}

func maxBatchBytes() int { return batchBytes(maxEvent()) }

// batchBytes is the encoded size of an EventBatch of MaxBatchEvents copies
// of ev.
func batchBytes(ev revocation.Event) int {
	e := ToProto([]revocation.Event{ev})[0]
	events := make([]*remote.Event, MaxBatchEvents)
	for i := range events {
		events[i] = e
	}
	b := &remote.EventBatch{NodeId: strings.Repeat("n", maxOriginLen), Events: events, Resend: true, More: true}
	return b.SizeVT()
}
