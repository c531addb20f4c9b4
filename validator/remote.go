package validator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// remote asks revocd's POST /token/validate (Options.RemoteFallback while
// the view is stale), with the DPoP proof, method and URL when dp is not
// nil. Any failure to get an answer is ErrStale.
func (v *Validator) remote(tok []byte, dp *dpopArgs) (Claims, error) {
	in := map[string]any{"token": string(tok), "check_revocation": true}
	if dp != nil && dp.proof != "" {
		in["dpop_proof"], in["htm"], in["htu"] = dp.proof, dp.htm, dp.htu
	}
	body, _ := json.Marshal(in)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var lastErr error
	for n := range v.opts.URLs {
		base := v.opts.URLs[(int(v.node.Load())+n)%len(v.opts.URLs)]
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/token/validate", bytes.NewReader(body))
		if err != nil {
			return Claims{}, fmt.Errorf("%w: %w", ErrStale, err)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := v.client.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		var out struct {
			Valid   bool            `json:"valid"`
			Revoked bool            `json:"revoked"`
			Claims  json.RawMessage `json:"claims"`
			Message string          `json:"message"`
		}
		err = json.NewDecoder(io.LimitReader(res.Body, maxDocBytes)).Decode(&out)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			lastErr = fmt.Errorf("POST /token/validate: %s: %v", res.Status, err)
			continue
		}
		switch {
		case out.Revoked:
			return Claims{}, fmt.Errorf("%w (remote): %s", ErrRevoked, out.Message)
		case !out.Valid:
			if err := remoteDPoPError(out.Message); err != nil {
				return Claims{}, err
			}
			return Claims{}, fmt.Errorf("%w (remote): %s", ErrInvalid, out.Message)
		}
		var c struct {
			Sub string `json:"sub"`
			JTI string `json:"jti"`
			Iss string `json:"iss"`
			Iat int64  `json:"iat"`
			Exp int64  `json:"exp"`
		}
		_ = json.Unmarshal(out.Claims, &c)
		return Claims{Subject: c.Sub, ID: c.JTI, Issuer: c.Iss, IssuedAt: time.Unix(c.Iat, 0).UTC(), ExpiresAt: time.Unix(c.Exp, 0).UTC(),
			JKT: boundJKT(out.Claims), Raw: out.Claims}, nil
	}
	return Claims{}, fmt.Errorf("%w: remote fallback: %w", ErrStale, lastErr)
}
