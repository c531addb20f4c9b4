package token

import (
	"bytes"
	"errors"
	"fmt"
	"time"
	"unsafe"
)

// VerifierOptions configures a Verifier. The zero value is usable;
// NewVerifier copies it, so later changes have no effect.
type VerifierOptions struct {
	// Issuer, if non-empty, must equal the token's "iss" claim.
	Issuer string
	// Leeway is the clock skew tolerated on "exp" and "nbf".
	Leeway time.Duration
	// Now returns the current time (time.Now if nil).
	Now func() time.Time
	// MaxTokenBytes bounds the token length (DefaultMaxTokenBytes if <= 0).
	MaxTokenBytes int
	// CacheSize is the number of verified asymmetric tokens remembered to
	// skip repeated signature checks (0 or negative disables the cache).
	// HS256 is never cached: HMAC is cheaper than the lookup.
	CacheSize int
	// AllowMissingExp accepts tokens without "exp" (by default they are
	// rejected as malformed: revocd never issues one).
	AllowMissingExp bool
}

// Verifier validates tokens against a Ring. It is immutable after
// NewVerifier and safe for concurrent use (with one Token per goroutine);
// key changes made through the Ring apply to the next call.
type Verifier struct {
	ring        *Ring
	issuer      []byte
	checkIss    bool
	leeway      time.Duration
	now         func() time.Time
	maxBytes    int
	allowNoExp  bool
	cache       *verifiedCache
	errTooLarge error
	// jwtHMAC routes HS256 through jwt.SigningMethodHS256.Verify instead of
	// the pooled HMAC (for the comparison benchmark and tests).
	jwtHMAC bool
}

