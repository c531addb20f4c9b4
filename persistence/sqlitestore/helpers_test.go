package sqlitestore

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/revocation"
)

// sigLen is the size of an ML-DSA-65 signature, so tests and benchmarks
// store realistic rows.
const sigLen = 3309

var testSig = func() []byte {
	b := make([]byte, sigLen)
	rand.Read(b)
	return b
}()

func openTest(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "revocd.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func mkEvent(origin string, seq uint64, ts, expires int64) *revocation.Event {
	return &revocation.Event{
		EventID:   uuid.Must(uuid.NewV7()).String(),
		Type:      revocation.TypeJTI,
		Value:     uuid.NewString(),
		TS:        ts,
		ExpiresAt: expires,
		Reason:    "test",
		Origin:    origin,
		Seq:       seq,
		KeyID:     "k1",
		Alg:       revocation.SigAlg,
		Sig:       testSig,
	}
}

// commit runs fn in one transaction and commits it.
func commit(t testing.TB, s *Store, fn func(tx *Tx)) {
	t.Helper()
	tx, err := s.Begin(context.Background())
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	defer tx.Rollback()
	fn(tx)
	if err := tx.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func insertEvents(t testing.TB, s *Store, evs ...*revocation.Event) {
	t.Helper()
	commit(t, s, func(tx *Tx) {
		for _, e := range evs {
			ok, err := tx.InsertEvent(e, e.TS+1)
			if err != nil || !ok {
				t.Fatalf("InsertEvent(%s/%d) = %v, %v", e.Origin, e.Seq, ok, err)
			}
		}
	})
}

var (
	signerOnce sync.Once
	signer     *eventsig.Signer
)

// benchSigner returns one shared ML-DSA-65 signer (key id "k1").
func benchSigner(t testing.TB) *eventsig.Signer {
	t.Helper()
	signerOnce.Do(func() {
		s, err := eventsig.NewSigner("k1", nil)
		if err != nil {
			panic(err)
		}
		signer = s
	})
	return signer
}
