package httpapi

import "bytes"

// decodeValidateFast decodes the common shape of a /token/validate body,
// {"token": "<no escapes>", "check_revocation": true|false} with keys in any
// order and optional whitespace, without allocating. ok is false for
// anything else (escapes, unknown fields, other types, duplicates, trailing
// data): the caller then uses the general decoder, which is authoritative.
// token aliases body.
func decodeValidateFast(body []byte) (token []byte, check, hasToken, ok bool) {
	check = true
	s := body
	ws := func() {
		for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r') {
			s = s[1:]
		}
	}
	str := func() ([]byte, bool) {
		if len(s) == 0 || s[0] != '"' {
			return nil, false
		}
		end := bytes.IndexByte(s[1:], '"')
		if end < 0 {
			return nil, false
		}
		v := s[1 : 1+end]
		for _, c := range v {
			if c == '\\' || c < 0x20 || c >= 0x80 {
				return nil, false
			}
		}
		s = s[2+end:]
		return v, true
	}
	ws()
	if len(s) == 0 || s[0] != '{' {
		return nil, false, false, false
	}
	s = s[1:]
	seenCheck := false
	for first := true; ; first = false {
		ws()
		if len(s) > 0 && s[0] == '}' && first {
			s = s[1:]
			break
		}
		key, good := str()
		if !good {
			return nil, false, false, false
		}
		ws()
		if len(s) == 0 || s[0] != ':' {
			return nil, false, false, false
		}
		s = s[1:]
		ws()
		switch string(key) {
		case "token":
			if hasToken {
				return nil, false, false, false
			}
			if token, good = str(); !good {
				return nil, false, false, false
			}
			hasToken = true
		case "check_revocation":
			if seenCheck {
				return nil, false, false, false
			}
			seenCheck = true
			switch {
			case bytes.HasPrefix(s, []byte("true")):
				check, s = true, s[4:]
			case bytes.HasPrefix(s, []byte("false")):
				check, s = false, s[5:]
			default:
				return nil, false, false, false
			}
		default:
			return nil, false, false, false
		}
		ws()
		if len(s) == 0 {
			return nil, false, false, false
		}
		if s[0] == '}' {
			s = s[1:]
			break
		}
		if s[0] != ',' {
			return nil, false, false, false
		}
		s = s[1:]
	}
	ws()
	if len(s) != 0 {
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
	s := body
	ws := func() {
		for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r') {
			s = s[1:]
		}
	}
	str := func() ([]byte, bool) {
		if len(s) == 0 || s[0] != '"' {
			return nil, false
		}
		end := bytes.IndexByte(s[1:], '"')
		if end < 0 {
			return nil, false
		}
		v := s[1 : 1+end]
		for _, c := range v {
			if c == '\\' || c < 0x20 || c >= 0x80 {
				return nil, false
			}
		}
		s = s[2+end:]
		return v, true
	}
	ws()
	if len(s) == 0 || s[0] != '{' {
		return nil, false, false, false
	}
	s = s[1:]
	seenCheck := false
	for first := true; ; first = false {
		ws()
		if len(s) > 0 && s[0] == '}' && first {
			s = s[1:]
			break
		}
		key, good := str()
		if !good {
			return nil, false, false, false
		}
		ws()
		if len(s) == 0 || s[0] != ':' {
			return nil, false, false, false
		}
		s = s[1:]
		ws()
		switch string(key) {
		case "tokens":
			if hasTokens || len(s) == 0 || s[0] != '[' {
				return nil, false, false, false
			}
			hasTokens = true
			s = s[1:]
			ws()
			if len(s) > 0 && s[0] == ']' {
				s = s[1:]
				break
			}
			for {
				ws()
				tok, good := str()
				if !good {
					return nil, false, false, false
				}
				tokens = append(tokens, tok)
				ws()
				if len(s) == 0 {
					return nil, false, false, false
				}
				if s[0] == ']' {
					s = s[1:]
					break
				}
				if s[0] != ',' {
					return nil, false, false, false
				}
				s = s[1:]
			}
		case "check_revocation":
			if seenCheck {
				return nil, false, false, false
			}
			seenCheck = true
			switch {
			case bytes.HasPrefix(s, []byte("true")):
				check, s = true, s[4:]
			case bytes.HasPrefix(s, []byte("false")):
				check, s = false, s[5:]
			default:
				return nil, false, false, false
			}
		default:
			return nil, false, false, false
		}
		ws()
		if len(s) == 0 {
			return nil, false, false, false
		}
		if s[0] == '}' {
			s = s[1:]
			break
		}
		if s[0] != ',' {
			return nil, false, false, false
		}
		s = s[1:]
	}
	ws()
	if len(s) != 0 {
		return nil, false, false, false
	}
	return tokens, check, hasTokens, true
}
