package client

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"github.com/revocd/revocd/crypto/kex"
	"github.com/revocd/revocd/transport/wire"
)

// RefreshCreateRequest is the body of POST /token/refresh/create.
type RefreshCreateRequest = wire.RefreshCreateRequest

// RefreshCreateResponse is the answer of POST /token/refresh/create.
type RefreshCreateResponse = wire.RefreshCreateResponse

// RefreshRequest is the body of POST /token/refresh. ClientPublicKey is the
// base64 ephemeral public key for forward secrecy (empty: none).
type RefreshRequest = wire.RefreshRequest

// RefreshResponse is the answer of POST /token/refresh. RefreshToken is nil
// when the server does not rotate refresh tokens; the key-exchange fields
// are nil when no client_public_key was sent.
type RefreshResponse = wire.RefreshResponse

// Exchange is a refresh with a forward-secret key exchange: the server's
// answer plus the session key the client opened from it.
type Exchange struct {
	RefreshResponse
	Kind       kex.Kind `json:"kex"`
	SessionKey []byte   `json:"-"`
}

// RefreshCreate creates a refresh token bound to a client (admin endpoint).
func (c *Client) RefreshCreate(ctx context.Context, req RefreshCreateRequest) (*RefreshCreateResponse, error) {
	var out RefreshCreateResponse
	if err := c.do(ctx, request{method: http.MethodPost, path: "/token/refresh/create", admin: true, body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Refresh exchanges a refresh token for a new access token (and, with
// rotation, a new refresh token).
func (c *Client) Refresh(ctx context.Context, req RefreshRequest) (*RefreshResponse, error) {
	var out RefreshResponse
	if err := c.do(ctx, request{method: http.MethodPost, path: "/token/refresh", body: req}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ErrNoKeyExchange is returned by RefreshExchange when the server answered
// without server_public_key or encrypted_session_key.
var ErrNoKeyExchange = errors.New("client: server answered without a key exchange")

// RefreshExchange refreshes with a fresh ephemeral key of the given kind,
// then opens the encrypted session key with it (crypto/kex). The ephemeral
// private key is dropped when it returns: that is the forward secrecy.
func (c *Client) RefreshExchange(ctx context.Context, refreshToken, binding string, kind kex.Kind) (*Exchange, error) {
	key, err := kex.NewClientKey(kind, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	res, err := c.Refresh(ctx, RefreshRequest{RefreshToken: refreshToken, ClientBinding: binding, ClientPublicKey: key.PublicKeyBase64()})
	if err != nil {
		return nil, err
	}
	if res.ServerPublicKey == nil || res.EncryptedSessionKey == nil {
		return nil, ErrNoKeyExchange
	}
	spk, err := base64.StdEncoding.DecodeString(*res.ServerPublicKey)
	if err != nil {
		return nil, fmt.Errorf("client: server_public_key: %w", err)
	}
	esk, err := base64.StdEncoding.DecodeString(*res.EncryptedSessionKey)
	if err != nil {
		return nil, fmt.Errorf("client: encrypted_session_key: %w", err)
	}
	sk, err := key.OpenSessionKey(spk, esk, res.AccessJTI)
	if err != nil {
		return nil, fmt.Errorf("client: opening session key: %w", err)
	}
	return &Exchange{RefreshResponse: *res, Kind: kind, SessionKey: sk}, nil
}
