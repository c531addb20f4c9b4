// DPoP client of the e2e tests (e2e/dpop_test.go, e2e/sdk_dpop_test.go):
// npm's dpop makes the RFC 9449 proofs (ES256 or EdDSA), jose checks
// cnf.jkt independently and crafts stale proofs, and @noble/post-quantum
// makes ML-DSA-65 proofs with AKP keys (revocd's extension). Prints one
// JSON report. Usage:
//   node client.mjs <revocd URL> [ES256|EdDSA]     token endpoints and /token/validate
//   node client.mjs <revocd URL> nonce             DPOP_NONCE_REQUIRED
//   node client.mjs <revocd URL> sdk <alg> <resource server URL>
//                                                  the Go SDK's middleware (examples/resource-server)
//   node client.mjs <revocd URL> mldsa [resource server URL]
import * as DPoP from 'dpop'
import * as jose from 'jose'
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js'

const base = process.argv[2]
const mode = process.argv[3] ?? 'ES256'
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

// npm's dpop names Ed25519 keys' proofs "Ed25519" (RFC 9864's
// fully-specified name); the stale proofs made with jose use "EdDSA".
const alg = ['ES256', 'EdDSA'].includes(mode) ? mode : (mode === 'sdk' ? process.argv[4] : 'ES256')
const kp = await DPoP.generateKeyPair(alg === 'EdDSA' ? 'Ed25519' : alg)
const other = await DPoP.generateKeyPair(alg === 'EdDSA' ? 'Ed25519' : alg)

const b64u = (bytes) => jose.base64url.encode(bytes)
const athOf = async (token) => b64u(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token))))

// staleProof is a proof by key pair k signed 10 minutes ago (jose).
async function staleProof(k, htm, htu, token) {
  return new jose.SignJWT({ jti: crypto.randomUUID(), htm, htu, ath: await athOf(token) })
    .setProtectedHeader({ typ: 'dpop+jwt', alg, jwk: await jose.exportJWK(k.publicKey) })
    .setIssuedAt(Math.floor(Date.now() / 1000) - 600)
    .sign(k.privateKey)
}

// get calls the resource server's GET /protected.
async function get(url, auth, proofs = []) {
  const headers = new Headers()
  if (auth) headers.set('authorization', auth)
  for (const p of proofs) headers.append('dpop', p)
  const r = await fetch(url, { headers })
  const text = await r.text()
  let body = null
  try { body = JSON.parse(text) } catch { body = text }
  return { status: r.status, wwwAuthenticate: r.headers.get('www-authenticate'), detail: body?.detail ?? null, sub: body?.sub ?? null }
}

if (mode === 'sdk') {
  // The Go SDK's middleware checks the proofs: the resource server sees
  // GET <ex>/protected, so that is the htu.
  const ex = process.argv[5] + '/protected'
  const issued = await call('/token', { subject: 'sdk-alice' }, await DPoP.generateProof(kp, base + '/token', 'POST'))
  const at = issued.body.access_token
  const plain = (await call('/token', { subject: 'sdk-bob' })).body.access_token
  const good = await DPoP.generateProof(kp, ex, 'GET', undefined, at)
  const report = {
    jkt: await jktOf(kp), tokenType: issued.body.token_type, cnf: jose.decodeJwt(at).cnf ?? null, jti: issued.body.jti,
    valid: await get(ex, 'DPoP ' + at, [good]),
    replayed: await get(ex, 'DPoP ' + at, [good]),
    otherKey: await get(ex, 'DPoP ' + at, [await DPoP.generateProof(other, ex, 'GET', undefined, at)]),
    wrongHtm: await get(ex, 'DPoP ' + at, [await DPoP.generateProof(kp, ex, 'POST', undefined, at)]),
    wrongHtu: await get(ex, 'DPoP ' + at, [await DPoP.generateProof(kp, 'https://evil.example/protected', 'GET', undefined, at)]),
    staleIat: await get(ex, 'DPoP ' + at, [await staleProof(kp, 'GET', ex, at)]),
    missingAth: await get(ex, 'DPoP ' + at, [await DPoP.generateProof(kp, ex, 'GET')]),
    noProof: await get(ex, 'DPoP ' + at),
    boundAsBearer: await get(ex, 'Bearer ' + at),
    unboundAsDPoP: await get(ex, 'DPoP ' + plain, [await DPoP.generateProof(kp, ex, 'GET', undefined, plain)]),
    plainBearer: await get(ex, 'Bearer ' + plain),
  }
  console.log(JSON.stringify(report))
  process.exit(0)
}

