// OAuth client run by e2e/oauth_clients_test.go: npm's oauth4webapi (an
// OAuth 2.0 client nobody here wrote) discovers revocd through RFC 8414
// metadata, introspects with client_secret_basic and revokes with
// client_secret_post. It prints one JSON object with what it saw; the Go
// test judges it.
import * as oauth from 'oauth4webapi'

const env = (k) => {
  const v = process.env[k]
  if (!v) throw new Error(`${k} not set`)
  return v
}
const issuer = new URL(env('ISSUER'))
const client = { client_id: env('CLIENT_ID') }
const secret = env('CLIENT_SECRET')
const insecure = { [oauth.allowInsecureRequests]: true } // loopback http

// describe turns a refused call into a comparable record.
const describe = (e) => ({
  name: e?.constructor?.name ?? String(e),
  status: e?.status ?? e?.response?.status ?? e?.cause?.status ?? null,
  error: e?.error ?? e?.cause?.error ?? null,
  schemes: Array.isArray(e?.cause) ? e.cause.map((c) => c.scheme) : null,
})
const attempt = async (f) => {
  try {
    return { ok: true, value: await f() }
  } catch (e) {
    return { ok: false, refused: describe(e) }
  }
}
const introspect = (auth, token) => attempt(async () => {
  const r = await oauth.introspectionRequest(as, client, auth, token, insecure)
  return oauth.processIntrospectionResponse(as, client, r)
})
const revoke = (auth, token) => attempt(async () => {
  const r = await oauth.revocationRequest(as, client, auth, token, insecure)
  await oauth.processRevocationResponse(r)
  return 'revoked'
})

const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }))
const out = {
  metadata: as,
  introspectBasic: await introspect(oauth.ClientSecretBasic(secret), env('TOKEN_A')),
  introspectBasicWrongSecret: await introspect(oauth.ClientSecretBasic(secret + 'x'), env('TOKEN_A')),
  revokePostWrongSecret: await revoke(oauth.ClientSecretPost(secret + 'x'), env('TOKEN_B')),
  introspectBeforeRevoke: await introspect(oauth.ClientSecretPost(secret), env('TOKEN_B')),
  revokePost: await revoke(oauth.ClientSecretPost(secret), env('TOKEN_B')),
  introspectAfterRevoke: await introspect(oauth.ClientSecretPost(secret), env('TOKEN_B')),
}
process.stdout.write(JSON.stringify(out) + '\n')
