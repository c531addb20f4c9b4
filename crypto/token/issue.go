package token

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Token types of Spec.Type.
const (
	// TypeAccess is an access token (no "typ" claim, as in the seed).
	TypeAccess = "access"
	// TypeRefresh is a refresh token ("typ":"refresh").
	TypeRefresh = "refresh"
)

// reservedClaims may not appear in Spec.Extra, in any letter case: the
// registered claims of RFC 7519, "typ" (revocd's token type), "cnf" (RFC 7800
// confirmation, used for sender-constrained tokens) and the members that
// RFC 7662 introspection sets itself ("active", "token_type").
var reservedClaims = [...]string{
	"sub", "iat", "exp", "nbf", "jti", "iss", "aud", "typ", "cnf", "active", "token_type",
}

// ReservedClaims returns the reserved claim names, in lower case. The slice is
// fresh.
func ReservedClaims() []string { return slices.Clone(reservedClaims[:]) }

// IsReservedClaim reports whether name equals a reserved claim name ignoring
// case. Case-insensitive on purpose: encoding/json (and golang-jwt's
// RegisteredClaims) match member names with Unicode case folding and the
// last one wins, so an extra "Sub" or "ſub" written after the real "sub"
// would override it for a Go reader. The comparison is strings.EqualFold,
// the folding encoding/json uses.
func IsReservedClaim(name string) bool {
	for _, r := range reservedClaims {
		if strings.EqualFold(name, r) {
			return true
		}
	}
	return false
}

// Issuer signs new tokens with the current key of Ring. Its fields must not
// change after first use; Issue is then safe for concurrent use (provided
// Now is).
type Issuer struct {
	// Ring provides the current signing key.
	Ring *Ring
	// Issuer is the "iss" claim (omitted if empty).
	Issuer string
	// Now returns the current time (time.Now if nil).
	Now func() time.Time
}

// Spec describes a token to issue. It is a plain value; Issue only reads it.
type Spec struct {
	// Subject is the "sub" claim (required).
	Subject string
	// TTL is the lifetime: exp = iat + TTL (at least one second).
	TTL time.Duration
	// Type is TypeAccess (or "") or TypeRefresh.
	Type string
	// Extra holds additional claims, JSON-encoded with encoding/json; a
	// name equal to a reserved claim ignoring case (see IsReservedClaim) is
	// refused with ErrReservedClaim.
	Extra map[string]any
	// JTI is the "jti" claim (required): a fresh random UUID, which the
	// caller makes (actors/issuer uses github.com/google/uuid; this package
	// stays free of it, see internal/layering).
	JTI string
	// NotBeforeIat, if set, is the earliest "iat" the token may carry: the
	// issuer uses it so a token issued in the same second as a subject
	// revocation (whose cutoff has second precision) is not born revoked.
	// It may lie at most a second or two ahead of the clock.
	NotBeforeIat time.Time
	// Jkt, if set, binds the token to a DPoP key (RFC 9449 §6): the token
	// carries "cnf":{"jkt":Jkt}, the key's RFC 7638 thumbprint.
	Jkt string
}

// Claims are the registered claims of a token, as owned strings. Issue
// returns them; Token.Claims copies them out of a parsed token. A Claims is
// a plain value with no synchronization of its own.
type Claims struct {
	Subject   string    // "sub"
	ID        string    // "jti"
	Issuer    string    // "iss" ("" if absent)
	Type      string    // "typ" claim: "refresh", or "" for access tokens
	IssuedAt  time.Time // "iat" (second precision, UTC)
	ExpiresAt time.Time // "exp" (second precision, UTC)
	KeyID     string    // "kid" header
	Alg       Algorithm // "alg" header
	// Extra holds the additional claims (Issue: Spec.Extra as given).
	Extra map[string]any
}

// Issue creates and signs a token for s with the ring's current key, with
// golang-jwt: the header is {"alg","kid","typ":"JWT"}; the claims are sub,
// iat, exp (integer seconds), jti, iss (if configured), typ ("refresh"
// only) and Extra, encoded by encoding/json (members in sorted order).
// Strings that are not valid UTF-8 are refused (encoding/json would
// silently replace their bytes). The returned Claims.Extra is s.Extra (not
// copied).
func (is *Issuer) Issue(s Spec) (tok string, c Claims, err error) {
	if is == nil || is.Ring == nil {
		return "", Claims{}, errors.New("token: issue: issuer has no key ring")
	}
	key := is.Ring.Current()
	if key == nil || key.m == nil {
		return "", Claims{}, errors.New("token: issue: the key ring has no current signing key")
	}
	if s.Subject == "" {
		return "", Claims{}, errors.New("token: issue: empty subject")
	}
	if s.JTI == "" {
		return "", Claims{}, errors.New("token: issue: empty jti")
	}
	if s.TTL < time.Second {
		return "", Claims{}, fmt.Errorf("token: issue: TTL %v is shorter than one second", s.TTL)
	}
	typ := ""
	switch s.Type {
	case "", TypeAccess:
	case TypeRefresh:
		typ = TypeRefresh
	default:
		return "", Claims{}, fmt.Errorf("token: issue: unknown token type %q (want %q or %q)", s.Type, TypeAccess, TypeRefresh)
	}
	for what, v := range map[string]string{"subject": s.Subject, "jti": s.JTI, "issuer": is.Issuer, "kid": key.ID} {
		if !utf8.ValidString(v) {
			return "", Claims{}, fmt.Errorf("token: issue: %s is not valid UTF-8", what)
		}
	}
	names := make([]string, 0, len(s.Extra))
	for name := range s.Extra {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if IsReservedClaim(name) {
			return "", Claims{}, fmt.Errorf("token: issue: extra claim %q: %w", name, ErrReservedClaim)
		}
		if !utf8.ValidString(name) {
			return "", Claims{}, fmt.Errorf("token: issue: extra claim name %q is not valid UTF-8", name)
		}
	}
	now := time.Now
	if is.Now != nil {
		now = is.Now
	}
	t := now()
	if t.Before(s.NotBeforeIat) {
		t = s.NotBeforeIat
	}
	iat, exp := t.Unix(), t.Add(s.TTL).Unix()

	claims := make(jwt.MapClaims, 6+len(s.Extra))
	for name, v := range s.Extra {
		claims[name] = v
	}
	claims["sub"], claims["iat"], claims["exp"], claims["jti"] = s.Subject, iat, exp, s.JTI
	if is.Issuer != "" {
		claims["iss"] = is.Issuer
	}
	if typ != "" {
		claims["typ"] = typ
	}
	if s.Jkt != "" {
		if !utf8.ValidString(s.Jkt) {
			return "", Claims{}, errors.New("token: issue: jkt is not valid UTF-8")
		}
		claims["cnf"] = map[string]string{"jkt": s.Jkt}
	}
	jt := jwt.NewWithClaims(key.m.method, claims)
	jt.Header["kid"] = key.ID
	if tok, err = jt.SignedString(key.m.signKey); err != nil {
		return "", Claims{}, fmt.Errorf("token: issue: sign with %s key %q: %w", key.m.alg, key.ID, err)
	}
	return tok, Claims{
		Subject: s.Subject, ID: s.JTI, Issuer: is.Issuer, Type: typ,
		IssuedAt: time.Unix(iat, 0).UTC(), ExpiresAt: time.Unix(exp, 0).UTC(),
		KeyID: key.ID, Alg: key.m.alg, Extra: s.Extra,
	}, nil
}
