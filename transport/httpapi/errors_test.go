package httpapi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/revocd/revocd/actors/audit"
	"github.com/revocd/revocd/actors/msg"
	"github.com/revocd/revocd/crypto/token"
)

// TestAnswer: errors become a status and detail text in one place; the
// sentinels (also wrapped) give their row of errorTable, request errors keep
// their kind's status with their own detail, anything else is a 500 whose
// text is not shown.
func TestAnswer(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		detail     string
		internalOK bool
	}{
		{"not found", ErrNotFound, 404, "Not Found", true},
		{"method", ErrMethodNotAllowed, 405, "Method Not Allowed", true},
		{"unauthorized", ErrUnauthorized, 401, "Missing or invalid admin API key", true},
		{"not ready", errNotReady, 503, "Revocation index is loading; try again shortly", true},
		{"timeout wrapped", fmt.Errorf("%w: issuer: %w", ErrTimeout, errors.New("deadline")), 503, "Timed out waiting for the service; retry (requests are idempotent)", true},
		{"audit down", fmt.Errorf("commit: %w", audit.ErrUnavailable), 503, "Audit log unavailable; try again", true},
		{"field", requestError(ErrInvalidField, "subject: field required"), 422, "subject: field required", true},
		{"malformed", requestError(ErrMalformedBody, "Malformed JSON body: trailing data after the object"), 400, "Malformed JSON body: trailing data after the object", true},
		{"rate", requestError(ErrRateLimited, "Rate limit exceeded; retry after 2 s"), 429, "Rate limit exceeded; retry after 2 s", true},
		{"detail without a kind", &apiError{detail: "db path /secret"}, 500, "Internal server error", false},
		{"internal", errors.New("sqlite: disk I/O error at /secret/path"), 500, "Internal server error", false},
		// The actors' refusals get their client text from the table, never
		// from the sentinel's own (log) text.
		{"refresh unknown", fmt.Errorf("issuer: %w", msg.ErrRefreshUnknown), 401, "Invalid refresh token", true},
		{"refresh revoked", fmt.Errorf("issuer: %w", msg.ErrRefreshRevoked), 401, "Refresh token has been revoked", true},
		{"binding", fmt.Errorf("issuer: %w", msg.ErrBindingMismatch), 401, "Client binding mismatch", true},
		{"reuse", fmt.Errorf("issuer: %w", msg.ErrRefreshReused), 401, "Refresh token reuse detected; the token family has been revoked", true},
		// /revoke's more specific text: its sentinel wraps msg.ErrUnavailable
		// and its row comes first.
		{"revocation not recorded", fmt.Errorf("%w: %w", ErrRevocationNotRecorded, msg.ErrUnavailable), 503, "Audit log unavailable; the revocation was not recorded", true},
		{"refresh token", requestError(ErrInvalidRefreshToken, "Invalid refresh token: %s", "Token has expired"), 401, "Invalid refresh token: Token has expired", true},
		{"refresh payload", fmt.Errorf("payload: %w: %w", ErrInvalidRefreshToken, errors.New("json: cannot unmarshal")), 401, "Invalid refresh token", true},
		{"oauth", requestError(ErrOAuthRequest, "invalid_request: token parameter required"), 400, "invalid_request: token parameter required", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, detail, ok := answer(tc.err)
			if status != tc.status || detail != tc.detail || ok != tc.internalOK {
				t.Errorf("answer(%v) = %d %q %v, want %d %q %v", tc.err, status, detail, ok, tc.status, tc.detail, tc.internalOK)
			}
		})
	}
	seen := map[error]bool{}
	for _, row := range errorTable {
		if seen[row.err] || row.detail == "" || row.status < 400 {
			t.Errorf("errorTable row %v: duplicate, empty detail or non-error status %d", row.err, row.status)
		}
		seen[row.err] = true
	}
}

// TestOutcomeFromErrorNotText: the validation metric tells expired tokens
// from other invalid ones by the verification error, not by comparing
// message strings.
func TestOutcomeFromErrorNotText(t *testing.T) {
	a := &API{}
	tests := []struct {
		v    verdict
		want string
	}{
		{verdict{valid: true, message: msgValid}, outcomeValid},
		{verdict{revoked: true, message: msgRevoked}, outcomeRevoked},
		{verdict{err: fmt.Errorf("exp 5: %w", token.ErrExpired), message: "anything"}, outcomeExpired},
		{verdict{err: token.ErrSignature, message: "Token has expired"}, outcomeInvalid},
	}
	for _, tc := range tests {
		if got := a.outcome(tc.v); got != tc.want {
			t.Errorf("outcome(%+v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}
