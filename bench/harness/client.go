package harness

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// apiClient sends the preparation requests (issue, revoke, feed) to one
// node. It is safe for concurrent use.
type apiClient struct {
	base string
	c    *fasthttp.Client
}

func newAPIClient(baseURL string) *apiClient {
	return &apiClient{base: baseURL, c: &fasthttp.Client{
		ReadTimeout: 15 * time.Second, WriteTimeout: 15 * time.Second, MaxConnsPerHost: 256,
		MaxResponseBodySize: 64 << 20,
	}}
}

// do sends method path with a JSON body (nil: none) and decodes a 200
// answer into out (when not nil).
func (a *apiClient) do(method, path string, body, out any) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI(a.base + path)
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		req.Header.SetContentType("application/json")
		req.SetBody(b)
	}
	if err := a.c.Do(req, resp); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		return fmt.Errorf("%s %s: status %d: %.300s", method, path, resp.StatusCode(), resp.Body())
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body(), out); err != nil {
			return fmt.Errorf("%s %s: decode %.200q: %w", method, path, resp.Body(), err)
		}
	}
	return nil
}

// issued is the answer of POST /token.
type issued struct {
	AccessToken string `json:"access_token"`
	JTI         string `json:"jti"`
	Subject     string `json:"subject"`
}

func (a *apiClient) issue(subject string) (issued, error) {
	var out issued
	err := a.do("POST", "/token", map[string]any{"subject": subject}, &out)
	return out, err
}

func (a *apiClient) revoke(typ, value string) error {
	return a.do("POST", "/revoke", map[string]any{"type": typ, "value": value}, nil)
}

// verdict is the answer of POST /token/validate.
type verdict struct {
	Valid   bool   `json:"valid"`
	Revoked bool   `json:"revoked"`
	Message string `json:"message"`
}

func (a *apiClient) validate(tok string) (verdict, error) {
	var v verdict
	err := a.do("POST", "/token/validate", map[string]any{"token": tok, "check_revocation": true}, &v)
	return v, err
}

// issueMany issues one token per subject with conc concurrent requests.
func (a *apiClient) issueMany(subjects []string, conc int) ([]issued, error) {
	out := make([]issued, len(subjects))
	err := parallel(len(subjects), conc, func(i int) error {
		var err error
		out[i], err = a.issue(subjects[i])
		return err
	})
	return out, err
}

// revokeMany revokes values of typ with conc concurrent requests.
func (a *apiClient) revokeMany(typ string, values []string, conc int) error {
	return parallel(len(values), conc, func(i int) error { return a.revoke(typ, values[i]) })
}

// parallel runs fn(0..n-1) on conc goroutines and returns the first error.
func parallel(n, conc int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  int
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= n || first != nil {
			return 0, false
		}
		next++
		return next - 1, true
	}
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, ok := take(); ok; i, ok = take() {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return first
}
