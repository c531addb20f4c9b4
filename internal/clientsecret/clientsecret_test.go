package clientsecret

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

const secret64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func sum(s string) string {
	b := sha256.Sum256([]byte(s))
	return hex.EncodeToString(b[:])
}

// TestMainIO covers the subcommand: the entry of a secret read from
// stdin (a final line break is not part of it), refusals of short
// secrets, bad ids and bad usage, and --generate.
func TestMainIO(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string // exact, when code is 0 and not --generate
		stderr string // substring
	}{
		{"secret from stdin", []string{"gateway"}, secret64, 0, "gateway:" + sum(secret64) + "\n", ""},
		{"final newline dropped", []string{"gateway"}, secret64 + "\n", 0, "gateway:" + sum(secret64) + "\n", ""},
		{"final CRLF dropped", []string{"gateway"}, secret64 + "\r\n", 0, "gateway:" + sum(secret64) + "\n", ""},
		{"exactly the minimum", []string{"gw"}, secret64[:MinLen], 0, "gw:" + sum(secret64[:MinLen]) + "\n", ""},
		{"short secret", []string{"gateway"}, secret64[:MinLen-1], 1, "", "shorter than 32 bytes"},
		{"empty stdin", []string{"gateway"}, "", 1, "", "shorter than 32 bytes"},
		{"control character", []string{"gateway"}, secret64 + "\x1b[2J", 1, "", "control character"},
		{"too long", []string{"gateway"}, strings.Repeat("a", maxLen+1), 1, "", "longer than"},
		{"id with colon", []string{"a:b"}, secret64, 1, "", "client id"},
		{"id with comma", []string{"a,b"}, secret64, 1, "", "client id"},
		{"id with at", []string{"@file"}, secret64, 1, "", "client id"},
		{"no id", nil, secret64, 2, "", "Usage"},
		{"two ids", []string{"a", "b"}, secret64, 2, "", "Usage"},
		{"unknown flag", []string{"--nope", "a"}, secret64, 2, "", "flag provided but not defined"},
		{"help", []string{"--help"}, "", 0, "", "Usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Main(tt.args, strings.NewReader(tt.stdin), &out, &errb)
			if code != tt.code || (tt.code == 0 && out.String() != tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
				t.Fatalf("code %d stdout %q stderr %q; want %d %q %q", code, out.String(), errb.String(), tt.code, tt.stdout, tt.stderr)
			}
			if tt.code != 0 && out.Len() != 0 {
				t.Fatalf("refused, yet printed %q", out.String())
			}
			if strings.Contains(errb.String(), secret64) {
				t.Fatal("the secret reached stderr")
			}
		})
	}
}

// TestGenerate: --generate prints a fresh 64-hex-digit secret and its
// entry, and reads nothing.
func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 3 {
		var out, errb bytes.Buffer
		if code := Main([]string{"--generate", "gateway"}, strings.NewReader("must not be read"), &out, &errb); code != 0 {
			t.Fatalf("code %d: %s", code, errb.String())
		}
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("output %q: want the secret and the entry", out.String())
		}
		s, entry := lines[0], lines[1]
		if _, err := hex.DecodeString(s); err != nil || len(s) != 64 || seen[s] {
			t.Fatalf("secret %q: want 64 fresh hex digits", s)
		}
		seen[s] = true
		if entry != "gateway:"+sum(s) {
			t.Fatalf("entry %q, want gateway:%s", entry, sum(s))
		}
	}
}

// TestEntryErrors: Entry's refusals wrap their sentinels.
func TestEntryErrors(t *testing.T) {
	for _, tt := range []struct {
		id, secret string
		want       error
	}{
		{"", secret64, ErrClientID},
		{" gw", secret64, ErrClientID},
		{"gw", "short", ErrShortSecret},
		{"gw", secret64 + "\n", ErrSecret},
	} {
		if _, err := Entry(tt.id, tt.secret); !errors.Is(err, tt.want) {
			t.Errorf("Entry(%q, %q): %v, want %v", tt.id, tt.secret, err, tt.want)
		}
	}
}
