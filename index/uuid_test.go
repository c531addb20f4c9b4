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
