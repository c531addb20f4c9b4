package eventsig

import (
	"encoding/binary"
	"fmt"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

// SigVersion is the version byte of the Sig format written by this package.
const SigVersion = 1

// MaxBatchSize bounds the events under one root signature; SignBatch splits
// larger slices into several batches.
const MaxBatchSize = 1 << 16

// sigHeaderSize is version || signature || index || count.
const sigHeaderSize = 1 + mldsa65.SignatureSize + 4 + 4

// batchMessagePrefix is the domain separator of the signed root message.
const batchMessagePrefix = "revocd/event-batch/v1"

// parsedSig is a decoded Sig; its slices alias the input.
type parsedSig struct {
	rootSig      []byte
	index, count uint64
	proof        []byte
}

// parseSig decodes b strictly; errors wrap ErrMalformedSig.
func parseSig(b []byte) (parsedSig, error) {
	if len(b) < sigHeaderSize {
		return parsedSig{}, fmt.Errorf("%w: %d bytes, want at least %d", ErrMalformedSig, len(b), sigHeaderSize)
	}
	if b[0] != SigVersion {
		return parsedSig{}, fmt.Errorf("%w: unknown version %d", ErrMalformedSig, b[0])
	}
	p := parsedSig{rootSig: b[1 : 1+mldsa65.SignatureSize]}
	rest := b[1+mldsa65.SignatureSize:]
	p.index = uint64(binary.BigEndian.Uint32(rest))
	p.count = uint64(binary.BigEndian.Uint32(rest[4:]))
	p.proof = rest[8:]
	if p.count == 0 || p.index >= p.count {
		return parsedSig{}, fmt.Errorf("%w: leaf index %d of %d", ErrMalformedSig, p.index, p.count)
	}
	if want := proofLen(p.index, p.count) * hashSize; len(p.proof) != want {
		return parsedSig{}, fmt.Errorf("%w: proof is %d bytes, want %d", ErrMalformedSig, len(p.proof), want)
	}
	return p, nil
}

// batchMessage returns the signed message for a root.
func batchMessage(keyID string, root *[hashSize]byte) []byte {
	msg := make([]byte, 0, len(batchMessagePrefix)+len(keyID)+hashSize)
	msg = append(msg, batchMessagePrefix...)
	msg = append(msg, keyID...)
	return append(msg, root[:]...)
}

// BatchSigSize is the length of the batch part SplitSig returns: the version
// byte and the ML-DSA-65 signature over the batch's Merkle root, identical in
// every event of one signed batch.
const BatchSigSize = 1 + mldsa65.SignatureSize

// SplitSig splits a well-formed Sig into the part shared by every event of
// its batch, batchSig (version || ML-DSA-65 signature, BatchSigSize bytes),
// and the per-event remainder, rest (leaf index || leaf count || proof). It
// lets storage keep a batch signature once instead of once per event. Both
// slices alias sig. ok is false, with nil slices, when sig is not a
// well-formed Sig of this format (the same checks Verify makes before any
// cryptography); the signature itself is not verified.
// JoinSig(SplitSig(sig)) is byte-for-byte sig.
func SplitSig(sig []byte) (batchSig, rest []byte, ok bool) {
	if _, err := parseSig(sig); err != nil {
		return nil, nil, false
	}
	return sig[:BatchSigSize:BatchSigSize], sig[BatchSigSize:], true
}

// JoinSig reassembles a Sig from the two parts SplitSig returned, in a newly
// allocated slice: batchSig || rest. It does not validate its inputs.
func JoinSig(batchSig, rest []byte) []byte {
	sig := make([]byte, len(batchSig)+len(rest))
	copy(sig[copy(sig, batchSig):], rest)
	return sig
}
