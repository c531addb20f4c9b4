package eventsig

import (
	"fmt"
	"io"
	mrand "math/rand/v2"
	"sync"
	"testing"

	"github.com/revocd/revocd/revocation"
)

func detRand(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return mrand.NewChaCha8(s)
}

var (
	signerOnce sync.Once
	testSigner *Signer
)

// sharedSigner returns one deterministic signer for the package's tests.
func sharedSigner(t testing.TB) *Signer {
	t.Helper()
	signerOnce.Do(func() {
		s, err := NewSigner("k1", detRand(1))
		if err != nil {
			panic(err)
		}
		testSigner = s
	})
	return testSigner
}

func trusting(t testing.TB, s *Signer) *Verifier {
	t.Helper()
	v := NewVerifier()
	if err := v.Trust(s.KeyID(), s.PublicKey()); err != nil {
		t.Fatal(err)
	}
	return v
}

func makeEvents(n int) []*revocation.Event {
	events := make([]*revocation.Event, n)
	types := []revocation.Type{revocation.TypeJTI, revocation.TypeSub, revocation.TypeKid}
	for i := range events {
		events[i] = &revocation.Event{
			EventID:   fmt.Sprintf("evt-%04d", i),
			Type:      types[i%3],
			Value:     fmt.Sprintf("value-%d", i),
			TS:        1_700_000_000_000 + int64(i),
			ExpiresAt: 1_700_000_900_000 + int64(i),
			Reason:    "test",
			Origin:    "node-a",
			Seq:       uint64(i + 1),
		}
	}
	return events
}

func signed(t testing.TB, n int) []*revocation.Event {
	t.Helper()
	events := makeEvents(n)
	if err := sharedSigner(t).SignBatch(events); err != nil {
		t.Fatal(err)
	}
	return events
}

func clone(e *revocation.Event) *revocation.Event {
	c := *e
	c.Sig = append([]byte(nil), e.Sig...)
	return &c
}
