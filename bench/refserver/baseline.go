package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"
	"github.com/valyala/fasthttp"

	"github.com/revocd/revocd/persistence/redismirror"
)

// baselineRequest is the body of POST /token/validate.
type baselineRequest struct {
	Token           string `json:"token"`
	CheckRevocation *bool  `json:"check_revocation"`
}

// newBaseline returns the seed-style validator: generic jwt.Parse, then
// one Redis round trip per request. Revocation is checked first for any
// token whose claims could be read (as revocd does: revoked beats
// expired), so both servers give the same verdicts on the benchmark's mix.
func newBaseline(ctx context.Context, redisURL string, secret []byte, issuer string) (fasthttp.RequestHandler, func(), error) {
	opts, err := redismirror.ParseURL(redisURL)
	if err != nil {
		return nil, nil, err
	}
	client := redis.NewClient(opts)
	mirror := redismirror.New(client, nil)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := mirror.Ping(pctx); err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("redis-baseline: %w", err)
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(issuer),
		jwt.WithLeeway(5*time.Second), jwt.WithExpirationRequired())
	keyFunc := func(*jwt.Token) (any, error) { return secret, nil }

	h := func(c *fasthttp.RequestCtx) {
		var req baselineRequest
		if err := json.Unmarshal(c.PostBody(), &req); err != nil || req.Token == "" {
			c.SetStatusCode(fasthttp.StatusUnprocessableEntity)
			c.SetBodyString(`{"detail":"token: field required"}`)
			return
		}
		resp := map[string]any{"valid": false, "claims": nil, "revoked": false}
		tok, perr := parser.Parse(req.Token, keyFunc)
		claims, _ := claimsOf(tok)
		check := req.CheckRevocation == nil || *req.CheckRevocation
		switch {
		case claims != nil && check:
			jti, _ := claims["jti"].(string)
			sub, _ := claims["sub"].(string)
			kid, _ := tok.Header["kid"].(string)
			iat, _ := claims["iat"].(float64)
			revoked, _, err := mirror.Check(c, jti, sub, kid, int64(iat))
			if err != nil {
				c.SetStatusCode(fasthttp.StatusServiceUnavailable)
				c.SetBodyString(`{"detail":"redis unavailable"}`)
				return
			}
			if revoked {
				resp["revoked"], resp["claims"], resp["message"] = true, claims, "Token has been revoked"
				break
			}
			fallthrough
		default:
			if perr != nil {
				resp["message"] = message(perr)
			} else {
				resp["valid"], resp["claims"], resp["message"] = true, claims, "Token is valid and not revoked"
			}
		}
		b, _ := json.Marshal(resp)
		c.SetContentType("application/json")
		c.SetBody(b)
	}
	return h, func() { client.Close() }, nil
}

// claimsOf returns the claims of a token that parsed far enough to have them.
func claimsOf(tok *jwt.Token) (jwt.MapClaims, bool) {
	if tok == nil {
		return nil, false
	}
	m, ok := tok.Claims.(jwt.MapClaims)
	return m, ok && m != nil
}

func message(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "Token has expired"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "Invalid signature"
	}
	return "Invalid token"
}
