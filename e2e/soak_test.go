//go:build soak

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// procSample is one reading of the server process's resources.
type procSample struct {
	at      time.Duration
	rssKB   int64
	threads int64
	fds     int
	dbKB    int64 // SQLite file + WAL
}

func readProc(pid int, db string) (procSample, error) {
	var s procSample
	for _, p := range []string{db, db + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			s.dbKB += fi.Size() / 1024
		}
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			s.rssKB = n
		case "Threads":
			s.threads = n
		}
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		s.fds = len(ents)
	}
	return s, sc.Err()
}

// soakStats counts outcomes across workers.
type soakStats struct {
	ops        [8]atomic.Int64
	unexpected atomic.Int64
	mu         sync.Mutex
	firstErrs  []string
}

const (
	opValidate = iota
	opBatch
	opInspect
	opIssue
	opRevoke
	opRefresh
	opMalformed
	opReuse
)

var opNames = [...]string{"validate", "batch", "inspect", "issue", "revoke", "refresh", "malformed (400 expected)", "refresh reuse (401 expected)"}

func (s *soakStats) fail(format string, args ...any) {
	s.unexpected.Add(1)
	s.mu.Lock()
	if len(s.firstErrs) < 20 {
		s.firstErrs = append(s.firstErrs, fmt.Sprintf(format, args...))
	}
	s.mu.Unlock()
}

type soakToken struct {
	tok     string
	jti     string
	revoked bool // an acknowledged revocation covers it
	eventID string
}

