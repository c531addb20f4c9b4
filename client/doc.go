// Package client is a small Go client for revocd's HTTP API: issuing,
// validating, inspecting and revoking tokens, the refresh flow with its
// forward-secret key exchange, key rotation, JWKS, the revocation event feed
// and the health endpoints. revoctl is built on it.
//
// Every method takes a context and returns either the decoded response or an
// error. Answers with a 4xx or 5xx status are returned as *APIError carrying
// the status and the server's "detail" text; transport failures are wrapped
// errors of net/http. Validation outcomes (bad signature, expired, revoked)
// are not errors: they are a Validation with Valid false.
//
// Request and response types are those of transport/wire, the package the
// server writes its answers from (aliased here, so client.IssueRequest is
// wire.IssueRequest): what the client decodes is what the server sends.
package client
