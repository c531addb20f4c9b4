package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/revocd/revocd/index"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the JSON log records with msg.
func (s *syncBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		var m map[string]any
		if l == "" || json.Unmarshal([]byte(l), &m) != nil {
			continue
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// TestOAuthClientAuthFailuresLogged: failed client logins are logged at
// WARN with client id, method, reason and remote address, never the
// secret; repeated failures of one client id within a minute give one
// line (the next says how many were suppressed), while the counter
// revocd_oauth_client_auth_failures_total{reason} counts every failure.
// Before, failures were logged at DEBUG only, and not counted.
func TestOAuthClientAuthFailuresLogged(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	const secret = "rs1-secret-0123456789abcdef0123456789"
	logs := &syncBuffer{}
	metrics := NewMetrics(nil)
	ix := index.New(index.Options{})
	ix.SetReady()
	a := newTestAPI(t, Deps{Options: Options{AdminAPIKeys: []string{oauthAdminKey},
		OAuthClients: map[string][32]byte{"rs1": sha256.Sum256([]byte(secret))}},
		Index: ix, Metrics: metrics, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	now := time.Unix(1_800_000_000, 0)
	a.authFails.now = func() time.Time { return now }

	const wrong = "wrong-secret-must-never-be-logged"
	steps := []struct {
		name         string
		auth, body   string
		advance      time.Duration
		wantLines    int    // WARN lines so far
		wantID       string // of the last line, when it is new
		wantMethod   string
		wantReason   string
		wantSuppress float64
	}{
		{"first wrong basic secret", basic("rs1", wrong), "token=x", 0, 1, "rs1", authBasic, authFailWrongSecret, 0},
		{"second, same minute", basic("rs1", wrong), "token=x", time.Second, 1, "", "", "", 0},
		{"third, post, same minute", "", "token=x&client_id=rs1&client_secret=" + wrong, time.Second, 1, "", "", "", 0},
		{"unknown client", basic("nobody", wrong), "token=x", 0, 2, "nobody", authBasic, authFailUnknownClient, 0},
		{"a minute later", "", "token=x&client_id=rs1&client_secret=" + wrong, time.Minute, 3, "rs1", authPost, authFailWrongSecret, 2},
		{"right secret", basic("rs1", secret), "token=x", 0, 3, "", "", "", 0},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		resp := serveOAuth(a, http.MethodPost, "/oauth2/introspect", st.auth, form, st.body)
		if st.name == "right secret" {
			if resp.StatusCode() != 200 {
				t.Fatalf("%s: %d", st.name, resp.StatusCode())
			}
		} else if resp.StatusCode() != 401 {
			t.Fatalf("%s: %d, want 401", st.name, resp.StatusCode())
		}
		lines := logs.lines(t, "oauth client authentication failed")
		if len(lines) != st.wantLines {
			t.Fatalf("%s: %d WARN lines, want %d: %v", st.name, len(lines), st.wantLines, lines)
		}
		if st.wantID == "" {
			continue
		}
		l := lines[len(lines)-1]
		if l["level"] != "WARN" || l["client_id"] != st.wantID || l["auth_method"] != st.wantMethod || l["reason"] != st.wantReason ||
			l["suppressed_since_last"] != st.wantSuppress || l["remote_addr"] == nil {
			t.Fatalf("%s: line %v", st.name, l)
		}
	}
	if strings.Contains(logs.b.String(), wrong) || strings.Contains(logs.b.String(), url.QueryEscape(wrong)) {
		t.Fatal("a secret reached the log")
	}
	for reason, want := range map[string]float64{authFailWrongSecret: 4, authFailUnknownClient: 1} {
		var m dto.Metric
		if err := a.authFails.counter.WithLabelValues(reason).Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.GetCounter().GetValue(); got != want {
			t.Errorf("revocd_oauth_client_auth_failures_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
}

// TestOAuthClientAuthFailuresBounded: a brute force over many client ids
// keeps at most authFailMaxIDs ids in memory and logs at most
// authFailMaxIDs+1 lines per minute.
func TestOAuthClientAuthFailuresBounded(t *testing.T) {
	logs := &syncBuffer{}
	f := newAuthFailures(slog.New(slog.NewJSONHandler(logs, nil)), NewMetrics(nil).Registry())
	now := time.Unix(1_800_000_000, 0)
	f.now = func() time.Time { return now }
	for i := range 3 * authFailMaxIDs {
		f.record(fmt.Sprintf("client-%d-%s", i, strings.Repeat("x", 200)), authPost, false, "127.0.0.1:1", "/oauth2/revoke", "r")
	}
	lines := logs.lines(t, "oauth client authentication failed")
	if len(lines) != authFailMaxIDs+1 || len(f.seen) > authFailMaxIDs+1 {
		t.Fatalf("%d lines, %d ids remembered; want %d lines, at most %d ids", len(lines), len(f.seen), authFailMaxIDs+1, authFailMaxIDs+1)
	}
	if id := lines[0]["client_id"].(string); len(id) > authFailMaxIDLen+3 {
		t.Fatalf("logged id of %d bytes, want at most %d", len(id), authFailMaxIDLen+3)
	}
	if lines[len(lines)-1]["client_id"] != "(many clients)" {
		t.Fatalf("last line %v, want the shared line", lines[len(lines)-1])
	}
	now = now.Add(time.Minute)
	f.record("late", authPost, false, "127.0.0.1:1", "/oauth2/revoke", "r")
	if n := len(logs.lines(t, "oauth client authentication failed")); n != authFailMaxIDs+2 {
		t.Fatalf("a minute later: %d lines, want %d", n, authFailMaxIDs+2)
	}
}
