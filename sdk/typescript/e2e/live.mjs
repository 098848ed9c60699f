// The SDK against a running `behest serve`, both modes: mint and sign, chat (JSON and
// streamed), threads, usage, and a refusal typed with the server's code and trace id.
// Run by crates/behest/tests/quickstart.rs with:
//   BEHEST_BASE_URL (the project host), API_KEY, SIGNING_KEY, KID, TENANT_ID, PROJECT_ID
// Prints one JSON line; exit 0 when every check passed.
import assert from 'node:assert/strict';
import { Behest, BehestAuthError, BehestBadRequestError } from '../dist/esm/index.js';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`missing env ${name}`);
  return v;
};
const baseUrl = env('BEHEST_BASE_URL');
const report = {};

async function exercise(label, behest) {
  const user = `live-${label}-user`;
  const minted = await behest.auth.mint({ user_id: user, ttl: 600 });
  assert.equal(minted.ttl, 600);
  const answer = await behest.chat.completions.create({ messages: [{ role: 'user', content: `json ${label}` }], user_id: user, thread_id: `thread-${label}` });
  assert.equal(answer.choices[0].message.content, `json ${label}`);
  let streamed = '';
  let chunks = 0;
  const stream = await behest.chat.completions.create({ messages: [{ role: 'user', content: `stream ${label}` }], stream: true, user_id: user, thread_id: `thread-${label}` });
  for await (const c of stream) {
    chunks += 1;
    streamed += c.choices[0]?.delta?.content ?? '';
  }
  assert.equal(streamed, `stream ${label}`);
  const threads = await behest.threads.list({ user_id: user });
  assert.ok(Array.isArray(threads));
  let usage = null;
  try {
    usage = await behest.usage.get({ user_id: user, granularity: 'day' });
    assert.equal(usage.user_id, user);
  } catch (err) {
    if (err.code !== 'not_supported') throw err;
  }
  report[label] = { mode: behest.mode, chunks, threads: threads.length, usageRequests: usage?.totals?.requests ?? null };
}

try {
  await exercise('mint', new Behest({ key: env('API_KEY'), baseUrl, env: {} }));
  await exercise(
    'sign',
    new Behest({ key: env('SIGNING_KEY'), kid: env('KID'), tenantId: env('TENANT_ID'), projectId: env('PROJECT_ID'), baseUrl, env: {} }),
  );
  // Refusals from the real server, typed.
  const bad = new Behest({ key: 'behest_sk_live_000000000000000000000000000000000000', baseUrl, env: {} });
  const e1 = await bad.auth.mint({ user_id: 'u' }).catch((e) => e);
  assert.ok(e1 instanceof BehestAuthError, String(e1));
  assert.equal(e1.status, 401);
  assert.equal(e1.code, 'invalid_token');
  assert.ok(e1.traceId);
  const e2 = await new Behest({ key: env('API_KEY'), baseUrl, env: {} }).auth.mint({ user_id: 'u', ttl: 5 }).catch((e) => e);
  assert.ok(e2 instanceof BehestBadRequestError, String(e2));
  assert.equal(e2.code, 'validation_error');
  assert.ok(!e2.message.includes(env('API_KEY').slice(15)));
  report.errors = { auth: e1.code, badRequest: e2.code };
  process.stdout.write(JSON.stringify({ ok: true, ...report }) + '\n');
} catch (err) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(err?.stack ?? err), ...report }) + '\n');
  process.exitCode = 1;
}
