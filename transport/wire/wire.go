// Package wire holds the JSON bodies of revocd's HTTP API: the seed's
// requests and responses plus revocd's additions. The server
// (transport/httpapi) writes its responses from these types and the Go
// client (client/) sends and decodes them, so the two cannot drift apart.
//
// Requests are the sending side's form: optional fields left at their zero
// value are omitted. The server decodes requests into presence-tracking
// mirrors of these structs instead (a missing field, null, a wrong type and
// "" get distinct 400/422 answers, as the seed's pydantic models gave); a
// test in transport/httpapi keeps every mirror field-for-field equal to its
// type here. Validation verdicts (POST /token/validate and its batch form)
// are written by the server's allocation-free encoder, which a test keeps
// equal to Validation.
//
// The package holds plain data types: no behaviour, no I/O. Values are not
// safe for concurrent mutation.
package wire

import "github.com/revocd/revocd/revocation"

// Error is the body of every 4xx and 5xx answer: {"detail": "..."}.
type Error struct {
	Detail string `json:"detail"`
}

// IssueRequest is the body of POST /token.
type IssueRequest struct {
	// Subject is the "sub" claim (1 to 256 bytes of UTF-8).
	Subject string `json:"subject"`
	// ExpiresMinutes is the token lifetime; 0 means the server's default.
	ExpiresMinutes int `json:"expires_minutes,omitempty"`
	// AdditionalClaims are extra claims; registered and reserved names are
	// refused (422) in any letter case.
	AdditionalClaims map[string]any `json:"additional_claims,omitempty"`
}

// IssueResponse is the answer of POST /token.
type IssueResponse struct {
	AccessToken string `json:"access_token"`
	// TokenType is "bearer", or "DPoP" for a token bound to the key of
	// the request's DPoP proof (RFC 9449).
	TokenType string `json:"token_type"`
	// ExpiresIn is the lifetime in seconds.
	ExpiresIn int64  `json:"expires_in"`
	JTI       string `json:"jti"`
	Subject   string `json:"subject"`
}

// ValidateRequest is the body of POST /token/validate.
type ValidateRequest struct {
	Token string `json:"token"`
	// CheckRevocation false skips the revocation check (the server's
	// default, when the member is absent, is true).
	CheckRevocation bool `json:"check_revocation"`
	// DPoPProof (RFC 9449), optional, is the DPoP proof the resource
	// server received with the token; HTM and HTU are the method and URL
	// it saw the request with (both required with a proof). A token
	// bound to a key (cnf.jkt) is valid only with a proof by that key.
	DPoPProof string `json:"dpop_proof,omitempty"`
	HTM       string `json:"htm,omitempty"`
	HTU       string `json:"htu,omitempty"`
}

// BatchValidateRequest is the body of POST /token/validate/batch.
type BatchValidateRequest struct {
	Tokens []string `json:"tokens"`
	// CheckRevocation is as in ValidateRequest.
	CheckRevocation bool `json:"check_revocation"`
	// DPoPProofs, optional, holds a DPoP proof per token, in order (""
	// for none); HTM and HTU are as in ValidateRequest, shared by all.
	DPoPProofs []string `json:"dpop_proofs,omitempty"`
	HTM        string   `json:"htm,omitempty"`
	HTU        string   `json:"htu,omitempty"`
}

// Validation is the answer of POST /token/validate, and one result of the
// batch form. A token that is invalid or revoked is an answer, not an
// error: Valid false with the reason in Message. Claims is nil unless the
// signature verified.
type Validation struct {
	Valid   bool           `json:"valid"`
	Claims  map[string]any `json:"claims"`
	Revoked bool           `json:"revoked"`
	Message string         `json:"message"`
}

// BatchValidation is the answer of POST /token/validate/batch: one result
// per token, in order.
type BatchValidation struct {
	Results []Validation `json:"results"`
}