// NewVerifier returns a Verifier of tokens signed by keys of ring.
func NewVerifier(ring *Ring, opts VerifierOptions) *Verifier {
	v := &Verifier{
		ring:       ring,
		issuer:     []byte(opts.Issuer),
		checkIss:   opts.Issuer != "",
		leeway:     max(opts.Leeway, 0),
		now:        opts.Now,
		maxBytes:   opts.MaxTokenBytes,
		allowNoExp: opts.AllowMissingExp,
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.maxBytes <= 0 {
		v.maxBytes = DefaultMaxTokenBytes
	}
	if opts.CacheSize > 0 {
		v.cache = newVerifiedCache(opts.CacheSize)
	}
	v.errTooLarge = fmt.Errorf("token: longer than %d bytes: %w", v.maxBytes, ErrTooLarge)
	return v
}

// Static errors of the verify path (no allocation when returned).
var (
	errNoAlg      = fmt.Errorf("token: missing \"alg\" header: %w", ErrAlgorithm)
	errAlgNone    = fmt.Errorf("token: unsecured (\"none\") tokens are not accepted: %w", ErrAlgorithm)
	errHeaderTyp  = fmt.Errorf("token: \"typ\" header must be \"JWT\": %w", ErrMalformed)
	errNoCurrent  = fmt.Errorf("token: no \"kid\" header and no current key: %w", ErrUnknownKey)
	errBadSig     = fmt.Errorf("token: signature does not verify: %w", ErrSignature)
	errKeyRevoked = fmt.Errorf("token: signed with a revoked key: %w", ErrKeyRevoked)
	errExpired    = fmt.Errorf("token: \"exp\" has passed: %w", ErrExpired)
	errNotYet     = fmt.Errorf("token: \"nbf\" is in the future: %w", ErrNotYetValid)
	errNoExp      = fmt.Errorf("token: missing \"exp\" claim: %w", ErrMalformed)
	errIssuer     = fmt.Errorf("token: unexpected \"iss\": %w", ErrIssuer)
	errNoRing     = errors.New("token: verifier has no key ring")
	errNilToken   = errors.New("token: nil *Token")
	errNilVerfier = errors.New("token: nil *Verifier")
)

// Verify parses tok into t and validates it:
//
//  1. ParseUnverified (size, structure, JSON; header "typ", if any, "JWT";
//     the signature segment is decoded only if step 4 needs it);
//  2. key selection: the "kid" header's key (ErrUnknownKey if not in the
//     ring); for a token without kid, the ring's legacy key (Ring.SetLegacy),
//     or the current key if the ring has none; a revoked key's material is
//     still selected (for step 4 only);
//  3. algorithm allow-list by key: "alg" must equal the key's algorithm
//     exactly ("none" in any case and any mismatch: ErrAlgorithm);
//  4. the signature (golang-jwt's SigningMethod.Verify; HS256 through a
//     pooled HMAC, see verifyHMAC; asymmetric results may come from the
//     verified-token cache): ErrSignature;
//  5. a key revoked in the ring: ErrKeyRevoked (the signature verified, so
//     the token is authentic; callers may report it as revoked);
//  6. "exp" (required unless AllowMissingExp) and "nbf" with leeway
//     (ErrExpired, ErrNotYetValid), then "iss" (ErrIssuer).
//
// t.Key is set once the signature is verified, and only then: a nil t.Key
// means nothing in the token is authentic, so callers must not reveal any
// state (such as revocation) keyed on its claims. For HS256 with a reused
// Token, Verify does not allocate. Safe for concurrent use with distinct
// Tokens.
func (v *Verifier) Verify(tok []byte, t *Token) error {
	if v == nil {
		return errNilVerfier
	}
	if t == nil {
		return errNilToken
	}
	if err := v.parse(tok, t); err != nil {
		return err
	}
	if len(t.Alg) == 0 {
		return errNoAlg
	}
	if len(t.Alg) == 4 && bytes.EqualFold(t.Alg, []byte("none")) {
		return errAlgNone
	}
	if len(t.HeaderTyp) != 0 && !bytes.EqualFold(t.HeaderTyp, []byte("JWT")) {
		return errHeaderTyp
	}
	if v.ring == nil {
		return errNoRing
	}
	// No "kid" member at all (a seed-era token) is t.Kid == nil; "kid":""
	// names no key.
	key, revoked := v.ring.load().verifyKey(t.Kid)
	if key == nil || key.m == nil {
		if t.Kid == nil {
			return errNoCurrent
		}
		return fmt.Errorf("token: unknown kid %.64q: %w", t.Kid, ErrUnknownKey)
	}
	m := key.m
	if !bytes.Equal(t.Alg, m.algBytes) {
		return fmt.Errorf("token: alg %.32q does not match the %s key %q: %w", t.Alg, m.alg, key.ID, ErrAlgorithm)
	}
	if err := v.verifySignature(tok, t, key); err != nil {
		return err
	}
	t.Key = key
	if revoked {
		return errKeyRevoked
	}

	now := v.now()
	if t.HasExp {
		if !now.Before(time.Unix(t.Exp, 0).Add(v.leeway)) {
			return errExpired
		}
	} else if !v.allowNoExp {
		return errNoExp
	}
	if t.HasNbf && now.Before(time.Unix(t.Nbf, 0).Add(-v.leeway)) {
		return errNotYet
	}
	if v.checkIss && !bytes.Equal(t.Iss, v.issuer) {
		return errIssuer
	}
	return nil
}

// verifySignature checks the signature of tok (parsed into t) with key,
// decoding it first unless the verified-token cache answers.
func (v *Verifier) verifySignature(tok []byte, t *Token, key *Key) error {
	m := key.m
	cached := m.alg != AlgHS256 && v.cache != nil
	if cached && v.cache.contains(tok, key) {
		return nil
	}
	if err := t.decodeSignature(tok); err != nil {
		return err
	}
	if len(t.Signature) == 0 {
		return errBadSig
	}
	input := tok[:t.signedLen]
	if m.alg == AlgHS256 && !v.jwtHMAC {
		if !m.verifyHMAC(input, t.Signature) {
			return errBadSig
		}
		return nil
	}
	// Zero-copy string view; golang-jwt's Verify does not retain it.
	s := unsafe.String(unsafe.SliceData(input), len(input))
	if m.method.Verify(s, t.Signature, m.verifyKey) != nil {
		return errBadSig
	}
	if cached {
		v.cache.add(tok, key)
	}
	return nil
}
