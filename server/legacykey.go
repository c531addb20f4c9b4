package server

import (
	"fmt"

	"github.com/revocd/revocd/actors/issuer"
	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/index"
)

// setLegacyKey makes the key of JWT_SECRET_KEY the ring's legacy key, so
// that seed-era tokens (HS256 with that secret, no "kid") keep verifying
// after key rotations and whatever JWT_ALGORITHM is, for as long as the
// secret stays configured. A revocation of its derived kid (issuer.SecretKeyID),
// persisted in the ring by issuer.LoadRing or still in the index, keeps it
// revoked: its tokens are then reported revoked, never valid. ix must be
// loaded from the audit log.
func setLegacyKey(ring *token.Ring, secret string, ix *index.Index) error {
	if secret == "" {
		return nil
	}
	k, err := token.NewHMACKey(issuer.SecretKeyID(secret), []byte(secret))
	if err != nil {
		return fmt.Errorf("server: JWT_SECRET_KEY: %w", err)
	}
	ring.SetLegacy(k)
	if ix.Check("", "", k.ID, 0) == index.Kid {
		ring.Revoke(k.ID)
	}
	return nil
}
