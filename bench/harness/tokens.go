package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// tokenCase is one token of the mix with the verdict it must get.
type tokenCase struct {
	token string
	want  class
	// kind says why: valid, jti, sub (revoked by), expired, forged.
	kind string
	// body is the POST /token/validate request.
	body []byte
}

// tokenMix is the prepared validation workload of one node.
type tokenMix struct {
	cases []tokenCase
	// validAnswer is a real /token/validate answer for a valid token: the
	// ceiling server's fixed body.
	validAnswer []byte
}

// issueConc is the concurrency of preparation requests.
const issueConc = 32

// prepareMix issues, revokes and forges the token mix on node n: mostly
// valid tokens, some revoked by jti and by sub, some expired and some with
// a bad signature (plus revoked kids in the index). validCount sizes it.
func (r *runner) prepareMix(ctx context.Context, n *Node, validCount int) (*tokenMix, error) {
	api := newAPIClient(n.URL)
	first, err := api.issue("bench-probe")
	if err != nil {
		return nil, err
	}
	kid, err := headerKid(first.AccessToken)
	if err != nil {
		return nil, err
	}
	var mix tokenMix
	add := func(tok string, want class, kind string) {
		mix.cases = append(mix.cases, tokenCase{token: tok, want: want, kind: kind})
	}
	names := func(prefix string, n, mod int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = prefix + strconv.Itoa(i%mod)
		}
		return out
	}

	// Revoked by jti.
	jtiToks, err := api.issueMany(names("bench-user-", max(validCount/16, 4), 500), issueConc)
	if err != nil {
		return nil, err
	}
	jtis := make([]string, len(jtiToks))
	for i, t := range jtiToks {
		jtis[i] = t.JTI
		add(t.AccessToken, classRevoked, "jti")
	}
	if err := api.revokeMany("revoke_jti", jtis, issueConc); err != nil {
		return nil, err
	}

	// Revoked by sub: 5 tokens each, then revoke_sub. Tokens of these
	// subjects issued after the next second boundary are valid again (iat
	// has second precision; the same second counts as revoked).
	subs := names("bench-revoked-sub-", max(validCount/100, 2), 1<<30)
	before, err := api.issueMany(names("bench-revoked-sub-", 5*len(subs), len(subs)), issueConc)
	if err != nil {
		return nil, err
	}
	for _, t := range before {
		add(t.AccessToken, classRevoked, "sub")
	}
	if err := api.revokeMany("revoke_sub", subs, issueConc); err != nil {
		return nil, err
	}
	next := time.Now().Truncate(time.Second).Add(time.Second + 20*time.Millisecond)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Until(next)):
	}

	// Revoked kids: entries in the index (and Redis) that every check
	// looks up. No token of the mix carries them: revocd reports revocation
	// only for tokens whose signature verifies, and the harness can sign
	// only with the dev secret, whose kid is the node's own (revoking it
	// would revoke the whole mix); a token under a kid the node never had
	// is just an unknown key.
	kids := names("bench-revoked-kid-", 4, 4)
	if err := api.revokeMany("revoke_kid", kids, 4); err != nil {
		return nil, err
	}
	now := time.Now()

	// Valid: fresh tokens, including the revoked subjects' new ones.
	valid, err := api.issueMany(append(names("bench-user-", validCount, 500), names("bench-revoked-sub-", max(validCount/20, 2), len(subs))...), issueConc)
	if err != nil {
		return nil, err
	}
	for _, t := range valid {
		add(t.AccessToken, classValid, "valid")
	}

	// Expired (correctly signed) and forged (wrong secret).
	for i := range max(validCount/25, 4) {
		exp, err := forge(devSecret, kid, "bench-user-"+strconv.Itoa(i), now.Add(-2*time.Hour), now.Add(-time.Hour))
		if err != nil {
			return nil, err
		}
		add(exp, classInvalid, "expired")
		bad, err := forge("not-the-secret", kid, "bench-user-"+strconv.Itoa(i), now, now.Add(time.Hour))
		if err != nil {
			return nil, err
		}
		add(bad, classInvalid, "forged")
	}

	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(mix.cases), func(i, j int) { mix.cases[i], mix.cases[j] = mix.cases[j], mix.cases[i] })
	for i := range mix.cases {
		mix.cases[i].body = fmt.Appendf(nil, `{"token":%q,"check_revocation":true}`, mix.cases[i].token)
	}
	if err := r.precheck(n, &mix); err != nil {
		return nil, err
	}
	return &mix, nil
}

// precheck validates every case once before the load (so a wrong
// assumption of the harness shows up clearly) and keeps a valid answer.
func (r *runner) precheck(n *Node, mix *tokenMix) error {
	c := &fasthttp.Client{ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, MaxConnsPerHost: 64}
	var first error
	answers := make([][]byte, len(mix.cases))
	err := parallel(len(mix.cases), 16, func(i int) error {
		tc := &mix.cases[i]
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod("POST")
		req.SetRequestURI(n.URL + "/token/validate")
		req.Header.SetContentType("application/json")
		req.SetBody(tc.body)
		if err := c.Do(req, resp); err != nil {
			return fmt.Errorf("precheck: %w", err)
		}
		answers[i] = append([]byte(nil), resp.Body()...)
		return checkVerdict(resp.StatusCode(), resp.Body(), tc.want, "precheck "+tc.kind)
	})
	if err != nil {
		first = err
	}
	for i, tc := range mix.cases {
		if tc.want == classValid && answers[i] != nil {
			mix.validAnswer = answers[i]
			break
		}
	}
	return first
}

// counts returns how many cases of each kind the mix holds.
func (m *tokenMix) counts() map[string]int {
	out := map[string]int{}
	for _, c := range m.cases {
		out[c.kind]++
	}
	return out
}
