package eventsig

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/revocd/revocd/revocation"
)

func TestBatchesVerify(t *testing.T) {
	s := sharedSigner(t)
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 9, 64, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			events := signed(t, n)
			root := events[0].Sig[1 : 1+mldsa65.SignatureSize]
			for i, e := range events {
				if e.KeyID != s.KeyID() || e.Alg != revocation.SigAlg {
					t.Fatalf("event %d: key id %q alg %q", i, e.KeyID, e.Alg)
				}
				if want := sigHeaderSize + proofLen(uint64(i), uint64(n))*hashSize; len(e.Sig) != want {
					t.Fatalf("event %d: sig %d bytes, want %d", i, len(e.Sig), want)
				}
				if !bytes.Equal(e.Sig[1:1+mldsa65.SignatureSize], root) {
					t.Fatalf("event %d: not under the batch signature", i)
				}
				if cap(e.Sig) != len(e.Sig) {
					t.Fatalf("event %d: Sig capacity leaks into the next event", i)
				}
			}
			// Fresh verifier (uncached) and a cached pass.
			v := trusting(t, s)
			for pass := 0; pass < 2; pass++ {
				for i, e := range events {
					if err := v.Verify(e); err != nil {
						t.Fatalf("pass %d event %d: %v", pass, i, err)
					}
				}
			}
			if got := v.cache.len(); got != 1 {
				t.Errorf("cache holds %d roots, want 1", got)
			}
		})
	}
}

func TestSingleEventHasEmptyProof(t *testing.T) {
	e := signed(t, 1)[0]
	if len(e.Sig) != 1+mldsa65.SignatureSize+8 {
		t.Fatalf("single-event Sig is %d bytes", len(e.Sig))
	}
}

func TestTamperEveryField(t *testing.T) {
	s := sharedSigner(t)
	other, _ := NewSigner("k2", detRand(2))
	v := trusting(t, s)
	_ = v.Trust(other.KeyID(), other.PublicKey()) // tampered key_id names a trusted key
	tampers := map[string]func(e *revocation.Event){
		"event_id":   func(e *revocation.Event) { e.EventID += "x" },
		"type":       func(e *revocation.Event) { e.Type = revocation.TypeKid + "x" },
		"value":      func(e *revocation.Event) { e.Value += "x" },
		"ts":         func(e *revocation.Event) { e.TS++ },
		"expires_at": func(e *revocation.Event) { e.ExpiresAt-- },
		"reason":     func(e *revocation.Event) { e.Reason = "" },
		"origin":     func(e *revocation.Event) { e.Origin = "node-b" },
		"seq":        func(e *revocation.Event) { e.Seq += 1 << 40 },
		"key_id":     func(e *revocation.Event) { e.KeyID = "k2" },
		"alg":        func(e *revocation.Event) { e.Alg = "ML-DSA-87" },
		"root sig":   func(e *revocation.Event) { e.Sig[100] ^= 1 },
		"proof":      func(e *revocation.Event) { e.Sig[len(e.Sig)-1] ^= 1 },
		"index":      func(e *revocation.Event) { e.Sig[sigHeaderSize-5] ^= 1 },
	}
	for _, n := range []int{1, 2, 3, 7, 64} {
		events := signed(t, n)
		for name, tamper := range tampers {
			for _, i := range []int{0, n / 2, n - 1} {
				e := clone(events[i])
				tamper(e)
				err := v.Verify(e)
				if n == 1 && (name == "proof" || name == "index") {
					// No proof; flipping those bytes breaks the header instead.
					if err == nil {
						t.Errorf("n=%d %s: verified", n, name)
					}
					continue
				}
				if !errors.Is(err, ErrBadSignature) && !(name == "index" && errors.Is(err, ErrMalformedSig)) {
					t.Errorf("n=%d event %d, tampered %s: err = %v, want ErrBadSignature", n, i, name, err)
				}
			}
		}
	}
}

