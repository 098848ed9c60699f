// Configuration as behest-ai v1.5 resolves it: the environment, the legacy variable
// warned once, the mode by key prefix; and *.localhost project hosts on Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Behest, BehestConfigError, _resetWarnings, detectMode, VERSION } from '@behest/client-ts';
import { json, rsaKey, startServer } from './helpers.mjs';

const KEY = 'behest_sk_live_ConfigTestKey00000000000000000abc123';

test('BEHEST_KEY and BEHEST_BASE_URL from the environment (process.env by default)', () => {
  const saved = { ...process.env };
  try {
    process.env.BEHEST_KEY = KEY;
    process.env.BEHEST_BASE_URL = 'http://amber-fox-042.localhost:8080';
    const behest = new Behest();
    assert.equal(behest.mode, 'apiKey');
    assert.equal(behest.config.baseUrl, 'http://amber-fox-042.localhost:8080');
    assert.equal(behest.config.defaultUserId, 'default');
    assert.equal(behest.config.ttl, 3600);
    assert.equal(behest.config.issuer, 'https://api.behest.ai');
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
  assert.equal(VERSION, '1.5.0-beta.1');
});

test('the legacy BEHEST_API_KEY works with one deprecation warning', () => {
  _resetWarnings();
  const warnings = [];
  for (let i = 0; i < 3; i += 1) {
    const behest = new Behest({ env: { BEHEST_API_KEY: KEY }, warn: (m) => warnings.push(m) });
    assert.equal(behest.mode, 'apiKey');
  }
  assert.deepEqual(warnings, ['`BEHEST_API_KEY` is deprecated; rename to `BEHEST_KEY`.']);
  // BEHEST_KEY wins, silently.
  new Behest({ env: { BEHEST_KEY: KEY, BEHEST_API_KEY: 'behest_sk_live_other' }, warn: (m) => warnings.push(m) });
  assert.equal(warnings.length, 1);
});

test('mode by prefix; no key, or a key of neither kind, is a config error', async () => {
  assert.deepEqual(detectMode(`  ${KEY}\n`), { mode: 'apiKey', key: KEY });
  assert.equal(detectMode(`behest_pk_${rsaKey().pkcs8}`).mode, 'sign');
  // No key at all: reported on first use (so a build without secrets still loads the
  // module), and looked up again until then.
  const env = {};
  const lazy = new Behest({ env });
  assert.throws(() => lazy.mode, (e) => e instanceof BehestConfigError && e.code === 'missing_env');
  await assert.rejects(lazy.auth.mint({ user_id: 'u' }), (e) => e instanceof BehestConfigError && e.code === 'missing_env');
  env.BEHEST_KEY = KEY;
  assert.equal(lazy.mode, 'apiKey');
  assert.throws(() => new Behest({ key: 'sk-openai-abc', env: {} }), (e) => e instanceof BehestConfigError && e.code === 'bad_key_format');
});

test('a *.localhost project host reaches the loopback server on Node, Host header kept', async () => {
  const server = await startServer((req, res) => json(res, 200, { access_token: 'eyJa.eyJb.c', ttl: 60, session_id: 's', host: req.headers.host }));
  try {
    const behest = new Behest({ key: KEY, baseUrl: `http://amber-fox-042.localhost:${server.port}`, env: {} });
    const minted = await behest.auth.mint({ user_id: 'u', ttl: 60 });
    assert.equal(minted.token, 'eyJa.eyJb.c');
    assert.equal(server.requests[0].headers.host, `amber-fox-042.localhost:${server.port}`);
    assert.equal(server.requests[0].url, '/v1/auth/mint');
    const sent = JSON.parse(server.requests[0].body);
    assert.deepEqual(Object.keys(sent), ['user_id', 'role', 'ttl', 'session_id']);
    assert.deepEqual({ ...sent, session_id: undefined }, { user_id: 'u', role: 'user', ttl: 60, session_id: undefined });
    assert.match(sent.session_id, /^[0-9a-f-]{36}$/);
    assert.equal(minted.sessionId, 's'); // the server's answer wins
  } finally {
    await server.close();
  }
});

test('mintToken (deprecated) returns the legacy and the new shape', async () => {
  const warnings = [];
  const behest = new Behest({ key: `behest_pk_${rsaKey().pkcs8}`, kid: 'sk_x', tenantId: 't', projectId: 'p', env: {}, warn: (m) => warnings.push(m) });
  const legacy = await behest.mintToken({ userId: 'u', sessionId: 's1' });
  assert.equal(legacy.access_token, legacy.token);
  assert.equal(legacy.sessionId, 's1');
  assert.equal(legacy.session_id, 's1');
  assert.equal(legacy.expires_in, 3600);
  assert.equal(warnings.length, 1);
});
