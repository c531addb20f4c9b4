package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/revocd/revocd/actors/audit"
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
		{"explicit status", errorf(http.StatusUnauthorized, "Invalid refresh token: %s", "Token has expired"), 401, "Invalid refresh token: Token has expired", true},
		{"internal", errors.New("sqlite: disk I/O error at /secret/path"), 500, "Internal server error", false},
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