func TestSwappedSigs(t *testing.T) {
	v := trusting(t, sharedSigner(t))
	for _, n := range []int{2, 3, 7, 64} {
		events := signed(t, n)
		for i := range events {
			j := (i + 1) % n
			e := clone(events[i])
			e.Sig = events[j].Sig
			if err := v.Verify(e); err == nil {
				t.Errorf("n=%d: event %d verified with event %d's Sig", n, i, j)
			}
		}
	}
	// A signature from another batch (of different events) fails too.
	a := signed(t, 3)
	b := makeEvents(3)
	for _, e := range b {
		e.Value += "-other"
	}
	if err := sharedSigner(t).SignBatch(b); err != nil {
		t.Fatal(err)
	}
	e := clone(a[0])
	e.Sig = b[0].Sig
	if err := v.Verify(e); !errors.Is(err, ErrBadSignature) {
		t.Errorf("cross-batch sig: %v", err)
	}
}

func TestMalformedSig(t *testing.T) {
	v := trusting(t, sharedSigner(t))
	good := signed(t, 7)[3]
	cases := map[string][]byte{
		"one byte":      {1},
		"truncated":     good.Sig[:len(good.Sig)-1],
		"header only":   good.Sig[:sigHeaderSize],
		"extended":      append(bytes.Clone(good.Sig), 0),
		"version 0":     append([]byte{0}, good.Sig[1:]...),
		"version 2":     append([]byte{2}, good.Sig[1:]...),
		"garbage":       bytes.Repeat([]byte{0xff}, len(good.Sig)),
		"zero count":    withCount(good.Sig, 3, 0),
		"index>=count":  withCount(good.Sig, 7, 7),
		"huge count":    withCount(good.Sig, 3, 1<<32-1),
		"only the sig":  good.Sig[1 : 1+mldsa65.SignatureSize],
		"cut mid-proof": good.Sig[:sigHeaderSize+hashSize+3],
	}
	for name, sig := range cases {
		e := clone(good)
		e.Sig = sig
		if err := v.Verify(e); !errors.Is(err, ErrMalformedSig) {
			t.Errorf("%s: err = %v, want ErrMalformedSig", name, err)
		}
	}
}

func withCount(sig []byte, index, count uint32) []byte {
	b := bytes.Clone(sig)
	o := 1 + mldsa65.SignatureSize
	b[o], b[o+1], b[o+2], b[o+3] = byte(index>>24), byte(index>>16), byte(index>>8), byte(index)
	b[o+4], b[o+5], b[o+6], b[o+7] = byte(count>>24), byte(count>>16), byte(count>>8), byte(count)
	return b
}

func TestUnknownKeyAndUnsigned(t *testing.T) {
	e := signed(t, 2)[1]
	if err := NewVerifier().Verify(e); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("no keys: %v", err)
	}
	v := trusting(t, sharedSigner(t))
	u := clone(e)
	u.KeyID = "nope"
	if err := v.Verify(u); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key id: %v", err)
	}
	u = clone(e)
	u.Sig = nil
	if err := v.Verify(u); !errors.Is(err, ErrUnsigned) {
		t.Errorf("empty sig: %v", err)
	}
	if err := v.Verify(nil); !errors.Is(err, ErrUnsigned) {
		t.Errorf("nil event: %v", err)
	}
	// Same key id, different key: the cache must not answer for the old key.
	if err := v.Verify(e); err != nil {
		t.Fatal(err)
	}
	imp, _ := NewSigner("k1", detRand(9))
	if err := v.Trust("k1", imp.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(e); !errors.Is(err, ErrBadSignature) {
		t.Errorf("after key replacement: %v", err)
	}
}

