// Browser test of the quickstart, as a person uses it: headless Chromium (Debian's,
// driven by playwright-core) opens /chat of a running build of this example, types a
// message and presses Enter, and watches the assistant's answer stream in (the text
// must grow over several animation frames); then sends another, presses Stop
// mid-stream and checks the stream ends there. Optionally it also opens the same app
// from an origin the project does NOT allow and checks the browser's CORS refusal.
//
// Env:
//   QUICKSTART_URL   the app, e.g. http://localhost:3000 (an allowed origin)
//   MESSAGE          the first message (default "Hello from the quickstart")
//   EXPECT_REPLY     the whole answer to it, when known (else: until it stops growing)
//   STOP_MESSAGE     the message whose answer is stopped (skipped when unset); it must
//                    stream slowly enough to be stopped (e.g. the fake provider's #slow)
//   STOP_REPLY       the whole answer STOP_MESSAGE would get (to check Stop cut it short)
//   DISALLOWED_URL   the same app from an origin not in the project's allowed origins,
//                    e.g. http://127.0.0.1:3000 (skipped when unset)
//   CHROMIUM_PATH    default /usr/bin/chromium
// Prints one JSON line (the report) on stdout; diagnostics go to stderr. Exit 0 when
// every check passed.

import { randomUUID } from 'node:crypto';

const HARD_TIMEOUT_MS = 90_000;
const STEP_TIMEOUT_MS = 25_000;
const log = (...parts) => process.stderr.write(`[quickstart-e2e] ${parts.join(' ')}\n`);

function env(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`missing env ${name}`);
  return value;
}

const cleanup = { browser: null };
let printed = false;
function finish(report, ok) {
  if (!printed) {
    printed = true;
    process.stdout.write(JSON.stringify({ ok, ...report }) + '\n');
  }
  process.exitCode = ok ? 0 : 1;
}

