package harness

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// rssSettle is how long a node idles after /ready before its RSS is read.
const rssSettle = time.Second

// startupScenario measures the time from exec to /ready with
// Profile.StartupEntries active revocations in the audit log, and the RSS
// each revoked entry costs (RSS of the loaded node minus an empty node's).
// It then checks that pre-loaded revocations are enforced.
func (r *runner) startupScenario(ctx context.Context) error {
	n := r.prof.StartupEntries
	empty, err := r.startNode(ctx, NodeSpec{Name: "empty", Dir: r.dir, LogLevel: "info"}, 30*time.Second)
	if err != nil {
		return err
	}
	time.Sleep(rssSettle)
	rss0, err := empty.RSS()
	empty.Stop()
	if err != nil {
		return err
	}
	r.addMeasure(Measure{Name: "startup ready (empty)", Value: empty.ReadyAfter.Seconds(), Unit: "s"})

	db := filepath.Join(r.dir, "preloaded.db")
	r.progress.phase(fmt.Sprintf("pre-loading %d revocations into SQLite", n), 0, nil)
	t0 := time.Now()
	err = PreloadRevocations(ctx, db, n)
	r.progress.done()
	if err != nil {
		return err
	}
	r.progress.logf("pre-loaded %d revocations in %v", n, time.Since(t0).Round(time.Millisecond))

	node, err := r.startNode(ctx, NodeSpec{Name: "preloaded", DB: db, LogLevel: "info"}, 120*time.Second)
	if err != nil {
		return err
	}
	defer node.Stop()
	label := fmt.Sprintf("%s active", humanCount(n))
	cpu, _ := procCPU(node.PID())
	r.addMeasure(Measure{Name: "startup ready", Value: node.ReadyAfter.Seconds(), Unit: "s",
		Note: fmt.Sprintf("%s revocations, exec → /ready 200; revocd used %.2f s CPU by then", label, cpu.Seconds())})
	if loaded, ok := loggedInt(node.Output(), "active_revocations="); ok && loaded < int64(n) {
		return fmt.Errorf("start-up loaded %d revocations, want at least %d", loaded, n)
	}
	time.Sleep(rssSettle)
	rss1, err := node.RSS()
	if err != nil {
		return err
	}
	r.addMeasure(Measure{Name: "RSS per revoked entry", Value: float64(rss1-rss0) / float64(n), Unit: "B",
		Note: fmt.Sprintf("%s jti; VmRSS %d MiB minus empty node's %d MiB (RSS, includes GC slack)", label, rss1>>20, rss0>>20)})
	return r.checkPreloaded(node, n)
}

// checkPreloaded validates tokens carrying pre-loaded jtis (must be
// revoked) and fresh ones (must be valid).
func (r *runner) checkPreloaded(node *Node, n int) error {
	api := newAPIClient(node.URL)
	fresh, err := api.issue("bench-startup")
	if err != nil {
		return err
	}
	kid, err := headerKid(fresh.AccessToken)
	if err != nil {
		return err
	}
	now := time.Now()
	const samples = 50
	return parallel(samples+1, 8, func(i int) error {
		if i == samples {
			v, err := api.validate(fresh.AccessToken)
			if err == nil && (!v.Valid || v.Revoked) {
				err = fmt.Errorf("start-up: a fresh token is not valid: %+v", v)
			}
			return err
		}
		idx := i * (n / samples)
		tok, err := forgeJTI(devSecret, kid, "bench-startup", PreloadJTI(idx), now, now.Add(time.Hour))
		if err != nil {
			return err
		}
		v, err := api.validate(tok)
		if err == nil && !v.Revoked {
			err = fmt.Errorf("start-up: pre-loaded revocation %d (%s) not enforced: %+v", idx, PreloadJTI(idx), v)
		}
		return err
	})
}

// loggedInt finds key=<int> in a log.
func loggedInt(log, key string) (int64, bool) {
	i := strings.LastIndex(log, key)
	if i < 0 {
		return 0, false
	}
	s := log[i+len(key):]
	end := strings.IndexFunc(s, func(c rune) bool { return c < '0' || c > '9' })
	if end >= 0 {
		s = s[:end]
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

func humanCount(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}
