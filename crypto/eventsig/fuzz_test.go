package eventsig

import (
	"errors"
	"testing"

	"github.com/revocd/revocd/revocation"
)

// FuzzVerify feeds Verify raw Sig bytes (base == 0) or a valid signed event
// (base != 0) with fuzzed patches, truncation and field changes. It checks
// Verify never panics and only ever returns the documented errors.
//
// Patches keep inputs small: minimizing a raw 3.3 KB Sig is very slow.
func FuzzVerify(f *testing.F) {
	s := sharedSigner(f)
	v := trusting(f, s)
	templates := append(signed(f, 1), signed(f, 5)...)
	f.Add(uint8(0), []byte{1}, uint16(0), []byte{}, uint8(0), "", "", int64(0), uint64(0), "k1", revocation.SigAlg)
	f.Add(uint8(1), []byte{}, uint16(0), []byte{}, uint8(0), "", "", int64(0), uint64(0), "", "")
	f.Add(uint8(3), []byte{}, uint16(3313), []byte{0, 0, 0, 9}, uint8(0), "", "", int64(0), uint64(0), "", "")
	f.Add(uint8(4), []byte{}, uint16(3320), []byte{1}, uint8(0), "", "", int64(0), uint64(0), "", "")
	f.Add(uint8(0x82), []byte{}, uint16(3318), []byte{}, uint8(0), "", "", int64(0), uint64(0), "", "")
	f.Add(uint8(2), []byte{}, uint16(0), []byte{}, uint8(0xff), "x", "y", int64(1), uint64(2), "k1", "none")
	f.Fuzz(func(t *testing.T, base uint8, raw []byte, off uint16, patch []byte, mask uint8,
		id, value string, ts int64, seq uint64, keyID, alg string) {
		var e *revocation.Event
		if base&0x7f == 0 {
			e = &revocation.Event{Type: revocation.TypeJTI, Reason: "r", Origin: "o", Sig: raw}
		} else {
			e = clone(templates[int(base&0x7f)%len(templates)])
			if base&0x80 != 0 && int(off) < len(e.Sig) {
				e.Sig = e.Sig[:off]
			} else {
				for i, p := range patch {
					if j := int(off) + i; j < len(e.Sig) {
						e.Sig[j] ^= p
					}
				}
				e.Sig = append(e.Sig, raw...)
			}
		}
		for bit, set := range []func(){
			func() { e.EventID = id }, func() { e.Value = value }, func() { e.TS = ts },
			func() { e.Seq = seq }, func() { e.KeyID = keyID }, func() { e.Alg = alg },
		} {
			if base&0x7f == 0 || mask&(1<<bit) != 0 {
				set()
			}
		}
		err := v.Verify(e)
		if err != nil && !errors.Is(err, ErrUnsigned) && !errors.Is(err, ErrUnknownKey) &&
			!errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMalformedSig) {
			t.Fatalf("undocumented error: %v", err)
		}
		if err == nil && base&0x7f != 0 && mask == 0 && len(patch) == 0 && len(raw) == 0 && base&0x80 == 0 {
			return // unmodified template
		}
		if err == nil && base&0x7f == 0 {
			t.Fatalf("raw bytes verified: %x", e.Sig)
		}
	})
}
