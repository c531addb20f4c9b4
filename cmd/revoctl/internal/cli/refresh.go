package cli

import (
	"encoding/hex"
	"flag"

	"github.com/revocd/revocd/client"
	"github.com/revocd/revocd/crypto/kex"
)

func refreshCreateCmd() *command {
	var subject, binding string
	claims := claimsFlag{}
	return &command{
		name: "create", args: "--subject S --binding B [--claim k=v ...]",
		summary: "create a refresh token bound to a client (admin)",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&subject, "subject", "", "token subject, required")
			fs.StringVar(&binding, "binding", "", "client binding (device fingerprint), required")
			fs.Var(claims, "claim", "extra claim k=v (string) or k:=JSON; repeatable")
		},
		run: func(a *app, _ []string) error {
			if subject == "" || binding == "" {
				return usagef("--subject and --binding are required")
			}
			res, err := a.c.RefreshCreate(a.ctx, client.RefreshCreateRequest{Subject: subject, ClientBinding: binding, AdditionalClaims: claims})
			if err != nil {
				return err
			}
			return a.out.result(res,
				field{"refresh_token", res.RefreshToken}, field{"refresh_jti", res.RefreshJTI},
				field{"access_token", res.AccessToken}, field{"access_jti", res.AccessJTI},
				field{"subject", res.Subject}, field{"expires_in", res.ExpiresIn},
				field{"refresh_expires_in", res.RefreshExpiresIn})
		},
	}
}

// exchangeOutput is the JSON output of `refresh exchange`.
type exchangeOutput struct {
	client.RefreshResponse
	Kex        kex.Kind `json:"kex"`
	SessionKey string   `json:"session_key"`
}

func refreshExchangeCmd() *command {
	var token, binding, kind string
	return &command{
		name: "exchange", args: "--refresh-token T --binding B [--kex x-wing|ml-kem-768|x25519]",
		summary: "refresh with a forward-secret key exchange; prints the session key (hex)",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&token, "refresh-token", "", "refresh token, required")
			fs.StringVar(&binding, "binding", "", "client binding it was created with, required")
			fs.StringVar(&kind, "kex", string(kex.XWing), "ephemeral key kind: x-wing, ml-kem-768 or x25519")
		},
		run: func(a *app, _ []string) error {
			if token == "" || binding == "" {
				return usagef("--refresh-token and --binding are required")
			}
			k := kex.Kind(kind)
			if k != kex.XWing && k != kex.MLKEM768 && k != kex.X25519 {
				return usagef("--kex: want x-wing, ml-kem-768 or x25519, got %q", kind)
			}
			res, err := a.c.RefreshExchange(a.ctx, token, binding, k)
			if err != nil {
				return err
			}
			sk := hex.EncodeToString(res.SessionKey)
			return a.out.result(exchangeOutput{RefreshResponse: res.RefreshResponse, Kex: res.Kind, SessionKey: sk},
				field{"access_token", res.AccessToken}, field{"access_jti", res.AccessJTI},
				field{"refresh_token", res.RefreshToken}, field{"expires_in", res.ExpiresIn},
				field{"kex", string(res.Kind)}, field{"session_key", sk})
		},
	}
}

func refreshRevokeCmd() *command {
	return &command{
		name: "revoke", args: "TOKEN", nargs: 1,
		summary: "revoke a refresh token (logout)",
		run: func(a *app, args []string) error {
			res, err := a.c.RevokeRefresh(a.ctx, args[0])
			if err != nil {
				return err
			}
			return a.out.result(res, field{"event_id", res.EventID}, field{"published", res.Published})
		},
	}
}