func TestSignerMarshalRoundTrip(t *testing.T) {
	s, err := NewSigner("key-2026-01", detRand(3))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := UnmarshalSigner(b)
	if err != nil {
		t.Fatal(err)
	}
	if s2.KeyID() != s.KeyID() || !bytes.Equal(s2.PublicKey(), s.PublicKey()) || len(s.PublicKey()) != mldsa65.PublicKeySize {
		t.Fatal("signer changed across marshal")
	}
	events := makeEvents(3)
	if err := s2.SignBatch(events); err != nil {
		t.Fatal(err)
	}
	if err := trusting(t, s).Verify(events[2]); err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"empty": nil, "short": b[:33], "no key id": b[:33],
		"version": append([]byte{9}, b[1:]...), "long key id": append(bytes.Clone(b[:33]), bytes.Repeat([]byte("k"), 257)...),
	}
	for name, in := range bad {
		if _, err := UnmarshalSigner(in); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	for _, id := range []string{"", string(bytes.Repeat([]byte("k"), 257))} {
		if _, err := NewSigner(id, nil); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("NewSigner(%d-byte id) err = %v", len(id), err)
		}
	}
	if _, err := NewSigner("k", bytes.NewReader(nil)); err == nil {
		t.Error("NewSigner without entropy")
	}
}

func TestTrustRejectsBadKeys(t *testing.T) {
	v := NewVerifier()
	for _, n := range []int{0, 32, mldsa65.PublicKeySize - 1, mldsa65.PublicKeySize + 1} {
		if err := v.Trust("k", make([]byte, n)); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%d-byte key: %v", n, err)
		}
	}
	if err := v.Trust("", sharedSigner(t).PublicKey()); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("empty key id: %v", err)
	}
}

func TestSignBatchEdgeCases(t *testing.T) {
	s := sharedSigner(t)
	if err := s.SignBatch(nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
	events := makeEvents(3)
	events[1] = nil
	if err := s.SignBatch(events); err == nil {
		t.Error("nil event accepted")
	}
	if events[0].Sig != nil || events[0].KeyID != "" {
		t.Error("failed SignBatch modified events")
	}
	// Fields set before signing are overwritten, not trusted.
	events = makeEvents(2)
	events[0].KeyID, events[0].Alg = "forged", "none"
	if err := s.SignBatch(events); err != nil {
		t.Fatal(err)
	}
	if err := trusting(t, s).Verify(events[0]); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentSignVerify(t *testing.T) {
	s := sharedSigner(t)
	v := trusting(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 4 {
		wg.Go(func() {
			for range 3 {
				events := makeEvents(5 + g)
				if err := s.SignBatch(events); err != nil {
					errs <- err
					return
				}
				for _, e := range events {
					if err := v.Verify(e); err != nil {
						errs <- err
					}
				}
				_ = v.Keys()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCacheIsBounded(t *testing.T) {
	c := newRootCache(8)
	for i := range 100 {
		c.add([hashSize]byte{byte(i)})
	}
	if c.len() > 8 {
		t.Fatalf("cache holds %d entries, bound 8", c.len())
	}
	if !c.contains([hashSize]byte{99}) {
		t.Fatal("most recent entry evicted")
	}
	if c.contains([hashSize]byte{0}) {
		t.Fatal("oldest entry kept")
	}
}

func TestMerkleProofLengths(t *testing.T) {
	// Every (index, count) proof is consumed exactly by rootFromProof and
	// yields the tree's root.
	for count := 1; count <= 40; count++ {
		leaves := make([][hashSize]byte, count)
		for i := range leaves {
			leaves[i][0], leaves[i][1] = byte(i), 0xaa
		}
		levels := buildTree(leaves)
		root := levels[len(levels)-1][0]
		for i := range count {
			proof := appendProof(nil, levels, i)
			if len(proof) != proofLen(uint64(i), uint64(count))*hashSize {
				t.Fatalf("count %d index %d: proof %d bytes", count, i, len(proof))
			}
			if rootFromProof(leaves[i], uint64(i), uint64(count), proof) != root {
				t.Fatalf("count %d index %d: wrong root", count, i)
			}
		}
	}
}
