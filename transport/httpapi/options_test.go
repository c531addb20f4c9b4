package httpapi

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
)

// TestNewValidatesOptions: New refuses settings it cannot serve with, with
// an error wrapping ErrInvalidOptions that names the field.
func TestNewValidatesOptions(t *testing.T) {
	good := Options{RequestTimeout: time.Second, AccessTTL: 30 * time.Minute, MaxAccessTTL: 24 * time.Hour, MaxBatchTokens: 10}
	tests := []struct {
		field string
		edit  func(o *Options)
	}{
		{"", func(o *Options) {}},
		{"", func(o *Options) { o.RateLimitPerSecond, o.RateLimitBurst = 2, 5 }},
		{"RequestTimeout", func(o *Options) { o.RequestTimeout = 0 }},
		{"MaxAccessTTL", func(o *Options) { o.MaxAccessTTL = time.Second }},
		{"AccessTTL", func(o *Options) { o.AccessTTL = 0 }},
		{"AccessTTL", func(o *Options) { o.AccessTTL = 48 * time.Hour }},
		{"Leeway", func(o *Options) { o.Leeway = -time.Second }},
		{"PublishWait", func(o *Options) { o.PublishWait = -1 }},
		{"MaxBatchTokens", func(o *Options) { o.MaxBatchTokens = 0 }},
		{"RateLimitPerSecond", func(o *Options) { o.RateLimitPerSecond = -1 }},
		{"RateLimitBurst", func(o *Options) { o.RateLimitPerSecond, o.RateLimitBurst = 1, 0 }},
		{"AdminAPIKeys", func(o *Options) { o.AdminAPIKeys = []string{"k-0123456789", ""} }},
	}
	key, err := token.NewHMACKey("k", []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	ring := token.NewRing(key)
	for _, tc := range tests {
		o := good
		tc.edit(&o)
		_, err := New(Deps{Options: o, Ring: ring, Verifier: token.NewVerifier(ring, token.VerifierOptions{}), Index: index.New(index.Options{})})
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%+v refused: %v", o, err)
		case tc.field != "" && (!errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.field)):
			t.Errorf("%+v: err %v, want ErrInvalidOptions naming %s", o, err, tc.field)
		}
	}
	if _, err := New(Deps{Options: good}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("New without Verifier, Ring and Index: %v", err)
	}
}
