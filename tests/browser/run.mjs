// Browser end-to-end test: the stock OpenAI JS SDK, bundled for the browser, runs in
// headless Chromium with a short-lived Behest JWT as its API key and streams a chat
// completion from a project endpoint. A page served from ALLOWED_ORIGIN must stream;
// a page served from DISALLOWED_ORIGIN must fail on CORS.
//
// Env: BEHEST_CHAT_BASE, BEHEST_TOKEN, BEHEST_SESSION_ID, ALLOWED_ORIGIN,
//      DISALLOWED_ORIGIN, optional CHROMIUM_PATH (default /usr/bin/chromium).
// Prints one JSON line to stdout; browser console and diagnostics go to stderr.
// Exit 0 when the allowed page streamed non-empty text and the disallowed page failed
// without ever reading an HTTP response (the CORS block); exit 1 otherwise.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';

const HERE = dirname(fileURLToPath(import.meta.url));
const HARD_TIMEOUT_MS = 60_000;
const PAGE_TIMEOUT_MS = 20_000;

const log = (...parts) => process.stderr.write(`[browser-e2e] ${parts.join(' ')}\n`);

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`missing env ${name}`);
  return value;
}

let printed = false;
function finish(result, code) {
  if (!printed) {
    printed = true;
    process.stdout.write(JSON.stringify(result) + '\n');
  }
  process.exitCode = code;
  return code;
}

// Everything the run opens, so it can always be closed.
const cleanup = { browser: null, servers: [], dirs: [] };
async function closeAll() {
  const { browser, servers, dirs } = cleanup;
  cleanup.browser = null;
  cleanup.servers = [];
  cleanup.dirs = [];
  if (browser) await browser.close().catch((e) => log('browser close:', e.message));
  await Promise.all(
    servers.map(
      (s) =>
        new Promise((resolve) => {
          s.closeAllConnections?.();
          s.close(() => resolve());
        }),
    ),
  );
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }).catch(() => {})));
}

// The page. It loads the bundled SDK as an ES module and exposes one function, which
// is the quickstart's client code; the harness calls it with the run's settings.
const PAGE_HTML = `<!doctype html>
<html>
<head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Behest browser e2e</title></head>
<body>
<pre id="out"></pre>
<script type="module">
import OpenAI from '/openai.mjs';

window.behestChat = async ({ baseURL, token, sessionId, threadId, timeoutMs }) => {
  const out = document.getElementById('out');
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const result = { origin: location.origin, ok: false, text: '', chunks: 0, finished: false };
  try {
    const openai = new OpenAI({
      apiKey: token,
      baseURL,
      dangerouslyAllowBrowser: true,
      maxRetries: 0,
      defaultHeaders: { 'X-Session-Id': sessionId, 'X-Thread-Id': threadId },
    });
    const { data: stream, response } = await openai.chat.completions
      .create(
        { messages: [{ role: 'user', content: 'Hello from the browser' }], stream: true },
        { signal: controller.signal },
      )
      .withResponse();
    // The gateway's own timing, as a web app (and DevTools) reads it.
    result.serverTiming = response.headers.get('server-timing');
    for await (const chunk of stream) {
      result.chunks += 1;
      const delta = chunk.choices[0]?.delta?.content;
      if (delta) {
        result.text += delta;
        out.textContent = result.text;
      }
      const reason = chunk.choices[0]?.finish_reason;
      if (reason) result.finishReason = reason;
    }
    result.finished = true;
    result.ok = true;
    // The Resource Timing entry of a streamed response lands a moment after its end.
    for (let i = 0; i < 50; i += 1) {
      result.resourceServerTiming = performance
        .getEntriesByType('resource')
        .filter((e) => e.name.includes('/chat/completions'))
        .flatMap((e) => e.serverTiming.map((t) => t.name));
      if (result.resourceServerTiming.length > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch (err) {
    result.error = String(err?.message ?? err);
    result.errorName = err?.constructor?.name ?? err?.name ?? typeof err;
    if (err?.status !== undefined) result.status = err.status;
    if (err?.cause) result.cause = String(err.cause?.message ?? err.cause);
    console.error('chat failed:', result.errorName, result.error, result.cause ?? '');
  } finally {
    clearTimeout(timer);
  }
  return result;
};
window.behestReady = true;
</script>
</body>
</html>
`;

function parseOrigin(name, origin) {
  const url = new URL(origin);
  if (url.protocol !== 'http:') throw new Error(`${name} must be an http:// origin: ${origin}`);
  if (url.origin !== origin.replace(/\/$/, '')) {
    throw new Error(`${name} must be a bare origin (scheme://host[:port]): ${origin}`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return { origin: url.origin, host, port: Number(url.port || 80) };
}

// A tiny static server for one origin: the page at /, the SDK bundle at /openai.mjs.
async function serveOrigin({ origin, host, port }, bundle) {
  const handler = (req, res) => {
    const path = new URL(req.url, origin).pathname;
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(PAGE_HTML);
    } else if (path === '/openai.mjs') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
      res.end(bundle);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  };
  // "localhost" may resolve to either loopback family in the browser: listen on both.
  const hosts = host === 'localhost' ? ['127.0.0.1', '::1'] : [host];
  let listening = 0;
  for (const h of hosts) {
    const server = createServer(handler);
    try {
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: h, port, ipv6Only: h.includes(':') }, resolve);
      });
      cleanup.servers.push(server);
      listening += 1;
    } catch (err) {
      // ::1 may be missing on this machine; 127.0.0.1 alone is then enough.
      if (hosts.length > 1 && h === '::1') log(`not listening on [::1]:${port}: ${err.code ?? err.message}`);
      else throw new Error(`cannot serve ${origin} on ${h}:${port}: ${err.message}`);
    }
  }
  if (!listening) throw new Error(`cannot serve ${origin}`);
  log(`serving ${origin}`);
}

