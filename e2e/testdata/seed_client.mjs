// The seed guide's "JavaScript/TypeScript Client Example" (as plain
// JavaScript), unchanged except that BASE_URL comes from the environment and
// the call to the example's own API (https://api.example.com) is left out.
const BASE_URL = process.env.REVOCD_URL ?? "http://localhost:8000";

// 1. Create access token
const tokenResponse = await fetch(`${BASE_URL}/token`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ subject: "user123" })
});
const tokenData = await tokenResponse.json();
const accessToken = tokenData.access_token;

// 2. Validate token
const validationResponse = await fetch(`${BASE_URL}/token/validate`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({
    token: accessToken,
    check_revocation: true
  })
});
const validation = await validationResponse.json();

// 4. Revoke token
await fetch(`${BASE_URL}/revoke`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({
    type: "revoke_jti",
    value: tokenData.jti
  })
});

const after = await (await fetch(`${BASE_URL}/token/validate`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ token: accessToken, check_revocation: true })
})).json();
if (!validation.valid || after.valid || !after.revoked) {
  console.error("unexpected", validation, after);
  process.exit(1);
}
console.log("Token is valid!");
console.log("Token revoked!");
