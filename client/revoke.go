package client

import (
	"context"
	"net/http"

	"github.com/revocd/revocd/transport/wire"
)

// Revocation types of POST /revoke.
const (
	RevokeJTI = "revoke_jti"
	RevokeSub = "revoke_sub"
	RevokeKid = "revoke_kid"
)

// RevokeRequest is the body of POST /revoke. TTLSeconds 0 lets the server
// choose how long the revocation lives.
type RevokeRequest = wire.RevokeRequest

// RevokeResponse is the answer of POST /revoke and POST
// /token/refresh/revoke. Published is true when Kafka acknowledged the event
// before the answer.
type RevokeResponse = wire.RevokeResponse

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
