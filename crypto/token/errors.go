package token

import "errors"

// Sentinel errors returned (wrapped with %w and some context) by this package.
// Test for them with errors.Is. Their Error() text is a short user-facing
// message suitable for an API response; use Message to obtain it from a
// wrapped error without leaking the internal context.
var (
	// ErrMalformed reports a token that is not a well-formed compact JWS/JWT:
	// wrong segment count, bad base64url, invalid or non-object JSON,
	// duplicated claim names, registered claims of the wrong type, a missing
	// "exp" when expiry is required, a "typ" header other than "JWT", a
	// "crit" header.
	ErrMalformed = errors.New("Malformed token")
	// ErrAlgorithm reports a missing, "none", unsupported or mismatched
	// "alg" header (the header alg must equal the algorithm of the key).
	ErrAlgorithm = errors.New("Invalid token algorithm")
	// ErrUnknownKey reports a "kid" that is not (or no longer) in the key ring,
	// or a token without kid when no current key can verify it.
	ErrUnknownKey = errors.New("Unknown signing key")
	// ErrSignature reports a signature that does not verify.
	ErrSignature = errors.New("Invalid signature")
	// ErrKeyRevoked reports a token whose signature verifies with a key that
	// has been revoked (Ring.Revoke): authentic, but never valid again.
	ErrKeyRevoked = errors.New("Token has been revoked")
	// ErrExpired reports a token whose "exp" (plus leeway) has passed.
	ErrExpired = errors.New("Token has expired")
	// ErrNotYetValid reports a token whose "nbf" (minus leeway) is in the future.
	ErrNotYetValid = errors.New("Token is not yet valid")
	// ErrIssuer reports a missing or unexpected "iss" claim.
	ErrIssuer = errors.New("Invalid token issuer")
	// ErrTooLarge reports a token longer than the verifier's MaxTokenBytes.
	ErrTooLarge = errors.New("Token is too large")
	// ErrReservedClaim reports an Extra claim whose name equals a reserved
	// claim ignoring case (see IsReservedClaim). The wrapping error names it.
	ErrReservedClaim = errors.New("Reserved claim name")
)

var sentinels = [...]error{
	ErrTooLarge, ErrMalformed, ErrAlgorithm, ErrUnknownKey, ErrSignature,
	ErrKeyRevoked, ErrExpired, ErrNotYetValid, ErrIssuer, ErrReservedClaim,
}

// Message returns the user-facing message of the sentinel error wrapped in
// err ("Token has expired", "Invalid signature", ...), "" for a nil error and
// "Invalid token" for any other error. It never returns internal context.
// It is safe for concurrent use.
func Message(err error) string {
	if err == nil {
		return ""
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "Invalid token"
}
