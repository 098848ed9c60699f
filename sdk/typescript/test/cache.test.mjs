// The token cache: a token is reused until shortly before it expires, then re-minted
// (clock injected); concurrent calls share one mint; chat uses the cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Behest } from '@behest/client-ts';
import { json, startServer, rsaKey, chunk } from './helpers.mjs';

const KEY = 'behest_sk_live_CacheTestKey000000000000000000abc123';

async function mintServer(nowSec) {
  let n = 0;
  const server = await startServer((req, res, body) => {
    if (req.url === '/v1/auth/mint') {
      n += 1;
      const { ttl, session_id } = JSON.parse(body);
      return json(res, 200, {
        access_token: `eyJhbGciOiJSUzI1NiJ9.eyJuIjo${n}fQ.sig${n}`,
        token_type: 'Bearer',
        project_id: 'p',
        expires_in: ttl,
        ttl,
        session_id,
        expires_at: nowSec() + ttl,
      });
    }
    if (req.url === '/v1/chat/completions') return json(res, 200, { ...chunk('x'), object: 'chat.completion', auth: req.headers.authorization, sid: req.headers['x-session-id'] });
    json(res, 404, {});
  });
  return { server, mints: () => n };
}

test('getToken reuses a token until 60 s before it expires, then mints again', async () => {
  let now = 1_800_000_000_000;
  const { server, mints } = await mintServer(() => Math.floor(now / 1000));
  try {
    const behest = new Behest({ key: KEY, baseUrl: server.url, env: {}, clock: () => now });
    const first = await behest.auth.getToken({ user_id: 'u', ttl: 900 });
    assert.equal(mints(), 1);
    assert.equal(first.expiresAt, Math.floor(now / 1000) + 900);
    now += (900 - 61) * 1000; // 61 s left: still fresh
    assert.equal((await behest.auth.getToken({ user_id: 'u', ttl: 900 })).token, first.token);
    assert.equal(mints(), 1);
    now += 2000; // 59 s left: re-mint
    const second = await behest.auth.getToken({ user_id: 'u', ttl: 900 });
    assert.equal(mints(), 2);
    assert.notEqual(second.token, first.token);
    // Another user is another entry; auth.mint always mints.
    await behest.auth.getToken({ user_id: 'v', ttl: 900 });
    assert.equal(mints(), 3);
    await behest.auth.mint({ user_id: 'u', ttl: 900 });
    assert.equal(mints(), 4);
  } finally {
    await server.close();
  }
});

test('concurrent getToken calls share one mint; a failed mint is not cached', async () => {
  let now = 1_800_000_000_000;
  const { server, mints } = await mintServer(() => Math.floor(now / 1000));
  try {
    const behest = new Behest({ key: KEY, baseUrl: server.url, env: {}, clock: () => now });
    const tokens = await Promise.all(Array.from({ length: 5 }, () => behest.auth.getToken({ user_id: 'u' })));
    assert.equal(mints(), 1);
    assert.equal(new Set(tokens.map((t) => t.token)).size, 1);
  } finally {
    await server.close();
  }
  let calls = 0;
  const flaky = new Behest({
    key: KEY,
    baseUrl: 'http://127.0.0.1:9',
    env: {},
    fetch: async () => {
      calls += 1;
      if (calls === 1) throw new TypeError('fetch failed');
      return new Response(JSON.stringify({ access_token: 'eyJa.eyJb.c', ttl: 600, session_id: 's' }), { status: 200 });
    },
  });
  await assert.rejects(flaky.auth.getToken({ user_id: 'u' }));
  assert.equal((await flaky.auth.getToken({ user_id: 'u' })).token, 'eyJa.eyJb.c');
});

test('chat.completions.create mints once for several calls and sends the session', async () => {
  let now = 1_800_000_000_000;
  const { server, mints } = await mintServer(() => Math.floor(now / 1000));
  try {
    const behest = new Behest({ key: KEY, baseUrl: server.url, env: {}, clock: () => now });
    const a = await behest.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], user_id: 'u' });
    const b = await behest.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], user_id: 'u' });
    assert.equal(mints(), 1);
    assert.equal(a.auth, b.auth);
    assert.equal(a.sid, behest.auth.lastSessionId);
    const body = JSON.parse(server.requests.at(-1).body);
    assert.deepEqual(Object.keys(body).sort(), ['messages']); // SDK options are not sent
  } finally {
    await server.close();
  }
});

test('sign mode: the cache re-signs near expiry too', async () => {
  let now = 1_800_000_000_000;
  const behest = new Behest({
    key: `behest_pk_${rsaKey().pkcs8}`,
    kid: 'sk_cache',
    tenantId: 't',
    projectId: 'p',
    env: {},
    clock: () => now,
  });
  const a = await behest.auth.getToken({ user_id: 'u', ttl: 300 });
  now += 200_000;
  assert.equal((await behest.auth.getToken({ user_id: 'u', ttl: 300 })).token, a.token);
  now += 50_000; // 50 s left
  assert.notEqual((await behest.auth.getToken({ user_id: 'u', ttl: 300 })).token, a.token);
});
