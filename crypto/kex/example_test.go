package kex_test

import (
	"bytes"
	"encoding/base64"
	"fmt"

	"github.com/revocd/revocd/crypto/kex"
)

// A client generates an ephemeral X-Wing key, sends it as client_public_key,
// and opens the session key from the server's answer.
func Example() {
	client, err := kex.NewClientKey(kex.XWing, nil)
	if err != nil {
		panic(err)
	}
	req := client.PublicKeyBase64() // "client_public_key"

	// Server side (the refresh handler).
	res, err := kex.ServerExchange(req, "access-jti-1", nil)
	if err != nil {
		panic(err)
	}
	spk := res.ServerPublicKeyBase64()     // "server_public_key"
	esk := res.EncryptedSessionKeyBase64() // "encrypted_session_key"

	// Client side again.
	spkRaw, _ := base64.StdEncoding.DecodeString(spk)
	eskRaw, _ := base64.StdEncoding.DecodeString(esk)
	sessionKey, err := client.OpenSessionKey(spkRaw, eskRaw, "access-jti-1")
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Kind, len(spkRaw), len(eskRaw), len(sessionKey), bytes.Equal(sessionKey, res.SessionKey))
	// Output: x-wing 1120 60 32 true
}
