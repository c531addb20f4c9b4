package index

import (
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseUUID(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"lower", "123e4567-e89b-12d3-a456-426614174000", true},
		{"upper", "123E4567-E89B-12D3-A456-426614174000", true},
		{"mixed", "123e4567-E89b-12d3-A456-426614174000", true},
		{"nil uuid", "00000000-0000-0000-0000-000000000000", true},
		{"max uuid", "ffffffff-ffff-ffff-ffff-ffffffffffff", true},
		{"empty", "", false},
		{"no dashes", "123e4567e89b12d3a456426614174000", false},
		{"braced", "{123e4567-e89b-12d3-a456-426614174000}", false},
		{"urn", "urn:uuid:123e4567-e89b-12d3-a456-426614174000", false},
		{"dash misplaced", "123e456-7e89b-12d3-a456-426614174000", false},
		{"non-hex g", "123e4567-e89b-12d3-a456-42661417400g", false},
		{"non-hex space", "123e4567-e89b-12d3-a456-42661417400 ", false},
		{"dash as digit", "123e4567-e89b-12d3-a456-42661417400-", false},
		{"too short", "123e4567-e89b-12d3-a456-42661417400", false},
		{"high byte", "123e4567-e89b-12d3-a456-42661417400\xff", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, ok := parseUUID(tc.in)
			if ok != tc.ok {
				t.Fatalf("parseUUID(%q) ok = %v, want %v", tc.in, ok, tc.ok)
			}
			if !ok {
				return
			}
			want, err := hex.DecodeString(strings.ReplaceAll(tc.in, "-", ""))
			if err != nil {
				t.Fatal(err)
			}
			if string(u[:]) != string(want) {
				t.Fatalf("parseUUID(%q) = %x, want %x", tc.in, u, want)
			}
		})
	}
}

func TestParseUUIDRandomRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		s := randUUID(r)
		u, ok := parseUUID(s)
		if !ok {
			t.Fatalf("parseUUID(%q) failed", s)
		}
		u2, ok := parseUUID(strings.ToUpper(s))
		if !ok || u2 != u {
			t.Fatalf("upper-case %q parsed to %x, want %x", s, u2, u)
		}
		if got := hex.EncodeToString(u[:]); got != strings.ReplaceAll(s, "-", "") {
			t.Fatalf("parseUUID(%q) = %s", s, got)
		}
	}
}

// hexValRef maps an ASCII byte to its hex value, or 0xff.
var hexValRef = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := 0; c < 256; c++ {
		switch {
		case c >= '0' && c <= '9':
			t[c] = byte(c - '0')
		case c >= 'a' && c <= 'f':
			t[c] = byte(c-'a') + 10
		case c >= 'A' && c <= 'F':
			t[c] = byte(c-'A') + 10
		}
	}
	return t
}()

// parseUUIDTable is the straightforward reference parser (one table lookup
// per character) that parseUUID is checked and benchmarked against.
func parseUUIDTable(s string) (u [16]byte, ok bool) {
	if len(s) != uuidLen || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	pos := [16]int{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}
	var bad byte
	for i, p := range pos {
		hi, lo := hexValRef[s[p]], hexValRef[s[p+1]]
		bad |= hi | lo
		u[i] = hi<<4 | lo
	}
	return u, bad&0xf0 == 0
}

// TestParseUUIDEveryByte substitutes every byte value at every position of
// a valid UUID and compares the SWAR parser with the reference.
func TestParseUUIDEveryByte(t *testing.T) {
	base := []byte("0123abcd-EF45-6789-aBcD-eF0123456789")
	for p := range base {
		for c := range 256 {
			s := append([]byte(nil), base...)
			s[p] = byte(c)
			got, gotOK := parseUUID(string(s))
			want, wantOK := parseUUIDTable(string(s))
			if gotOK != wantOK || (gotOK && got != want) {
				t.Fatalf("parseUUID(%q) = %x, %v; reference %x, %v", s, got, gotOK, want, wantOK)
			}
		}
	}
}

func BenchmarkParseUUID(b *testing.B) {
	s := "123e4567-E89B-12d3-a456-426614174000"
	b.Run("swar", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			parseUUID(s)
		}
	})
	b.Run("table", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			parseUUIDTable(s)
		}
	})
}