if (mode === 'mldsa') {
  // ML-DSA-65 proofs with AKP keys (revocd's extension), made with an
  // independent ML-DSA implementation (@noble/post-quantum): the JWS is
  // assembled here, the thumbprint computed here from RFC 7638's rules.
  const akp = () => {
    const k = ml_dsa65.keygen()
    return { ...k, jwk: { kty: 'AKP', alg: 'ML-DSA-65', pub: b64u(k.publicKey) } }
  }
  const key = akp()
  const otherKey = akp()
  const enc = (o) => b64u(new TextEncoder().encode(JSON.stringify(o)))
  async function proof(k, htm, htu, token, iat = Math.floor(Date.now() / 1000)) {
    const claims = { jti: crypto.randomUUID(), htm, htu, iat }
    if (token) claims.ath = await athOf(token)
    const input = enc({ typ: 'dpop+jwt', alg: 'ML-DSA-65', jwk: k.jwk }) + '.' + enc(claims)
    return input + '.' + b64u(ml_dsa65.sign(new TextEncoder().encode(input), k.secretKey))
  }
  const jkt = b64u(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(
    `{"alg":"ML-DSA-65","kty":"AKP","pub":"${key.jwk.pub}"}`))))
  const issued = await call('/token', { subject: 'pq-alice' }, await proof(key, 'POST', base + '/token'))
  const at = issued.body.access_token
  async function validate(p) {
    const body = { token: at }
    if (p) Object.assign(body, { dpop_proof: p, htm: 'GET', htu: rs })
    const r = await call('/token/validate', body)
    return { status: r.status, valid: r.body.valid, revoked: r.body.revoked, message: r.body.message }
  }
  const good = await proof(key, 'GET', rs, at)
  const report = {
    jkt, issue: { status: issued.status, tokenType: issued.body.token_type, cnf: at ? jose.decodeJwt(at).cnf ?? null : null, jti: issued.body.jti, body: issued.status === 200 ? null : issued.body },
    validate: {
      valid: await validate(good),
      replayed: await validate(good),
      otherKey: await validate(await proof(otherKey, 'GET', rs, at)),
      staleIat: await validate(await proof(key, 'GET', rs, at, Math.floor(Date.now() / 1000) - 600)),
      noProof: await validate(null),
    },
  }
  const created = await call('/token/refresh/create', { subject: 'pq-alice', client_binding: 'pq-device' }, await proof(key, 'POST', base + '/token/refresh/create'))
  const refreshBody = { refresh_token: created.body.refresh_token, client_binding: 'pq-device' }
  report.refreshOtherKey = await call('/token/refresh', refreshBody, await proof(otherKey, 'POST', base + '/token/refresh'))
  const refreshed = await call('/token/refresh', refreshBody, await proof(key, 'POST', base + '/token/refresh'))
  report.refreshBound = { status: refreshed.status, tokenType: refreshed.body.token_type, accessCnf: refreshed.body.access_token ? jose.decodeJwt(refreshed.body.access_token).cnf ?? null : null }
  if (process.argv[4]) {
    const ex = process.argv[4] + '/protected'
    const g = await proof(key, 'GET', ex, at)
    report.sdk = {
      valid: await get(ex, 'DPoP ' + at, [g]),
      replayed: await get(ex, 'DPoP ' + at, [g]),
      otherKey: await get(ex, 'DPoP ' + at, [await proof(otherKey, 'GET', ex, at)]),
    }
  }
  console.log(JSON.stringify(report))
  process.exit(0)
}

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
const report = { jkt: await jktOf(kp), kty: (await jose.exportJWK(kp.publicKey)).kty }

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
const stale = await staleProof(kp, 'GET', rs, at)
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
