// Package kex implements the forward-secret key exchange of the refresh
// endpoint (DESIGN §6).
//
// The client sends an ephemeral public key as "client_public_key" (standard
// base64; base64url and unpadded forms are accepted too). Its decoded length
// selects the kind:
//
//	  32 bytes  X25519 public key (RFC 7748)
//	1184 bytes  ML-KEM-768 encapsulation key (FIPS 203)
//	1216 bytes  X-Wing public key (draft-connolly-cfrg-xwing-kem-05)
//
// For X25519 the server generates an ephemeral X25519 key pair, computes
// shared = X25519(server_eph_priv, client_pub) and answers its ephemeral
// public key (32 bytes) as "server_public_key". For the KEMs the server
// computes (ct, shared) = Encapsulate(client_pub) and answers ct (1088 bytes
// for ML-KEM-768, 1120 for X-Wing) as "server_public_key".
//
// X25519 client keys of low order (all-zero shared secret) are rejected.
// X-Wing's X25519 component is not checked, as the X-Wing draft prescribes:
// the hybrid stays secure through ML-KEM-768.
//
// Both sides then derive
//
//	key = HKDF-SHA256(ikm = shared, salt = empty, info = "revocd/refresh/v1" || access_jti, L = 32)
//
// and the server answers
//
//	encrypted_session_key = base64std(nonce[12] || ChaCha20-Poly1305.Seal(key, nonce, session_key, aad = access_jti))
//
// where session_key is 32 fresh random bytes. Server ephemeral secrets live
// only for the duration of ServerExchange and are never stored.
//
// ClientKey is the reference client implementation. StaticKey is the
// server's long-term X-Wing key advertised as "kyber_public_key".
//
// The package is pure: it performs no I/O beyond reading the given
// randomness source and imports no network library.
package kex
