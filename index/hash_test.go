package index

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestHashUUIDSpellings: every spelling of a UUID hashes like its bytes, so
// Bloom rebuilds (which hash stored [16]byte keys) agree with Check.
func TestHashUUIDSpellings(t *testing.T) {
	ix := New(Options{Shards: 1, ExpectedEntries: 16})
	r := rand.New(rand.NewPCG(41, 42))
	for range 2000 {
		s := randUUID(r)
		u, ok := parseUUID(s)
		if !ok {
			t.Fatalf("parse %q", s)
		}
		want := ix.hashUUIDBytes(&u)
		for _, sp := range []string{s, strings.ToUpper(s), mixCase(r, s)} {
			if got := ix.hashJTI(sp); got != want {
				t.Fatalf("hashJTI(%q) = %#x, want %#x", sp, got, want)
			}
		}
	}
	// Non-UUID jtis hash through maphash and still differ from each other.
	if ix.hashJTI("session-1") == ix.hashJTI("session-2") {
		t.Fatal("distinct string jtis collide")
	}
}

// mixCase upper-cases a random subset of s's letters.
func mixCase(r *rand.Rand, s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' && r.IntN(2) == 0 {
			b[i] = c - 0x20
		}
	}
	return string(b)
}

func TestHexEncodeDecodeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	for i := range 100_000 {
		x := r.Uint32()
		if i < 16 {
			x = uint32(i) * 0x11111111
		}
		w := hexEncode(x)
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], w)
		if want := fmt.Sprintf("%08x", x); string(b[:]) != want {
			t.Fatalf("hexEncode(%#x) = %q, want %q", x, b, want)
		}
		if hexInvalid(w) != 0 || hexDecode(w) != x {
			t.Fatalf("hexDecode(hexEncode(%#x)) = %#x", x, hexDecode(w))
		}
	}
}
