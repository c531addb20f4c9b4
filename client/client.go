package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultURL is the address of a revocd started with its defaults.
const DefaultURL = "http://127.0.0.1:8000"

// maxResponseBytes bounds a response body read by the client.
const maxResponseBytes = 32 << 20

// Client talks to one revocd node. The zero value is not usable; create one
// with New. A Client is safe for concurrent use.
type Client struct {
	base     *url.URL
	adminKey string
	http     *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithAdminKey sets the admin API key sent as "Authorization: Bearer" on
// admin endpoints (issue, revoke, refresh create, key rotation, event feed).
func WithAdminKey(key string) Option { return func(c *Client) { c.adminKey = key } }

// WithHTTPClient replaces the HTTP client (default: one with a 10 s timeout).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithTimeout sets the per-request timeout of the default HTTP client.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.http = &http.Client{Timeout: d} }
}

// New returns a client for the revocd node at baseURL (for example
// "http://127.0.0.1:8000"; empty means DefaultURL).
func New(baseURL string, opts ...Option) (*Client, error) {
	if baseURL == "" {
		baseURL = DefaultURL
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("client: base URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http(s)://host[:port]", baseURL)
	}
	c := &Client{base: u, http: &http.Client{Timeout: 10 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL returns the node's base URL.
func (c *Client) BaseURL() string { return c.base.String() }

// APIError is an answer with a 4xx or 5xx status. Detail is the server's
// {"detail": ...} text, or the raw body when it had none.
type APIError struct {
	Method string
	Path   string
	Status int
	Detail string
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, http.StatusText(e.Status), e.Detail)
}

// IsAPIError reports whether err is (or wraps) an *APIError, and returns it.
func IsAPIError(err error) (*APIError, bool) {
	var ae *APIError
	ok := errors.As(err, &ae)
	return ae, ok
}

// request is one API call.
type request struct {
	method string
	path   string
	query  url.Values
	admin  bool
	body   any // nil: no body; otherwise JSON-encoded
}

// do sends r and decodes a 2xx JSON answer into out (if non-nil). Numbers in
// untyped values decode as json.Number so that claims print exactly.
func (c *Client) do(ctx context.Context, r request, out any) error {
	raw, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return decode(raw, out, r)
}

// send sends r and returns the body of a 2xx answer; other statuses are
// *APIError.
func (c *Client) send(ctx context.Context, r request) ([]byte, error) {
	u := *c.base
	u.Path = c.base.Path + r.path
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("client: encoding %s body: %w", r.path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.admin && c.adminKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.adminKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: reading answer: %w", r.method, r.path, err)
	}
	if resp.StatusCode >= 400 {
		return raw, &APIError{Method: r.method, Path: r.path, Status: resp.StatusCode, Detail: detail(raw)}
	}
	return raw, nil
}

func decode(raw []byte, out any, r request) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("client: %s %s: decoding answer: %w", r.method, r.path, err)
	}
	return nil
}

// detail extracts the "detail" of an error body (a string, or any JSON value
// rendered compactly), falling back to the trimmed body.
func detail(raw []byte) string {
	var e struct {
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(raw, &e) == nil && len(e.Detail) > 0 {
		var s string
		if json.Unmarshal(e.Detail, &s) == nil {
			return s
		}
		return string(e.Detail)
	}
	s := strings.TrimSpace(string(raw))
	if len(s) > 512 {
		s = s[:512] + "…"
	}
	return s
}
