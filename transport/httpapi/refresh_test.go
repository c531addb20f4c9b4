package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/revocd/revocd/transport/wire"
)

// TestRefreshBadClientKeyNamesFieldOnly: a client_public_key that the key
// exchange refuses is a 422 whose detail names the field and says what it
// must hold, without the kex package's internals (its error prefix, the
// base64 decoder's or the curve library's messages).
func TestRefreshBadClientKeyNamesFieldOnly(t *testing.T) {
	a, kid := fuzzAPI(t)
	now := time.Now().Unix()
	refresh := signHS256(kid, fmt.Appendf(nil, `{"sub":"ana","jti":"r-1","iss":"fuzz-iss","typ":"refresh","iat":%d,"exp":%d}`, now, now+3600))
	for name, key := range map[string]string{
		"not base64":      "%%%",
		"wrong size":      base64.StdEncoding.EncodeToString(make([]byte, 31)),
		"1185 bytes":      base64.StdEncoding.EncodeToString(make([]byte, 1185)),
		"all-zero x25519": base64.StdEncoding.EncodeToString(make([]byte, 32)),
	} {
		t.Run(name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"refresh_token": refresh, "client_binding": "phone", "client_public_key": key})
			code, got := serve(t, a, "POST", "/token/refresh", string(body))
			var e wire.Error
			if err := json.Unmarshal([]byte(got), &e); err != nil {
				t.Fatalf("body %s: %v", got, err)
			}
			if code != http.StatusUnprocessableEntity || e.Detail != "client_public_key: "+msgBadClientKey {
				t.Fatalf("= %d %q, want 422 %q", code, e.Detail, "client_public_key: "+msgBadClientKey)
			}
			for _, internal := range []string{"kex", "bad base64", "illegal", "ecdh", "low order", "matches no kind"} {
				if strings.Contains(e.Detail, internal) {
					t.Errorf("detail %q shows internals (%q)", e.Detail, internal)
				}
			}
		})
	}
}
