package harness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/revocd/revocd/crypto/dpop"
	"github.com/revocd/revocd/crypto/dpop/dpoptest"
)

// dpopHTU is the URL the simulated resource server saw.
const dpopHTU = "https://rs.example/api/things"

// dpopWorkload validates one DPoP-bound token (cnf.jkt of an ES256 key),
// each request with a fresh proof made by the worker (the load generator
// pays the ES256 signature, about as much as the server's verification).
type dpopWorkload struct {
	key   *dpoptest.Key
	hdr   string // base64url of the proof header
	token string
	ath   string
}

// newDPoPWorkload mints a DPoP-bound token signed with the development
// secret under kid, the node's current key.
func newDPoPWorkload(kid string) (*dpopWorkload, error) {
	key, err := dpoptest.NewKey("ES256")
	if err != nil {
		return nil, err
	}
	jkt := key.JKT()
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
	return &dpopWorkload{key: key, hdr: key.Header(), token: tok, ath: dpop.ATH(tok)}, nil
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
	proof, err := d.w.key.Sign(d.w.hdr, map[string]any{"jti": d.id + "-" + strconv.Itoa(d.n) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		"htm": "GET", "htu": dpopHTU, "iat": time.Now().Unix(), "ath": d.w.ath})
	if err != nil {
		d.body = []byte(`{}`)
		return d.body
	}
	d.body, _ = json.Marshal(map[string]string{"token": d.w.token, "dpop_proof": proof, "htm": "GET", "htu": dpopHTU})
	return d.body
}

func (d *dpopWorker) Check(status int, body []byte) (int, error) {
	if status != 200 || !bytes.Contains(body, []byte(`"valid":true`)) {
		return 1, fmt.Errorf("DPoP validate: status %d: %.300s", status, body)
	}
	return 1, nil
}
