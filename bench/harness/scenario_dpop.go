package harness

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/revocd/revocd/crypto/dpop"
)

// dpopHTU is the URL the simulated resource server saw.
const dpopHTU = "https://rs.example/api/things"

// dpopWorkload validates one DPoP-bound token (cnf.jkt of an ES256 key),
// each request with a fresh proof made by the worker (the load generator
// pays the ES256 signature, about as much as the server's verification).
type dpopWorkload struct {
	key   *ecdsa.PrivateKey
	hdr   string // base64url of the proof header
	token string
	ath   string
}

// newDPoPWorkload mints a DPoP-bound token signed with the development
// secret under kid, the node's current key.
func newDPoPWorkload(kid string) (*dpopWorkload, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		return nil, err
	}
	raw, enc := pub.Bytes(), base64.RawURLEncoding.EncodeToString
	jwk := dpop.JWK{Kty: "EC", Crv: "P-256", X: enc(raw[1:33]), Y: enc(raw[33:])}
	jkt, err := jwk.Thumbprint()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tk := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "bench-dpop", "jti": uuid.NewString(), "iss": devIssuer, "iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(),
		"cnf": map[string]string{"jkt": jkt},
	})
	tk.Header["kid"] = kid
	tok, err := tk.SignedString([]byte(devSecret))
	if err != nil {
		return nil, fmt.Errorf("forge DPoP-bound token: %w", err)
	}
	h, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk})
	return &dpopWorkload{key: key, hdr: enc(h), token: tok, ath: dpop.ATH(tok)}, nil
}

func (w *dpopWorkload) NewWorker(id int) Worker {
	return &dpopWorker{w: w, id: strconv.Itoa(id)}
}

type dpopWorker struct {
	w    *dpopWorkload
	id   string
	n    int
	body []byte
}

func (d *dpopWorker) Next() []byte {
	d.n++
	enc := base64.RawURLEncoding.EncodeToString
	c, _ := json.Marshal(map[string]any{"jti": d.id + "-" + strconv.Itoa(d.n) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		"htm": "GET", "htu": dpopHTU, "iat": time.Now().Unix(), "ath": d.w.ath})
	in := d.w.hdr + "." + enc(c)
	sum := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, d.w.key, sum[:])
	if err != nil {
		d.body = []byte(`{}`)
		return d.body
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	d.body, _ = json.Marshal(map[string]string{"token": d.w.token, "dpop_proof": in + "." + enc(sig), "htm": "GET", "htu": dpopHTU})
	return d.body
}

func (d *dpopWorker) Check(status int, body []byte) (int, error) {
	if status != 200 || !bytes.Contains(body, []byte(`"valid":true`)) {
		return 1, fmt.Errorf("DPoP validate: status %d: %.300s", status, body)
	}
	return 1, nil
}
