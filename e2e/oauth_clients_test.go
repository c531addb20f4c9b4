package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// oauthOutcome is one oauth4webapi call as client.mjs reports it.
type oauthOutcome struct {
	OK      bool            `json:"ok"`
	Value   json.RawMessage `json:"value"`
	Refused struct {
		Name    string   `json:"name"`
		Status  int      `json:"status"`
		Error   string   `json:"error"`
		Schemes []string `json:"schemes"`
	} `json:"refused"`
}

func (o oauthOutcome) active(t *testing.T, what string) bool {
	t.Helper()
	if !o.OK {
		t.Fatalf("%s refused: %+v", what, o.Refused)
	}
	var v struct {
		Active bool   `json:"active"`
		Sub    string `json:"sub"`
	}
	if err := json.Unmarshal(o.Value, &v); err != nil {
		t.Fatalf("%s: %s: %v", what, o.Value, err)
	}
	return v.Active
}

// TestOAuthClientsWithOAuth4WebAPI: a resource server using npm's
// oauth4webapi, in production mode, discovers revocd through its RFC 8414
// metadata, introspects with client_secret_basic and revokes with
// client_secret_post; a wrong secret is refused with invalid_client; the
// client cannot revoke by subject; the admin key still works. Before
// registered clients the discovery answered 404 and both client methods
// 401 with a Bearer challenge.
func TestOAuthClientsWithOAuth4WebAPI(t *testing.T) {
	script := npmClient(t, "oauth", "oauth4webapi")
	const adminKey = "oauth-e2e-admin-key-0123456789"
	secret := "rs-" + strings.Repeat("s3cr3t", 8)
	secretSum := sha256.Sum256([]byte(secret))
	n := startNode(t, "", []string{
		"JWT_SECRET_KEY=" + strings.Repeat("o", 48), "ADMIN_API_KEYS=" + adminKey,
		"OAUTH_CLIENTS=resource-server:" + hex.EncodeToString(secretSum[:]),
	}, "--no-dev")
	admin := []string{"Authorization", "Bearer " + adminKey}
	issue := func(sub string) string {
		r := n.do(http.MethodPost, "/token", map[string]any{"subject": sub}, admin...)
		if r.Status != 200 {
			t.Fatalf("issue: %d %s", r.Status, r.Body)
		}
		return r.JSON(t)["access_token"].(string)
	}
	tokA, tokB := issue("alice"), issue("bob")

	cmd := exec.Command("node", script)
	cmd.Env = append(os.Environ(), "ISSUER="+n.URL, "CLIENT_ID=resource-server", "CLIENT_SECRET="+secret, "TOKEN_A="+tokA, "TOKEN_B="+tokB)
	done := make(chan struct{})
	timer := time.AfterFunc(60*time.Second, func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
		}
	})
	out, err := cmd.Output()
	close(done)
	timer.Stop()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("node client.mjs: %v\nstdout: %s\nstderr: %s", err, out, stderr)
	}
	var res struct {
		Metadata struct {
			Issuer                string   `json:"issuer"`
			IntrospectionEndpoint string   `json:"introspection_endpoint"`
			RevocationEndpoint    string   `json:"revocation_endpoint"`
			IntrospectionAuth     []string `json:"introspection_endpoint_auth_methods_supported"`
			RevocationAuth        []string `json:"revocation_endpoint_auth_methods_supported"`
			DPoPAlgs              []string `json:"dpop_signing_alg_values_supported"`
		} `json:"metadata"`
		IntrospectBasic            oauthOutcome `json:"introspectBasic"`
		IntrospectBasicWrongSecret oauthOutcome `json:"introspectBasicWrongSecret"`
		RevokePostWrongSecret      oauthOutcome `json:"revokePostWrongSecret"`
		IntrospectBeforeRevoke     oauthOutcome `json:"introspectBeforeRevoke"`
		RevokePost                 oauthOutcome `json:"revokePost"`
		IntrospectAfterRevoke      oauthOutcome `json:"introspectAfterRevoke"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("client.mjs output %s: %v", out, err)
	}
	md := res.Metadata
	methods := []string{"client_secret_basic", "client_secret_post"}
	if md.Issuer != n.URL || md.IntrospectionEndpoint != n.URL+"/oauth2/introspect" || md.RevocationEndpoint != n.URL+"/oauth2/revoke" ||
		!slices.Equal(md.IntrospectionAuth, methods) || !slices.Equal(md.RevocationAuth, methods) || len(md.DPoPAlgs) == 0 {
		t.Errorf("discovered metadata: %+v", md)
	}
	if !res.IntrospectBasic.active(t, "introspection with client_secret_basic") {
		t.Errorf("a valid token introspected inactive: %s", res.IntrospectBasic.Value)
	}
	for name, o := range map[string]oauthOutcome{"introspection, wrong secret (basic)": res.IntrospectBasicWrongSecret, "revocation, wrong secret (post)": res.RevokePostWrongSecret} {
		if o.OK || o.Refused.Status != http.StatusUnauthorized {
			t.Errorf("%s: accepted or not 401: %+v %s", name, o.Refused, o.Value)
		}
		if o.Refused.Error != "invalid_client" && !slices.Contains(o.Refused.Schemes, "basic") {
			t.Errorf("%s: refusal %+v is neither invalid_client nor a Basic challenge", name, o.Refused)
		}
	}
	if !res.IntrospectBeforeRevoke.active(t, "introspection with client_secret_post") {
		t.Error("the wrong-secret revocation revoked the token")
	}
	if !res.RevokePost.OK {
		t.Fatalf("revocation with client_secret_post refused: %+v", res.RevokePost.Refused)
	}
	if res.IntrospectAfterRevoke.active(t, "introspection after revocation") {
		t.Error("a token revoked with client_secret_post is still active")
	}
	if v := n.validate(tokB); v["valid"] != false || v["revoked"] != true {
		t.Errorf("/token/validate after the client's revocation: %v", v)
	}
	if v := n.validate(tokA); v["valid"] != true {
		t.Errorf("token A after the failed revocations: %v", v)
	}

	// A client is not an admin: no revocation by subject, no issuance,
	// with either method.
	basicAuth := "Basic " + base64.StdEncoding.EncodeToString([]byte("resource-server:"+url.QueryEscape(secret)))
	for _, c := range []struct {
		path string
		body any
		hdr  []string
	}{
		{"/revoke", map[string]string{"type": "revoke_sub", "value": "alice"}, []string{"Authorization", basicAuth}},
		{"/revoke", url.Values{"client_id": {"resource-server"}, "client_secret": {secret}, "type": {"revoke_sub"}, "value": {"alice"}}.Encode(), []string{"Content-Type", "application/x-www-form-urlencoded"}},
		{"/token", map[string]string{"subject": "mallory"}, []string{"Authorization", basicAuth}},
	} {
		if r := n.do(http.MethodPost, c.path, c.body, c.hdr...); r.Status != http.StatusUnauthorized && r.Status != http.StatusForbidden {
			t.Errorf("client credentials on %s (%v): status %d, want 401/403: %s", c.path, c.hdr, r.Status, r.Body)
		}
	}
	if v := n.validate(tokA); v["valid"] != true {
		t.Errorf("alice's token after the client's revoke_sub attempts: %v", v)
	}

	// The admin key still works on the OAuth endpoints.
	r := n.form("/oauth2/introspect", url.Values{"token": {tokA}}, admin...)
	if r.Status != 200 || r.JSON(t)["active"] != true {
		t.Errorf("introspection with the admin key: %d %s", r.Status, r.Body)
	}
	// Without credentials: refused.
	if r := n.form("/oauth2/introspect", url.Values{"token": {tokA}}); r.Status != http.StatusUnauthorized {
		t.Errorf("introspection without credentials: %d %s", r.Status, r.Body)
	}
}
