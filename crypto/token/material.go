package token

import "crypto/subtle"

// VerifyOnly reports whether k has public material only (ParsePublicJWK,
// ParseJWKS): it verifies tokens but cannot sign, and MarshalBinary cannot
// serialize it. It is safe for concurrent use.
func (k *Key) VerifyOnly() bool { return k == nil || k.m == nil || k.m.signKey == nil }

// SameMaterial reports whether k and o verify the same tokens: the same
// algorithm and the same public key (asymmetric) or secret (HS256),
// compared in constant time. Key ids and creation times are not compared.
// It is safe for concurrent use.
func (k *Key) SameMaterial(o *Key) bool {
	if k == nil || o == nil || k.m == nil || o.m == nil || k.m.alg != o.m.alg {
		return false
	}
	if k.m.alg.Symmetric() {
		return subtle.ConstantTimeCompare(k.m.raw, o.m.raw) == 1
	}
	return subtle.ConstantTimeCompare(k.m.pub, o.m.pub) == 1
}

// HMACSecret returns a copy of an HS256 key's secret, or nil for any other
// key. Treat it as a secret (for example to seal it for the other nodes of
// a cluster). It is safe for concurrent use.
func (k *Key) HMACSecret() []byte {
	if k == nil || k.m == nil || !k.m.alg.Symmetric() {
		return nil
	}
	return append([]byte(nil), k.m.raw...)
}
