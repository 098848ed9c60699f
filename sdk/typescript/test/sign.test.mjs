// Sign mode: a token signed locally verifies with the gateway's rules, with the header
// and the claims in the order the server mints them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Behest, BehestConfigError, BehestBadRequestError, decodeToken } from '@behest/client-ts';
import { rsaKey, verifyLikeTheServer } from './helpers.mjs';

const TENANT = '6f9619ff-8b86-4d11-b42d-00c04fc964ff';
const PROJECT = '0b5fd6a1-6c34-4a40-8a3e-3b8d3f1f2e10';

function signer(extra = {}) {
  return new Behest({
    key: `behest_pk_${rsaKey().pkcs8}`,
    kid: 'sk_testkey000000000000000001',
    tenantId: TENANT,
    projectId: PROJECT,
    env: {},
    ...extra,
  });
}

test('a locally signed token verifies with the server rules, claims in the server order', async () => {
  const behest = signer();
  assert.equal(behest.mode, 'sign');
  const minted = await behest.auth.mint({ user_id: 'user-123', tier: 2, ttl: 900, session_id: 'sess-1' });
  const { header, claims, rawHeader, rawClaims } = verifyLikeTheServer(minted.token, rsaKey().publicPem);
  assert.equal(rawHeader, JSON.stringify({ alg: 'RS256', kid: 'sk_testkey000000000000000001', typ: 'JWT' }));
  assert.deepEqual(Object.keys(header), ['alg', 'kid', 'typ']);
  assert.deepEqual(Object.keys(claims), ['tid', 'pid', 'uid', 'role', 'scp', 'iss', 'aud', 'iat', 'nbf', 'exp', 'jti', 'sid', 'tier']);
  assert.ok(rawClaims.startsWith('{"tid":'));
  assert.equal(claims.tid, TENANT);
  assert.equal(claims.pid, PROJECT);
  assert.equal(claims.uid, 'user-123');
  assert.equal(claims.role, 'user');
  assert.deepEqual(claims.scp, []);
  assert.equal(claims.iss, 'https://api.behest.ai');
  assert.equal(claims.aud, 'behest');
  assert.equal(claims.nbf, claims.iat);
  assert.equal(claims.exp - claims.iat, 900);
  assert.match(claims.jti, /^[0-9a-f-]{36}$/);
  assert.equal(claims.sid, 'sess-1');
  assert.equal(claims.tier, 2);
  // What auth.mint returns, as the quickstart destructures it (and the Python spellings).
  const { token, ttl, sessionId, expiresAt } = minted;
  assert.equal(typeof token, 'string');
  assert.equal(ttl, 900);
  assert.equal(sessionId, 'sess-1');
  assert.equal(expiresAt, claims.exp);
  assert.equal(minted.session_id, 'sess-1');
  assert.equal(minted.expires_at, claims.exp);
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(minted))).sort(), ['expiresAt', 'sessionId', 'token', 'ttl']);
});

test('no tier: no tier claim; a new session id and jti per token', async () => {
  const behest = signer();
  const a = await behest.auth.mint({ user_id: 'u' });
  const b = await behest.auth.mint({ user_id: 'u' });
  const ca = decodeToken(a.token);
  assert.equal('tier' in ca, false);
  assert.equal(a.ttl, 3600);
  assert.notEqual(a.sessionId, b.sessionId);
  assert.notEqual(ca.jti, decodeToken(b.token).jti);
  assert.equal(ca.sid, a.sessionId);
  assert.equal(behest.auth.lastSessionId, b.sessionId);
});

test('issuer, audience, user, ttl and tier come from the environment', async () => {
  const behest = new Behest({
    env: {
      BEHEST_KEY: `behest_pk_${rsaKey().pkcs8}`,
      BEHEST_KID: 'sk_fromenv',
      BEHEST_TENANT_ID: TENANT,
      BEHEST_PROJECT_ID: PROJECT,
      BEHEST_ISSUER: 'behest',
      BEHEST_AUDIENCE: 'behest',
      BEHEST_USER_ID: 'env-user',
      BEHEST_TTL: '120',
      BEHEST_TIER: 'gold',
    },
  });
  const minted = await behest.auth.mint();
  const { header, claims } = verifyLikeTheServer(minted.token, rsaKey().publicPem);
  assert.equal(header.kid, 'sk_fromenv');
  assert.equal(claims.iss, 'behest');
  assert.equal(claims.uid, 'env-user');
  assert.equal(claims.exp - claims.iat, 120);
  assert.equal(claims.tier, 'gold');
});

test('PKCS#1, base64-wrapped and one-line (\\n-escaped) keys sign too', async () => {
  const { pkcs1, pkcs8, publicPem } = rsaKey();
  for (const key of [
    `behest_pk_${pkcs1}`,
    Buffer.from(pkcs8).toString('base64'),
    `behest_pk_${pkcs8.replace(/\n/g, '\\n')}`,
  ]) {
    const behest = signer({ key });
    assert.equal(behest.mode, 'sign');
    verifyLikeTheServer((await behest.auth.mint({ user_id: 'u' })).token, publicPem);
  }
});

test('sign mode needs kid, tenant and project, and a real key', async () => {
  assert.throws(
    () => new Behest({ key: `behest_pk_${rsaKey().pkcs8}`, env: {} }).config,
    (err) => err instanceof BehestConfigError && err.code === 'missing_env' && /BEHEST_KID, BEHEST_TENANT_ID, BEHEST_PROJECT_ID/.test(err.message),
  );
  const broken = signer({ key: 'behest_pk_-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' });
  await assert.rejects(broken.auth.mint({ user_id: 'u' }), (err) => err instanceof BehestConfigError && err.code === 'invalid_signing_key');
  await assert.rejects(signer().auth.mint({ user_id: 'u', ttl: 30 }), BehestBadRequestError);
});

test('an expired token fails the server rules (the verifier is not a rubber stamp)', async () => {
  const behest = signer({ clock: () => Date.now() - 7200_000 });
  const minted = await behest.auth.mint({ user_id: 'u', ttl: 3600 });
  assert.throws(() => verifyLikeTheServer(minted.token, rsaKey().publicPem), /expired/);
  const other = signer({ issuer: 'https://evil.example' });
  const wrongIssuer = (await other.auth.mint({ user_id: 'u' })).token;
  assert.throws(() => verifyLikeTheServer(wrongIssuer, rsaKey().publicPem), /iss/);
});
