package httpapi

import "github.com/revocd/revocd/crypto/dpop"

// DPoPAlgs are the JWS algorithms accepted in DPoP proofs (RFC 9449),
// advertised as dpop_signing_alg_values_supported in the authorization
// server metadata: crypto/dpop's list, so the two cannot drift.
var DPoPAlgs = dpop.Algs
