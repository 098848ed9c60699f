// Every error status the gateway answers maps to its class, with status, code, the
// trace id and (429) Retry-After — on mint, on chat, and as a mid-stream error event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Behest,
  BehestAuthError,
  BehestBadRequestError,
  BehestContentError,
  BehestError,
  BehestKillSwitchError,
  BehestQuotaError,
  BehestRateLimitError,
  BehestServerError,
  classifyHttpError,
  parseRetryAfter,
} from '@behest/client-ts';
import { json, startServer } from './helpers.mjs';

const KEY = 'behest_sk_live_ErrorRowsTestKey0000000000000000abc123';

// [status, code, class, extra headers]
const ROWS = [
  [400, 'validation_error', BehestBadRequestError],
  [400, 'UNKNOWN_MODEL', BehestBadRequestError],
  [422, 'PROVIDER_NOT_CONFIGURED', BehestBadRequestError],
  [401, 'invalid_token', BehestAuthError],
  [401, 'token_expired', BehestAuthError],
  [403, 'forbidden', BehestAuthError],
  [402, 'quota_exceeded', BehestQuotaError],
  [429, 'rate_limited', BehestRateLimitError, { 'retry-after': '17' }],
  [451, 'content_blocked', BehestContentError],
  [451, 'pii_blocked', BehestContentError],
  [503, 'kill_switch', BehestKillSwitchError],
  [503, 'budget_unavailable', BehestServerError],
  [502, 'upstream_error', BehestServerError],
  [504, 'upstream_timeout', BehestServerError],
  [500, 'internal_error', BehestServerError],
  [404, 'not_found', BehestError],
];

async function errorServer() {
  return startServer((req, res) => {
    const [status, code, , headers] = ROWS[Number(new URL(req.url, 'http://x').searchParams.get('row') ?? req.headers['x-row'])];
    json(res, status, { error: { message: `refused: ${code}`, type: 'test', code, param: null } }, { 'x-trace-id': `trace-${code}`, ...headers });
  });
}

test('every status maps to its class, on mint and on chat', async () => {
  const server = await errorServer();
  try {
    for (const [i, [status, code, cls]] of ROWS.entries()) {
      const behest = new Behest({
        key: KEY,
        baseUrl: server.url,
        env: {},
        fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, 'x-row': String(i) } }),
      });
      for (const call of [
        () => behest.auth.mint({ user_id: 'u' }),
        () => behest.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], token: 'eyJx.eyJy.z' }),
        () => behest.threads.list({ token: 'eyJx.eyJy.z' }),
      ]) {
        await assert.rejects(call(), (err) => {
          assert.ok(err instanceof cls, `${status} ${code}: ${err?.constructor?.name}`);
          assert.ok(err instanceof BehestError);
          assert.equal(err.status, status);
          assert.equal(err.code, code);
          assert.equal(err.traceId, `trace-${code}`);
          assert.equal(err.trace_id, `trace-${code}`);
          assert.equal(err.message, `refused: ${code}`);
          assert.equal(err.name, cls.name);
          if (status === 429) {
            assert.equal(err.retryAfter, 17);
            assert.equal(err.retry_after, 17);
          }
          return true;
        });
      }
    }
  } finally {
    await server.close();
  }
});

test('without a code, the class default is used', () => {
  assert.equal(classifyHttpError(401).code, 'invalid_token');
  assert.equal(classifyHttpError(403).code, 'forbidden');
  assert.equal(classifyHttpError(402).code, 'quota_exceeded');
  assert.equal(classifyHttpError(429).code, 'rate_limited');
  assert.equal(classifyHttpError(451).code, 'content_blocked');
  assert.equal(classifyHttpError(500).code, 'server_error');
  assert.equal(classifyHttpError(400).code, 'validation_error');
  assert.equal(classifyHttpError(503).constructor, BehestServerError);
  assert.equal(classifyHttpError(418).constructor, BehestError);
  assert.equal(classifyHttpError(500, { body: 'plain text' }).message, 'HTTP 500');
});

test('Retry-After: seconds or an HTTP date', () => {
  assert.equal(parseRetryAfter('3'), 3);
  assert.equal(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2030, 0, 1)), 10);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(parseRetryAfter(undefined), undefined);
});

test('a network failure is a BehestServerError network_error', async () => {
  const server = await startServer((req, res) => res.end());
  const url = server.url;
  await server.close();
  const behest = new Behest({ key: KEY, baseUrl: url, env: {} });
  await assert.rejects(behest.auth.mint({ user_id: 'u' }), (err) => err instanceof BehestServerError && err.code === 'network_error');
});

test('usage answering 404 is not_supported', async () => {
  const server = await startServer((req, res) => json(res, 404, { error: { message: 'no route', code: 'not_found' } }, { 'x-trace-id': 't404' }));
  try {
    const behest = new Behest({ key: KEY, baseUrl: server.url, env: {} });
    await assert.rejects(behest.usage.get({ token: 'eyJx.eyJy.z' }), (err) => err.code === 'not_supported' && err.status === 404 && err.traceId === 't404');
  } finally {
    await server.close();
  }
});
