package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/revocd/revocd/validator"
)

const (
	sdkFeedKey = "feed-key-for-the-sdk-0123"
	// sdkBound is the propagation bound the example must meet over
	// loopback (the target is p99 10ms; this bound only catches a
	// validator that polls or misses events).
	sdkBound = 2 * time.Second
	// sdkStaleness is the example's MaxStaleness; revocd beats every 2s.
	sdkStaleness = 3 * time.Second
)

var (
	exampleOnce sync.Once
	exampleBin  string
	exampleErr  error
)

// buildExample builds examples/resource-server once per test binary.
func buildExample(t *testing.T) string {
	t.Helper()
	exampleOnce.Do(func() {
		exampleBin = filepath.Join(filepath.Dir(binPath), "resource-server")
		out, err := exec.Command("go", "build", "-o", exampleBin, "../examples/resource-server").CombinedOutput()
		if err != nil {
			exampleErr = fmt.Errorf("build the example: %v\n%s", err, out)
		}
	})
	if exampleErr != nil {
		t.Fatal(exampleErr)
	}
	return exampleBin
}

// example is the running example resource server.
type example struct {
	URL string
	cmd *exec.Cmd
	log *lockedBuffer
}

func startExample(t *testing.T, revocdURL string) *example {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ex := &example{URL: "http://" + addr, log: &lockedBuffer{}}
	ex.cmd = exec.Command(buildExample(t))
	ex.cmd.Env = append(os.Environ(), "REVOCD_URL="+revocdURL, "LISTEN_ADDR="+addr,
		"REVOCD_FEED_KEY="+sdkFeedKey, "REVOCD_MAX_STALENESS="+sdkStaleness.String())
	ex.cmd.Stdout, ex.cmd.Stderr = ex.log, ex.log
	ex.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := ex.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = ex.cmd.Process.Kill()
		_ = ex.cmd.Wait()
		if t.Failed() {
			t.Logf("example log:\n%s", tail(ex.log.String(), 4000))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(ex.URL + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return ex
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("example not serving within 20s:\n%s", ex.log.String())
	return nil
}

// protected returns GET /protected's status and body for tok.
func (ex *example) protected(t *testing.T, tok string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ex.URL+"/protected", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /protected: %v", err)
	}
	defer res.Body.Close()
	var body json.RawMessage
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

// await polls GET /protected until it answers want, and returns how long
// that took; it fails the test beyond within.
func (ex *example) await(t *testing.T, tok string, want int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if got, _ := ex.protected(t, tok); got == want {
			return time.Since(start)
		}
		time.Sleep(2 * time.Millisecond)
	}
	got, body := ex.protected(t, tok)
	t.Fatalf("GET /protected: %d after %v, want %d: %s", got, within, want, body)
	return 0
}

// startOnAddr starts n again on its previous address (a revocd restart as
// its clients see it), like node.start but without picking a new port.
func startOnAddr(t *testing.T, n *node, addr string) {
	t.Helper()
	n.Addr, n.URL = addr, "http://"+addr
	args := append([]string{"--dev", "--listen", addr, "--sqlite-path", n.DB}, n.args...)
	n.cmd = exec.Command(binPath, args...)
	n.cmd.Env = append(append(os.Environ(), "LOG_LEVEL=debug"), n.env...)
	n.log = &lockedBuffer{}
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start revocd: %v", err)
	}
	n.done = make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(n.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-n.done:
			t.Fatalf("revocd exited during start-up:\n%s", n.log.String())
		default:
		}
		if res, err := n.client.Get(n.URL + "/ready"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("revocd not ready on %s within 20s:\n%s", addr, n.log.String())
}

// TestSDKExampleEnforcesRevocations runs the real revocd and the example
// resource server over loopback: tokens of EdDSA and ML-DSA-65 validate;
// revocation by jti, subject and key id turns them away within the
// propagation bound; a token of the key rotated in by revoke_kid
// validates (JWKS refresh on an unknown kid); with revocd killed the
// example keeps validating until MaxStaleness, then answers 503; a
// revocation committed while it was disconnected is enforced once revocd
// is back on the same address.
func TestSDKExampleEnforcesRevocations(t *testing.T) {
	for _, alg := range []string{"EdDSA", "ML-DSA-65"} {
		t.Run(alg, func(t *testing.T) {
			env := []string{"JWT_ALGORITHM=" + alg, "FEED_API_KEYS=" + sdkFeedKey}
			n := startNode(t, "", env)
			ex := startExample(t, n.URL)

			t1, jti1 := n.issue("alice")
			t2, _ := n.issue("bob")
			t3, _ := n.issue("carol")
			status, body := ex.protected(t, t1)
			var claims map[string]any
			if status != 200 || json.Unmarshal(body, &claims) != nil || claims["sub"] != "alice" || claims["jti"] != jti1 {
				t.Fatalf("GET /protected with a fresh token: %d %s", status, body)
			}
			if st, _ := ex.protected(t, "not-a-token"); st != 401 {
				t.Fatalf("a malformed token: %d, want 401", st)
			}

			n.revoke("revoke_jti", jti1)
			dJTI := ex.await(t, t1, 401, sdkBound)
			n.revoke("revoke_sub", "bob")
			dSub := ex.await(t, t2, 401, sdkBound)
			if st, _ := ex.protected(t, t3); st != 200 {
				t.Fatalf("an unrevoked token after other revocations: %d", st)
			}
			n.revoke("revoke_kid", headerKid(t, t3))
			dKid := ex.await(t, t3, 401, sdkBound)
			t.Logf("%s: revocation visible through the example after %v (jti), %v (sub), %v (kid)", alg, dJTI, dSub, dKid)

			// revoke_kid rotated the signing key: the example learns the
			// new kid from the JWKS.
			t4, jti4 := n.issue("dave")
			if headerKid(t, t4) == headerKid(t, t3) {
				t.Fatal("revoke_kid did not rotate the signing key")
			}
			ex.await(t, t4, 200, sdkBound)

			// Kill revocd: the example validates on its own view until
			// MaxStaleness, then fails closed.
			addr, db := n.Addr, n.DB
			n.kill()
			killed := time.Now()
			if st, _ := ex.protected(t, t4); st != 200 {
				t.Fatalf("right after revocd died: %d, want 200 until MaxStaleness", st)
			}
			ex.await(t, t4, 503, sdkStaleness+2*time.Second)
			if d := time.Since(killed); d < sdkStaleness-2*time.Second {
				t.Fatalf("stale after %v, before MaxStaleness (%v) minus a heartbeat interval", d, sdkStaleness)
			}
			if st, _ := ex.protected(t, t1); st != 401 {
				t.Fatalf("a revoked token while stale: %d, want 401 (known revoked) or 503", st)
			}

			// A revocation committed while the example is disconnected:
			// revocd runs elsewhere on the same log, revokes, and stops.
			other := startNode(t, db, env)
			other.revoke("revoke_jti", jti4)
			t5, _ := other.issue("erin")
			other.kill()
			startOnAddr(t, n, addr)
			ex.await(t, t5, 200, sdkStaleness+5*time.Second) // reconnected and fresh
			if st, _ := ex.protected(t, t4); st != 401 {
				t.Fatalf("a revocation made while disconnected is not enforced: %d", st)
			}
		})
	}
}

// TestSDKPropagationLatency measures, in process, the time from a
// revocation's 200 to Validate refusing the token (SSE over loopback).
func TestSDKPropagationLatency(t *testing.T) {
	n := startNode(t, "", []string{"JWT_ALGORITHM=EdDSA", "FEED_API_KEYS=" + sdkFeedKey})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := validator.New(ctx, validator.Options{URLs: []string{n.URL}, APIKey: sdkFeedKey, Issuer: "p4-revocation-service"})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	const rounds = 50
	var lat []time.Duration
	for i := range rounds {
		tok, jti := n.issue(fmt.Sprintf("user-%d", i))
		if _, err := v.Validate(tok); err != nil {
			t.Fatalf("fresh token: %v", err)
		}
		n.revoke("revoke_jti", jti)
		start := time.Now()
		for {
			_, err := v.Validate(tok)
			if errors.Is(err, validator.ErrRevoked) {
				break
			}
			if err != nil || time.Since(start) > sdkBound {
				t.Fatalf("round %d: %v after %v", i, err, time.Since(start))
			}
			time.Sleep(100 * time.Microsecond) // leave the CPU to revocd
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	p50, p99 := lat[rounds/2], lat[rounds*99/100]
	t.Logf("revocation visible in the SDK after the revoke's 200: p50 %v, p99 %v, max %v (%d rounds)", p50, p99, lat[rounds-1], rounds)
	if st := v.Status(); st.Applied != rounds || st.Rejected != 0 {
		t.Fatalf("status %+v, want %d applied, none rejected", st, rounds)
	}
}

// TestSDKStreamsDoNotHoldShutdown: revocd stops on SIGTERM promptly while
// validators are subscribed (open streams end with the server).
func TestSDKStreamsDoNotHoldShutdown(t *testing.T) {
	n := startNode(t, "", []string{"FEED_API_KEYS=" + sdkFeedKey})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var vs []*validator.Validator
	for range 3 {
		v, err := validator.New(ctx, validator.Options{URLs: []string{n.URL}, APIKey: sdkFeedKey})
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		vs = append(vs, v)
	}
	for _, v := range vs { // every stream is open (its first heartbeat arrived)
		for start := time.Now(); v.Status().Heartbeats == 0; time.Sleep(time.Millisecond) {
			if time.Since(start) > 5*time.Second {
				t.Fatal("a validator's stream did not open")
			}
		}
	}
	start := time.Now()
	if err := n.terminate(5 * time.Second); err != nil {
		t.Fatalf("revocd with open streams: %v", err)
	}
	t.Logf("revocd stopped %v after SIGTERM with %d open streams", time.Since(start), len(vs))
}
