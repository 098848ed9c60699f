// Streaming against a local node:http server that speaks OpenAI SSE: the server's
// chunks, in order, however the bytes are split; stop at [DONE]; a mid-stream error
// event raises its typed error; aborting ends the stream and closes the connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Behest, BehestKillSwitchError, BehestRateLimitError, BehestServerError, BehestAuthError } from '@behest/client-ts';
import { chunk, json, sleep, sseHead, startServer } from './helpers.mjs';

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJ1aWQiOiJ1In0.c2ln';
const behestFor = (server) => new Behest({ key: 'behest_sk_live_StreamTestKey00000000000000000abc12', baseUrl: server.url, env: {} });
const ask = (extra = {}) => ({ messages: [{ role: 'user', content: 'hi' }], stream: true, token: TOKEN, session_id: 'sess', ...extra });

const PIECES = ['Hel', 'lo ', 'from ', 'the ', 'stream', ' ✓'];

async function sseServer(script) {
  const closed = [];
  const server = await startServer(async (req, res, body) => {
    res.on('close', () => closed.push(Date.now()));
    await script(req, res, JSON.parse(body || '{}'));
  });
  return { server, closed };
}

test('yields the server chunks in order and stops at [DONE]', async () => {
  const { server } = await sseServer(async (req, res, body) => {
    assert.equal(body.stream, true);
    sseHead(res, { 'x-trace-id': 'trace-stream' });
    for (const p of PIECES) {
      res.write(`data: ${JSON.stringify(chunk(p))}\n\n`);
      await sleep(5);
    }
    res.write(`data: ${JSON.stringify(chunk(undefined, { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] }))}\n\n`);
    res.write('data: [DONE]\n\n');
    // Anything after [DONE] is never read.
    res.write('data: {not json\n\n');
    res.end();
  });
  try {
    const stream = await behestFor(server).chat.completions.create(ask());
    assert.equal(stream.response.headers.get('x-trace-id'), 'trace-stream');
    const got = [];
    for await (const c of stream) got.push(c);
    assert.deepEqual(got.map((c) => c.choices[0].delta.content ?? null), [...PIECES, null]);
    assert.equal(got.at(-1).choices[0].finish_reason, 'stop');
    const req = server.requests[0];
    assert.equal(req.headers.accept, 'text/event-stream');
    assert.equal(req.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(req.headers['x-session-id'], 'sess');
  } finally {
    await server.close();
  }
});

test('events split at any byte, CRLF framing, comments and multi-line data', async () => {
  const events = PIECES.map((p) => `data: ${JSON.stringify(chunk(p))}\r\n\r\n`).join('');
  const wire = `: keep-alive\r\n\r\nevent: message\r\n${events}data: {"id":"x","object":"chat.completion.chunk","choices":\r\ndata: [{"index":0,"delta":{"content":"!"},"finish_reason":null}]}\r\n\r\ndata: [DONE]\r\n\r\n`;
  const bytes = Buffer.from(wire, 'utf8');
  const { server } = await sseServer(async (req, res) => {
    sseHead(res);
    for (let i = 0; i < bytes.length; i += 7) {
      res.write(bytes.subarray(i, i + 7)); // splits CRLFs and the UTF-8 of ✓
      await sleep(1);
    }
    res.end();
  });
  try {
    const got = [];
    for await (const c of await behestFor(server).chat.completions.create(ask())) got.push(c.choices[0].delta.content);
    assert.deepEqual(got, [...PIECES, '!']);
  } finally {
    await server.close();
  }
});

test('an error event mid-stream raises the typed error, after the chunks before it', async () => {
  for (const [code, cls, status] of [
    ['kill_switch', BehestKillSwitchError, 503],
    ['upstream_error', BehestServerError, 502],
    ['server_shutting_down', BehestServerError, 503],
    ['rate_limited', BehestRateLimitError, 429],
    ['token_expired', BehestAuthError, 401],
  ]) {
    const { server } = await sseServer(async (req, res) => {
      sseHead(res, { 'x-trace-id': `trace-${code}` });
      res.write(`data: ${JSON.stringify(chunk('partial'))}\n\n`);
      await sleep(5);
      res.write(`data: ${JSON.stringify({ error: { message: `stopped: ${code}`, type: 'api_error', code, param: null } })}\n\n`);
      res.end();
    });
    try {
      const seen = [];
      await assert.rejects(
        (async () => {
          for await (const c of await behestFor(server).chat.completions.create(ask())) seen.push(c.choices[0].delta.content);
        })(),
        (err) => {
          assert.ok(err instanceof cls, `${code}: ${err?.constructor?.name}`);
          assert.equal(err.status, status);
          assert.equal(err.code, code);
          assert.equal(err.traceId, `trace-${code}`);
          assert.equal(err.message, `stopped: ${code}`);
          return true;
        },
      );
      assert.deepEqual(seen, ['partial']);
    } finally {
      await server.close();
    }
  }
});

test('an HTTP error is raised by create(), before any iteration', async () => {
  const { server } = await sseServer(async (req, res) => json(res, 429, { error: { message: 'slow down', code: 'rate_limited' } }, { 'retry-after': '2' }));
  try {
    await assert.rejects(behestFor(server).chat.completions.create(ask()), (err) => err instanceof BehestRateLimitError && err.retryAfter === 2);
  } finally {
    await server.close();
  }
});

test('a body cut mid-stream is stream_interrupted', async () => {
  const { server } = await sseServer(async (req, res) => {
    sseHead(res);
    res.write(`data: ${JSON.stringify(chunk('a'))}\n\n`);
    await sleep(10);
    res.socket.destroy();
  });
  try {
    const stream = await behestFor(server).chat.completions.create(ask());
    await assert.rejects(
      (async () => {
        for await (const _ of stream);
      })(),
      (err) => err instanceof BehestServerError && err.code === 'stream_interrupted',
    );
  } finally {
    await server.close();
  }
});

test('aborting (signal or stream.abort) ends the stream and closes the connection', async () => {
  const { server, closed } = await sseServer(async (req, res) => {
    sseHead(res);
    for (let i = 0; i < 200 && !res.destroyed; i += 1) {
      res.write(`data: ${JSON.stringify(chunk(`t${i} `))}\n\n`);
      await sleep(20);
    }
    res.end();
  });
  try {
    const controller = new AbortController();
    const stream = await behestFor(server).chat.completions.create(ask(), { signal: controller.signal });
    const got = [];
    const stoppedAt = { t: 0 };
    await assert.rejects(
      (async () => {
        for await (const c of stream) {
          got.push(c);
          if (got.length === 3) {
            stoppedAt.t = Date.now();
            controller.abort();
          }
        }
      })(),
      (err) => err.name === 'AbortError',
    );
    assert.equal(got.length, 3);
    for (let i = 0; i < 50 && closed.length === 0; i += 1) await sleep(10);
    assert.equal(closed.length, 1, 'the server saw the connection close');
    assert.ok(closed[0] - stoppedAt.t < 1000);

    // Breaking out of the loop closes it too.
    const s2 = await behestFor(server).chat.completions.create(ask());
    for await (const _ of s2) break;
    for (let i = 0; i < 50 && closed.length < 2; i += 1) await sleep(10);
    assert.equal(closed.length, 2);
  } finally {
    await server.close();
  }
});

test('JSON (non-streaming) completions come back parsed', async () => {
  const { server } = await sseServer(async (req, res, body) =>
    json(res, 200, { id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: `echo ${body.messages[0].content}` }, finish_reason: 'stop' }] }),
  );
  try {
    const r = await behestFor(server).chat.completions.create({ messages: [{ role: 'user', content: 'hi' }], token: TOKEN, thread_id: 'th-1' });
    assert.equal(r.choices[0].message.content, 'echo hi');
    assert.equal(server.requests[0].headers['x-thread-id'], 'th-1');
    assert.equal(server.requests[0].headers.accept, 'application/json');
  } finally {
    await server.close();
  }
});