async function bundleSdk(dir) {
  const esbuild = await import('esbuild');
  const entry = join(dir, 'entry.mjs');
  const outfile = join(dir, 'openai.mjs');
  await writeFile(entry, "import OpenAI from 'openai';\nexport default OpenAI;\n");
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    nodePaths: [join(HERE, 'node_modules')],
    logLevel: 'warning',
  });
  const sdk = JSON.parse(await readFile(join(HERE, 'node_modules/openai/package.json'), 'utf8'));
  return { code: await readFile(outfile, 'utf8'), version: sdk.version };
}

async function runPage(browser, label, origin, settings) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (msg) => {
    const text = msg.text();
    if (msg.type() === 'error') consoleErrors.push(text);
    log(`${label} console.${msg.type()}: ${text}`);
  });
  page.on('pageerror', (err) => log(`${label} pageerror: ${err.message}`));
  page.on('requestfailed', (req) =>
    log(`${label} request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText ?? ''}`),
  );
  page.on('request', (req) => {
    if (req.url().startsWith(settings.baseURL)) {
      const names = Object.keys(req.headers()).sort().join(',');
      log(`${label} request: ${req.method()} ${req.url()} headers=${names}`);
    }
  });
  page.on('response', (res) => {
    if (res.url().startsWith(settings.baseURL)) log(`${label} response: ${res.status()} ${res.request().method()} ${res.url()}`);
  });
  try {
    await page.goto(`${origin}/`, { timeout: PAGE_TIMEOUT_MS });
    await page.waitForFunction(() => window.behestReady === true, null, { timeout: PAGE_TIMEOUT_MS });
    const result = await page.evaluate(
      (args) => window.behestChat(args),
      { ...settings, threadId: `browser-e2e-${label}-${randomUUID()}`, timeoutMs: PAGE_TIMEOUT_MS },
    );
    result.corsBlocked = consoleErrors.some((t) => /CORS policy/i.test(t));
    return result;
  } finally {
    await context.close().catch(() => {});
  }
}

async function main() {
  const settings = {
    baseURL: env('BEHEST_CHAT_BASE').replace(/\/$/, ''),
    token: env('BEHEST_TOKEN'),
    sessionId: env('BEHEST_SESSION_ID'),
  };
  const allowed = parseOrigin('ALLOWED_ORIGIN', env('ALLOWED_ORIGIN'));
  const disallowed = parseOrigin('DISALLOWED_ORIGIN', env('DISALLOWED_ORIGIN'));
  if (allowed.port === disallowed.port && allowed.host === disallowed.host) {
    throw new Error('ALLOWED_ORIGIN and DISALLOWED_ORIGIN must differ in host or port');
  }

  const dir = await mkdtemp(join(tmpdir(), 'behest-browser-'));
  cleanup.dirs.push(dir);
  const started = Date.now();
  const sdk = await bundleSdk(dir);
  log(`bundled openai ${sdk.version} (${sdk.code.length} bytes) in ${Date.now() - started} ms`);

  await serveOrigin(allowed, sdk.code);
  await serveOrigin(disallowed, sdk.code);

  const { chromium } = await import('playwright-core');
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  // chromium.launch gives Chromium a fresh temporary --user-data-dir of its own and
  // deletes it on close (it refuses one passed in args).
  cleanup.browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  log(`chromium ${cleanup.browser.version()} from ${executablePath}`);

  const a = await runPage(cleanup.browser, 'allowed', allowed.origin, settings);
  const d = await runPage(cleanup.browser, 'disallowed', disallowed.origin, settings);

  const allowedOk = a.ok === true && a.finished === true && a.text.length > 0;
  // The refusal must be the browser's: the SDK saw no HTTP response at all (no status),
  // not an HTTP error it could read (which would mean CORS let the response through).
  const disallowedOk = d.ok === false && d.status === undefined && !!d.error;
  const report = {
    allowed: {
      ok: a.ok,
      text: a.text,
      chunks: a.chunks,
      finished: a.finished,
      serverTiming: a.serverTiming ?? null,
      resourceServerTiming: a.resourceServerTiming ?? [],
      ...(a.finishReason ? { finishReason: a.finishReason } : {}),
      ...(a.error ? { error: `${a.errorName}: ${a.error}`, status: a.status } : {}),
    },
    disallowed: {
      ok: d.ok,
      ...(d.error ? { error: `${d.errorName}: ${d.error}${d.cause ? ` (${d.cause})` : ''}` } : {}),
      ...(d.status !== undefined ? { status: d.status } : {}),
      corsBlocked: d.corsBlocked,
      ...(d.ok ? { text: d.text, chunks: d.chunks } : {}),
    },
    openai: sdk.version,
    chromium: cleanup.browser.version(),
    ms: Date.now() - started,
  };
  return finish(report, allowedOk && disallowedOk ? 0 : 1);
}

const hardTimeout = setTimeout(async () => {
  log(`hard timeout after ${HARD_TIMEOUT_MS} ms`);
  finish({ allowed: { ok: false }, disallowed: { ok: null }, error: `timeout after ${HARD_TIMEOUT_MS} ms` }, 1);
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  await closeAll();
  process.exit(1);
}, HARD_TIMEOUT_MS);

try {
  await main();
} catch (err) {
  log('error:', err?.stack ?? String(err));
  finish({ allowed: { ok: false }, disallowed: { ok: null }, error: String(err?.message ?? err) }, 1);
} finally {
  await closeAll();
  clearTimeout(hardTimeout);
}
