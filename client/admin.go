package client

import (
	"context"
	"encoding/json"
	"github.com/revocd/revocd/transport/wire"
	"net/http"
	"net/url"
	"strconv"
)

// Rotated is the answer of POST /admin/keys/rotate: Kid is the new current
// signing key.
type Rotated = wire.Rotated

// Event is one revocation event of GET /revocations: the shared
// revocation.Event (times in Unix milliseconds; Time converts TS).
type Event = wire.Event

// EventPage is one page of GET /revocations. Next is the position to ask
// for next (equal to the requested one when the page is empty).
type EventPage = wire.EventPage

// Health is the answer of GET /health.
type Health = wire.Health

// Check is one dependency's readiness.
type Check = wire.Check

// Readiness is the answer of GET /ready.
type Readiness = wire.Readiness

// RotateKey makes a fresh token signing key current (admin endpoint).
func (c *Client) RotateKey(ctx context.Context) (*Rotated, error) {
	var out Rotated
	if err := c.do(ctx, request{method: http.MethodPost, path: "/admin/keys/rotate", admin: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// JWKS returns the public token keys document, as served.
func (c *Client) JWKS(ctx context.Context) (json.RawMessage, error) {
	raw, err := c.send(ctx, request{method: http.MethodGet, path: "/.well-known/jwks.json"})
	if err != nil {
		return nil, err
	}
	return json.RawMessage(raw), nil
}

// Events returns up to limit committed revocation events after feed
// position after (admin endpoint).
func (c *Client) Events(ctx context.Context, after int64, limit int) (*EventPage, error) {
	q := url.Values{"after": {strconv.FormatInt(after, 10)}, "limit": {strconv.Itoa(limit)}}
	var out EventPage
	if err := c.do(ctx, request{method: http.MethodGet, path: "/revocations", query: q, admin: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Health reports whether the process is up.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var out Health
	if err := c.do(ctx, request{method: http.MethodGet, path: "/health"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Ready returns the readiness report. A node that is not ready answers 503:
// then the decoded report is returned together with the *APIError.
func (c *Client) Ready(ctx context.Context) (*Readiness, error) {
	r := request{method: http.MethodGet, path: "/ready"}
	raw, err := c.send(ctx, r)
	if err != nil {
		if ae, ok := IsAPIError(err); ok && ae.Status == http.StatusServiceUnavailable {
			var out Readiness
			if decode(raw, &out, r) == nil && out.Checks != nil {
				return &out, err
			}
		}
		return nil, err
	}
	var out Readiness
	if err := decode(raw, &out, r); err != nil {
		return nil, err
	}
	return &out, nil
}
