// Package jsonscan is revocd's one allocation-free JSON scanner: the token
// parser (crypto/token) reads JWT headers and claims with it, the HTTP API
// (transport/httpapi) the common shapes of its hot-path request bodies.
// It validates as it goes (RFC 8259 grammar; strings must be valid UTF-8
// without control characters) and never allocates; what a value means is
// the caller's business.
//
// A Scanner is a position in one document: the zero value scans an empty
// document. It is a plain value, not safe for concurrent use.
package jsonscan

import (
	"bytes"
	"unicode/utf8"
)

// Scanner reads the JSON document D from byte offset I.
type Scanner struct {
	D []byte
	I int
}

// WS skips whitespace.
func (s *Scanner) WS() {
	for s.I < len(s.D) {
		switch s.D[s.I] {
		case ' ', '\t', '\n', '\r':
			s.I++
		default:
			return
		}
	}
}

// Eat consumes c if it is the next byte (no whitespace skipped).
func (s *Scanner) Eat(c byte) bool {
	if s.I < len(s.D) && s.D[s.I] == c {
		s.I++
		return true
	}
	return false
}

// Peek returns the next byte, or 0 at the end.
func (s *Scanner) Peek() byte {
	if s.I < len(s.D) {
		return s.D[s.I]
	}
	return 0
}

// End reports whether only whitespace is left.
func (s *Scanner) End() bool {
	s.WS()
	return s.I == len(s.D)
}

// strClass classifies bytes inside JSON strings: 0 for plain ASCII, else
// one of the cls* values.
var strClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c == '"':
			t[c] = clsQuote
		case c == '\\':
			t[c] = clsEscape
		case c < 0x20:
			t[c] = clsControl
		case c >= utf8.RuneSelf:
			t[c] = clsNonASCII
		}
	}
	return t
}()

const (
	clsQuote = 1 + iota
	clsEscape
	clsControl
	clsNonASCII
)

// PlainStr scans a JSON string starting at I made only of printable ASCII
// without escapes (JWTs and member names are) and returns its content, a
// sub-slice of D. For any other string, or no string, ok is false and
// nothing is consumed.
func (s *Scanner) PlainStr() (raw []byte, ok bool) {
	if s.I >= len(s.D) || s.D[s.I] != '"' {
		return nil, false
	}
	q := bytes.IndexByte(s.D[s.I+1:], '"')
	if q < 0 {
		return nil, false
	}
	raw = s.D[s.I+1 : s.I+1+q]
	for _, c := range raw {
		if strClass[c] != 0 {
			return nil, false
		}
	}
	s.I += q + 2
	return raw, true
}

// Str scans a JSON string starting at I and returns its raw content (a
// sub-slice of D, escapes not decoded) and whether it contains escapes.
// Control characters, bad escapes and invalid UTF-8 are refused (outside
// strings the grammar admits only ASCII, so a scanned document is valid
// UTF-8).
func (s *Scanner) Str() (raw []byte, esc, ok bool) {
	if raw, ok := s.PlainStr(); ok {
		return raw, false, true
	}
	if !s.Eat('"') {
		return nil, false, false
	}
	d, start := s.D, s.I
	for i := start; i < len(d); {
		if strClass[d[i]] == 0 {
			i++
			continue
		}
		switch strClass[d[i]] {
		case clsQuote:
			s.I = i + 1
			return d[start:i], esc, true
		case clsEscape:
			esc = true
			if i+1 >= len(d) {
				return nil, false, false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) || !isHex4(d[i+2:i+6]) {
					return nil, false, false
				}
				i += 6
			default:
				return nil, false, false
			}
		case clsNonASCII:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size == 1 {
				return nil, false, false
			}
			i += size
		default:
			return nil, false, false
		}
	}
	return nil, false, false
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if unhex(c) < 0 {
			return false
		}
	}
	return true
}

func unhex(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// Hex4 decodes the four hex digits of a \uXXXX escape that Str accepted.
func Hex4(b []byte) rune {
	return unhex(b[0])<<12 | unhex(b[1])<<8 | unhex(b[2])<<4 | unhex(b[3])
}

// Literal consumes lit ("true", "false" or "null") if it comes next.
func (s *Scanner) Literal(lit string) bool {
	if len(s.D)-s.I >= len(lit) && string(s.D[s.I:s.I+len(lit)]) == lit {
		s.I += len(lit)
		return true
	}
	return false
}

// Bool scans true or false.
func (s *Scanner) Bool() (v, ok bool) {
	switch {
	case s.Literal("true"):
		return true, true
	case s.Literal("false"):
		return false, true
	}
	return false, false
}

// Number scans a JSON number (RFC 8259 grammar) and reports whether it is
// an integer (no fraction, no exponent).
func (s *Scanner) Number() (num []byte, isInt, ok bool) {
	d, i := s.D, s.I
	start := i
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	default:
		return nil, false, false
	}
	isInt = true
	if i < len(d) && d[i] == '.' {
		isInt = false
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return nil, false, false
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		isInt = false
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return nil, false, false
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	s.I = i
	return d[start:i], isInt, true
}

// Skip validates and skips one JSON value nested at most maxDepth levels
// deep (recursion is bounded by it).
func (s *Scanner) Skip(maxDepth int) bool {
	if maxDepth < 0 || s.I >= len(s.D) {
		return false
	}
	switch s.D[s.I] {
	case '"':
		_, _, ok := s.Str()
		return ok
	case '{':
		s.I++
		s.WS()
		if s.Eat('}') {
			return true
		}
		for {
			s.WS()
			if _, _, ok := s.Str(); !ok {
				return false
			}
			s.WS()
			if !s.Eat(':') {
				return false
			}
			s.WS()
			if !s.Skip(maxDepth - 1) {
				return false
			}
			s.WS()
			if s.Eat(',') {
				continue
			}
			return s.Eat('}')
		}
	case '[':
		s.I++
		s.WS()
		if s.Eat(']') {
			return true
		}
		for {
			s.WS()
			if !s.Skip(maxDepth - 1) {
				return false
			}
			s.WS()
			if s.Eat(',') {
				continue
			}
			return s.Eat(']')
		}
	case 't':
		return s.Literal("true")
	case 'f':
		return s.Literal("false")
	case 'n':
		return s.Literal("null")
	}
	_, _, ok := s.Number()
	return ok
}
