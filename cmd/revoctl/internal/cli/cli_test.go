package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		args    []string
		wantPos []string
		wantNo  bool
	}{
		{[]string{"TOKEN", "--no-revocation-check"}, []string{"TOKEN"}, true},
		{[]string{"--no-revocation-check", "TOKEN"}, []string{"TOKEN"}, true},
		{[]string{"a", "b"}, []string{"a", "b"}, false},
		{[]string{"--", "-starts-with-dash", "--no-revocation-check"}, []string{"-starts-with-dash", "--no-revocation-check"}, false},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		no := fs.Bool("no-revocation-check", false, "")
		pos, err := parseInterspersed(fs, tt.args)
		if err != nil || !reflect.DeepEqual(pos, tt.wantPos) || *no != tt.wantNo {
			t.Errorf("%q: pos %q no=%v err=%v; want %q no=%v", tt.args, pos, *no, err, tt.wantPos, tt.wantNo)
		}
	}
}

func TestClaimsFlag(t *testing.T) {
	c := claimsFlag{}
	for _, s := range []string{"role=admin", "n:=3", "tags:=[\"a\"]", "eq=a=b"} {
		if err := c.Set(s); err != nil {
			t.Fatalf("Set(%q): %v", s, err)
		}
	}
	want := claimsFlag{"role": "admin", "n": float64(3), "tags": []any{"a"}, "eq": "a=b"}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %v, want %v", c, want)
	}
	for _, bad := range []string{"novalue", "=x", "k:=notjson", ":=1"} {
		if err := c.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
}

// run runs revoctl against a fake API answering status and body.
func run(t *testing.T, status int, body string, args ...string) (int, string, string, *http.Request) {
	t.Helper()
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	defer srv.Close()
	env := map[string]string{"REVOCD_URL": srv.URL, "REVOCD_ADMIN_KEY": "from-env-key-0123456789"}
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, func(k string) string { return env[k] }, &out, &errb)
	return code, out.String(), errb.String(), got
}

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		args   []string
		want   int
		inOut  string
		inErr  string
	}{
		{"valid", 200, `{"valid":true,"claims":{"sub":"a"},"revoked":false,"message":"ok"}`, []string{"validate", "T"}, ExitOK, "valid:", ""},
		{"invalid", 200, `{"valid":false,"claims":null,"revoked":false,"message":"Token has expired"}`, []string{"validate", "T"}, ExitInvalid, "Token has expired", ""},
		{"revoked", 200, `{"valid":false,"claims":null,"revoked":true,"message":"Token has been revoked"}`, []string{"validate", "T", "--output", "json"}, ExitRevoked, `"revoked": true`, ""},
		{"api error", 401, `{"detail":"Missing or invalid admin API key"}`, []string{"issue", "--subject", "a"}, ExitAPI, "", "API error 401: Missing or invalid admin API key"},
		{"usage: missing arg", 200, `{}`, []string{"validate"}, ExitFailure, "", "want 1 argument(s)"},
		{"usage: unknown command", 200, `{}`, []string{"frobnicate"}, ExitFailure, "", `unknown command "frobnicate"`},
		{"usage: bad output", 200, `{}`, []string{"--output", "xml", "health"}, ExitFailure, "", "want human or json"},
		{"usage: missing subcommand", 200, `{}`, []string{"refresh"}, ExitFailure, "", "missing subcommand"},
		{"help", 200, `{}`, []string{"help"}, ExitOK, "Exit codes:", ""},
		{"not ready", 503, `{"ready":false,"checks":{"index":{"ok":false}}}`, []string{"ready"}, ExitAPI, "ready:", "API error 503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs, _ := run(t, tt.status, tt.body, tt.args...)
			if code != tt.want || !strings.Contains(out, tt.inOut) || !strings.Contains(errs, tt.inErr) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.want, out, errs)
			}
		})
	}
}

func TestNetworkErrorExitsOne(t *testing.T) {
	var errb bytes.Buffer
	code := Run(context.Background(), []string{"--url", "http://127.0.0.1:1", "--timeout", "2s", "health"},
		func(string) string { return "" }, io.Discard, &errb)
	if code != ExitFailure {
		t.Fatalf("exit %d, want %d: %s", code, ExitFailure, errb.String())
	}
}

func TestGlobalFlagsAfterCommandAndEnvAdminKey(t *testing.T) {
	code, _, errs, req := run(t, 200, `{"event_id":"e","published":false}`, "revoke", "sub", "alice", "--reason", "gone", "--admin-key", "flag-key-0123456789")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if got := req.Header.Get("Authorization"); got != "Bearer flag-key-0123456789" {
		t.Fatalf("Authorization %q", got)
	}
	_, _, _, req = run(t, 200, `{"rotated":true,"kid":"k"}`, "keys", "rotate")
	if got := req.Header.Get("Authorization"); got != "Bearer from-env-key-0123456789" {
		t.Fatalf("Authorization from env %q", got)
	}
}

func TestEventsTailStopsOnShortPage(t *testing.T) {
	code, out, errs, req := run(t, 200, `{"events":[{"event_id":"e1","type":"revoke_jti","value":"v1","ts":1700000000000,"origin":"a","seq":1}],"next":1}`,
		"events", "tail", "--after", "0", "--limit", "10", "--output", "json")
	if code != ExitOK || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"value":"v1"`) {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if req.URL.RawQuery != "after=0&limit=10" {
		t.Fatalf("query %q", req.URL.RawQuery)
	}
}
