package httpapi

import (
	"net/http"

	"github.com/valyala/fasthttp"
)

// clientAuthMethods are the client authentication methods of the
// introspection and revocation endpoints.
var clientAuthMethods = []string{"client_secret_basic", "client_secret_post"}

// authServerMetadata is the RFC 8414 authorization server metadata.
type authServerMetadata struct {
	Issuer                        string   `json:"issuer"`
	JWKSURI                       string   `json:"jwks_uri"`
	ResponseTypesSupported        []string `json:"response_types_supported"`
	IntrospectionEndpoint         string   `json:"introspection_endpoint"`
	IntrospectionAuthMethods      []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpoint            string   `json:"revocation_endpoint"`
	RevocationAuthMethods         []string `json:"revocation_endpoint_auth_methods_supported"`
	DPoPSigningAlgValuesSupported []string `json:"dpop_signing_alg_values_supported"`
}

// oauthMetadata serves GET /.well-known/oauth-authorization-server (RFC
// 8414). The issuer is PublicBaseURL, the URL clients discover with; 404
// when it is not set.
func (a *API) oauthMetadata(ctx *fasthttp.RequestCtx) error {
	base := a.cfg.PublicBaseURL
	if base == "" {
		return ErrNotFound
	}
	ctx.Response.Header.Set("Cache-Control", "public, max-age=300")
	writeJSON(ctx, http.StatusOK, authServerMetadata{
		Issuer:                        base,
		JWKSURI:                       base + "/.well-known/jwks.json",
		ResponseTypesSupported:        []string{},
		IntrospectionEndpoint:         base + "/oauth2/introspect",
		IntrospectionAuthMethods:      clientAuthMethods,
		RevocationEndpoint:            base + "/oauth2/revoke",
		RevocationAuthMethods:         clientAuthMethods,
		DPoPSigningAlgValuesSupported: DPoPAlgs,
	})
	return nil
}
