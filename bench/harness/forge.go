package harness

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Development-mode constants of revocd (config.SeedDefaultSecret and the
// default JWT_ISSUER).
const (
	devSecret = "your-secret-key-change-in-production"
	devIssuer = "p4-revocation-service"
)

// forge signs an HS256 token with secret, kid and the given claims (sub,
// a fresh UUID jti, iss, iat and exp).
func forge(secret, kid, sub string, iat, exp time.Time) (string, error) {
	return forgeJTI(secret, kid, sub, uuid.NewString(), iat, exp)
}

// forgeJTI is forge with a given jti.
func forgeJTI(secret, kid, sub, jti string, iat, exp time.Time) (string, error) {
	tk := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "jti": jti, "iss": devIssuer, "iat": iat.Unix(), "exp": exp.Unix(),
	})
	tk.Header["kid"] = kid
	s, err := tk.SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("forge token: %w", err)
	}
	return s, nil
}

// headerKid returns the "kid" header of a compact JWT.
func headerKid(tok string) (string, error) {
	h, _, ok := strings.Cut(tok, ".")
	if !ok {
		return "", fmt.Errorf("not a JWT: %.40q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return "", fmt.Errorf("JWT header: %w", err)
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(b, &hdr); err != nil || hdr.Kid == "" {
		return "", fmt.Errorf("JWT header without kid: %s", b)
	}
	return hdr.Kid, nil
}
