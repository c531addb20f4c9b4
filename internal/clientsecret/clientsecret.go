// Package clientsecret makes OAUTH_CLIENTS entries: the SHA-256 of an OAuth
// client's secret, which revocd stores instead of the secret (see the
// README's "OAuth clients"). It backs `revocd client-secret-hash`.
package clientsecret

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// MinLen is the shortest secret accepted, in bytes: a plain SHA-256 is no
// defence for a guessable secret, so secrets must be random and long.
const MinLen = 32

// maxLen bounds what is read from standard input.
const maxLen = 4096

// Errors of Entry, checked with errors.Is.
var (
	// ErrClientID: the client id is empty or holds ':', ',' or '@'
	// (OAUTH_CLIENTS's separators).
	ErrClientID = errors.New("clientsecret: client id must be non-empty, without ':', ',' or '@'")
	// ErrShortSecret: the secret is shorter than MinLen bytes.
	ErrShortSecret = fmt.Errorf("clientsecret: secret shorter than %d bytes (use --generate, or `openssl rand -hex 32`)", MinLen)
	// ErrSecret: the secret holds a control character (a stray line
	// break or a terminal escape is never part of a random secret).
	ErrSecret = errors.New("clientsecret: secret holds a control character")
)

// Hash returns the hex SHA-256 of secret, as OAUTH_CLIENTS holds it.
func Hash(secret string) string {
	s := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(s[:])
}

// Entry returns the OAUTH_CLIENTS entry "id:SHA256HEX" of a client's
// secret, or an error wrapping ErrClientID, ErrShortSecret or ErrSecret.
func Entry(id, secret string) (string, error) {
	if id == "" || strings.TrimSpace(id) != id || strings.ContainsAny(id, ":,@") {
		return "", fmt.Errorf("%w: %q", ErrClientID, id)
	}
	if len(secret) < MinLen {
		return "", fmt.Errorf("%w: %d bytes", ErrShortSecret, len(secret))
	}
	if strings.ContainsFunc(secret, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", ErrSecret
	}
	return id + ":" + Hash(secret), nil
}

// Generate returns a new secret: 32 bytes from r (crypto/rand if nil), in
// hex (64 characters).
func Generate(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, 32)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("clientsecret: generate: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// ReadSecret reads a secret from r: everything up to the end or the first
// line break (so `echo "$SECRET" |` and a file with a final newline work).
func ReadSecret(r io.Reader) (string, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, maxLen+1), maxLen+1).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("clientsecret: read the secret: %w", err)
	}
	if len(line) > maxLen {
		return "", fmt.Errorf("clientsecret: secret longer than %d bytes", maxLen)
	}
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), nil
}

// Main runs `revocd client-secret-hash [--generate] CLIENT_ID` with args
// after the subcommand's name and returns the exit code: 0, 1 for a
// refused secret or id, 2 for bad usage. It reads the secret from stdin
// and prints the OAUTH_CLIENTS entry; with --generate it reads nothing,
// and prints a new random secret on the first line and its entry on the
// second.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("revocd client-secret-hash", flag.ContinueOnError)
	fs.SetOutput(stderr)
	generate := fs.Bool("generate", false, "generate a random secret (printed on the first line) instead of reading one from standard input")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: revocd client-secret-hash [--generate] CLIENT_ID < secret\n\n"+
			"Prints the OAUTH_CLIENTS entry CLIENT_ID:SHA256HEX of the client's secret, read from standard input\n"+
			"(one line; at least %d bytes). With --generate, prints a new random secret, then its entry.\n\n", MinLen)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	id := fs.Arg(0)
	var secret string
	var err error
	if *generate {
		secret, err = Generate(nil)
	} else {
		secret, err = ReadSecret(stdin)
	}
	var entry string
	if err == nil {
		entry, err = Entry(id, secret)
	}
	if err != nil {
		fmt.Fprintf(stderr, "revocd client-secret-hash: %v\n", err)
		return 1
	}
	if *generate {
		fmt.Fprintln(stdout, secret)
	}
	fmt.Fprintln(stdout, entry)
	return 0
}
