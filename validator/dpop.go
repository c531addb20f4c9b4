package validator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/revocd/revocd/crypto/dpop"
)

// DPoP (RFC 9449) in process: the same proof checks, reasons and replay
// window as revocd's POST /token/validate, with a replay cache per
// Validator (a proof can be replayed once against each other validator or
// revocd node within the window: see the README's cluster note).

// dpopArgs are the DPoP members of a validation, for the remote fallback.
type dpopArgs struct{ proof, htm, htu string }

// ValidateDPoP validates tok as presented with "Authorization: DPoP <tok>"
// and "DPoP: <proof>" in a request with HTTP method htm to URL htu, both as
// the resource server saw them (htu is compared without query and
// fragment, scheme and host in lower case, default port removed).
//
// A DPoP-bound token (cnf.jkt) is valid only with a proof that passes every
// RFC 9449 §4.3 check (typ, alg ES256/EdDSA/ML-DSA-65, signature by its
// jwk, htm, htu, iat within Options.DPoPWindow, ath of tok, jti not seen
// before by this Validator) and whose key's thumbprint is the token's
// cnf.jkt; otherwise the error wraps ErrDPoP and crypto/dpop's reason, or
// is ErrDPoPRequired for an empty proof. The token's own checks come first
// (an invalid or revoked token does not use up its proof). A bearer token
// (no cnf.jkt) returns its Claims, JKT empty, and the proof is not looked
// at, as revocd's /token/validate does; a resource server that received it
// with the DPoP scheme refuses it (the middlewares do). tok may carry a
// "DPoP " prefix. Safe for concurrent use.
func (v *Validator) ValidateDPoP(tok, proof, htm, htu string) (Claims, error) {
	if len(tok) > 5 && strings.EqualFold(tok[:5], "DPoP ") {
		tok = tok[5:]
	}
	c, err := v.validate(unsafe.Slice(unsafe.StringData(tok), len(tok)), &dpopArgs{proof, htm, htu})
	if err != nil || c.JKT == "" {
		return c, err
	}
	if proof == "" {
		return Claims{}, ErrDPoPRequired
	}
	p, err := v.dpop.Verify(proof, dpop.Request{Method: htm, URL: htu, AccessToken: tok})
	if err == nil && p.JKT != c.JKT {
		err = fmt.Errorf("%w: %w", dpop.ErrInvalidProof, dpop.ErrKeyMismatch)
	}
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrDPoP, err)
	}
	return c, nil
}

// DPoPReason returns the reason revocd's POST /token/validate gives for a
// DPoP refusal err from ValidateDPoP or Validate: "DPoP proof required",
// or "Invalid DPoP proof: " and the proof check that failed (e.g. "DPoP
// proof has been used before"). It returns "" for any other error.
func DPoPReason(err error) string {
	switch {
	case errors.Is(err, ErrDPoPRequired):
		return "DPoP proof required"
	case errors.Is(err, ErrDPoP):
		return "Invalid DPoP proof: " + dpop.Reason(err)
	}
	return ""
}

// dpopReasons are crypto/dpop's refusal reasons, to map a remote answer
// back to its sentinel.
var dpopReasons = []error{dpop.ErrMalformed, dpop.ErrTyp, dpop.ErrAlg, dpop.ErrJWK, dpop.ErrSignature, dpop.ErrHTM,
	dpop.ErrHTU, dpop.ErrIat, dpop.ErrJTI, dpop.ErrReplay, dpop.ErrReplayCacheFull, dpop.ErrATH, dpop.ErrNonce, dpop.ErrKeyMismatch}

// remoteDPoPError maps a refusal message of revocd's /token/validate
// about DPoP to ErrDPoPRequired or ErrDPoP (nil for other messages).
func remoteDPoPError(msg string) error {
	if msg == "DPoP proof required" {
		return fmt.Errorf("%w (remote)", ErrDPoPRequired)
	}
	reason, ok := strings.CutPrefix(msg, "Invalid DPoP proof: ")
	if !ok {
		return nil
	}
	for _, e := range dpopReasons {
		if e.Error() == reason {
			return fmt.Errorf("%w (remote): %w: %w", ErrDPoP, dpop.ErrInvalidProof, e)
		}
	}
	return fmt.Errorf("%w (remote): %w: %s", ErrDPoP, dpop.ErrInvalidProof, reason)
}

var cnfMember = []byte(`"cnf"`)

// boundJKT returns the cnf.jkt of a verified payload, "" if it has none.
// The byte search keeps tokens without "cnf" off the JSON decoder.
func boundJKT(payload []byte) string {
	if !bytes.Contains(payload, cnfMember) {
		return ""
	}
	var c struct {
		Cnf *struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	if json.Unmarshal(payload, &c) != nil || c.Cnf == nil {
		return ""
	}
	return c.Cnf.JKT
}
