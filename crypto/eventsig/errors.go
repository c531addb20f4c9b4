package eventsig

import "errors"

// Verification errors. Verify wraps exactly one of them with detail.
var (
	// ErrUnsigned reports an event without a signature (nil event or empty Sig).
	ErrUnsigned = errors.New("eventsig: event is unsigned")
	// ErrUnknownKey reports an event signed under a key id the Verifier does not trust.
	ErrUnknownKey = errors.New("eventsig: unknown signing key")
	// ErrBadSignature reports a well-formed signature that does not verify:
	// a tampered field, a wrong algorithm, or a signature of another event.
	ErrBadSignature = errors.New("eventsig: bad signature")
	// ErrMalformedSig reports a Sig that cannot be parsed: unknown version,
	// wrong length, or an index/count out of range.
	ErrMalformedSig = errors.New("eventsig: malformed signature")
)

// ErrInvalidKey reports an unusable key: a public key or marshalled Signer of
// the wrong size, or an empty or over-long key id.
var ErrInvalidKey = errors.New("eventsig: invalid key")
