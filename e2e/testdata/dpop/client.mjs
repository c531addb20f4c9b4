// DPoP client of the e2e test (e2e/dpop_test.go): npm's dpop makes the RFC
// 9449 proofs, jose checks cnf.jkt independently and crafts a stale proof.
// Usage: node client.mjs <revocd base URL>. Prints one JSON report.
import * as DPoP from 'dpop'
import * as jose from 'jose'

const base = process.argv[2]
const rs = 'https://rs.example/api/things' // the URL the resource server saw

async function call(path, body, proof) {
  const headers = { 'content-type': 'application/json' }
  if (proof) headers.DPoP = proof
  const r = await fetch(base + path, { method: 'POST', headers, body: JSON.stringify(body) })
  return { status: r.status, wwwAuthenticate: r.headers.get('www-authenticate'), dpopNonce: r.headers.get('dpop-nonce'), body: await r.json() }
}

async function jktOf(kp) {
  return jose.calculateJwkThumbprint(await jose.exportJWK(kp.publicKey), 'sha256')
}

const kp = await DPoP.generateKeyPair('ES256')
const other = await DPoP.generateKeyPair('ES256')

if (process.argv[3] === 'nonce') {
  // DPOP_NONCE_REQUIRED: the first proof has no nonce; retry with the
  // DPoP-Nonce the server sent, as RFC 9449 §8 clients do.
  const first = await call('/token', { subject: 'dpop-nonce' }, await DPoP.generateProof(kp, base + '/token', 'POST'))
  const r = await call('/token', { subject: 'dpop-nonce' })
  const nonce = first.dpopNonce
  const retried = await call('/token', { subject: 'dpop-nonce' }, await DPoP.generateProof(kp, base + '/token', 'POST', nonce))
  console.log(JSON.stringify({
    jkt: await jktOf(kp),
    first, nonce, bearerStatus: r.status,
    retried: { status: retried.status, tokenType: retried.body.token_type, cnf: retried.body.access_token ? jose.decodeJwt(retried.body.access_token).cnf ?? null : null, body: retried.body },
  }))
  process.exit(0)
}
const report = { jkt: await jktOf(kp) }

// Issuance: bound with a proof, bearer without, refused with a bad one.
const issued = await call('/token', { subject: 'dpop-alice' }, await DPoP.generateProof(kp, base + '/token', 'POST'))
const at = issued.body.access_token
report.issue = { status: issued.status, tokenType: issued.body.token_type, cnf: jose.decodeJwt(at).cnf ?? null, jti: issued.body.jti, token: at }
const plain = await call('/token', { subject: 'dpop-bob' })
report.plain = { status: plain.status, tokenType: plain.body.token_type, cnf: jose.decodeJwt(plain.body.access_token).cnf ?? null }
const badIssue = await call('/token', { subject: 'dpop-carol' }, await DPoP.generateProof(kp, base + '/token', 'GET'))
report.badIssue = badIssue

// Validation with the proof the resource server received.
async function validate(proof, htm = 'GET', htu = rs) {
  const body = { token: at }
  if (proof) Object.assign(body, { dpop_proof: proof, htm, htu })
  const r = await call('/token/validate', body)
  return { status: r.status, valid: r.body.valid, revoked: r.body.revoked, message: r.body.message }
}
const good = await DPoP.generateProof(kp, rs, 'GET', undefined, at)
const staleJwk = await jose.exportJWK(kp.publicKey)
const stale = await new jose.SignJWT({ jti: crypto.randomUUID(), htm: 'GET', htu: rs, ath: jose.base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(at)))) })
  .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: staleJwk })
  .setIssuedAt(Math.floor(Date.now() / 1000) - 600)
  .sign(kp.privateKey)
report.validate = {
  valid: await validate(good),
  otherKey: await validate(await DPoP.generateProof(other, rs, 'GET', undefined, at)),
  replayed: await validate(good),
  wrongHtm: await validate(await DPoP.generateProof(kp, rs, 'POST', undefined, at)),
  wrongHtu: await validate(await DPoP.generateProof(kp, 'https://evil.example/api/things', 'GET', undefined, at)),
  staleIat: await validate(stale),
  missingAth: await validate(await DPoP.generateProof(kp, rs, 'GET')),
  noProof: await validate(null),
}

// Refresh: bound at creation, refreshing needs a proof by the same key.
const created = await call('/token/refresh/create', { subject: 'dpop-alice', client_binding: 'device-1' }, await DPoP.generateProof(kp, base + '/token/refresh/create', 'POST'))
const rt = created.body.refresh_token
report.refreshCreate = { status: created.status, tokenType: created.body.token_type, refreshCnf: jose.decodeJwt(rt).cnf ?? null, accessCnf: jose.decodeJwt(created.body.access_token).cnf ?? null }
const refreshBody = { refresh_token: rt, client_binding: 'device-1' }
report.refreshNoProof = await call('/token/refresh', refreshBody)
report.refreshOtherKey = await call('/token/refresh', refreshBody, await DPoP.generateProof(other, base + '/token/refresh', 'POST'))
const refreshed = await call('/token/refresh', refreshBody, await DPoP.generateProof(kp, base + '/token/refresh', 'POST'))
report.refreshBound = { status: refreshed.status, tokenType: refreshed.body.token_type, accessCnf: refreshed.body.access_token ? jose.decodeJwt(refreshed.body.access_token).cnf ?? null : null, body: refreshed.status === 200 ? null : refreshed.body }

console.log(JSON.stringify(report))
