package eventsig

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestSplitJoinRoundTrip(t *testing.T) {
	v := trusting(t, sharedSigner(t))
	for _, n := range []int{1, 2, 3, 5, 64, 257} {
		events := signed(t, n)
		var first []byte // the batch part of event 0
		for i, e := range events {
			orig := bytes.Clone(e.Sig)
			batch, rest, ok := SplitSig(e.Sig)
			if !ok {
				t.Fatalf("n=%d event %d: SplitSig(valid sig) not ok", n, i)
			}
			if len(batch) != BatchSigSize || len(batch)+len(rest) != len(e.Sig) {
				t.Fatalf("n=%d event %d: split into %d + %d bytes of %d", n, i, len(batch), len(rest), len(e.Sig))
			}
			// Every event of a batch shares the batch part.
			if first == nil {
				first = bytes.Clone(batch)
			} else if !bytes.Equal(batch, first) {
				t.Fatalf("n=%d event %d: batch part differs within one batch", n, i)
			}
			if got := binary.BigEndian.Uint32(rest[:4]); got != uint32(i) {
				t.Fatalf("n=%d event %d: rest starts with leaf index %d", n, i, got)
			}
			joined := JoinSig(batch, rest)
			if !bytes.Equal(joined, orig) {
				t.Fatalf("n=%d event %d: JoinSig(SplitSig(sig)) != sig", n, i)
			}
			// The joined Sig is a fresh slice that still verifies.
			if &joined[0] == &e.Sig[0] {
				t.Fatal("JoinSig aliases its input")
			}
			c := *e
			c.Sig = joined
			if err := v.Verify(&c); err != nil {
				t.Fatalf("n=%d event %d: joined sig does not verify: %v", n, i, err)
			}
			if !bytes.Equal(e.Sig, orig) {
				t.Fatal("SplitSig or JoinSig modified its input")
			}
		}
	}
}

func TestSplitSigMalformed(t *testing.T) {
	valid := signed(t, 4)[1].Sig
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	for name, sig := range map[string][]byte{
		"nil":           nil,
		"empty":         {},
		"version only":  {SigVersion},
		"header short":  valid[:sigHeaderSize-1],
		"proof short":   valid[:len(valid)-1],
		"proof long":    append(bytes.Clone(valid), 0),
		"wrong version": mutate(func(b []byte) []byte { b[0] = 2; return b }),
		"zero count": mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[BatchSigSize+4:], 0)
			return b
		}),
		"index >= count": mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[BatchSigSize:], 4)
			return b
		}),
		"random 3309 bytes": bytes.Repeat([]byte{0xA5}, 3309),
	} {
		batch, rest, ok := SplitSig(sig)
		if ok || batch != nil || rest != nil {
			t.Errorf("SplitSig(%s) = %d, %d bytes, %v; want not ok", name, len(batch), len(rest), ok)
		}
		// Split agrees with the verifier's parser.
		if _, err := parseSig(sig); !errors.Is(err, ErrMalformedSig) {
			t.Errorf("parseSig(%s) = %v, want ErrMalformedSig", name, err)
		}
	}
}

// FuzzSplitSig checks that SplitSig accepts exactly what the verifier
// parses and that JoinSig inverts it.
func FuzzSplitSig(f *testing.F) {
	for _, e := range signed(f, 3) {
		f.Add(e.Sig)
	}
	f.Add([]byte{})
	f.Add([]byte{SigVersion, 0, 0})
	f.Fuzz(func(t *testing.T, sig []byte) {
		batch, rest, ok := SplitSig(sig)
		_, err := parseSig(sig)
		if ok != (err == nil) {
			t.Fatalf("SplitSig ok = %v, parseSig err = %v", ok, err)
		}
		if ok && !bytes.Equal(JoinSig(batch, rest), sig) {
			t.Fatal("JoinSig(SplitSig(sig)) != sig")
		}
	})
}
