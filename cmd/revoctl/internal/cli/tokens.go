package cli

import (
	"flag"

	"github.com/revocd/revocd/client"
)

func issueCmd() *command {
	var subject string
	var minutes int
	claims := claimsFlag{}
	return &command{
		name: "issue", args: "--subject S [--expires-minutes N] [--claim k=v ...]",
		summary: "issue an access token (admin)",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&subject, "subject", "", "token subject (sub claim), required")
			fs.IntVar(&minutes, "expires-minutes", 0, "lifetime in minutes (0: server default)")
			fs.Var(claims, "claim", "extra claim k=v (string) or k:=JSON; repeatable")
		},
		run: func(a *app, _ []string) error {
			if subject == "" {
				return usagef("--subject is required")
			}
			res, err := a.c.Issue(a.ctx, client.IssueRequest{Subject: subject, ExpiresMinutes: minutes, AdditionalClaims: claims})
			if err != nil {
				return err
			}
			return a.out.result(res,
				field{"access_token", res.AccessToken}, field{"jti", res.JTI},
				field{"subject", res.Subject}, field{"expires_in", res.ExpiresIn})
		},
	}
}

func validateCmd() *command {
	var noCheck bool
	return &command{
		name: "validate", args: "TOKEN [--no-revocation-check]", nargs: 1,
		summary: "validate a token: exit 0 valid, 2 invalid, 3 revoked",
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&noCheck, "no-revocation-check", false, "skip the revocation check (check_revocation=false)")
		},
		run: func(a *app, args []string) error {
			res, err := a.c.Validate(a.ctx, args[0], !noCheck)
			if err != nil {
				return err
			}
			err = a.out.result(res,
				field{"valid", res.Valid}, field{"revoked", res.Revoked},
				field{"message", res.Message}, field{"claims", res.Claims})
			if err != nil {
				return err
			}
			switch {
			case res.Valid:
				return nil
			case res.Revoked:
				return exitCode(ExitRevoked)
			}
			return exitCode(ExitInvalid)
		},
	}
}

func inspectCmd() *command {
	return &command{
		name: "inspect", args: "TOKEN", nargs: 1,
		summary: "show a token's header and claims unverified, and its revocation state",
		run: func(a *app, args []string) error {
			res, err := a.c.Inspect(a.ctx, args[0])
			if err != nil {
				return err
			}
			fields := []field{{"header", res.Header}, {"claims", res.Claims}, {"revoked", res.Revoked}, {"revocation_reason", res.RevocationReason}}
			if res.Error != "" {
				fields = append(fields, field{"error", res.Error})
			}
			return a.out.result(res, fields...)
		},
	}
}

func revokeCmd() *command {
	var ttl int64
	var reason string
	return &command{
		name: "revoke", args: "jti|sub|kid VALUE [--ttl SECONDS] [--reason R]", nargs: 2,
		summary: "revoke by token id, subject or signing key (admin)",
		flags: func(fs *flag.FlagSet) {
			fs.Int64Var(&ttl, "ttl", 0, "seconds the revocation lives (0: server default)")
			fs.StringVar(&reason, "reason", "", "reason recorded in the audit log and event")
		},
		run: func(a *app, args []string) error {
			typ, ok := map[string]string{"jti": client.RevokeJTI, "sub": client.RevokeSub, "kid": client.RevokeKid}[args[0]]
			if !ok {
				return usagef("revocation type must be jti, sub or kid, got %q", args[0])
			}
			res, err := a.c.Revoke(a.ctx, client.RevokeRequest{Type: typ, Value: args[1], TTLSeconds: ttl, Reason: reason})
			if err != nil {
				return err
			}
			return a.out.result(res, field{"event_id", res.EventID}, field{"published", res.Published})
		},
	}
}
