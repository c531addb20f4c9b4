#!/usr/bin/env bash
# The seed guide's "API Testing → Using cURL" block, verbatim except that
# http://localhost:8000 comes from $REVOCD_URL.
set -euo pipefail
B="${REVOCD_URL:-http://localhost:8000}"

# Create token
TOKEN=$(curl -s -X POST $B/token \
  -H "Content-Type: application/json" \
  -d '{"subject": "test"}' | jq -r '.access_token')

# Validate token
curl -X POST $B/token/validate \
  -H "Content-Type: application/json" \
  -d "{\"token\": \"$TOKEN\", \"check_revocation\": true}"

# Revoke token
JTI=$(curl -s -X POST $B/token \
  -H "Content-Type: application/json" \
  -d '{"subject": "test"}' | jq -r '.jti')

curl -X POST $B/revoke \
  -H "Content-Type: application/json" \
  -d "{\"type\": \"revoke_jti\", \"value\": \"$JTI\"}"

# The API Reference's other curl examples.
curl -X POST $B/token/validate \
  -H "Content-Type: application/json" \
  -d "{\"token\": \"$TOKEN\", \"check_revocation\": true}"
curl -X POST $B/revoke \
  -H "Content-Type: application/json" \
  -d '{"type": "revoke_sub", "value": "user123"}'
curl -X POST $B/revoke \
  -H "Content-Type: application/json" \
  -d "{\"type\": \"revoke_jti\", \"value\": \"$JTI\", \"ttl_seconds\": 3600}"
REFRESH=$(curl -s -X POST $B/token/refresh/create \
  -H "Content-Type: application/json" \
  -d '{
    "subject": "user123",
    "client_binding": "device-fingerprint-abc123"
  }' | jq -r '.refresh_token')
curl -X POST $B/token/refresh/revoke \
  -H "Content-Type: application/json" \
  -d "\"$REFRESH\""
curl "$B/token/inspect?token=$TOKEN"
curl $B/health
