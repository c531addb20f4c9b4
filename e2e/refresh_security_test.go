package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Regression tests for issue #12 items 3, 4, 5, 6 and 9 against the real
// binary.

// queryInt runs a single-value query on the node's SQLite file (read-only).
func queryInt(t *testing.T, n *node, q string, args ...any) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+n.DB+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRow(q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// TestRevokeSubRetryRevokesTokenIssuedBetween: item 3. A token issued after
// a revoke_sub is valid; a second revoke_sub (a retry) in the same second
// revokes it; a token issued after the second is valid. Several rounds, so
// that most of them fall within one second.
func TestRevokeSubRetryRevokesTokenIssuedBetween(t *testing.T) {
	n := startNode(t, "", nil)
	sameSecond := 0
	for round := range 5 {
		sub := fmt.Sprintf("retry-user-%d", round)
		before, _ := n.issue(sub)
		start := time.Now()
		n.revoke("revoke_sub", sub)
		x, _ := n.issue(sub)
		if v := n.validate(x); v["valid"] != true {
			t.Fatalf("round %d: token issued after the revoke_sub: %v", round, v)
		}
		n.revoke("revoke_sub", sub) // the retry
		if time.Now().Unix() == start.Unix() {
			sameSecond++
		}
		for name, tok := range map[string]string{"before": before, "X": x} {
			if v := n.validate(tok); v["revoked"] != true || v["message"] != "Token has been revoked" {
				t.Fatalf("round %d: token %s issued before the second revoke_sub was acknowledged: %v", round, name, v)
			}
		}
		after, _ := n.issue(sub)
		if v := n.validate(after); v["valid"] != true {
			t.Fatalf("round %d: token issued after the second revoke_sub: %v", round, v)
		}
	}
	t.Logf("%d of 5 rounds within one second", sameSecond)
}

// TestRefreshRevokeWritesOnce: item 4. Revoking the same refresh token 20
// times, concurrently and in a row, commits one revocation event and answers
// its event id every time; an expired refresh token commits none.
func TestRefreshRevokeWritesOnce(t *testing.T) {
	n := startNode(t, "", nil)
	rc := n.post("/token/refresh/create", map[string]any{"subject": "logout-user", "client_binding": "dev"}, 200)
	refresh, jti := rc["refresh_token"].(string), rc["refresh_jti"].(string)
	// Ten at once (several share a group commit), then ten in a row.
	bodies := make([][]byte, 20)
	errs := make([]error, 20)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { bodies[i], errs[i] = postStatus(n.URL+"/token/refresh/revoke", `"`+refresh+`"`, 200) })
	}
	wg.Wait()
	for i := 10; i < 20; i++ {
		bodies[i], errs[i] = postStatus(n.URL+"/token/refresh/revoke", `"`+refresh+`"`, 200)
	}
	var first string
	for i := range 20 {
		if errs[i] != nil {
			t.Fatalf("revocation %d: %v", i, errs[i])
		}
		var m map[string]any
		if err := json.Unmarshal(bodies[i], &m); err != nil || keys(m) != "event_id,published" {
			t.Fatalf("answer %d = %s", i, bodies[i])
		}
		id, _ := m["event_id"].(string)
		if _, err := uuid.Parse(id); err != nil || id == "00000000-0000-0000-0000-000000000000" {
			t.Fatalf("answer %d event_id = %q", i, id)
		}
		if i == 0 {
			first = id
		} else if id != first {
			t.Fatalf("answer %d event_id = %s, want the original %s", i, id, first)
		}
	}
	if got := queryInt(t, n, "SELECT count(*) FROM revocation_events WHERE type = 'revoke_jti' AND value = ?", jti); got != 1 {
		t.Fatalf("%d revocation_events rows for the refresh jti after 20 revocations, want 1", got)
	}

	kid := headerKid(t, refresh)
	now := time.Now().Unix()
	expiredJTI := uuid.NewString()
	expired := forge(t, kid, jwt.MapClaims{"sub": "logout-user", "jti": expiredJTI, "typ": "refresh", "iat": now - 7200, "exp": now - 3600, "iss": "p4-revocation-service"})
	total := queryInt(t, n, "SELECT count(*) FROM revocation_events")
	for range 3 {
		m := n.post("/token/refresh/revoke", `"`+expired+`"`, 200)
		if m["event_id"] != "00000000-0000-0000-0000-000000000000" || m["published"] != false {
			t.Fatalf("expired refresh token revocation answer = %v", m)
		}
	}
	if got := queryInt(t, n, "SELECT count(*) FROM revocation_events"); got != total {
		t.Fatalf("revoking an expired refresh token wrote %d events", got-total)
	}
}