// Inspection is the answer of GET /token/inspect: the token's unverified
// claims (nil when they are not a JSON object) and the revocation state of
// those claims. Error is set when the token could not be parsed.
type Inspection struct {
	Claims           map[string]any `json:"claims"`
	Revoked          bool           `json:"revoked"`
	RevocationReason *string        `json:"revocation_reason"`
	Note             string         `json:"note,omitempty"`
	Error            string         `json:"error,omitempty"`
}

// RevokeRequest is the body of POST /revoke.
type RevokeRequest struct {
	// Type is revoke_jti, revoke_sub or revoke_kid.
	Type  string `json:"type"`
	Value string `json:"value"`
	// TTLSeconds is how long the revocation lives; 0 lets the server choose.
	TTLSeconds int64  `json:"ttl_seconds,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// RevokeResponse is the answer of POST /revoke and POST
// /token/refresh/revoke. Published is true when Kafka acknowledged the event
// before the answer.
type RevokeResponse struct {
	EventID   string `json:"event_id"`
	Published bool   `json:"published"`
}

// RefreshCreateRequest is the body of POST /token/refresh/create.
type RefreshCreateRequest struct {
	Subject          string         `json:"subject"`
	ClientBinding    string         `json:"client_binding"`
	AdditionalClaims map[string]any `json:"additional_claims,omitempty"`
}

// RefreshCreateResponse is the answer of POST /token/refresh/create.
type RefreshCreateResponse struct {
	RefreshToken     string `json:"refresh_token"`
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	RefreshExpiresIn int64  `json:"refresh_expires_in"`
	RefreshJTI       string `json:"refresh_jti"`
	AccessJTI        string `json:"access_jti"`
	Subject          string `json:"subject"`
	// KyberPublicKey is the server's long-term X-Wing public key (base64).
	KyberPublicKey string `json:"kyber_public_key"`
}

// RefreshRequest is the body of POST /token/refresh. ClientPublicKey is the
// base64 ephemeral public key for forward secrecy (empty: none).
type RefreshRequest struct {
	RefreshToken    string `json:"refresh_token"`
	ClientBinding   string `json:"client_binding"`
	ClientPublicKey string `json:"client_public_key,omitempty"`
}

// RefreshResponse is the answer of POST /token/refresh. RefreshToken is nil
// when the server does not rotate refresh tokens; the key-exchange fields
// are nil when no client_public_key was sent.
type RefreshResponse struct {
	AccessToken         string  `json:"access_token"`
	RefreshToken        *string `json:"refresh_token"`
	TokenType           string  `json:"token_type"`
	ExpiresIn           int64   `json:"expires_in"`
	ServerPublicKey     *string `json:"server_public_key"`
	EncryptedSessionKey *string `json:"encrypted_session_key"`
	AccessJTI           string  `json:"access_jti"`
}

// RefreshRevokeRequest is the object form of POST /token/refresh/revoke's
// body; the seed's form is a bare JSON string holding the token.
type RefreshRevokeRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// Rotated is the answer of POST /admin/keys/rotate: Kid is the new current
// signing key.
type Rotated struct {
	Rotated bool   `json:"rotated"`
	Kid     string `json:"kid"`
}

// Event is one revocation event of GET /revocations: the shared
// revocation.Event (times in Unix milliseconds).
type Event = revocation.Event

// EventPage is one page of GET /revocations. Next is the position to ask
// for next (equal to the requested one when the page is empty).
type EventPage struct {
	Events []Event `json:"events"`
	Next   int64   `json:"next"`
}

// Health is the answer of GET /health.
type Health struct {
	OK bool `json:"ok"`
}

// Check is one dependency's readiness.
type Check struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Readiness is the answer of GET /ready (200 when Ready, else 503).
type Readiness struct {
	Ready  bool                      `json:"ready"`
	Checks map[string]Check          `json:"checks"`
	Outbox map[string]map[string]any `json:"outbox,omitempty"`
}
