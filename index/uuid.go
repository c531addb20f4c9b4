package index

// uuidLen is the length of a canonical textual UUID (8-4-4-4-12 hex digits).
const uuidLen = 36

// hexVal maps an ASCII byte to its hex digit value, or to 0xff for a byte
// that is not a hex digit. Upper and lower case digits are both accepted.
var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
		t[c-'a'+'A'] = byte(c-'a') + 10
	}
	return t
}()

// uuidHexPos holds, for each of the 16 bytes of a UUID, the offset of its
// first hex digit in the canonical 36-character form.
var uuidHexPos = [16]uint8{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// parseUUID parses a canonical 36-character UUID (hex digits of either case,
// dashes at offsets 8, 13, 18 and 23) into its 16 bytes. It allocates
// nothing and reports false for any other string, which the index then
// stores as a plain string key. Upper- and lower-case spellings of one UUID
// parse to the same bytes (RFC 9562: UUID hex is case-insensitive on input).
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != uuidLen || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	var bad byte
	for i, p := range uuidHexPos {
		hi, lo := hexVal[s[p]], hexVal[s[p+1]]
		bad |= hi | lo
		u[i] = hi<<4 | lo
	}
	// Valid digits are <= 0x0f, so any 0xff marks an invalid character.
	return u, bad&0xf0 == 0
}