// postStatus posts a JSON body and returns the answer's body, or an error
// unless the status is want. Safe to call from any goroutine.
func postStatus(u, body string, want int) ([]byte, error) {
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != want {
		err = fmt.Errorf("status %d, want %d: %s", resp.StatusCode, want, b)
	}
	return b, err
}

// introspect posts a token to /oauth2/introspect and returns "active".
func (n *node) introspect(tok string) any {
	n.t.Helper()
	r := n.do(http.MethodPost, "/oauth2/introspect", url.Values{"token": {tok}}.Encode(), "Content-Type", "application/x-www-form-urlencoded")
	if r.Status != 200 {
		n.t.Fatalf("introspect: %d %s", r.Status, r.Body)
	}
	return r.JSON(n.t)["active"]
}

// refreshOnce presents a refresh token and returns the answer.
func (n *node) refreshOnce(tok, binding string) response {
	n.t.Helper()
	return n.do(http.MethodPost, "/token/refresh", map[string]any{"refresh_token": tok, "client_binding": binding})
}

// TestIntrospectRefreshTokenState: item 5. Only the live refresh token of a
// family is active.
func TestIntrospectRefreshTokenState(t *testing.T) {
	n := startNode(t, "", nil)
	a := n.post("/token/refresh/create", map[string]any{"subject": "intro", "client_binding": "dev"}, 200)["refresh_token"].(string)
	if got := n.introspect(a); got != true {
		t.Fatalf("live refresh token: active = %v", got)
	}
	b := n.post("/token/refresh", map[string]any{"refresh_token": a, "client_binding": "dev"}, 200)["refresh_token"].(string)
	if got := n.introspect(a); got != false {
		t.Fatalf("rotated-away refresh token: active = %v", got)
	}
	if got := n.introspect(b); got != true {
		t.Fatalf("its successor: active = %v", got)
	}
	if r := n.refreshOnce(a, "dev"); r.Status != 401 || !strings.Contains(string(r.Body), "reuse") {
		t.Fatalf("reuse: %d %s", r.Status, r.Body)
	}
	if got := n.introspect(b); got != false {
		t.Fatalf("refresh token of a revoked family: active = %v", got)
	}
}

// TestRefreshReuseWithGracePeriod: item 6. With a grace period, replaying
// a token older than the live token's predecessor is reuse.
func TestRefreshReuseWithGracePeriod(t *testing.T) {
	n := startNode(t, "", []string{"REFRESH_REUSE_GRACE_SECONDS=60"})
	create := func() string {
		return n.post("/token/refresh/create", map[string]any{"subject": "grace", "client_binding": "dev"}, 200)["refresh_token"].(string)
	}
	rotate := func(tok string) (string, string) {
		m := n.post("/token/refresh", map[string]any{"refresh_token": tok, "client_binding": "dev"}, 200)
		return m["refresh_token"].(string), m["access_token"].(string)
	}

	// A -> B, retry A: tolerated, one live branch.
	a := create()
	rotate(a)
	b2, _ := rotate(a)
	rotate(b2)

	// A -> B -> C, replay A: reuse, family revoked.
	a = create()
	b, accessB := rotate(a)
	c, accessC := rotate(b)
	if r := n.refreshOnce(a, "dev"); r.Status != 401 || !strings.Contains(string(r.Body), "reuse") {
		t.Fatalf("replay of A after A->B->C: %d %s, want 401 reuse", r.Status, r.Body)
	}
	if r := n.refreshOnce(c, "dev"); r.Status != 401 {
		t.Fatalf("C after reuse: %d %s, want 401", r.Status, r.Body)
	}
	for name, tok := range map[string]string{"B": accessB, "C": accessC} {
		if v := n.validate(tok); v["revoked"] != true {
			t.Fatalf("access token of %s after reuse: %v", name, v)
		}
	}
}

// TestRevokeJTIOfRefreshTokenMarksItRevoked: item 9.
func TestRevokeJTIOfRefreshTokenMarksItRevoked(t *testing.T) {
	n := startNode(t, "", nil)
	rc := n.post("/token/refresh/create", map[string]any{"subject": "jti-user", "client_binding": "dev"}, 200)
	n.revoke("revoke_jti", rc["refresh_jti"].(string))
	r := n.refreshOnce(rc["refresh_token"].(string), "dev")
	if r.Status != 401 || !strings.Contains(string(r.Body), "Refresh token has been revoked") {
		t.Fatalf("refresh after revoke_jti: %d %s", r.Status, r.Body)
	}
	if got := queryInt(t, n, "SELECT revoked FROM refresh_tokens WHERE jti = ?", rc["refresh_jti"]); got != 1 {
		t.Fatalf("refresh_tokens.revoked = %d after revoke_jti, want 1", got)
	}
}
