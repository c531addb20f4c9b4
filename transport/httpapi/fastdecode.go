package httpapi

import "github.com/revocd/revocd/internal/jsonscan"

// scanner reads the common, simple shapes of hot-path request bodies with
// the shared allocation-free JSON scanner (internal/jsonscan), accepting
// only ASCII strings without escapes (so that values alias the body),
// true/false and arrays of such strings; anything else makes a fast
// decoder report ok=false so the caller falls back to the general decoder,
// which stays authoritative.
type scanner struct{ jsonscan.Scanner }

// str reads a string of printable ASCII without escapes (JWTs and member
// names are); the result aliases the body.
func (sc *scanner) str() ([]byte, bool) {
	sc.WS()
	return sc.PlainStr()
}

func (sc *scanner) boolean() (v, ok bool) {
	sc.WS()
	return sc.Bool()
}

// eat consumes c after optional whitespace.
func (sc *scanner) eat(c byte) bool {
	sc.WS()
	return sc.Eat(c)
}

// object reads a whole body that is one JSON object, calling member for
// each key (member reads the value). Trailing data is refused; member
// returns false to refuse a key or value (the decoders refuse duplicates).
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
	return sc.End()
}

// decodeValidateFast decodes the common shape of a /token/validate body,
// {"token": "<no escapes>", "check_revocation": true|false} with keys in any
// order and optional whitespace, without allocating. ok is false for
// anything else (escapes, unknown fields, other types, duplicates, trailing
// data): the caller then uses the general decoder. token aliases body.
func decodeValidateFast(body []byte) (token []byte, check, hasToken, ok bool) {
	check = true
	seenCheck := false
	sc := scanner{jsonscan.Scanner{D: body}}
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
	sc := scanner{jsonscan.Scanner{D: body}}
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
