package index

// Kind names which kind of revocation entry matched a token, or None.
// Kind is a plain value and safe for concurrent use.
type Kind uint8

// The kinds of revocation entries, in the order Check tries them.
const (
	// None means no revocation entry matched.
	None Kind = iota
	// JTI means the token's id ("jti" claim) is revoked.
	JTI
	// Sub means the token's subject ("sub" claim) is revoked for tokens
	// issued at or before the subject's cutoff.
	Sub
	// Kid means the key id ("kid" header) that signed the token is revoked.
	Kid
)

// numKinds is the number of kinds including None; it sizes per-kind arrays.
const numKinds = 4

// String returns "none", "jti", "sub" or "kid" ("unknown" for any other value).
func (k Kind) String() string {
	switch k {
	case None:
		return "none"
	case JTI:
		return "jti"
	case Sub:
		return "sub"
	case Kid:
		return "kid"
	default:
		return "unknown"
	}
}
