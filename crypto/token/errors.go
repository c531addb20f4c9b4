package token

import "errors"

// Sentinel errors returned (wrapped with %w and some context) by this package.
// Test for them with errors.Is. Their Error() text is for logs; the
// user-facing message of each (the seed's wording, for API responses) comes
// from Message, the one place that maps them to text.
var (
	// ErrMalformed reports a token that is not a well-formed compact JWS/JWT:
	// wrong segment count, bad base64url, invalid or non-object JSON,
	// duplicated claim names, registered claims of the wrong type, a missing
	// "exp" when expiry is required, a "typ" header other than "JWT", a
	// "crit" header.
	ErrMalformed = errors.New("token: malformed token")
	// ErrAlgorithm reports a missing, "none", unsupported or mismatched
	// "alg" header (the header alg must equal the algorithm of the key).
	ErrAlgorithm = errors.New("token: invalid algorithm")
	// ErrUnknownKey reports a "kid" that is not (or no longer) in the key ring,
	// or a token without kid when no current key can verify it.
	ErrUnknownKey = errors.New("token: unknown signing key")
	// ErrSignature reports a signature that does not verify.
	ErrSignature = errors.New("token: invalid signature")
	// ErrKeyRevoked reports a token whose signature verifies with a key that
	// has been revoked (Ring.Revoke): authentic, but never valid again.
	ErrKeyRevoked = errors.New("token: signing key revoked")
	// ErrExpired reports a token whose "exp" (plus leeway) has passed.
	ErrExpired = errors.New("token: expired")
	// ErrNotYetValid reports a token whose "nbf" (minus leeway) is in the future.
	ErrNotYetValid = errors.New("token: not yet valid")
	// ErrIssuer reports a missing or unexpected "iss" claim.
	ErrIssuer = errors.New("token: invalid issuer")
	// ErrTooLarge reports a token longer than the verifier's MaxTokenBytes.
	ErrTooLarge = errors.New("token: too large")
	// ErrReservedClaim reports an Extra claim whose name equals a reserved
	// claim ignoring case (see IsReservedClaim). The wrapping error names it.
	ErrReservedClaim = errors.New("token: reserved claim name")
)

// messages maps each sentinel to its user-facing message, checked in this
// order (a size error first: it says why nothing else was checked).
var messages = [...]struct {
	err error
	msg string
}{
	{ErrTooLarge, "Token is too large"},
	{ErrMalformed, "Malformed token"},
	{ErrAlgorithm, "Invalid token algorithm"},
	{ErrUnknownKey, "Unknown signing key"},
	{ErrSignature, "Invalid signature"},
	{ErrKeyRevoked, "Token has been revoked"},
	{ErrExpired, "Token has expired"},
	{ErrNotYetValid, "Token is not yet valid"},
	{ErrIssuer, "Invalid token issuer"},
	{ErrReservedClaim, "Reserved claim name"},
}

// MessageInvalid is Message's answer for an error that wraps none of the
// sentinels.
const MessageInvalid = "Invalid token"

// Message returns the user-facing message of the sentinel error wrapped in
// err ("Token has expired", "Invalid signature", ...), "" for a nil error and
// MessageInvalid for any other error. It never returns internal context and
// does not allocate. It is safe for concurrent use.
func Message(err error) string {
	if err == nil {
		return ""
	}
	for _, m := range messages {
		if errors.Is(err, m.err) {
			return m.msg
		}
	}
	return MessageInvalid
}
