package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"sort"
	"strings"
)

// parseInterspersed parses fs over args allowing flags after positional
// arguments (`validate TOKEN --no-revocation-check`). Everything after a
// bare "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// claimsFlag collects repeated --claim k=v (a string) or k:=JSON (any JSON
// value) into additional_claims.
type claimsFlag map[string]any

// String implements flag.Value.
func (c claimsFlag) String() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// Set implements flag.Value.
func (c claimsFlag) Set(s string) error {
	i := strings.IndexByte(s, '=')
	if i <= 0 {
		return fmt.Errorf("want key=value or key:=json, got %q", s)
	}
	key, val := s[:i], s[i+1:]
	if strings.HasSuffix(key, ":") {
		key = strings.TrimSuffix(key, ":")
		var v any
		if err := json.Unmarshal([]byte(val), &v); err != nil {
			return fmt.Errorf("claim %q: value is not JSON: %w", key, err)
		}
		if key == "" {
			return fmt.Errorf("empty claim name in %q", s)
		}
		c[key] = v
		return nil
	}
	c[key] = val
	return nil
}
