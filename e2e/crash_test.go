package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// apiClient sends requests that may fail: the node behind it may be killed
// mid-flight, so errors are returned, never reported with t.Fatal (which
// must not be called from a worker goroutine anyway).
type apiClient struct {
	base string
	hc   *http.Client
	auth string
}

func newAPIClient(base string, timeout time.Duration) *apiClient {
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second, DisableCompression: true}
	return &apiClient{base: base, hc: &http.Client{Timeout: timeout, Transport: tr}}
}

func (c *apiClient) close() { c.hc.CloseIdleConnections() }

// call sends body (nil, []byte, string or anything JSON-encodable) and
// returns the status and the body read in full.
func (c *apiClient) call(method, path string, body any, headers ...string) (int, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.auth != "" {
		req.Header.Set("Authorization", "Bearer "+c.auth)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// postJSON posts v and decodes a JSON object answer.
func (c *apiClient) postJSON(path string, v any) (int, map[string]any, error) {
	st, b, err := c.call(http.MethodPost, path, v)
	if err != nil {
		return st, nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return st, nil, fmt.Errorf("POST %s: %d, body is not a JSON object: %q", path, st, b)
	}
	return st, m, nil
}

func envInt64(name string, def int64) int64 {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return def
}

// ackedRevocation is a revocation the node answered 200 to: it must be
// durable.
type ackedRevocation struct {
	round   int
	typ     string
	value   string
	token   string // an access token the revocation covers
	eventID string
}

// refreshFamily tracks one refresh-token family driven through rotations.
type refreshFamily struct {
	binding string
	// retired are tokens whose rotation was acknowledged (200): presenting
	// one again is reuse.
	retired []string
	// latest is the newest token the node handed out.
	latest string
	// uncertain: a request with this family's latest token was in flight at
	// the kill, so the node may or may not have rotated it.
	uncertain bool
}

type crashWorkerResult struct {
	acked    []ackedRevocation
	families []*refreshFamily
	errs     []string // unexpected answers (not transport errors)
}

// revocationWorker issues tokens and revokes them (by jti, sometimes with a
// TTL, or by subject) until stop closes or its iteration bound is reached.
func revocationWorker(base string, round, id int, seed uint64, stop <-chan struct{}, acks *atomic.Int64) crashWorkerResult {
	c := newAPIClient(base, 5*time.Second)
	defer c.close()
	rng := rand.New(rand.NewPCG(seed, uint64(id)))
	var res crashWorkerResult
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	for i := 0; i < 5000 && !stopped(); i++ {
		sub := fmt.Sprintf("crash-r%d-w%d-%d", round, id, i)
		st, m, err := c.postJSON("/token", map[string]any{"subject": sub})
		if err != nil || st != 200 {
			if err == nil {
				res.errs = append(res.errs, fmt.Sprintf("issue: %d %v", st, m))
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		tok, _ := m["access_token"].(string)
		jti, _ := m["jti"].(string)
		req := map[string]any{"type": "revoke_jti", "value": jti, "reason": "crash test"}
		switch p := rng.IntN(10); {
		case p < 2:
			req["type"], req["value"] = "revoke_sub", sub
		case p < 3:
			req["ttl_seconds"] = 3600
		}
		st, m, err = c.postJSON("/revoke", req)
		if err != nil {
			continue // in flight at the kill: may or may not be durable
		}
		if st != 200 {
			res.errs = append(res.errs, fmt.Sprintf("revoke: %d %v", st, m))
			continue
		}
		ev, _ := m["event_id"].(string)
		res.acked = append(res.acked, ackedRevocation{round: round, typ: req["type"].(string), value: req["value"].(string), token: tok, eventID: ev})
		acks.Add(1)
	}
	return res
}

// refreshWorker creates refresh-token families and rotates them.
func refreshWorker(base string, round int, stop <-chan struct{}) crashWorkerResult {
	c := newAPIClient(base, 5*time.Second)
	defer c.close()
	var res crashWorkerResult
	var fam *refreshFamily
	for i := 0; i < 5000; i++ {
		select {
		case <-stop:
			return res
		default:
		}
		if fam == nil || len(fam.retired) >= 4 || fam.uncertain {
			b := fmt.Sprintf("device-r%d-%d", round, i)
			st, m, err := c.postJSON("/token/refresh/create", map[string]any{"subject": "crash-refresh", "client_binding": b})
			if err != nil || st != 200 {
				if err == nil {
					res.errs = append(res.errs, fmt.Sprintf("refresh/create: %d %v", st, m))
				}
				time.Sleep(5 * time.Millisecond)
				continue
			}
			fam = &refreshFamily{binding: b, latest: m["refresh_token"].(string)}
			res.families = append(res.families, fam)
			continue
		}
		st, m, err := c.postJSON("/token/refresh", map[string]any{"refresh_token": fam.latest, "client_binding": fam.binding})
		if err != nil {
			fam.uncertain = true
			continue
		}
		if st != 200 {
			res.errs = append(res.errs, fmt.Sprintf("refresh: %d %v", st, m))
			fam.uncertain = true
			continue
		}
		next, _ := m["refresh_token"].(string)
		fam.retired = append(fam.retired, fam.latest)
		fam.latest = next
	}
	return res
}

// TestCrashConsistencyAcknowledgedRevocationsSurviveKill9 kills revocd with
// SIGKILL at random moments while several clients revoke concurrently, and
// proves that every revocation answered 200 before the kill is enforced
// after the restart, is in the audit feed and in the SQLite file, and that
// refresh-token rotation state survives. CRASH_SEED replays a kill schedule;
// CRASH_ROUNDS changes the number of kills.
func TestCrashConsistencyAcknowledgedRevocationsSurviveKill9(t *testing.T) {
	seed := uint64(envInt64("CRASH_SEED", time.Now().UnixNano()))
	rounds := int(envInt64("CRASH_ROUNDS", 5))
	t.Logf("crash seed %d (CRASH_SEED=%d reproduces the kill schedule), %d rounds", seed, seed, rounds)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	const workers = 4
	n := startNode(t, "", []string{"NODE_ID=crash-node"})
	testStart := time.Now()
	budget := testStart.Add(40 * time.Second)

	var all []ackedRevocation
	for r := 0; r < rounds; r++ {
		if r >= 2 && time.Now().After(budget) {
			t.Logf("time budget reached: stopping after %d rounds", r)
			break
		}
		base := n.URL
		stop := make(chan struct{})
		out := make(chan crashWorkerResult, workers+1)
		var acks atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int, s uint64) { defer wg.Done(); out <- revocationWorker(base, r, w, s, stop, &acks) }(w, rng.Uint64())
		}
		wg.Add(1)
		go func() { defer wg.Done(); out <- refreshWorker(base, r, stop) }()

		// Let some revocations through, then kill at a random moment (but
		// not before the first acknowledgement: a slow machine must not
		// make the round vacuous).
		runFor := time.Duration(20+rng.IntN(980)) * time.Millisecond
		time.Sleep(runFor)
		for i := 0; acks.Load() == 0 && i < 1000; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		n.kill()
		close(stop)
		wg.Wait()
		close(out)

		var acked []ackedRevocation
		var families []*refreshFamily
		for res := range out {
			acked = append(acked, res.acked...)
			families = append(families, res.families...)
			for _, e := range res.errs {
				t.Errorf("round %d: unexpected answer before the kill: %s", r, e)
			}
		}
		t.Logf("round %d: killed after %v with %d acknowledged revocations, %d refresh families", r, runFor, len(acked), len(families))
		if len(acked) == 0 {
			t.Errorf("round %d: no revocation acknowledged within 10 s", r)
		}

		n.start() // same SQLite file
		for _, a := range acked {
			if v := n.validate(a.token); v["revoked"] != true || v["valid"] != false {
				t.Errorf("round %d: acknowledged %s %s lost across kill -9: validate = %v", r, a.typ, a.value, v)
			}
		}
		checkRefreshAfterCrash(t, n, r, families)
		all = append(all, acked...)
	}

	// Every acknowledged revocation, from every round, is still enforced
	// (several restarts later) and in the audit feed.
	checkBatchRevoked(t, n, all)
	feed := readFeed(t, n)
	for _, a := range all {
		ev, ok := feed.byID[a.eventID]
		if !ok {
			t.Errorf("acknowledged event %s (%s %s) missing from /revocations", a.eventID, a.typ, a.value)
			continue
		}
		if ev.Type != a.typ || ev.Value != a.value {
			t.Errorf("event %s: feed has %s %s, acknowledged %s %s", a.eventID, ev.Type, ev.Value, a.typ, a.value)
		}
	}
	// A crash must never make the node reuse a sequence number: receivers
	// order and de-duplicate by (origin, seq).
	var last uint64
	for _, ev := range feed.events {
		if ev.Origin != "crash-node" {
			continue
		}
		if ev.Seq <= last {
			t.Errorf("seq not strictly increasing across restarts: %d after %d (event %s)", ev.Seq, last, ev.EventID)
		}
		last = ev.Seq
	}

	n.kill() // the final stop is a crash too
	checkSQLiteFile(t, n.DB, all)
	t.Logf("%d acknowledged revocations verified over %v", len(all), time.Since(testStart).Round(time.Millisecond))
}

// checkRefreshAfterCrash: an acknowledged rotation survives a crash (the
// retired token is detected as reuse, 401), and a family's newest token
// still works when no request of the family was in flight at the kill.
func checkRefreshAfterCrash(t *testing.T, n *node, round int, families []*refreshFamily) {
	t.Helper()
	checked := 0
	for _, f := range families {
		if len(f.retired) == 0 {
			continue
		}
		if !f.uncertain {
			m := n.post("/token/refresh", map[string]any{"refresh_token": f.latest, "client_binding": f.binding}, 200)
			f.retired = append(f.retired, f.latest)
			f.latest, _ = m["refresh_token"].(string)
		}
		r := n.do("POST", "/token/refresh", map[string]any{"refresh_token": f.retired[0], "client_binding": f.binding})
		if r.Status != 401 || !strings.Contains(string(r.Body), "reuse") {
			t.Errorf("round %d: retired refresh token after kill -9: %d %s, want 401 reuse", round, r.Status, r.Body)
		}
		// Reuse killed the family, including the newest token.
		if !f.uncertain {
			if r := n.do("POST", "/token/refresh", map[string]any{"refresh_token": f.latest, "client_binding": f.binding}); r.Status != 401 {
				t.Errorf("round %d: family member usable after reuse: %d %s", round, r.Status, r.Body)
			}
		}
		checked++
	}
	if checked == 0 && len(families) > 0 {
		t.Logf("round %d: no refresh rotation acknowledged before the kill", round)
	}
}

// checkBatchRevoked validates every token of acked in batches.
func checkBatchRevoked(t *testing.T, n *node, acked []ackedRevocation) {
	t.Helper()
	for i := 0; i < len(acked); i += 500 {
		chunk := acked[i:min(i+500, len(acked))]
		toks := make([]string, len(chunk))
		for j, a := range chunk {
			toks[j] = a.token
		}
		m := n.post("/token/validate/batch", map[string]any{"tokens": toks}, 200)
		res, _ := m["results"].([]any)
		if len(res) != len(chunk) {
			t.Fatalf("batch: %d results for %d tokens", len(res), len(chunk))
		}
		for j, x := range res {
			v, _ := x.(map[string]any)
			if v["revoked"] != true {
				t.Errorf("round %d: acknowledged %s %s not enforced at the end: %v", chunk[j].round, chunk[j].typ, chunk[j].value, v)
			}
		}
	}
}

type feedEvent struct {
	EventID string `json:"event_id"`
	Type    string `json:"type"`
	Value   string `json:"value"`
	Origin  string `json:"origin"`
	Seq     uint64 `json:"seq"`
}

type feedDump struct {
	events []feedEvent
	byID   map[string]feedEvent
}

// readFeed pages through GET /revocations?after=0&limit=1000 (bounded).
func readFeed(t *testing.T, n *node) feedDump {
	t.Helper()
	d := feedDump{byID: map[string]feedEvent{}}
	after := int64(0)
	for page := 0; page < 1000; page++ {
		r := n.do("GET", "/revocations?after="+strconv.FormatInt(after, 10)+"&limit=1000", nil)
		if r.Status != 200 {
			t.Fatalf("/revocations: %d %s", r.Status, r.Body)
		}
		var p struct {
			Events []feedEvent `json:"events"`
			Next   int64       `json:"next"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("/revocations: %v", err)
		}
		if len(p.Events) == 0 {
			return d
		}
		if p.Next <= after {
			t.Fatalf("/revocations: next %d does not advance past %d", p.Next, after)
		}
		for _, e := range p.Events {
			if _, dup := d.byID[e.EventID]; dup {
				t.Errorf("event %s twice in the feed", e.EventID)
			}
			d.byID[e.EventID] = e
		}
		d.events = append(d.events, p.Events...)
		after = p.Next
	}
	t.Fatal("/revocations: more than 1000 pages")
	return d
}

// checkSQLiteFile opens the audit log read-only, runs the seed's
// troubleshooting query and checks that every acknowledged event is a row.
func checkSQLiteFile(t *testing.T, path string, acked []ackedRevocation) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT * FROM revocation_events ORDER BY ts DESC LIMIT 5;")
	if err != nil {
		t.Fatalf("seed query: %v", err)
	}
	cols, _ := rows.Columns()
	shown := 0
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		for i, c := range cols {
			if c == "sig" {
				continue
			}
			fmt.Fprintf(&sb, "%s=%v ", c, vals[i])
		}
		if shown < 2 {
			t.Logf("latest row: %s", sb.String())
		}
		shown++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	var count int
	if err := db.QueryRow("SELECT count(*) FROM revocation_events").Scan(&count); err != nil {
		t.Fatal(err)
	}
	if shown != min(5, count) {
		t.Errorf("seed query returned %d rows of %d", shown, count)
	}
	if count < len(acked) {
		t.Errorf("revocation_events has %d rows, fewer than the %d acknowledged revocations", count, len(acked))
	}
	ids := map[string]bool{}
	r2, err := db.Query("SELECT event_id FROM revocation_events")
	if err != nil {
		t.Fatal(err)
	}
	for r2.Next() {
		var id string
		if err := r2.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	r2.Close()
	for _, a := range acked {
		if !ids[a.eventID] {
			t.Errorf("acknowledged event %s (%s %s) not in the SQLite file", a.eventID, a.typ, a.value)
		}
	}
	var retired int
	if err := db.QueryRow("SELECT count(*) FROM refresh_tokens WHERE retired_at IS NOT NULL").Scan(&retired); err != nil {
		t.Fatal(err)
	}
	t.Logf("SQLite file: %d revocation_events rows (%d acknowledged by this test), %d retired refresh tokens", count, len(acked), retired)
}