// soakWorker runs a validate-heavy mix on its own tokens, so the expected
// answer of every request is known without coordinating with other workers.
// Writes (issue, revoke, refresh) are paced to keep the revocation index
// size, and so the expected memory, roughly flat.
func soakWorker(base string, id int, seed uint64, until time.Time, writeEvery time.Duration, st *soakStats) []soakToken {
	rng := rand.New(rand.NewPCG(seed, uint64(id)))
	c := newAPIClient(base, 10*time.Second)
	defer c.close()
	var toks []soakToken
	var fam struct{ tok, binding string }
	lastWrite := time.Time{}
	issue := func() {
		st.ops[opIssue].Add(1)
		code, m, err := c.postJSON("/token", map[string]any{"subject": fmt.Sprintf("soak-%d-%d", id, len(toks)), "additional_claims": map[string]any{"w": id}})
		if err != nil || code != 200 {
			st.fail("issue: %d %v %v", code, m, err)
			return
		}
		toks = append(toks, soakToken{tok: m["access_token"].(string), jti: m["jti"].(string)})
	}
	for i := 0; i < 10_000_000 && time.Now().Before(until); i++ {
		if len(toks) == 0 {
			issue()
			continue
		}
		op := opValidate
		switch p := rng.IntN(1000); {
		case p < 40:
			op = opBatch
		case p < 60:
			op = opInspect
		case p < 65:
			op = opMalformed
		case p < 120:
			if writeEvery > 0 && time.Since(lastWrite) >= writeEvery {
				lastWrite = time.Now()
				op = []int{opIssue, opRevoke, opRefresh, opRefresh, opReuse}[rng.IntN(5)]
			}
		}
		st.ops[op].Add(1)
		switch op {
		case opValidate:
			t := toks[rng.IntN(len(toks))]
			code, m, err := c.postJSON("/token/validate", map[string]any{"token": t.tok})
			if err != nil || code != 200 || m["revoked"] != t.revoked || m["valid"] != !t.revoked {
				st.fail("validate (revoked=%v): %d %v %v", t.revoked, code, m, err)
			}
		case opBatch:
			n := 1 + rng.IntN(min(50, len(toks)))
			batch := make([]soakToken, n)
			tokens := make([]string, n)
			for j := range batch {
				batch[j] = toks[rng.IntN(len(toks))]
				tokens[j] = batch[j].tok
			}
			code, b, err := c.call("POST", "/token/validate/batch", map[string]any{"tokens": tokens})
			var r struct {
				Results []struct {
					Valid, Revoked bool
				} `json:"results"`
			}
			if err != nil || code != 200 || json.Unmarshal(b, &r) != nil || len(r.Results) != n {
				st.fail("batch: %d %.200s %v", code, b, err)
				continue
			}
			for j, v := range r.Results {
				if v.Revoked != batch[j].revoked || v.Valid != !batch[j].revoked {
					st.fail("batch result %d (revoked=%v): %+v", j, batch[j].revoked, v)
				}
			}
		case opInspect:
			t := toks[rng.IntN(len(toks))]
			code, b, err := c.call("GET", "/token/inspect?token="+t.tok, nil)
			if err != nil || code != 200 || !strings.Contains(string(b), fmt.Sprintf(`"revoked":%v`, t.revoked)) {
				st.fail("inspect: %d %.200s %v", code, b, err)
			}
		case opMalformed:
			code, b, err := c.call("POST", "/token/validate", `{"token":`)
			if err != nil || code != 400 || !strings.Contains(string(b), "detail") {
				st.fail("malformed: %d %.200s %v", code, b, err)
			}
		case opIssue:
			issue()
		case opRevoke:
			j := rng.IntN(len(toks))
			if toks[j].revoked {
				continue
			}
			code, m, err := c.postJSON("/revoke", map[string]any{"type": "revoke_jti", "value": toks[j].jti, "reason": "soak"})
			if err != nil || code != 200 {
				st.fail("revoke: %d %v %v", code, m, err)
				continue
			}
			toks[j].revoked, toks[j].eventID = true, m["event_id"].(string)
			// Read your writes: the very next validation sees it.
			if code, v, err := c.postJSON("/token/validate", map[string]any{"token": toks[j].tok}); err != nil || code != 200 || v["revoked"] != true {
				st.fail("validate right after revoke: %d %v %v", code, v, err)
			}
		case opRefresh:
			if fam.tok == "" {
				fam.binding = fmt.Sprintf("soak-device-%d-%d", id, i)
				code, m, err := c.postJSON("/token/refresh/create", map[string]any{"subject": fmt.Sprintf("soak-r-%d", id), "client_binding": fam.binding})
				if err != nil || code != 200 {
					st.fail("refresh/create: %d %v %v", code, m, err)
					continue
				}
				fam.tok = m["refresh_token"].(string)
				continue
			}
			code, m, err := c.postJSON("/token/refresh", map[string]any{"refresh_token": fam.tok, "client_binding": fam.binding})
			if err != nil || code != 200 {
				st.fail("refresh: %d %v %v", code, m, err)
				fam.tok = ""
				continue
			}
			fam.tok = m["refresh_token"].(string)
		case opReuse:
			// A fresh family, rotated once, then the retired token again.
			b := fmt.Sprintf("soak-reuse-%d-%d", id, i)
			code, m, err := c.postJSON("/token/refresh/create", map[string]any{"subject": fmt.Sprintf("soak-reuse-%d", id), "client_binding": b})
			if err != nil || code != 200 {
				st.fail("refresh/create: %d %v %v", code, m, err)
				continue
			}
			old := m["refresh_token"].(string)
			if code, m, err = c.postJSON("/token/refresh", map[string]any{"refresh_token": old, "client_binding": b}); err != nil || code != 200 {
				st.fail("refresh: %d %v %v", code, m, err)
				continue
			}
			if code, m, err = c.postJSON("/token/refresh", map[string]any{"refresh_token": old, "client_binding": b}); err != nil || code != 401 {
				st.fail("reuse: %d %v %v, want 401", code, m, err)
			}
		}
	}
	return toks
}

