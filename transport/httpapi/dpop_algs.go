package httpapi

// DPoPAlgs are the JWS algorithms accepted in DPoP proofs (RFC 9449),
// advertised as dpop_signing_alg_values_supported in the authorization
// server metadata.
var DPoPAlgs = []string{"ES256", "EdDSA", "ML-DSA-65"}
