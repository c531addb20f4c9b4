package token

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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
// Now and Rand are).
type Issuer struct {
	// Ring provides the current signing key.
	Ring *Ring
	// Issuer is the "iss" claim (omitted if empty).
	Issuer string
	// Now returns the current time (time.Now if nil).
	Now func() time.Time
	// Rand supplies the random jti UUIDs (crypto/rand if nil).
	Rand io.Reader
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
	// JTI is the "jti" claim; a random UUID v4 if empty.
	JTI string
	// NotBeforeIat, if set, is the earliest "iat" the token may carry: the
	// issuer uses it so a token issued in the same second as a subject
	// revocation (whose cutoff has second precision) is not born revoked.
	// It may lie at most a second or two ahead of the clock.
	NotBeforeIat time.Time
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

// Issue creates and signs a token for s with the ring's current key. The
// header is {"alg","kid","typ":"JWT"}; the claims are sub, iat, exp (integer
// seconds), jti, iss (if configured), typ ("refresh" only), then Extra in
// sorted key order. The returned Claims.Extra is s.Extra (not copied).
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
	names := make([]string, 0, len(s.Extra))
	for name := range s.Extra {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if IsReservedClaim(name) {
			return "", Claims{}, fmt.Errorf("token: issue: extra claim %q: %w", name, ErrReservedClaim)
		}
	}
	jti := s.JTI
	if jti == "" {
		r := is.Rand
		if r == nil {
			r = cryptoRand
		}
		if jti, err = newUUIDv4(r); err != nil {
			return "", Claims{}, fmt.Errorf("token: issue: %w", err)
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

	p := make([]byte, 0, 192)
	p = append(p, `{"sub":`...)
	if p, err = appendJSONString(p, "subject", s.Subject); err != nil {
		return "", Claims{}, err
	}
	p = append(p, `,"iat":`...)
	p = strconv.AppendInt(p, iat, 10)
	p = append(p, `,"exp":`...)
	p = strconv.AppendInt(p, exp, 10)
	p = append(p, `,"jti":`...)
	if p, err = appendJSONString(p, "jti", jti); err != nil {
		return "", Claims{}, err
	}
	if is.Issuer != "" {
		p = append(p, `,"iss":`...)
		if p, err = appendJSONString(p, "issuer", is.Issuer); err != nil {
			return "", Claims{}, err
		}
	}
	if typ != "" {
		p = append(p, `,"typ":"refresh"`...)
	}
	for _, name := range names {
		p = append(p, ',')
		if p, err = appendJSONString(p, "extra claim name", name); err != nil {
			return "", Claims{}, err
		}
		v, err := json.Marshal(s.Extra[name])
		if err != nil {
			return "", Claims{}, fmt.Errorf("token: issue: extra claim %q: %w", name, err)
		}
		p = append(append(p, ':'), v...)
	}
	p = append(p, '}')

	h := make([]byte, 0, 64+len(key.ID))
	h = append(h, `{"alg":"`...)
	h = append(h, key.m.alg...)
	h = append(h, `","kid":`...)
	if h, err = appendJSONString(h, "kid", key.ID); err != nil {
		return "", Claims{}, err
	}
	h = append(h, `,"typ":"JWT"}`...)

	enc := base64.RawURLEncoding
	si := make([]byte, 0, enc.EncodedLen(len(h))+1+enc.EncodedLen(len(p))+1+enc.EncodedLen(key.m.alg.sigSize()))
	si = enc.AppendEncode(si, h)
	si = append(si, '.')
	si = enc.AppendEncode(si, p)
	sig, err := key.m.method.Sign(string(si), key.m.signKey)
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: issue: sign with %s key %q: %w", key.m.alg, key.ID, err)
	}
	si = append(si, '.')
	si = enc.AppendEncode(si, sig)
	return string(si), Claims{
		Subject: s.Subject, ID: jti, Issuer: is.Issuer, Type: typ,
		IssuedAt: time.Unix(iat, 0).UTC(), ExpiresAt: time.Unix(exp, 0).UTC(),
		KeyID: key.ID, Alg: key.m.alg, Extra: s.Extra,
	}, nil
}

// newUUIDv4 returns a random (version 4, RFC 9562) UUID read from r.
// (github.com/google/uuid would pull database/sql/driver into the package,
// which deps_test fences out; this is the same 16 bytes and two bit masks.)
func newUUIDv4(r io.Reader) (string, error) {
	var u [16]byte
	if _, err := io.ReadFull(r, u[:]); err != nil {
		return "", fmt.Errorf("read jti entropy: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // variant 10
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:]), nil
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 is refused
// (the verifier would reject the token); control characters, '"', '\\'
// and U+2028/U+2029 are escaped.
func appendJSONString(b []byte, what, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return b, fmt.Errorf("token: issue: %s is not valid UTF-8", what)
	}
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != '\u2028' && r != '\u2029' {
				i += size
				continue
			}
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"'), nil
}