// Installed in the page: records, once per animation frame, the text of the last
// assistant message whenever it changed.
function installSampler() {
  window.__frame = 0;
  window.__samples = [];
  let last = null;
  const read = () => {
    const ps = document.querySelectorAll('p');
    const p = ps[ps.length - 1];
    if (!p || !p.textContent.startsWith('assistant:')) return null;
    return p.textContent.slice('assistant:'.length).replace(/^ /, '');
  };
  const tick = () => {
    const text = read();
    if (text !== last) {
      window.__samples.push({ frame: window.__frame, t: performance.now(), text });
      last = text;
    }
    window.__frame += 1;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

async function openChat(browser, label, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const seen = { consoleErrors: [], pageErrors: [], tokenStatuses: [], chatRequests: [], chatFailures: [] };
  page.on('console', (msg) => {
    if (msg.type() === 'error') seen.consoleErrors.push(msg.text());
    log(`${label} console.${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => {
    seen.pageErrors.push(err.message);
    log(`${label} pageerror: ${err.message}`);
  });
  page.on('request', (req) => {
    if (req.url().includes('/v1/chat/completions') && req.method() === 'POST') {
      const h = req.headers();
      seen.chatRequests.push({ url: req.url(), sessionId: h['x-session-id'] ?? null, threadId: h['x-thread-id'] ?? null, hasModel: 'model' in JSON.parse(req.postData() ?? '{}') });
    }
  });
  page.on('requestfailed', (req) => {
    if (req.url().includes('/v1/chat/completions')) seen.chatFailures.push(req.failure()?.errorText ?? 'failed');
    log(`${label} request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText ?? ''}`);
  });
  page.on('response', (res) => {
    if (res.url().endsWith('/api/behest/token')) seen.tokenStatuses.push(res.status());
    if (res.url().includes('/v1/')) log(`${label} response: ${res.status()} ${res.request().method()} ${res.url()}`);
  });
  await page.goto(`${url}/chat`, { timeout: STEP_TIMEOUT_MS });
  await page.waitForSelector('input', { timeout: STEP_TIMEOUT_MS });
  // React must have hydrated before typing means anything: wait for its fiber on the input.
  await page.waitForFunction(
    () => Object.keys(document.querySelector('input') ?? {}).some((k) => k.startsWith('__reactFiber')),
    null,
    { timeout: STEP_TIMEOUT_MS },
  );
  await page.evaluate(installSampler);
  return { context, page, seen };
}

/** Types `text` in the chat input and presses Enter, as a person does. */
async function sendMessage(page, text) {
  const input = page.locator('input');
  await input.click();
  await input.pressSequentially(text, { delay: 2 });
  const sampleIndex = await page.evaluate(() => window.__samples.length);
  await input.press('Enter');
  return sampleIndex;
}

/** The samples since `from`: each change of the assistant's text, with its frame. */
async function samplesSince(page, from) {
  return page.evaluate((i) => window.__samples.slice(i), from);
}

function growths(samples) {
  let prev = '';
  const steps = [];
  for (const s of samples) {
    const text = s.text ?? '';
    if (text.length > prev.length && text.startsWith(prev)) steps.push({ frame: s.frame, t: Math.round(s.t), length: text.length });
    prev = text;
  }
  return steps;
}

async function lastText(page) {
  return page.evaluate(() => {
    const ps = document.querySelectorAll('p');
    const p = ps[ps.length - 1];
    return p ? p.textContent.slice('assistant:'.length).replace(/^ /, '') : null;
  });
}

async function waitStable(page, ms) {
  let text = await lastText(page);
  let since = Date.now();
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    await page.waitForTimeout(100);
    const now = await lastText(page);
    if (now !== text) {
      text = now;
      since = Date.now();
    } else if (Date.now() - since >= ms && text) {
      return text;
    }
  }
  return text;
}

async function completeRun(page, message, expect) {
  const from = await sendMessage(page, message);
  if (expect) {
    await page
      .waitForFunction(
        (want) => {
          const ps = document.querySelectorAll('p');
          const p = ps[ps.length - 1];
          return p && p.textContent.slice('assistant:'.length).replace(/^ /, '') === want;
        },
        expect,
        { timeout: STEP_TIMEOUT_MS },
      )
      .catch(() => {});
  }
  const text = expect ? await lastText(page) : await waitStable(page, 1500);
  const steps = growths(await samplesSince(page, from));
  return { text, growths: steps.length, frames: new Set(steps.map((s) => s.frame)).size, steps };
}

async function stopRun(page, message, fullReply) {
  const from = await sendMessage(page, message);
  // Wait for the answer to have grown twice (it is streaming), then press Stop.
  await page.waitForFunction((i) => {
    let prev = '';
    let n = 0;
    for (const s of window.__samples.slice(i)) {
      const t = s.text ?? '';
      if (t.length > prev.length) n += 1;
      prev = t;
    }
    return n >= 2;
  }, from, { timeout: STEP_TIMEOUT_MS });
  const textAtStop = await lastText(page);
  const samplesAtStop = await page.evaluate(() => window.__samples.length);
  await page.getByRole('button', { name: 'Stop' }).click();
  const stoppedAt = Date.now();
  // A delta already in flight may still land; after that, nothing may change.
  await page.waitForTimeout(300);
  const settled = await lastText(page);
  await page.waitForTimeout(1500);
  const textAfter = await lastText(page);
  const steps = growths(await samplesSince(page, from));
  return {
    textAtStop,
    settled,
    textAfter,
    fullReply: fullReply ?? null,
    growthsBeforeStop: growths((await samplesSince(page, from)).slice(0, samplesAtStop - from)).length,
    growths: steps.length,
    msWatched: Date.now() - stoppedAt,
  };
}

async function main() {
  const url = env('QUICKSTART_URL').replace(/\/$/, '');
  const message = env('MESSAGE', 'Hello from the quickstart');
  const expect = process.env.EXPECT_REPLY || undefined;
  const stopMessage = process.env.STOP_MESSAGE || undefined;
  const stopReply = process.env.STOP_REPLY || undefined;
  const disallowedUrl = (process.env.DISALLOWED_URL || '').replace(/\/$/, '') || undefined;
  const started = Date.now();

  const { chromium } = await import('playwright-core');
  const executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
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

  const report = { url, chromium: cleanup.browser.version() };
  const failures = [];

  const allowed = await openChat(cleanup.browser, 'allowed', url);
  const complete = await completeRun(allowed.page, message, expect);
  report.complete = complete;
  if (expect && complete.text !== expect) failures.push(`answer: got ${JSON.stringify(complete.text)}, want ${JSON.stringify(expect)}`);
  if (!complete.text) failures.push('no answer');
  if (complete.frames < 3) failures.push(`the answer did not stream in (it changed in ${complete.frames} frame(s))`);

  if (stopMessage) {
    const stopped = await stopRun(allowed.page, stopMessage, stopReply);
    report.stopped = stopped;
    if (stopped.settled !== stopped.textAfter) failures.push('the answer kept growing after Stop');
    if (!stopped.textAfter) failures.push('nothing streamed before Stop');
    if (stopReply && stopped.textAfter.length >= stopReply.length) failures.push('Stop did not cut the answer short');
    if (!allowed.seen.chatFailures.some((e) => /ABORTED/i.test(e))) failures.push(`the stopped request was not aborted (${allowed.seen.chatFailures.join(', ') || 'no failure'})`);
  }
  report.allowed = {
    tokenStatuses: allowed.seen.tokenStatuses,
    chatRequests: allowed.seen.chatRequests,
    chatFailures: allowed.seen.chatFailures,
  };
  if (allowed.seen.tokenStatuses.length === 0 || allowed.seen.tokenStatuses.some((s) => s !== 200)) failures.push(`token route: ${allowed.seen.tokenStatuses}`);
  const threads = new Set(allowed.seen.chatRequests.map((r) => r.threadId));
  if (allowed.seen.chatRequests.some((r) => !r.sessionId || !r.threadId) || threads.size !== 1) failures.push('chat requests without one X-Session-Id/X-Thread-Id');
  if (allowed.seen.chatRequests.some((r) => r.hasModel)) failures.push('the page sent a model');
  await allowed.context.close();

  if (disallowedUrl) {
    const other = await openChat(cleanup.browser, 'disallowed', disallowedUrl);
    await sendMessage(other.page, `blocked ${randomUUID()}`);
    await other.page
      .waitForEvent('console', { predicate: (m) => /CORS policy/i.test(m.text()), timeout: STEP_TIMEOUT_MS })
      .catch(() => {});
    await other.page.waitForTimeout(500);
    const cors = other.seen.consoleErrors.filter((t) => /CORS policy/i.test(t));
    report.disallowed = {
      url: disallowedUrl,
      corsErrors: cors,
      noAllowOriginHeader: cors.some((t) => t.includes("No 'Access-Control-Allow-Origin' header")),
      assistantText: await lastText(other.page),
      tokenStatuses: other.seen.tokenStatuses,
      chatFailures: other.seen.chatFailures,
    };
    if (!report.disallowed.noAllowOriginHeader) failures.push('no CORS error naming the missing Access-Control-Allow-Origin');
    if (report.disallowed.assistantText) failures.push('a disallowed origin got an answer');
    await other.context.close();
  }
  report.failures = failures;
  report.ms = Date.now() - started;
  finish(report, failures.length === 0);
}

const hardTimeout = setTimeout(async () => {
  log(`hard timeout after ${HARD_TIMEOUT_MS} ms`);
  finish({ failures: [`timeout after ${HARD_TIMEOUT_MS} ms`] }, false);
  setTimeout(() => process.exit(1), 10_000).unref();
  await cleanup.browser?.close().catch(() => {});
  process.exit(1);
}, HARD_TIMEOUT_MS);

try {
  await main();
} catch (err) {
  log('error:', err?.stack ?? String(err));
  finish({ failures: [String(err?.message ?? err)] }, false);
} finally {
  await cleanup.browser?.close().catch(() => {});
  clearTimeout(hardTimeout);
}