// TestSoakMixedLoad runs a bounded mixed load (SOAK_DURATION, default 5m)
// against the real binary: no unexpected error answer, no lost revocation,
// and no unbounded growth of the server's RSS, threads or file descriptors.
func TestSoakMixedLoad(t *testing.T) {
	dur := 5 * time.Minute
	if v := os.Getenv("SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("SOAK_DURATION=%q: want a Go duration such as 60s", v)
		}
		dur = d
	}
	// Each worker writes (issue, revoke, refresh) at most once per
	// SOAK_WRITE_INTERVAL (default 250ms; 0: validation only).
	writeEvery := 250 * time.Millisecond
	if v := os.Getenv("SOAK_WRITE_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			t.Fatalf("SOAK_WRITE_INTERVAL=%q: want a Go duration", v)
		}
		writeEvery = d
	}
	seed := uint64(envInt64("SOAK_SEED", time.Now().UnixNano()))
	const workers = 8
	t.Logf("soak for %v with %d workers (writes every %v each), seed %d", dur, workers, writeEvery, seed)
	n := startNode(t, "", []string{"LOG_LEVEL=info", "NODE_ID=soak-node"})
	pid := n.cmd.Process.Pid

	start := time.Now()
	until := start.Add(dur)
	st := &soakStats{}
	results := make([][]soakToken, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) { defer wg.Done(); results[w] = soakWorker(n.URL, w, seed, until, writeEvery, st) }(w)
	}

	var samples []procSample
	sample := func() {
		s, err := readProc(pid, n.DB)
		if err != nil {
			t.Errorf("read /proc/%d: %v", pid, err)
			return
		}
		s.at = time.Since(start)
		samples = append(samples, s)
		var total int64
		for i := range st.ops {
			total += st.ops[i].Load()
		}
		t.Logf("t=%3.0fs rss=%6.1f MiB threads=%d fds=%d sqlite=%5.1f MiB requests=%d unexpected=%d", s.at.Seconds(), float64(s.rssKB)/1024, s.threads, s.fds, float64(s.dbKB)/1024, total, st.unexpected.Load())
	}
	sample()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(10 * time.Second)
	for running := true; running; {
		select {
		case <-done:
			running = false
		case <-tick.C:
			sample()
		case <-time.After(dur + time.Minute):
			t.Fatal("workers did not stop within a minute of the soak's end")
		}
	}
	tick.Stop()
	sample()
	alive(t, n)

	for i, name := range opNames {
		t.Logf("%-30s %d", name, st.ops[i].Load())
	}
	if u := st.unexpected.Load(); u > 0 {
		t.Errorf("%d unexpected answers; first ones:\n  %s", u, strings.Join(st.firstErrs, "\n  "))
	}

	// No lost revocation: every acknowledged one is enforced and in the feed.
	var acked []ackedRevocation
	for _, toks := range results {
		for _, tk := range toks {
			if tk.revoked {
				acked = append(acked, ackedRevocation{typ: "revoke_jti", token: tk.tok, eventID: tk.eventID})
			}
		}
	}
	checkBatchRevoked(t, n, acked)
	feed := readFeed(t, n)
	for _, a := range acked {
		if _, ok := feed.byID[a.eventID]; !ok {
			t.Errorf("acknowledged revocation %s missing from the feed", a.eventID)
		}
	}
	t.Logf("%d acknowledged revocations enforced, feed holds %d events", len(acked), len(feed.events))

	checkBoundedGrowth(t, samples, dur)
}

// sqliteCacheKB bounds the SQLite page caches revocd configures
// (persistence/sqlitestore: writer 64 MiB, 4 readers x 16 MiB, checkpointer
// 2 MiB). They fill as the database grows: that memory is bounded by design.
const sqliteCacheKB = 64<<10 + 4*16<<10 + 2<<10

// checkBoundedGrowth compares the last third of the samples taken after
// warm-up with the first third: threads and fds within 1.5x plus a small
// allowance; RSS within 1.5x once the page caches' share is taken out (at
// most twice the SQLite file + WAL size, a page in cache costing a little
// more than on disk, and never more than the configured cache sizes).
func checkBoundedGrowth(t *testing.T, samples []procSample, dur time.Duration) {
	t.Helper()
	warm := min(time.Minute, dur/5)
	var after []procSample
	for _, s := range samples {
		if s.at >= warm {
			after = append(after, s)
		}
	}
	if len(after) < 3 {
		t.Logf("only %d samples after warm-up (%v): growth not assessed", len(after), warm)
		return
	}
	k := (len(after) + 2) / 3
	first, last := after[:k], after[len(after)-k:]
	maxOf := func(ss []procSample, f func(procSample) int64) int64 {
		var m int64
		for _, s := range ss {
			m = max(m, f(s))
		}
		return m
	}
	for _, m := range []struct {
		name  string
		f     func(procSample) int64
		slack int64
	}{
		{"RSS (KiB)", func(s procSample) int64 { return s.rssKB }, -1},
		{"RSS without SQLite page cache (KiB)", func(s procSample) int64 { return s.rssKB - min(2*s.dbKB, sqliteCacheKB) }, 0},
		{"threads", func(s procSample) int64 { return s.threads }, 4},
		{"open fds", func(s procSample) int64 { return int64(s.fds) }, 16},
	} {
		a, b := maxOf(first, m.f), maxOf(last, m.f)
		t.Logf("%s: first-third max %d, last-third max %d (%.2fx)", m.name, a, b, float64(b)/float64(max(a, 1)))
		if m.slack >= 0 && float64(b) > 1.5*float64(a)+float64(m.slack) {
			t.Errorf("%s grows without bound: last third max %d > 1.5 x first third max %d", m.name, b, a)
		}
	}
}
