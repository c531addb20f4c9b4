package eventsig

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/revocd/revocd/revocation"
)

// MaxKeyIDLen bounds key ids, matching revocation.Event.Validate.
const MaxKeyIDLen = 256

// signerVersion is the first byte of a marshalled Signer.
const signerVersion = 1

// Signer signs batches of revocation events with one ML-DSA-65 key.
// A Signer is immutable after construction and safe for concurrent use.
type Signer struct {
	keyID string
	seed  [mldsa65.SeedSize]byte
	sk    *mldsa65.PrivateKey
	pub   []byte
}

// NewSigner generates a fresh ML-DSA-65 key named keyID from 32 bytes of
// rand (crypto/rand.Reader if nil).
func NewSigner(keyID string, rand io.Reader) (*Signer, error) {
	if err := checkKeyID(keyID); err != nil {
		return nil, err
	}
	if rand == nil {
		rand = crand.Reader
	}
	var seed [mldsa65.SeedSize]byte
	defer clear(seed[:])
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, fmt.Errorf("eventsig: reading randomness: %w", err)
	}
	return newSigner(keyID, &seed), nil
}

func newSigner(keyID string, seed *[mldsa65.SeedSize]byte) *Signer {
	pk, sk := mldsa65.NewKeyFromSeed(seed)
	s := &Signer{keyID: keyID, seed: *seed, sk: sk, pub: pk.Bytes()}
	return s
}

func checkKeyID(keyID string) error {
	if keyID == "" || len(keyID) > MaxKeyIDLen {
		return fmt.Errorf("%w: key id must have 1 to %d bytes, has %d", ErrInvalidKey, MaxKeyIDLen, len(keyID))
	}
	return nil
}

// MarshalBinary returns the Signer's secret persistent form:
// 0x01 || seed (32 bytes) || key id.
func (s *Signer) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 1+len(s.seed)+len(s.keyID))
	b = append(b, signerVersion)
	b = append(b, s.seed[:]...)
	return append(b, s.keyID...), nil
}

// UnmarshalSigner restores a Signer from MarshalBinary's output. Errors wrap
// ErrInvalidKey.
func UnmarshalSigner(b []byte) (*Signer, error) {
	if len(b) < 1+mldsa65.SeedSize+1 || len(b) > 1+mldsa65.SeedSize+MaxKeyIDLen {
		return nil, fmt.Errorf("%w: marshalled signer is %d bytes", ErrInvalidKey, len(b))
	}
	if b[0] != signerVersion {
		return nil, fmt.Errorf("%w: unknown signer version %d", ErrInvalidKey, b[0])
	}
	var seed [mldsa65.SeedSize]byte
	defer clear(seed[:])
	copy(seed[:], b[1:])
	return newSigner(string(b[1+mldsa65.SeedSize:]), &seed), nil
}

// KeyID returns the key id written into signed events.
func (s *Signer) KeyID() string { return s.keyID }

// PublicKey returns a copy of the 1952-byte ML-DSA-65 public key.
func (s *Signer) PublicKey() []byte { return append([]byte(nil), s.pub...) }

// Keys returns the Signer's key as a one-entry map, for PublicKeysJSON.
func (s *Signer) Keys() map[string][]byte { return map[string][]byte{s.keyID: s.PublicKey()} }

// SignBatch signs events with one ML-DSA-65 signature per MaxBatchSize
// events. It sets KeyID and Alg on every event before computing the
// canonical encodings, then sets Sig; other fields must not change
// afterwards. Events must not be modified concurrently. A nil element is an
// error and leaves every event unchanged; an empty slice is a no-op.
func (s *Signer) SignBatch(events []*revocation.Event) error {
	for i, e := range events {
		if e == nil {
			return fmt.Errorf("eventsig: event %d is nil", i)
		}
	}
	for len(events) > 0 {
		n := min(len(events), MaxBatchSize)
		if err := s.signChunk(events[:n]); err != nil {
			return err
		}
		events = events[n:]
	}
	return nil
}

func (s *Signer) signChunk(events []*revocation.Event) error {
	leaves := make([][hashSize]byte, len(events))
	var scratch []byte
	for i, e := range events {
		e.KeyID, e.Alg = s.keyID, revocation.SigAlg
		leaves[i], scratch = leafHash(e, scratch)
	}
	levels := buildTree(leaves)
	root := levels[len(levels)-1][0]

	var sig [mldsa65.SignatureSize]byte
	if err := mldsa65.SignTo(s.sk, batchMessage(s.keyID, &root), nil, true, sig[:]); err != nil {
		return fmt.Errorf("eventsig: signing: %w", err)
	}

	// One allocation for every Sig; each is capped so appends copy.
	total := 0
	for i := range events {
		total += sigHeaderSize + proofLen(uint64(i), uint64(len(events)))*hashSize
	}
	buf := make([]byte, 0, total)
	for i, e := range events {
		start := len(buf)
		buf = append(buf, SigVersion)
		buf = append(buf, sig[:]...)
		buf = binary.BigEndian.AppendUint32(buf, uint32(i))
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(events)))
		buf = appendProof(buf, levels, i)
		e.Sig = buf[start:len(buf):len(buf)]
	}
	if len(buf) != total {
		return errors.New("eventsig: internal error: signature size mismatch")
	}
	return nil
}
