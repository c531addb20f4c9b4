package httpapi

import "bytes"

// scanner is a minimal allocation-free reader for the common, simple shapes
// of hot-path request bodies. It accepts only a subset of JSON (strings
// without escapes or non-ASCII bytes, true/false, arrays of such strings);
// anything else makes a fast decoder report ok=false so the caller falls
// back to the general decoder, which stays authoritative.
type scanner struct{ s []byte }

func (sc *scanner) ws() {
	for len(sc.s) > 0 && (sc.s[0] == ' ' || sc.s[0] == '\t' || sc.s[0] == '\n' || sc.s[0] == '\r') {
		sc.s = sc.s[1:]
	}
}

// eat consumes c after optional whitespace.
func (sc *scanner) eat(c byte) bool {
	sc.ws()
	if len(sc.s) > 0 && sc.s[0] == c {
		sc.s = sc.s[1:]
		return true
	}
	return false
}

// str reads a string with no escapes, control or non-ASCII bytes; the
// result aliases the body.
func (sc *scanner) str() ([]byte, bool) {
	sc.ws()
	if len(sc.s) == 0 || sc.s[0] != '"' {
		return nil, false
	}
	end := bytes.IndexByte(sc.s[1:], '"')
	if end < 0 {
		return nil, false
	}
	v := sc.s[1 : 1+end]
	for _, c := range v {
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return nil, false
		}
	}
	sc.s = sc.s[2+end:]
	return v, true
}

func (sc *scanner) boolean() (v, ok bool) {
	sc.ws()
	switch {
	case bytes.HasPrefix(sc.s, []byte("true")):
		sc.s = sc.s[4:]
		return true, true
	case bytes.HasPrefix(sc.s, []byte("false")):
		sc.s = sc.s[5:]
		return false, true
	}
	return false, false
}

// object reads a whole body that is one JSON object, calling member for
// each key (member reads the value). Duplicate keys and trailing data are
// refused; member returns false to refuse a key or value.
func (sc *scanner) object(member func(key []byte) bool) bool {
	if !sc.eat('{') {
		return false
	}
	if !sc.eat('}') {
		for {
			key, ok := sc.str()
			if !ok || !sc.eat(':') || !member(key) {
				return false
			}
			if sc.eat('}') {
				break
			}
			if !sc.eat(',') {
				return false
			}
		}
	}
	sc.ws()
	return len(sc.s) == 0
}

// decodeValidateFast decodes the common shape of a /token/validate body,
// {"token": "<no escapes>", "check_revocation": true|false} with keys in any
// order and optional whitespace, without allocating. ok is false for
// anything else (escapes, unknown fields, other types, duplicates, trailing
// data): the caller then uses the general decoder. token aliases body.
func decodeValidateFast(body []byte) (token []byte, check, hasToken, ok bool) {
	check = true
	seenCheck := false
	sc := scanner{s: body}
	ok = sc.object(func(key []byte) bool {
		var good bool
		switch string(key) {
		case "token":
			if hasToken {
				return false
			}
			token, good = sc.str()
			hasToken = true
		case "check_revocation":
			if seenCheck {
				return false
			}
			check, good = sc.boolean()
			seenCheck = true
		}
		return good
	})
	if !ok {
		return nil, false, false, false
	}
	return token, check, hasToken, true
}

// decodeBatchFast decodes the common shape of a /token/validate/batch body,
// {"tokens": ["<no escapes>", ...], "check_revocation": true|false}, into
// dst (slices of body) without allocating beyond dst's growth. ok is false
// for anything else; the caller then uses the general decoder.
func decodeBatchFast(body []byte, dst [][]byte) (tokens [][]byte, check, hasTokens, ok bool) {
	check = true
	tokens = dst[:0]
	seenCheck := false
	sc := scanner{s: body}
	ok = sc.object(func(key []byte) bool {
		switch string(key) {
		case "tokens":
			if hasTokens || !sc.eat('[') {
				return false
			}
			hasTokens = true
			if sc.eat(']') {
				return true
			}
			for {
				tok, good := sc.str()
				if !good {
					return false
				}
				tokens = append(tokens, tok)
				if sc.eat(']') {
					return true
				}
				if !sc.eat(',') {
					return false
				}
			}
		case "check_revocation":
			if seenCheck {
				return false
			}
			seenCheck = true
			var good bool
			check, good = sc.boolean()
			return good
		}
		return false
	})
	if !ok {
		return nil, false, false, false
	}
	return tokens, check, hasTokens, true
}
