package index

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// A canonical textual UUID is 36 bytes: 32 hex digits in groups of
// 8-4-4-4-12 separated by dashes. Upper- and lower-case spellings of one
// UUID are the same UUID (RFC 9562: hex is case-insensitive on input) and
// parse to the same 16 bytes.
//
// All helpers work on the 32 digits gathered into four little-endian 64-bit
// words of eight characters each (first character in the low byte) and
// process eight characters at a time (SWAR). With every byte below 0x80,
// adding a per-byte constant never carries into the next byte, so
// "byte >= lo" is the top bit of byte+(0x80-lo) and "byte <= hi" is the top
// bit of byte+(0x7f-hi) being clear. BenchmarkParseUUID compares parseUUID
// with a per-character table parser.

// uuidLen is the length of a canonical textual UUID.
const uuidLen = 36

const (
	ones = 0x0101010101010101 // 0x01 in every byte
	high = 0x8080808080808080 // top bit of every byte
	fold = 0x20 * ones        // ASCII case bit of every byte
)

// uuidShaped reports whether s has a UUID's length and dashes (its digits
// are not checked).
func uuidShaped(s string) bool {
	return len(s) == uuidLen && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-'
}

// uuidRawWords gathers the 32 digit characters of a UUID-shaped s into
// four words (returned as scalars so they stay in registers).
func uuidRawWords(s string) (w0, w1, w2, w3 uint64) {
	p := (*[uuidLen]byte)(unsafe.Pointer(unsafe.StringData(s[:uuidLen])))
	le := binary.LittleEndian
	return le.Uint64(p[0:8]),
		uint64(le.Uint32(p[9:13])) | uint64(le.Uint32(p[14:18]))<<32,
		uint64(le.Uint32(p[19:23])) | uint64(le.Uint32(p[24:28]))<<32,
		le.Uint64(p[28:36])
}

// parseUUID parses a canonical UUID of either case into its 16 bytes. It
// allocates nothing and reports false for any other string, which the index
// then stores as a plain string key.
func parseUUID(s string) (u [16]byte, ok bool) {
	if !uuidShaped(s) {
		return u, false
	}
	w0, w1, w2, w3 := uuidRawWords(s)
	be := binary.BigEndian
	be.PutUint32(u[0:4], hexDecode(w0|fold))
	be.PutUint32(u[4:8], hexDecode(w1|fold))
	be.PutUint32(u[8:12], hexDecode(w2|fold))
	be.PutUint32(u[12:16], hexDecode(w3|fold))
	return u, hexInvalid(w0)|hexInvalid(w1)|hexInvalid(w2)|hexInvalid(w3) == 0
}

// uuidWordsFromBytes is the inverse of parseUUID followed by case folding:
// it hex-encodes u in lower case into four digit words.
func uuidWordsFromBytes(u *[16]byte) (w0, w1, w2, w3 uint64) {
	be := binary.BigEndian
	return hexEncode(be.Uint32(u[0:4])), hexEncode(be.Uint32(u[4:8])),
		hexEncode(be.Uint32(u[8:12])), hexEncode(be.Uint32(u[12:16]))
}

// hexInvalid returns 0 if all eight bytes of w (not case-folded) are hex
// digits of either case.
func hexInvalid(w uint64) uint64 {
	digit := (w + (0x80-'0')*ones) &^ (w + (0x7f-'9')*ones)
	return w&high | ((digit|hexLetter(w|fold))&high ^ high)
}

// hexLetter returns 0x80 in each byte of the case-folded word w that is
// 'a'-'f'.
func hexLetter(w uint64) uint64 {
	return (w + (0x80-'a')*ones) &^ (w + (0x7f-'f')*ones) & high
}

// hexDecode decodes eight case-folded hex digits (validated by hexInvalid)
// into their 32-bit value, first digit most significant.
func hexDecode(w uint64) uint32 {
	// Nibble value: low 4 bits, plus 9 for letters ('a' = 0x61 -> 1+9).
	n := w&(0x0f*ones) + hexLetter(w)>>7*9
	// Pack: byte i = n[2i]<<4 | n[2i+1], then squeeze the four bytes.
	n = (n<<4 | n>>8) & 0x00ff00ff00ff00ff
	n = (n | n>>8) & 0x0000ffff0000ffff
	n = (n | n>>16) & 0xffffffff
	// n holds the decoded bytes little-endian; return them big-endian.
	return bits.ReverseBytes32(uint32(n))
}

// hexEncode is the inverse of hexDecode: eight lower-case hex digits of x,
// most significant first, packed little-endian.
func hexEncode(x uint32) uint64 {
	n := uint64(bits.ReverseBytes32(x)) // first byte lowest
	n = (n | n<<16) & 0x0000ffff0000ffff
	n = (n | n<<8) & 0x00ff00ff00ff00ff
	// Each 16-bit lane holds one byte b; make it (b>>4) then (b&0xf).
	n = n>>4&0x000f000f000f000f | (n&0x000f000f000f000f)<<8
	// Nibble v to ASCII: '0'+v, plus 'a'-'0'-10 = 39 when v >= 10.
	letter := (n + (0x80-10)*ones) & high >> 7
	return n + '0'*ones + letter*39
}
