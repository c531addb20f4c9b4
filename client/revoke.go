package client

import (
	"context"
	"net/http"
)

// Revocation types of POST /revoke.
const (
	RevokeJTI = "revoke_jti"
	RevokeSub = "revoke_sub"
	RevokeKid = "revoke_kid"
)

// RevokeRequest is the body of POST /revoke.
type RevokeRequest struct {
	Type  string `json:"type"`
	Value string `json:"value"`
	// TTLSeconds is how long the revocation lives; 0 lets the server choose.
	TTLSeconds int64  `json:"ttl_seconds,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// RevokeResponse is the answer of POST /revoke and POST
// /token/refresh/revoke. Published is true when Kafka acknowledged the event
// before the answer.
type RevokeResponse struct {
	EventID   string `json:"event_id"`
	Published bool   `json:"published"`
}

// Revoke records a durable revocation (admin endpoint).
func (c *Client) Revoke(ctx context.Context, req RevokeRequest) (*RevokeResponse, error) {
	var out RevokeResponse
	if err := c.do(ctx, request{method: http.MethodPost, path: "/revoke", admin: true, body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeRefresh revokes a refresh token (logout). The body is the seed's
// bare JSON string.
func (c *Client) RevokeRefresh(ctx context.Context, refreshToken string) (*RevokeResponse, error) {
	var out RevokeResponse
	if err := c.do(ctx, request{method: http.MethodPost, path: "/token/refresh/revoke", body: refreshToken}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
