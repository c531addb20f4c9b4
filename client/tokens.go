package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/revocd/revocd/transport/wire"
)

// IssueRequest is the body of POST /token. ExpiresMinutes 0 means the
// server's default.
type IssueRequest = wire.IssueRequest

// IssueResponse is the answer of POST /token.
type IssueResponse = wire.IssueResponse

// Validation is the answer of POST /token/validate.
type Validation = wire.Validation

// Inspection is the answer of GET /token/inspect, plus the token's header
// decoded locally (unverified).
type Inspection struct {
	Header map[string]any `json:"header,omitempty"`
	wire.Inspection
}

// Issue creates an access token (admin endpoint).
func (c *Client) Issue(ctx context.Context, req IssueRequest) (*IssueResponse, error) {
	var out IssueResponse
	if err := c.do(ctx, request{method: http.MethodPost, path: "/token", admin: true, body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Validate verifies token; checkRevocation false skips the revocation check.
// A token that is invalid or revoked is not an error: see Validation.
func (c *Client) Validate(ctx context.Context, token string, checkRevocation bool) (*Validation, error) {
	body := wire.ValidateRequest{Token: token, CheckRevocation: checkRevocation}
	var out Validation
	if err := c.do(ctx, request{method: http.MethodPost, path: "/token/validate", body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Inspect returns the token's unverified claims and revocation state, with
// its header decoded locally (nil when the token is not a JWT). Outside
// --dev the server requires the admin key for it.
func (c *Client) Inspect(ctx context.Context, token string) (*Inspection, error) {
	var out Inspection
	r := request{method: http.MethodGet, path: "/token/inspect", query: url.Values{"token": {token}}, admin: true}
	if err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	out.Header, _ = DecodeHeader(token)
	return &out, nil
}

// DecodeHeader decodes a compact JWT's header without verifying anything.
func DecodeHeader(token string) (map[string]any, error) {
	h, _, ok := strings.Cut(token, ".")
	if !ok {
		return nil, fmt.Errorf("client: not a compact JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(h, "="))
	if err != nil {
		return nil, fmt.Errorf("client: JWT header: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("client: JWT header: %w", err)
	}
	return m, nil
}
