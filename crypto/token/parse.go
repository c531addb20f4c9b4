package token

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/revocd/revocd/internal/jsonscan"
)

// DefaultMaxTokenBytes is the default bound on the length of a compact
// token accepted by a Verifier. An ML-DSA-65 token is about 4.6 KiB.
const DefaultMaxTokenBytes = 16 << 10

// maxJSONDepth bounds nesting inside the header and claims.
const maxJSONDepth = 32

// maxNumericDate bounds |iat|, |exp|, |nbf| (2^53: the exactly representable
// integers of a JSON/IEEE double). Larger values are rejected as malformed.
const maxNumericDate = 1 << 53

// Token is a decoded JWT whose fields are byte slices into a buffer it owns,
// so that a Token reused across calls parses and verifies without
// allocating. The slices are valid until the next ParseUnverified, Verify or
// Reset on the same Token; copy (or use the string getters) to keep them.
//
// A Token is not safe for concurrent use: use one per goroutine (for
// example from a sync.Pool). Empty slices mean "claim absent".
type Token struct {
	// Header is the decoded JOSE header JSON.
	Header []byte
	// Payload is the decoded claims JSON, verbatim, so that it can be
	// embedded as-is in API responses.
	Payload []byte
	// Signature is the decoded signature. Verify leaves it nil when the
	// verified-token cache answered (no signature check ran).
	Signature []byte

	// Alg, Kid and HeaderTyp are the header's "alg", "kid" and "typ".
	// A present but empty member is a non-nil empty slice, so Kid == nil
	// means "no kid" (Verify then uses the ring's legacy key, or the
	// current key when the ring has none).
	Alg, Kid, HeaderTyp []byte
	// Sub, JTI, Iss and Typ are the string claims "sub", "jti", "iss" and
	// "typ" (JSON escapes already decoded).
	Sub, JTI, Iss, Typ []byte
	// Iat, Exp and Nbf are the numeric date claims in Unix seconds.
	// Fractional values are rounded conservatively: iat and exp down, nbf up.
	Iat, Exp, Nbf int64
	// HasIat, HasExp and HasNbf report whether the claims were present.
	HasIat, HasExp, HasNbf bool

	// Key is the ring key whose signature check passed; it is set by Verify
	// only once the signature is verified, so a non-nil Key after an
	// ErrKeyRevoked, ErrExpired, ErrNotYetValid or ErrIssuer error means the
	// claims are authentic (useful to let "revoked" win over "expired"),
	// and a nil Key means nothing in the token may be trusted or answered
	// on (no revocation state for unverified claims).
	Key *Key

	signedLen int    // len("header.payload") in the token
	sigOff    int    // offset of the signature slot in buf
	buf       []byte // owns Header, Payload, Signature and unescaped strings
}

// Reset clears t, keeping its buffer for reuse.
func (t *Token) Reset() {
	buf := t.buf[:0]
	*t = Token{buf: buf}
}

// Subject returns the "sub" claim as a string (allocates).
func (t *Token) Subject() string { return string(t.Sub) }

// ID returns the "jti" claim as a string (allocates).
func (t *Token) ID() string { return string(t.JTI) }

// Issuer returns the "iss" claim as a string (allocates).
func (t *Token) Issuer() string { return string(t.Iss) }

// Type returns the "typ" claim ("refresh", or "" for access tokens).
func (t *Token) Type() string { return string(t.Typ) }

// KeyID returns the "kid" header as a string (allocates).
func (t *Token) KeyID() string { return string(t.Kid) }

// Algorithm returns the "alg" header as an Algorithm (allocates).
func (t *Token) Algorithm() Algorithm { return Algorithm(t.Alg) }

// IsRefresh reports whether the token is a refresh token (typ "refresh").
func (t *Token) IsRefresh() bool { return string(t.Typ) == "refresh" }

// IssuedAt returns "iat" as a time, or the zero time if absent.
func (t *Token) IssuedAt() time.Time { return unixOrZero(t.Iat, t.HasIat) }

// ExpiresAt returns "exp" as a time, or the zero time if absent.
func (t *Token) ExpiresAt() time.Time { return unixOrZero(t.Exp, t.HasExp) }

// NotBefore returns "nbf" as a time, or the zero time if absent.
func (t *Token) NotBefore() time.Time { return unixOrZero(t.Nbf, t.HasNbf) }

