package config

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// parseOAuthClients parses OAUTH_CLIENTS: a comma-separated list of
// client_id:SHA256HEX entries and/or @file.json entries, each file a JSON
// object {"client_id": "SHA256HEX", ...}. SHA256HEX is the hex SHA-256 of
// the client's secret (`printf %s "$SECRET" | sha256sum`); the secrets
// themselves are never configured.
func parseOAuthClients(v string) (map[string][32]byte, error) {
	out := map[string][32]byte{}
	add := func(id, hexSum string) error {
		id, hexSum = strings.TrimSpace(id), strings.ToLower(strings.TrimSpace(hexSum))
		if id == "" || strings.ContainsAny(id, ":,@") {
			return fmt.Errorf("client id %q: want a non-empty id without ':', ',' or '@'", id)
		}
		if _, dup := out[id]; dup {
			return fmt.Errorf("client %q listed twice", id)
		}
		b, err := hex.DecodeString(hexSum)
		if err != nil || len(b) != 32 {
			return fmt.Errorf("client %q: want the secret's SHA-256 as 64 hex digits", id)
		}
		out[id] = [32]byte(b)
		return nil
	}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case strings.HasPrefix(part, "@"):
			b, err := os.ReadFile(part[1:])
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", part[1:], err)
			}
			var m map[string]string
			if err := json.Unmarshal(b, &m); err != nil {
				return nil, fmt.Errorf("%s: want a JSON object of client_id: SHA256HEX: %w", part[1:], err)
			}
			for id, sum := range m {
				if err := add(id, sum); err != nil {
					return nil, fmt.Errorf("%s: %w", part[1:], err)
				}
			}
		default:
			id, sum, ok := strings.Cut(part, ":")
			if !ok {
				return nil, fmt.Errorf("entry %q: want client_id:SHA256HEX or @file.json", part)
			}
			if err := add(id, sum); err != nil {
				return nil, err
			}
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// parsePublicBaseURL checks PUBLIC_BASE_URL: an absolute http(s) URL
// without query or fragment, returned without a trailing slash; "" stays
// "" (validate derives the default from LISTEN_ADDR).
func parsePublicBaseURL(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", errors.New("want an absolute http:// or https:// URL without query, fragment or credentials")
	}
	return strings.TrimRight(v, "/"), nil
}

// defaultPublicBaseURL sets PublicBaseURL, when unset, to the listen
// address's URL (https with TLS_CERT).
func (c *Config) defaultPublicBaseURL() {
	if c.PublicBaseURL != "" {
		return
	}
	scheme := "http"
	if c.TLSCert != "" {
		scheme = "https"
	}
	c.PublicBaseURL = scheme + "://" + c.ListenAddr
}
