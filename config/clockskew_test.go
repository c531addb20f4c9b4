package config

import (
	"errors"
	"testing"
	"time"
)

// TestMaxClockSkew: MAX_CLOCK_SKEW_SECONDS defaults to 2 s, accepts 0 to 60
// and refuses anything else with a config.Error naming the variable.
func TestMaxClockSkew(t *testing.T) {
	tests := []struct {
		value string // "" leaves it unset
		want  time.Duration
		bad   bool
	}{
		{"", 2 * time.Second, false},
		{"0", 0, false},
		{"60", time.Minute, false},
		{"61", 0, true},
		{"-1", 0, true},
		{"1.5", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.value, func(t *testing.T) {
			env := map[string]string{"JWT_SECRET_KEY": "a-strong-secret-0123456789abcdef-xyz", "ADMIN_API_KEYS": "admin-key-0123456789abcdef"}
			if tc.value != "" {
				env["MAX_CLOCK_SKEW_SECONDS"] = tc.value
			}
			c, err := load(t, nil, env)
			if tc.bad {
				var ce *Error
				if !errors.As(err, &ce) || ce.Var != "MAX_CLOCK_SKEW_SECONDS" {
					t.Fatalf("MAX_CLOCK_SKEW_SECONDS=%q: err %v, want a config.Error naming it", tc.value, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.MaxClockSkew != tc.want {
				t.Fatalf("MaxClockSkew = %v, want %v", c.MaxClockSkew, tc.want)
			}
		})
	}
}
