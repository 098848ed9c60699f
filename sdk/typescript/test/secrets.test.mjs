// Secrets — the API key, the private key, tokens — never appear in an error message,
// an error's stack, a warning, or the printed/serialised client and config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { Behest, BehestConfigError, redact } from '@behest/client-ts';
import { json, rsaKey, startServer } from './helpers.mjs';

const API_KEY = 'behest_sk_live_SecretSecretSecret0000000000000xyz789';
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJ1aWQiOiJzZWNyZXQifQ.SIGNATURESECRET';

function captureConsole() {
  const lines = [];
  const saved = {};
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    saved[level] = console[level];
    console[level] = (...args) => lines.push(args.map((a) => (typeof a === 'string' ? a : inspect(a))).join(' '));
  }
  return { lines, restore: () => Object.assign(console, saved) };
}

function assertClean(text, label) {
  const pem = rsaKey().pkcs8;
  const pemBody = pem.split('\n')[1];
  for (const secret of [API_KEY, API_KEY.slice(15), JWT, 'SIGNATURESECRET', pemBody, 'PRIVATE KEY-----\nMII']) {
    assert.ok(!text.includes(secret), `${label} leaks a secret: ${text.slice(0, 400)}`);
  }
}

test('errors from a server that echoes the credentials carry none of them', async () => {
  // A hostile or buggy upstream that puts the Authorization header in its message.
  const server = await startServer((req, res) =>
    json(res, 401, { error: { message: `bad credentials: ${req.headers.authorization} (key ${API_KEY})`, code: 'invalid_token' } }),
  );
  const out = captureConsole();
  try {
    const behest = new Behest({ key: API_KEY, baseUrl: server.url, env: {} });
    for (const call of [
      () => behest.auth.mint({ user_id: 'u' }),
      () => behest.chat.completions.create({ messages: [{ role: 'user', content: 'x' }], token: JWT }),
      () => behest.chat.completions.create({ messages: [{ role: 'user', content: 'x' }], token: JWT, stream: true }),
    ]) {
      const err = await call().catch((e) => e);
      assert.equal(err.status, 401);
      assertClean(err.message, 'message');
      assertClean(String(err), 'String(err)');
      assertClean(err.stack, 'stack');
      assert.match(err.message, /Bearer \[redacted/);
    }
  } finally {
    out.restore();
    await server.close();
  }
  assertClean(out.lines.join('\n'), 'console');
});

test('the client and its config print and serialise without the key', async () => {
  const out = captureConsole();
  try {
    for (const behest of [
      new Behest({ key: API_KEY, env: {} }),
      new Behest({ key: `behest_pk_${rsaKey().pkcs8}`, kid: 'sk_x', tenantId: 't', projectId: 'p', env: {} }),
    ]) {
      assertClean(inspect(behest, { depth: 10, showHidden: false }), 'inspect(client)');
      assertClean(inspect(behest.config, { depth: 10 }), 'inspect(config)');
      assertClean(JSON.stringify(behest.config), 'JSON(config)');
      assertClean(JSON.stringify({ ...behest.config }), 'spread(config)');
      console.log(behest, behest.config);
      assert.ok(behest.config.key.length > 20, 'the key is still there to use');
    }
    // Deprecation warning for the legacy env name: names the variable, not the value.
    const warnings = [];
    new Behest({ env: { BEHEST_API_KEY: API_KEY }, warn: (m) => warnings.push(m) });
    assertClean(warnings.join('\n'), 'warning');
  } finally {
    out.restore();
  }
  assertClean(out.lines.join('\n'), 'console');
});

test('a malformed key or PEM is reported without echoing it', async () => {
  const bad = 'behest_sk_test_notALiveKeyButStillSecret123';
  const err = (() => {
    try {
      new Behest({ key: bad, env: {} });
    } catch (e) {
      return e;
    }
  })();
  assert.ok(err instanceof BehestConfigError);
  assert.ok(!err.message.includes('notALiveKeyButStillSecret'));
  const pem = rsaKey().pkcs8;
  const broken = `behest_pk_${pem.slice(0, 200)}`; // truncated
  const signer = new Behest({ key: broken, kid: 'sk_x', tenantId: 't', projectId: 'p', env: {} });
  const e2 = await signer.auth.mint({ user_id: 'u' }).catch((e) => e);
  assert.ok(e2 instanceof BehestConfigError);
  assertClean(e2.message + e2.stack, 'pem error');
});

test('network errors name no secret', async () => {
  const behest = new Behest({ key: API_KEY, baseUrl: 'http://127.0.0.1:9', env: {} });
  const err = await behest.auth.mint({ user_id: 'u' }).catch((e) => e);
  assert.equal(err.code, 'network_error');
  assertClean(err.message + err.stack, 'network error');
});

test('redact removes every shape of secret', () => {
  const text = `k=behest_sk_live_abcDEF123 pk=behest_pk_-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY----- t=${JWT} Authorization: Bearer opaque-token-123 b64=LS0tLS1CRUdJTiBQUklWQVRF`;
  const clean = redact(text);
  for (const s of ['abcDEF123', 'MIIEv', 'SIGNATURESECRET', 'opaque-token-123', 'LS0tLS1CRUdJTiBQUklWQVRF']) assert.ok(!clean.includes(s), clean);
});
