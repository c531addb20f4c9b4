package eventsig

import (
	"testing"

	"github.com/revocd/revocd/revocation"
)

func FuzzVerify(f *testing.F) {
	s := sharedSigner(f)
	v := trusting(f, s)
	for _, n := range []int{1, 3} {
		for _, e := range signed(f, n) {
			f.Add(e.Sig, e.EventID, e.Value, e.TS, e.Seq, e.KeyID, e.Alg)
		}
	}
	f.Add([]byte{1}, "", "", int64(0), uint64(0), "k1", revocation.SigAlg)
	f.Add([]byte{}, "", "", int64(0), uint64(0), "", "")
	f.Fuzz(func(t *testing.T, sig []byte, id, value string, ts int64, seq uint64, keyID, alg string) {
		e := &revocation.Event{
			EventID: id, Type: revocation.TypeJTI, Value: value, TS: ts, ExpiresAt: 1_700_000_900_000,
			Reason: "test", Origin: "node-a", Seq: seq, KeyID: keyID, Alg: alg, Sig: sig,
		}
		_ = v.Verify(e) // must not panic; errors are expected
	})
}