func unixOrZero(sec int64, ok bool) time.Time {
	if !ok {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// Claims copies the registered claims into an owned Claims value (Extra is
// left nil; decode Payload for the other claims).
func (t *Token) Claims() Claims {
	return Claims{
		Subject: string(t.Sub), ID: string(t.JTI), Issuer: string(t.Iss), Type: string(t.Typ),
		IssuedAt: t.IssuedAt(), ExpiresAt: t.ExpiresAt(),
		KeyID: string(t.Kid), Alg: Algorithm(t.Alg),
	}
}

// Static errors of the parse path (no allocation when returned).
var (
	errSegments  = fmt.Errorf("token: want three dot-separated segments: %w", ErrMalformed)
	errEmptySeg  = fmt.Errorf("token: empty header or payload segment: %w", ErrMalformed)
	errB64Header = fmt.Errorf("token: header is not unpadded base64url: %w", ErrMalformed)
	errB64Claims = fmt.Errorf("token: payload is not unpadded base64url: %w", ErrMalformed)
	errB64Sig    = fmt.Errorf("token: signature is not unpadded base64url: %w", ErrMalformed)
	errJSON      = fmt.Errorf("token: invalid JSON: %w", ErrMalformed)
	errNotObject = fmt.Errorf("token: header and payload must be JSON objects: %w", ErrMalformed)
	errDuplicate = fmt.Errorf("token: duplicated member name: %w", ErrMalformed)
	errCrit      = fmt.Errorf("token: unsupported \"crit\" header: %w", ErrMalformed)
	errAud       = fmt.Errorf("token: claim \"aud\" must be a string or an array of strings: %w", ErrMalformed)
)

// ParseUnverified decodes tok into t (after t.Reset) and scans the header
// for alg/kid/typ and the claims for sub, jti, iss, typ, iat, exp and nbf.
// It checks only the structure: no signature, algorithm, key, time or
// issuer check. Use it for /token/inspect and to read the claims of a token
// that failed verification; never trust its output for authorization.
//
// The token must be the compact serialization: three segments of unpadded
// base64url (no '=', no line breaks, canonical trailing bits), the first two
// JSON objects in UTF-8 without duplicated member names. Errors wrap
// ErrTooLarge or ErrMalformed. It does not allocate once t's buffer has
// grown, and is safe for concurrent use with distinct Tokens.
func (v *Verifier) ParseUnverified(tok []byte, t *Token) error {
	if err := v.parse(tok, t); err != nil {
		return err
	}
	return t.decodeSignature(tok)
}

// parse is ParseUnverified without decoding the signature segment (Verify
// decodes it only when a signature check actually runs): it reserves room
// for it in t.buf and records where.
func (v *Verifier) parse(tok []byte, t *Token) error {
	t.Reset()
	if len(tok) > v.maxBytes {
		return v.errTooLarge
	}
	d1 := bytes.IndexByte(tok, '.')
	if d1 < 0 {
		return errSegments
	}
	d2 := bytes.IndexByte(tok[d1+1:], '.')
	if d2 < 0 {
		return errSegments
	}
	d2 += d1 + 1
	if bytes.IndexByte(tok[d2+1:], '.') >= 0 {
		return errSegments
	}
	h, p := tok[:d1], tok[d1+1:d2]
	if len(h) == 0 || len(p) == 0 {
		return errEmptySeg
	}
	hl, pl, sl := len(h)*3/4, len(p)*3/4, (len(tok)-d2-1)*3/4
	// Room for the three decoded segments plus unescaped strings, which are
	// never longer than their JSON source: the buffer never reallocates
	// while slices into it are handed out.
	need := 2*(hl+pl) + sl
	if cap(t.buf) < need {
		t.buf = make([]byte, 0, max(need, 512))
	}
	buf := t.buf[:need]
	n, ok := decodeB64(buf, h)
	if !ok {
		return errB64Header
	}
	t.Header = buf[:n:n]
	off := n
	if n, ok = decodeB64(buf[off:], p); !ok {
		return errB64Claims
	}
	t.Payload = buf[off : off+n : off+n]
	off += n
	t.sigOff = off
	t.buf = buf[:off+sl] // signature slot; unescaped strings go after it
	t.signedLen = d2

	sc := scanner{Scanner: jsonscan.Scanner{D: t.Header}, t: t}
	if err := sc.object(true); err != nil {
		return err
	}
	sc = scanner{Scanner: jsonscan.Scanner{D: t.Payload}, t: t}
	return sc.object(false)
}

// decodeSignature decodes the signature segment of tok (the token t was
// parsed from) into its reserved slot and sets t.Signature.
func (t *Token) decodeSignature(tok []byte) error {
	sig := tok[t.signedLen+1:]
	slot := t.buf[t.sigOff : t.sigOff+len(sig)*3/4]
	n, ok := decodeB64(slot, sig)
	if !ok {
		return errB64Sig
	}
	t.Signature = slot[:n:n]
	return nil
}

// b64Dec maps base64url characters to their 6-bit values; 0xFF elsewhere.
var b64Dec = func() (t [256]byte) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range t {
		t[i] = 0xFF
	}
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// decodeB64 decodes strict unpadded base64url (RFC 7515 §2): only the URL
// alphabet (no '=', '+', '/', whitespace or line breaks, which
// encoding/base64 would silently skip) and zero trailing bits, so every
// token has exactly one accepted encoding. dst must hold len(src)*3/4
// bytes. It is equivalent to base64.RawURLEncoding.Strict().Decode plus
// the rejection of '\r' and '\n' (FuzzDecodeB64 checks this), which would
// otherwise need an extra pass over the token; it is also ~10% faster.
func decodeB64(dst, src []byte) (int, bool) {
	n, i := 0, 0
	for ; i+4 <= len(src); i += 4 {
		a, b, c, d := b64Dec[src[i]], b64Dec[src[i+1]], b64Dec[src[i+2]], b64Dec[src[i+3]]
		if (a|b|c|d)&0xC0 != 0 {
			return 0, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		_ = dst[n+2]
		dst[n], dst[n+1], dst[n+2] = byte(v>>16), byte(v>>8), byte(v)
		n += 3
	}
	switch len(src) - i {
	case 1:
		return 0, false
	case 2:
		a, b := b64Dec[src[i]], b64Dec[src[i+1]]
		if (a|b)&0xC0 != 0 || b&0x0F != 0 {
			return 0, false
		}
		dst[n] = a<<2 | b>>4
		n++
	case 3:
		a, b, c := b64Dec[src[i]], b64Dec[src[i+1]], b64Dec[src[i+2]]
		if (a|b|c)&0xC0 != 0 || c&0x03 != 0 {
			return 0, false
		}
		v := uint32(a)<<12 | uint32(b)<<6 | uint32(c)
		dst[n], dst[n+1] = byte(v>>10), byte(v>>2)
		n += 2
	}
	return n, true
}

// scanner reads a header or claims document with the shared JSON scanner
// (internal/jsonscan). Unescaped strings are appended to t.buf (whose
// capacity ParseUnverified reserved).
type scanner struct {
	jsonscan.Scanner
	t *Token
}

// object scans a top-level object, dispatching the members the header
// (hdr) or the claims need and rejecting duplicated names.
func (s *scanner) object(hdr bool) error {
	s.WS()
	if !s.Eat('{') {
		return errNotObject
	}
	var seen nameSet
	s.WS()
	if !s.Eat('}') {
		for {
			s.WS()
			name, ok := s.stringValue()
			if !ok {
				return errJSON
			}
			if !seen.add(name) {
				return errDuplicate
			}
			s.WS()
			if !s.Eat(':') {
				return errJSON
			}
			s.WS()
			var err error
			if hdr {
				err = s.headerMember(name)
			} else {
				err = s.claimMember(name)
			}
			if err != nil {
				return err
			}
			s.WS()
			if s.Eat(',') {
				continue
			}
			if s.Eat('}') {
				break
			}
			return errJSON
		}
	}
	s.WS()
	if s.I != len(s.D) {
		return errJSON
	}
	return nil
}

func (s *scanner) headerMember(name []byte) error {
	var dst *[]byte
	switch string(name) {
	case "alg":
		dst = &s.t.Alg
	case "kid":
		dst = &s.t.Kid
	case "typ":
		dst = &s.t.HeaderTyp
	case "crit":
		return errCrit
	default:
		return s.skip()
	}
	v, ok := s.stringValue()
	if !ok {
		return fmt.Errorf("token: header %q must be a string: %w", name, ErrMalformed)
	}
	*dst = v
	return nil
}

func (s *scanner) claimMember(name []byte) error {
	var str *[]byte
	var num *int64
	var has *bool
	roundUp := false
	switch string(name) {
	case "sub":
		str = &s.t.Sub
	case "jti":
		str = &s.t.JTI
	case "iss":
		str = &s.t.Iss
	case "typ":
		str = &s.t.Typ
	case "iat":
		num, has = &s.t.Iat, &s.t.HasIat
	case "exp":
		num, has = &s.t.Exp, &s.t.HasExp
	case "nbf":
		num, has, roundUp = &s.t.Nbf, &s.t.HasNbf, true
	case "aud":
		return s.audience()
	default:
		return s.skip()
	}
	if str != nil {
		v, ok := s.stringValue()
		if !ok {
			return fmt.Errorf("token: claim %q must be a string: %w", name, ErrMalformed)
		}
		*str = v
		return nil
	}
	n, ok := s.numericDate(roundUp)
	if !ok {
		return fmt.Errorf("token: claim %q must be a number of seconds within ±2^53: %w", name, ErrMalformed)
	}
	*num, *has = n, true
	return nil
}

// audience validates (without keeping) "aud": a string or an array of
// strings (RFC 7519 §4.1.3), as golang-jwt requires too.
func (s *scanner) audience() error {
	if s.I < len(s.D) && s.D[s.I] == '"' {
		if _, _, ok := s.Str(); !ok {
			return errAud
		}
		return nil
	}
	if !s.Eat('[') {
		return errAud
	}
	s.WS()
	if s.Eat(']') {
		return nil
	}
	for {
		s.WS()
		if _, _, ok := s.Str(); !ok {
			return errAud
		}
		s.WS()
		if s.Eat(',') {
			continue
		}
		if s.Eat(']') {
			return nil
		}
		return errAud
	}
}

// stringValue parses a JSON string and returns its decoded content: a
// sub-slice of d when it has no escapes, else the unescaped copy in t.buf.
func (s *scanner) stringValue() ([]byte, bool) {
	raw, esc, ok := s.Str()
	if !ok {
		return nil, false
	}
	if !esc {
		return raw[:len(raw):len(raw)], true
	}
	return s.unescape(raw), true
}

// skip validates and skips one member value (nested at most maxJSONDepth
// levels).
func (s *scanner) skip() error {
	if !s.Skip(maxJSONDepth) {
		return errJSON
	}
	return nil
}

// unescape decodes a validated raw JSON string body into t.buf, exactly as
// encoding/json does (invalid surrogates become U+FFFD).
func (s *scanner) unescape(raw []byte) []byte {
	start := len(s.t.buf)
	out := s.t.buf
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch raw[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := jsonscan.Hex4(raw[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, jsonscan.Hex4(raw[i+2:])); dec != utf8.RuneError {
						r2 = dec
						i += 6
					}
				}
				r = r2
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, raw[i+1])
		}
		i += 2
	}
	s.t.buf = out
	return out[start:len(out):len(out)]
}

// numericDate parses a JSON number as Unix seconds within ±2^53, rounding a
// fractional value down (or up if roundUp).
func (s *scanner) numericDate(roundUp bool) (int64, bool) {
	num, isInt, ok := s.Number()
	if !ok {
		return 0, false
	}
	if isInt {
		neg := num[0] == '-'
		if neg {
			num = num[1:]
		}
		if len(num) > 16 { // 2^53 has 16 digits
			return 0, false
		}
		var v int64
		for _, c := range num {
			v = v*10 + int64(c-'0')
		}
		if v > maxNumericDate {
			return 0, false
		}
		if neg {
			v = -v
		}
		return v, true
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(num), len(num)), 64)
	if err != nil || math.IsNaN(f) || f > maxNumericDate || f < -maxNumericDate {
		return 0, false
	}
	if roundUp {
		f = math.Ceil(f)
	} else {
		f = math.Floor(f)
	}
	return int64(f), true
}

// nameSet detects duplicated member names: the first 32 names are kept in
// a fixed array (no allocation), more spill into a map.
type nameSet struct {
	n     int
	hash  [32]uint64
	names [32][]byte
	spill map[string]struct{}
}

func (ns *nameSet) add(name []byte) bool {
	if ns.spill != nil {
		if _, dup := ns.spill[string(name)]; dup {
			return false
		}
		ns.spill[string(name)] = struct{}{}
		return true
	}
	h := uint64(14695981039346656037) // FNV-1a
	for _, c := range name {
		h = (h ^ uint64(c)) * 1099511628211
	}
	for j := range ns.n {
		if ns.hash[j] == h && bytes.Equal(ns.names[j], name) {
			return false
		}
	}
	if ns.n < len(ns.hash) {
		ns.hash[ns.n], ns.names[ns.n] = h, name
		ns.n++
		return true
	}
	ns.spill = make(map[string]struct{}, 2*len(ns.names))
	for _, nm := range ns.names {
		ns.spill[string(nm)] = struct{}{}
	}
	ns.spill[string(name)] = struct{}{}
	return true
}
