package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/valyala/fasthttp"
)

// refreshBinding is the client_binding of the scenario's refresh tokens.
const refreshBinding = "bench-device"

// refreshClusterScenario starts two nodes clustered over actor remoting
// and times POST /token/refresh on the issuing node (A) and on the other
// one (B) in the same run: each sample creates two refresh tokens on A,
// waits until B holds both (replicated refresh state), then refreshes one
// on A and the other on B, alternating which goes first. When B never
// learns A's tokens (refresh state not replicated) the scenario is not
// available.
func (r *runner) refreshClusterScenario(ctx context.Context) error {
	nodes, err := r.startCluster(ctx, []string{"bench-ra", "bench-rb"}, "")
	if err != nil {
		return fmt.Errorf("%w: %v", errNotAvailable, err)
	}
	defer func() {
		for _, n := range nodes {
			n.Stop()
		}
	}()
	a := newAPIClient(nodes[0].URL)
	hosts := []*fasthttp.HostClient{
		{Addr: nodes[0].Addr, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second},
		{Addr: nodes[1].Addr, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second},
	}
	hists := []*hdrhistogram.Histogram{newHist(), newHist()}
	wait := newHist()
	n := r.prof.PropagationSamples
	r.progress.phase(fmt.Sprintf("refresh-cluster (%d refreshes on A and on B)", n), 0, nil)
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		toks := make([]string, 2)
		for k := range toks {
			var out struct {
				RefreshToken string `json:"refresh_token"`
			}
			if err := a.do("POST", "/token/refresh/create", map[string]any{"subject": fmt.Sprintf("bench-refresh-%d", i), "client_binding": refreshBinding}, &out); err != nil {
				return err
			}
			toks[k] = out.RefreshToken
		}
		start := time.Now()
		timeout := propagationSampleTimeout
		if i == 0 {
			timeout = r.prof.PropagationProbe
		}
		for _, tok := range toks {
			known, err := waitKnown(ctx, hosts[1], tok, start.Add(timeout))
			if err != nil {
				return err
			}
			if !known {
				if i == 0 {
					return fmt.Errorf("%w: a refresh token created on A was not known on B within %v (refresh state not replicated)", errNotAvailable, timeout)
				}
				return fmt.Errorf("refresh token %d not replicated to B within %v", i, timeout)
			}
		}
		_ = wait.RecordValue(max(time.Since(start).Microseconds(), 1))
		order := []int{0, 1}
		if i%2 == 1 {
			order = []int{1, 0}
		}
		for _, k := range order {
			took, err := timeRefresh(hosts[k], toks[k])
			if err != nil {
				return fmt.Errorf("refresh on %s: %w", nodes[k].Name, err)
			}
			_ = hists[k].RecordValue(max(took.Microseconds(), 1))
		}
	}
	r.progress.done()
	ms := func(us int64) float64 { return float64(us) / 1000 }
	for k, where := range []string{"issuing node A", "other node B"} {
		h := hists[k]
		note := fmt.Sprintf("%d samples, POST /token/refresh of a token created on A, sequential", h.TotalCount())
		r.addMeasure(Measure{Name: "refresh p50 (" + where + ")", Value: ms(h.ValueAtQuantile(50)), Unit: "ms", Note: note})
		r.addMeasure(Measure{Name: "refresh p99 (" + where + ")", Value: ms(h.ValueAtQuantile(99)), Unit: "ms", Note: note})
	}
	note := "from A's answer to the second create until B's introspection shows both tokens"
	r.addMeasure(Measure{Name: "refresh state A→B p50", Value: ms(wait.ValueAtQuantile(50)), Unit: "ms", Note: note})
	r.addMeasure(Measure{Name: "refresh state A→B p99", Value: ms(wait.ValueAtQuantile(99)), Unit: "ms", Note: note})
	return nil
}

// waitKnown polls POST /oauth2/introspect on c until the refresh token is
// active there (the node holds its state) or deadline passes.
func waitKnown(ctx context.Context, c *fasthttp.HostClient, tok string, deadline time.Time) (bool, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://" + c.Addr + "/oauth2/introspect")
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.SetBodyString(url.Values{"token": {tok}}.Encode())
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if err := c.Do(req, resp); err != nil {
			return false, fmt.Errorf("introspect on %s: %w", c.Addr, err)
		}
		if resp.StatusCode() != fasthttp.StatusOK {
			return false, fmt.Errorf("introspect on %s: status %d: %.200s", c.Addr, resp.StatusCode(), resp.Body())
		}
		var out struct {
			Active bool `json:"active"`
		}
		if err := json.Unmarshal(resp.Body(), &out); err != nil {
			return false, fmt.Errorf("introspect on %s: %w", c.Addr, err)
		}
		if out.Active {
			return true, nil
		}
		time.Sleep(pollPause)
	}
	return false, nil
}

// timeRefresh sends one POST /token/refresh and requires a rotated pair.
func timeRefresh(c *fasthttp.HostClient, tok string) (time.Duration, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://" + c.Addr + "/token/refresh")
	req.Header.SetContentType("application/json")
	req.SetBody(fmt.Appendf(nil, `{"refresh_token":%q,"client_binding":%q}`, tok, refreshBinding))
	start := time.Now()
	err := c.Do(req, resp)
	took := time.Since(start)
	if err != nil {
		return 0, err
	}
	var out struct {
		AccessToken  string  `json:"access_token"`
		RefreshToken *string `json:"refresh_token"`
	}
	if resp.StatusCode() != fasthttp.StatusOK || json.Unmarshal(resp.Body(), &out) != nil || out.AccessToken == "" || out.RefreshToken == nil {
		return 0, fmt.Errorf("status %d: %.300s", resp.StatusCode(), resp.Body())
	}
	return took, nil
}
