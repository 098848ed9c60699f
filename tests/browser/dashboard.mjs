// Dashboard end-to-end test: headless Chromium clicks through the server-rendered
// dashboard of a real `behest` binary, the way the seed's first user would, and then
// audits every page (axe-core, 375 px width, first-load weight).
//
// The journey (one browser context, the pages' own Content-Security-Policy enforced):
// sign up; sign out and sign in again with the keyboard only; create a project and wait
// for its DNS to be READY; allow http://localhost:3000, see the diff, deploy; a draft
// that is discarded changes nothing live; a validation error is shown next to its
// field; create an API key and copy it (clipboard); mint with it and stream a completion
// through the gateway with the openai SDK (from node); find that user in Usage; the
// other pages; another tenant's project is "Not found"; a form posted without its CSRF
// token is refused and creates nothing.
//
// The audit (per page): a fresh context (empty cache, CSP enforced, 375 px wide) for the
// first load's weight (< 150 KB), horizontal overflow and a screenshot; and axe-core in
// a context that bypasses CSP (see `axeContext`), no serious or critical violation.
//
// Env: BEHEST_BASE (http://127.0.0.1:PORT), OTHER_PROJECT_ID (a project of another
//      tenant), SCREENSHOT_DIR; optional OTHER_PROJECT_NAME, DASH_EMAIL, DASH_PASSWORD,
//      ADMIN_SECRET (then the admin sign-in is exercised), CHROMIUM_PATH
//      (default /usr/bin/chromium).
// Prints one JSON line to stdout: {"ok", "checks": {name: bool}, "details": {name: why},
// "values": {...}, "pages": {name: audit}, "screenshots": [paths], ...}. Browser
// console and diagnostics go to stderr. Exit 0 only if every check passed.

import { mkdir, readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';

const HERE = dirname(fileURLToPath(import.meta.url));
const HARD_TIMEOUT_MS = 300_000;
const ACTION_TIMEOUT_MS = 8_000;
const NAV_TIMEOUT_MS = 15_000;
const DNS_READY_TIMEOUT_MS = 30_000;
const USAGE_TIMEOUT_MS = 20_000;
const LIVE_TIMEOUT_MS = 5_000;
const FIRST_LOAD_LIMIT = 150 * 1024;
const NARROW = { width: 375, height: 812 };
const WIDE = { width: 1280, height: 900 };

const ALLOWED_ORIGIN = 'http://localhost:3000';
const DISCARDED_ORIGIN = 'http://localhost:4000';
const END_USER = 'dash-user-1';
const PROJECT_NAME = 'Dash Shop';
const PROMPT = 'Hello from the dashboard';

const log = (...parts) => process.stderr.write(`[dashboard-e2e] ${parts.join(' ')}\n`);

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`missing env ${name}`);
  return value;
}

// --- the result ------------------------------------------------------------------------

// Every check of the journey, false until it passes: a step that throws leaves its
// checks (and those of the steps that needed it) false, with the reason in `details`.
const JOURNEY_CHECKS = [
  'rootRedirectsToSignIn', 'signInPage', 'signUpPage', 'signUpLandsOnProjects', 'projectsPage',
  'planShown', 'mainNav', 'signOutButton', 'signedOut', 'signInErrorAlert',
  'keyboardReachesEmail', 'keyboardReachesPassword', 'keyboardEnterSignsIn',
  'newProjectPage', 'projectCreated', 'overviewH1', 'projectNav', 'dnsReady', 'pendingRefreshes',
  'suspendButton', 'projectsTableColumns', 'projectsTableRow', 'projectsTableDnsReady',
  'quickstartHasHost',
  'settingsPage', 'settingsFieldsets', 'settingsLabels', 'draftDiffShowsOrigin', 'draftDiffOnlyOrigin', 'draftNotLive',
  'deployedStatus', 'diffMatchesAfterDeploy', 'corsDeployedAllowed',
  'discardDraftDiffRows', 'draftOriginNotLive', 'discardRestoresRpm', 'discardRestoresOrigins',
  'discardDiffMatches', 'discardedOriginNotAllowed', 'deployedOriginStillAllowed',
  'validationErrorShown', 'validationAriaInvalid', 'validationErrorNextToField', 'validationAlert',
  'invalidDraftNotSaved',
  'keysPage', 'newSecretShown', 'secretShownOnceWarning', 'clipboardCopied', 'keysTableRow',
  'keysRowButtons',
  'mintWithCopiedKey', 'streamed', 'streamedTwice',
  'usagePage', 'usageShowsUser', 'usageCharts', 'usageControls', 'usageTopSessions',
  'usageCsvLink', 'usageCsvDownload',
  'tiersPage', 'modelPage', 'modelDraftSaved', 'playgroundPage', 'playgroundStreams', 'playgroundTokens', 'playgroundOutcome',
  'signingKeysPage', 'providerKeysPage', 'adminPage', 'adminSignInForm',
  'otherTenantStatus404', 'otherTenantNotFound', 'otherTenantSettings404', 'otherTenantNoLeak',
  'unknownProject404',
  'planPage', 'tenantCreated', 'tenantSwitcherShown', 'tenantSwitchedBack',
  'csrfFetchRefused', 'csrfFetchFormExpired', 'csrfWrongTokenRefused', 'csrfFormRefused',
  'csrfCreatedNothing',
  'noCspViolations', 'noPageErrors',
  'auditRan', 'axeClean', 'fitsAt375', 'firstLoadUnder150KB',
  'signOutEndsSession',
];

const result = {
  ok: false,
  checks: Object.fromEntries(JOURNEY_CHECKS.map((name) => [name, false])),
  details: {},
  values: {},
  pages: {},
  screenshots: [],
  errors: {},
};

function check(name, ok, detail) {
  result.checks[name] = !!ok;
  if (ok) delete result.details[name];
  else result.details[name] = detail ?? 'failed';
  if (!ok) log(`check ${name} FAILED: ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`);
}

// Runs one step; an exception is recorded in `errors` (the checks the step had not
// reached stay false, and `details` says they were never reached).
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    log(`step ${name} done in ${Date.now() - started} ms`);
  } catch (err) {
    const message = String(err?.message ?? err).split('\n').slice(0, 6).join('\n');
    result.errors[name] = message;
    log(`step ${name} failed: ${err?.stack ?? message}`);
  }
}

// The checks never reached: their step (or one it needed) failed; `errors` says why.
function unreached() {
  const failed = Object.keys(result.errors);
  for (const [name, ok] of Object.entries(result.checks)) {
    if (!ok && result.details[name] === undefined) {
      result.details[name] = `never reached (failed steps: ${failed.join(', ') || 'none'})`;
    }
  }
}

function need(value, what) {
  if (value === undefined || value === null || value === '') throw new Error(`needs ${what} (an earlier step failed)`);
  return value;
}

let printed = false;
function finish(code) {
  if (!printed) {
    printed = true;
    process.stdout.write(JSON.stringify(result) + '\n');
  }
  process.exitCode = code;
  return code;
}

// Everything the run opens, so it can always be closed.
const cleanup = { browser: null };
async function closeAll() {
  const { browser } = cleanup;
  cleanup.browser = null;
  if (browser) await browser.close().catch((e) => log('browser close:', e.message));
}

// --- helpers ---------------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const path = (page) => new URL(page.url()).pathname;
const text = async (locator) => ((await locator.first().textContent({ timeout: ACTION_TIMEOUT_MS })) ?? '').trim();
const h1 = (page) => text(page.locator('h1'));
const slugify = (name) => name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

let shotCount = 0;
async function shot(page, name) {
  const file = join(screenshotDir, `${String(++shotCount).padStart(2, '0')}-${slugify(name)}.png`);
  try {
    await page.screenshot({ path: file, fullPage: true, timeout: ACTION_TIMEOUT_MS });
    result.screenshots.push(file);
  } catch (err) {
    log(`screenshot ${name}: ${err.message}`);
  }
  return file;
}

// Clicks a submit button and waits for the page the server answers with.
async function submit(page, locator) {
  const [response] = await Promise.all([
    page.waitForNavigation({ timeout: NAV_TIMEOUT_MS, waitUntil: 'load' }),
    locator.click({ timeout: ACTION_TIMEOUT_MS }),
  ]);
  return response;
}

// Follows a link of a named navigation landmark.
async function navTo(page, nav, link) {
  const locator = page.getByRole('navigation', { name: nav }).getByRole('link', { name: link, exact: true });
  await Promise.all([
    page.waitForNavigation({ timeout: NAV_TIMEOUT_MS, waitUntil: 'load' }),
    locator.click({ timeout: ACTION_TIMEOUT_MS }),
  ]);
}

const label = (page, name) => page.getByLabel(name, { exact: true });
const button = (page, name) => page.getByRole('button', { name, exact: true });
const isFocused = (locator) => locator.evaluate((el) => el === document.activeElement);

// A CORS preflight for the project's chat endpoint from `origin`; the
// Access-Control-Allow-Origin it answers with (null: none).
function preflight(origin) {
  const url = new URL(`${base}/p/${state.slug}/v1/chat/completions`);
  return new Promise((resolveP, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'OPTIONS',
        headers: {
          Origin: origin,
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'authorization,content-type',
        },
        timeout: ACTION_TIMEOUT_MS,
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolveP({ status: res.statusCode, allow: res.headers['access-control-allow-origin'] ?? null }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('preflight timed out')));
    req.on('error', reject);
    req.end();
  });
}

// Live settings reach the gateway through its live image: poll for a while.
async function preflightUntil(origin, want) {
  const deadline = Date.now() + LIVE_TIMEOUT_MS;
  let last;
  for (;;) {
    last = await preflight(origin);
    if ((last.allow === origin) === want || Date.now() > deadline) return last;
    await sleep(200);
  }
}

// --- the run ---------------------------------------------------------------------------

let base;
let screenshotDir;
const state = {};
const cspViolations = [];
const pageErrors = [];

function watch(page, labelName) {
  page.on('console', (msg) => {
    const t = msg.text();
    if (/Content Security Policy|Refused to (execute|load|apply|connect)/i.test(t)) cspViolations.push(`${labelName}: ${t}`);
    log(`${labelName} console.${msg.type()}: ${t}`);
  });
  page.on('pageerror', (err) => {
    pageErrors.push(`${labelName}: ${err.message}`);
    log(`${labelName} pageerror: ${err.message}`);
  });
  page.on('requestfailed', (req) =>
    log(`${labelName} request failed: ${req.method()} ${req.url()} ${req.failure()?.errorText ?? ''}`),
  );
  // Confirmations are window.confirm(): accept them (only intended buttons are clicked).
  page.on('dialog', (d) => {
    log(`${labelName} dialog ${d.type()}: ${d.message()}`);
    d.accept().catch(() => {});
  });
}

async function journey(browser) {
  const context = await browser.newContext({ baseURL: base, viewport: WIDE });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(NAV_TIMEOUT_MS);
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = await context.newPage();
  watch(page, 'journey');
  state.context = context;
  state.page = page;

  const email = process.env.DASH_EMAIL || `dash-${randomUUID().slice(0, 8)}@example.com`;
  const password = process.env.DASH_PASSWORD || 'correct horse battery staple';
  result.values.email = email;

  await step('sign-up', async () => {
    await page.goto('/');
    check('rootRedirectsToSignIn', path(page) === '/sign-in', `/ went to ${path(page)}`);
    const title = await h1(page);
    check('signInPage', title === 'Sign in', `h1 ${JSON.stringify(title)}`);
    await shot(page, 'sign-in');

    await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      page.getByRole('link', { name: 'Sign up', exact: true }).click(),
    ]);
    const up = await h1(page);
    check('signUpPage', up === 'Sign up' && path(page) === '/sign-up', `h1 ${JSON.stringify(up)} at ${path(page)}`);
    await label(page, 'Email').fill(email);
    await label(page, 'Password').fill(password);
    await label(page, 'Organisation name').fill('Dash Org');
    await shot(page, 'sign-up');
    await submit(page, button(page, 'Sign up'));
    check('signUpLandsOnProjects', path(page) === '/projects', `landed on ${path(page)}`);
    const projects = await h1(page);
    check('projectsPage', projects === 'Projects', `h1 ${JSON.stringify(projects)}`);
    const body = await page.locator('body').innerText();
    check('planShown', /Plan:\s*free/i.test(body), 'no "Plan: free" on the page');
    const main = page.getByRole('navigation', { name: 'Main' });
    const missing = [];
    for (const name of ['Projects', 'Signing keys', 'Provider keys', 'Admin']) {
      if ((await main.getByRole('link', { name, exact: true }).count()) === 0) missing.push(name);
    }
    check('mainNav', missing.length === 0, `Main nav lacks ${missing.join(', ')}`);
    check('signOutButton', (await button(page, 'Sign out').count()) > 0, 'no "Sign out" button');
    await shot(page, 'projects-empty');
  });

  await step('keyboard-sign-in', async () => {
    await submit(page, button(page, 'Sign out'));
    await page.goto('/projects');
    check('signedOut', path(page) === '/sign-in', `after Sign out /projects went to ${path(page)}`);

    // A wrong password: the form says so (role="alert").
    await label(page, 'Email').fill(email);
    await label(page, 'Password').fill(`${password}-wrong`);
    await submit(page, button(page, 'Sign in'));
    const alert = page.getByRole('alert');
    check(
      'signInErrorAlert',
      (await alert.count()) > 0 && (await text(alert)).length > 0,
      'no role="alert" after a wrong password',
    );
    await shot(page, 'sign-in-error');

    // Keyboard only: a fresh load, Tab to the fields, type, Enter submits.
    await page.goto('/sign-in');
    const emailInput = label(page, 'Email');
    const passwordInput = label(page, 'Password');
    let tabs = 0;
    while (!(await isFocused(emailInput)) && tabs < 30) {
      await page.keyboard.press('Tab');
      tabs += 1;
    }
    result.values.tabsToEmail = tabs;
    check('keyboardReachesEmail', await isFocused(emailInput), `Email not focused after ${tabs} Tabs`);
    await page.keyboard.type(email);
    let more = 0;
    do {
      await page.keyboard.press('Tab');
      more += 1;
    } while (!(await isFocused(passwordInput)) && more < 3);
    result.values.tabsEmailToPassword = more;
    check('keyboardReachesPassword', await isFocused(passwordInput), `Password not focused ${more} Tabs after Email`);
    await page.keyboard.type(password);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('Enter')]);
    check('keyboardEnterSignsIn', path(page) === '/projects', `Enter led to ${path(page)}`);
  });

  await step('create-project', async () => {
    if (path(page) !== '/projects') await page.goto('/projects');
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      page.getByRole('link', { name: 'New project', exact: true }).click(),
    ]);
    const title = await h1(page);
    check('newProjectPage', title === 'New project', `h1 ${JSON.stringify(title)} at ${path(page)}`);
    await label(page, 'Project name').fill(PROJECT_NAME);
    await shot(page, 'new-project');
    await submit(page, button(page, 'Create project'));
    const m = path(page).match(/^\/projects\/([^/]+)$/);
    check('projectCreated', !!m && m[1] !== 'new', `landed on ${path(page)}`);
    state.projectId = need(m && m[1] !== 'new' ? m[1] : null, 'the project id from the overview URL');
    state.overview = `/projects/${state.projectId}`;
    result.values.projectId = state.projectId;
    const name = await h1(page);
    check('overviewH1', name === PROJECT_NAME, `h1 ${JSON.stringify(name)}`);

    // READY by itself: a PENDING page refreshes itself (meta refresh), never reloaded here.
    let navigations = 0;
    const onNav = (frame) => {
      if (frame === page.mainFrame()) navigations += 1;
    };
    page.on('framenavigated', onNav);
    const seen = [];
    const deadline = Date.now() + DNS_READY_TIMEOUT_MS;
    let status = '';
    for (;;) {
      status = await text(page.locator('#dns-status')).catch(() => '');
      if (status && seen[seen.length - 1] !== status) {
        seen.push(status);
        if (status !== 'READY') await shot(page, `overview-${status.toLowerCase()}`);
      }
      if (status === 'READY' || status === 'FAILED' || Date.now() > deadline) break;
      await sleep(250);
    }
    page.off('framenavigated', onNav);
    result.values.dnsSeen = seen;
    result.values.overviewRefreshes = navigations;
    check('dnsReady', status === 'READY', `#dns-status went ${JSON.stringify(seen)}`);
    // Only meaningful when the page was seen PENDING (the local provisioner is quick).
    check(
      'pendingRefreshes',
      !seen.includes('PENDING') || navigations > 0,
      `seen ${JSON.stringify(seen)}, ${navigations} refreshes`,
    );
    const projectNav = page.getByRole('navigation', { name: 'Project' });
    const missing = [];
    for (const link of ['Overview', 'API keys', 'Settings', 'Tiers', 'Model', 'Usage', 'Playground']) {
      if ((await projectNav.getByRole('link', { name: link, exact: true }).count()) === 0) missing.push(link);
    }
    check('projectNav', missing.length === 0, `Project nav lacks ${missing.join(', ')}`);

    check('suspendButton', (await button(page, 'Suspend project').count()) > 0, 'no "Suspend project" button');
    state.quickstart = await page.locator('pre').allTextContents();
    await shot(page, 'overview');
  });

  await step('projects-table', async () => {
    need(state.projectId, 'a project');
    await navTo(page, 'Main', 'Projects');
    const table = page.locator('table').first();
    const headers = (await table.locator('thead th, tr:first-child th').allTextContents()).map((h) => h.trim());
    const col = (name) => headers.findIndex((h) => h === name);
    const missing = ['Name', 'Slug', 'Host', 'DNS'].filter((h) => col(h) < 0);
    check('projectsTableColumns', missing.length === 0, `headers ${JSON.stringify(headers)}`);
    const row = table.locator('tr', { has: page.getByRole('link', { name: PROJECT_NAME, exact: true }) });
    const cells = (await row.first().locator('td, th').allTextContents()).map((c) => c.trim());
    const href = await row.first().getByRole('link', { name: PROJECT_NAME, exact: true }).getAttribute('href');
    result.values.projectsRow = cells;
    state.slug = cells[col('Slug')];
    state.host = cells[col('Host')];
    check(
      'projectsTableRow',
      href === state.overview && !!state.slug && !!state.host,
      `row ${JSON.stringify(cells)} links to ${href}`,
    );
    check('projectsTableDnsReady', /READY/.test(cells[col('DNS')] ?? ''), `DNS cell ${JSON.stringify(cells[col('DNS')])}`);
    result.values.slug = state.slug;
    result.values.host = state.host;
    const pres = state.quickstart ?? [];
    check(
      'quickstartHasHost',
      pres.length >= 3 && pres.every((p) => p.includes(state.host)),
      `${pres.length} <pre> blocks; host ${state.host} missing from ${pres.filter((p) => !p.includes(state.host)).length}`,
    );
    await shot(page, 'projects');
  });

  const rpm = () => label(page, 'Rate limit (rpm)');
  const origins = () => label(page, 'Allowed origins');
  const diff = () => page.locator('#draft-diff');
  const matches = async () => (await text(diff())).includes('The draft matches what is deployed.');

  await step('settings-deploy', async () => {
    need(state.slug, 'the project slug');
    await page.goto(state.overview);
    await navTo(page, 'Project', 'Settings');
    state.settings = path(page);
    const title = await h1(page);
    check('settingsPage', title === 'Settings' && state.settings === `${state.overview}/settings`, `h1 ${JSON.stringify(title)} at ${state.settings}`);
    const legends = (await page.locator('fieldset > legend').allTextContents()).map((l) => l.trim());
    const missingSets = ['Access', 'Limits', 'Safety', 'Behaviour', 'Model'].filter((l) => !legends.includes(l));
    check('settingsFieldsets', missingSets.length === 0, `legends ${JSON.stringify(legends)}`);
    const labels = [
      'Allowed origins', 'Allow credentials', 'Rate limit (rpm)', 'Tokens per day',
      'Daily budget per user (USD)', 'Budget per session (USD)', 'Monthly budget (USD)',
      'Budgets fail open', 'PII mode', 'EMAIL_ADDRESS', 'Sentinel mode', 'Sentinel blocklist',
      'System prompt', 'Memory enabled', 'Memory window', 'Retention days', 'Store tool calls',
    ];
    const missingLabels = [];
    for (const l of labels) if ((await label(page, l).count()) === 0) missingLabels.push(l);
    check('settingsLabels', missingLabels.length === 0, `no field labelled ${missingLabels.join(', ')}`);
    await shot(page, 'settings');

    await origins().fill(ALLOWED_ORIGIN);
    await submit(page, button(page, 'Save draft'));
    const row = diff().locator('tr[data-field="cors_origins"]');
    check(
      'draftDiffShowsOrigin',
      (await row.count()) > 0 && (await text(row)).includes(ALLOWED_ORIGIN),
      `#draft-diff: ${JSON.stringify(await text(diff()).catch(() => ''))}`,
    );
    // Only what was changed is in the draft: saving the form chose no model.
    const changed = await diff().locator('[data-field]').evaluateAll((els) => els.map((e) => e.getAttribute('data-field')));
    check('draftDiffOnlyOrigin', changed.length === 1 && changed[0] === 'cors_origins', `changed fields ${JSON.stringify(changed)}`);
    await shot(page, 'settings-draft');
    const before = await preflight(ALLOWED_ORIGIN);
    check('draftNotLive', before.allow !== ALLOWED_ORIGIN, `a saved draft was live: ${JSON.stringify(before)}`);

    await submit(page, button(page, 'Deploy'));
    const status = page.getByRole('status');
    check(
      'deployedStatus',
      (await status.count()) > 0 && (await status.allTextContents()).some((t) => t.includes('Deployed')),
      `role=status: ${JSON.stringify(await status.allTextContents())}`,
    );
    check('diffMatchesAfterDeploy', await matches(), `#draft-diff: ${JSON.stringify(await text(diff()).catch(() => ''))}`);
    await shot(page, 'settings-deployed');
    const after = await preflightUntil(ALLOWED_ORIGIN, true);
    result.values.preflightDeployed = after;
    check('corsDeployedAllowed', after.allow === ALLOWED_ORIGIN, `preflight from ${ALLOWED_ORIGIN}: ${JSON.stringify(after)}`);
  });

  await step('discard-draft', async () => {
    need(state.settings, 'the settings page');
    await page.goto(state.settings);
    const rpmDeployed = await rpm().inputValue();
    const originsDeployed = (await origins().inputValue()).trim();
    result.values.rpmDeployed = rpmDeployed;
    const rpmDraft = String((Number(rpmDeployed) || 60) + 17);
    await rpm().fill(rpmDraft);
    await origins().fill(`${ALLOWED_ORIGIN}\n${DISCARDED_ORIGIN}`);
    await submit(page, button(page, 'Save draft'));
    const rows = {
      rpm: await diff().locator('tr[data-field="rpm_limit"]').count(),
      cors: await diff().locator('tr[data-field="cors_origins"]').count(),
    };
    check('discardDraftDiffRows', rows.rpm > 0 && rows.cors > 0, `diff rows ${JSON.stringify(rows)}`);
    await shot(page, 'settings-draft-to-discard');
    const draft = await preflight(DISCARDED_ORIGIN);
    check('draftOriginNotLive', draft.allow !== DISCARDED_ORIGIN, `a draft origin was live: ${JSON.stringify(draft)}`);

    await submit(page, button(page, 'Discard draft'));
    await page.goto(state.settings);
    const rpmNow = await rpm().inputValue();
    const originsNow = (await origins().inputValue()).trim();
    check('discardRestoresRpm', rpmNow === rpmDeployed, `rpm ${JSON.stringify(rpmNow)}, deployed ${JSON.stringify(rpmDeployed)}`);
    check(
      'discardRestoresOrigins',
      originsNow === originsDeployed && originsNow === ALLOWED_ORIGIN,
      `origins ${JSON.stringify(originsNow)}, deployed ${JSON.stringify(originsDeployed)}`,
    );
    check('discardDiffMatches', await matches(), `#draft-diff: ${JSON.stringify(await text(diff()).catch(() => ''))}`);
    await shot(page, 'settings-discarded');
    const discarded = await preflight(DISCARDED_ORIGIN);
    check('discardedOriginNotAllowed', discarded.allow !== DISCARDED_ORIGIN, JSON.stringify(discarded));
    const still = await preflight(ALLOWED_ORIGIN);
    check('deployedOriginStillAllowed', still.allow === ALLOWED_ORIGIN, JSON.stringify(still));
  });

  await step('validation-error', async () => {
    need(state.settings, 'the settings page');
    await page.goto(state.settings);
    await rpm().fill('0');
    await submit(page, button(page, 'Save draft'));
    const error = page.locator('#rpm_limit-error');
    const errorText = (await error.count()) > 0 ? await text(error) : '';
    check('validationErrorShown', (await error.isVisible()) && errorText.length > 0, `#rpm_limit-error ${JSON.stringify(errorText)}`);
    check('validationAriaInvalid', (await rpm().getAttribute('aria-invalid')) === 'true', `aria-invalid=${await rpm().getAttribute('aria-invalid')}`);
    // "Next to its field": a following sibling of the input in the same field (a hint may
    // sit in between), named by its aria-describedby, and on screen just below it.
    const adjacent = await rpm().evaluate((input) => {
      const error = document.getElementById('rpm_limit-error');
      const between = [];
      let next = input.nextElementSibling;
      while (next && next !== error) {
        between.push(next.id || next.className || next.tagName.toLowerCase());
        next = next.nextElementSibling;
      }
      const described = (input.getAttribute('aria-describedby') ?? '').split(/\s+/);
      const gap = error ? error.getBoundingClientRect().top - input.getBoundingClientRect().bottom : null;
      return {
        sibling: !!error && next === error,
        between,
        describedBy: described.includes('rpm_limit-error'),
        gapPx: gap === null ? null : Math.round(gap),
      };
    });
    check(
      'validationErrorNextToField',
      adjacent.sibling && adjacent.between.length <= 1 && adjacent.describedBy && adjacent.gapPx >= 0 && adjacent.gapPx < 100,
      JSON.stringify(adjacent),
    );
    result.values.validation = { error: errorText, ...adjacent };
    check('validationAlert', (await page.getByRole('alert').count()) > 0, 'no role="alert"');
    await shot(page, 'settings-invalid');
    await page.goto(state.settings);
    check('invalidDraftNotSaved', await matches(), `#draft-diff: ${JSON.stringify(await text(diff()).catch(() => ''))}`);
  });

  await step('api-key', async () => {
    need(state.projectId, 'a project');
    await page.goto(state.overview);
    await navTo(page, 'Project', 'API keys');
    const title = await h1(page);
    check('keysPage', title === 'API keys' && path(page) === `${state.overview}/keys`, `h1 ${JSON.stringify(title)} at ${path(page)}`);
    await label(page, 'Key name').fill('dash key');
    await label(page, 'Role').selectOption('user');
    await submit(page, button(page, 'Create key'));
    const secret = await text(page.locator('#new-secret'));
    state.secret = secret;
    check('newSecretShown', secret.startsWith('behest_sk_'), `#new-secret ${JSON.stringify(secret.slice(0, 14))}`);
    check('secretShownOnceWarning', /once/i.test(await page.locator('body').innerText()), 'no "shown once" warning');
    await button(page, 'Copy').click();
    let copied = '';
    for (let i = 0; i < 20 && !copied; i += 1) {
      copied = await page.evaluate(() => navigator.clipboard.readText()).catch((e) => `error: ${e.message}`);
      if (copied.startsWith('error:') || !copied) await sleep(100);
    }
    check(
      'clipboardCopied',
      copied === secret && copied.startsWith('behest_sk_'),
      `clipboard ${JSON.stringify(copied.slice(0, 24))} vs #new-secret ${JSON.stringify(secret.slice(0, 14))}`,
    );
    state.key = copied.startsWith('behest_sk_') ? copied : secret;
    result.values.keyPrefix = state.key.slice(0, 16);
    await shot(page, 'keys-new-secret');
    const row = page.locator('table tr', { hasText: 'dash key' });
    check('keysTableRow', (await row.count()) > 0, 'no "dash key" row');
    check(
      'keysRowButtons',
      (await row.first().getByRole('button', { name: 'Rotate', exact: true }).count()) > 0 &&
        (await row.first().getByRole('button', { name: 'Revoke', exact: true }).count()) > 0,
      'the key row lacks Rotate/Revoke',
    );
  });

  await step('mint-and-stream', async () => {
    need(state.key, 'an API key');
    need(state.slug, 'the project slug');
    const res = await fetch(`${base}/p/${state.slug}/v1/auth/mint`, {
      method: 'POST',
      headers: { authorization: `Bearer ${state.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_id: END_USER, ttl: 900 }),
      signal: AbortSignal.timeout(ACTION_TIMEOUT_MS),
    });
    const minted = await res.json().catch(() => ({}));
    check('mintWithCopiedKey', res.status === 200 && !!minted.access_token, `mint ${res.status} ${JSON.stringify(minted).slice(0, 200)}`);
    const token = need(minted.access_token, 'a minted token');
    const { default: OpenAI } = await import('openai');
    const openai = new OpenAI({
      baseURL: `${base}/p/${state.slug}/v1`,
      apiKey: token,
      maxRetries: 0,
      timeout: NAV_TIMEOUT_MS,
      defaultHeaders: minted.session_id ? { 'X-Session-Id': minted.session_id } : {},
    });
    const runs = [];
    for (let i = 0; i < 2; i += 1) {
      const stream = await openai.chat.completions.create({
        messages: [{ role: 'user', content: PROMPT }],
        stream: true,
      });
      let textOut = '';
      let chunks = 0;
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta?.content;
        if (delta) {
          chunks += 1;
          textOut += delta;
        }
      }
      runs.push({ chunks, text: textOut });
    }
    result.values.streams = runs;
    result.values.streamText = runs[0].text;
    check('streamed', runs[0].chunks > 0 && runs[0].text.length > 0, JSON.stringify(runs[0]));
    check('streamedTwice', runs.every((r) => r.chunks > 0), JSON.stringify(runs));
  });

  await step('usage', async () => {
    need(state.projectId, 'a project');
    await page.goto(state.overview);
    await navTo(page, 'Project', 'Usage');
    const title = await h1(page);
    check('usagePage', title === 'Usage' && path(page) === `${state.overview}/usage`, `h1 ${JSON.stringify(title)} at ${path(page)}`);
    // Usage is flushed every half second: reload until the user shows up.
    const deadline = Date.now() + USAGE_TIMEOUT_MS;
    let users = '';
    for (;;) {
      users = await text(page.locator('#top-users')).catch(() => '');
      if (users.includes(END_USER) || Date.now() > deadline) break;
      await sleep(1000);
      await page.reload({ waitUntil: 'load' });
    }
    check('usageShowsUser', users.includes(END_USER), `#top-users ${JSON.stringify(users.slice(0, 200))}`);
    check('usageCharts', (await page.locator('svg').count()) > 0, 'no SVG chart');
    check(
      'usageControls',
      (await label(page, 'Period').count()) > 0 && (await button(page, 'Show').count()) > 0,
      'no "Period" select or "Show" button',
    );
    check('usageTopSessions', (await page.locator('#top-sessions').count()) > 0, 'no #top-sessions');
    const csv = page.getByRole('link', { name: 'Download CSV', exact: true });
    const href = (await csv.count()) > 0 ? await csv.getAttribute('href') : null;
    check('usageCsvLink', !!href && new URL(href, base).pathname === `${state.overview}/usage.csv`, `href ${href}`);
    if (href) {
      const got = await page.evaluate(async (u) => {
        const r = await fetch(u);
        return { status: r.status, type: r.headers.get('content-type'), body: (await r.text()).slice(0, 2000) };
      }, href);
      result.values.usageCsv = { status: got.status, type: got.type, head: got.body.split('\n').slice(0, 3) };
      check('usageCsvDownload', got.status === 200 && got.body.length > 0, JSON.stringify(result.values.usageCsv));
    }
    await shot(page, 'usage');
  });

  await step('other-pages', async () => {
    need(state.projectId, 'a project');
    for (const [link, want, name] of [
      ['Tiers', 'Tiers', 'tiersPage'],
      ['Model', 'Model', 'modelPage'],
      ['Playground', 'Playground', 'playgroundPage'],
    ]) {
      await page.goto(state.overview);
      await navTo(page, 'Project', link);
      const title = await h1(page);
      check(name, title === want, `h1 ${JSON.stringify(title)} at ${path(page)}`);
      if (link === 'Model') {
        // The playground tries the model draft: choose one first, as the seed does.
        await label(page, 'Model').selectOption('behest/echo');
        await submit(page, button(page, 'Save as draft'));
        const saved = await page.getByRole('status').allTextContents();
        check('modelDraftSaved', saved.some((t) => t.includes('Model draft saved')), `role=status ${JSON.stringify(saved)}`);
      }
      if (link !== 'Playground') await shot(page, link);
    }
    // The playground streams into #answer (its script is external: CSP holds).
    await label(page, 'Message').fill('Hello playground');
    await button(page, 'Send').click();
    const answer = page.locator('#answer');
    await page
      .waitForFunction(() => (document.querySelector('#answer')?.textContent ?? '').includes('Hello playground'), null, {
        timeout: NAV_TIMEOUT_MS,
      })
      .catch(() => {});
    const said = await text(answer).catch(() => '');
    check('playgroundStreams', said.includes('Hello playground'), `#answer ${JSON.stringify(said.slice(0, 200))}`);
    // The stream's end fills in the tokens and the guard's outcome.
    await page
      .waitForFunction(() => !['—', 'Streaming…'].includes(document.querySelector('#outcome')?.textContent ?? ''), null, {
        timeout: NAV_TIMEOUT_MS,
      })
      .catch(() => {});
    const tokens = await text(page.locator('#tokens')).catch(() => '');
    check('playgroundTokens', /\d/.test(tokens), `#tokens ${JSON.stringify(tokens)}`);
    const outcome = await text(page.locator('#outcome')).catch(() => '');
    check('playgroundOutcome', outcome.startsWith('Completed'), `#outcome ${JSON.stringify(outcome)}`);
    result.values.playground = { answer: said.slice(0, 200), tokens };
    await shot(page, 'playground');
  });

  await step('tenant-pages', async () => {
    for (const [link, name] of [
      ['Signing keys', 'signingKeysPage'],
      ['Provider keys', 'providerKeysPage'],
      ['Admin', 'adminPage'],
    ]) {
      await page.goto('/projects');
      await navTo(page, 'Main', link);
      const title = await h1(page);
      check(name, title === link, `h1 ${JSON.stringify(title)} at ${path(page)}`);
      await shot(page, link);
    }
    const form = (await label(page, 'Admin secret').count()) > 0 && (await button(page, 'Sign in as admin').count()) > 0;
    check('adminSignInForm', form, 'no "Admin secret" / "Sign in as admin"');
    if (form && process.env.ADMIN_SECRET) {
      await label(page, 'Admin secret').fill(process.env.ADMIN_SECRET);
      await submit(page, button(page, 'Sign in as admin'));
      const title = await h1(page);
      const stillForm = await label(page, 'Admin secret').count();
      result.values.adminSignedIn = { h1: title, formGone: stillForm === 0 };
      if (title !== 'Admin' || stillForm !== 0) {
        check('adminSignInForm', false, `after "Sign in as admin": h1 ${JSON.stringify(title)}, form still there: ${stillForm > 0}`);
      }
      await shot(page, 'admin-signed-in');
    }
  });

  await step('cross-tenant', async () => {
    const other = env('OTHER_PROJECT_ID');
    const res = await page.goto(`/projects/${other}`);
    check('otherTenantStatus404', res?.status() === 404, `status ${res?.status()}`);
    const title = await h1(page).catch(() => '');
    check('otherTenantNotFound', title === 'Not found', `h1 ${JSON.stringify(title)}`);
    const leaked = process.env.OTHER_PROJECT_NAME
      ? (await page.locator('body').innerText()).includes(process.env.OTHER_PROJECT_NAME)
      : false;
    check('otherTenantNoLeak', !leaked, 'the page names the other tenant\'s project');
    await shot(page, 'not-found');
    const settings = await page.goto(`/projects/${other}/settings`);
    check('otherTenantSettings404', settings?.status() === 404, `status ${settings?.status()}`);
    const unknown = await page.goto(`/projects/${randomUUID()}`);
    check('unknownProject404', unknown?.status() === 404, `status ${unknown?.status()}`);
  });

  // A second tenant from the Plan page: the header then offers the switcher, the new
  // tenant has no projects, and switching back lists the first tenant's again.
  await step('tenant-switcher', async () => {
    await page.goto('/projects');
    await page.getByRole('link', { name: /^Plan:/ }).first().click({ timeout: ACTION_TIMEOUT_MS });
    await page.waitForURL('**/plan', { timeout: NAV_TIMEOUT_MS });
    const title = await h1(page);
    check('planPage', title === 'Plan' && /free/.test(await page.locator('main').innerText()), `h1 ${JSON.stringify(title)}`);
    await shot(page, 'plan');
    await label(page, 'Organisation name').fill('Second Org');
    await submit(page, button(page, 'Create tenant'));
    const listed = await page.locator('main').innerText();
    check('tenantCreated', path(page) === '/projects' && !listed.includes(PROJECT_NAME), `at ${path(page)}, lists ${PROJECT_NAME}: ${listed.includes(PROJECT_NAME)}`);
    const select = label(page, 'Tenant');
    const chosen = (await select.count()) > 0
      ? await select.evaluate((el) => el.options[el.selectedIndex]?.textContent ?? '')
      : '';
    check('tenantSwitcherShown', chosen === 'Second Org', `Tenant select shows ${JSON.stringify(chosen)}`);
    await shot(page, 'tenant-switcher');
    const first = await select.evaluate((el) => [...el.options].find((o) => o.textContent !== 'Second Org')?.value ?? '');
    await select.selectOption(need(first, 'the first tenant in the switcher'));
    await submit(page, button(page, 'Switch'));
    const back = await page.locator('main').innerText();
    check('tenantSwitchedBack', back.includes(PROJECT_NAME), `after Switch the projects are ${JSON.stringify(back.slice(0, 200))}`);
  });

  await step('csrf', async () => {
    await page.goto('/projects');
    const post = (fields) =>
      page.evaluate(async (f) => {
        const r = await fetch('/projects/new', { method: 'POST', body: new URLSearchParams(f) });
        return { status: r.status, body: await r.text() };
      }, fields);
    const bare = await post({ name: 'x' });
    check('csrfFetchRefused', bare.status === 403, `POST without _csrf: ${bare.status}`);
    check('csrfFetchFormExpired', /<h1[^>]*>\s*Form expired\s*<\/h1>/.test(bare.body), `body ${JSON.stringify(bare.body.slice(0, 300))}`);
    const wrong = await post({ name: 'x', _csrf: 'not-the-token' });
    check('csrfWrongTokenRefused', wrong.status === 403, `POST with a wrong _csrf: ${wrong.status}`);

    // The real form, submitted by the browser, with its token taken out.
    await page.goto('/projects/new');
    const removed = await page.evaluate(() => {
      const inputs = [...document.querySelectorAll('input[name="_csrf"]')];
      inputs.forEach((i) => i.remove());
      return inputs.length;
    });
    await label(page, 'Project name').fill('csrf-probe');
    const res = await submit(page, button(page, 'Create project'));
    const title = await h1(page).catch(() => '');
    check(
      'csrfFormRefused',
      removed > 0 && res?.status() === 403 && title === 'Form expired',
      `removed ${removed} _csrf inputs; status ${res?.status()}, h1 ${JSON.stringify(title)}`,
    );
    await shot(page, 'form-expired');

    await page.goto('/projects');
    const names = (await page.locator('table tr td:first-child, table tr th[scope="row"]').allTextContents()).map((n) => n.trim());
    result.values.projectNames = names;
    check(
      'csrfCreatedNothing',
      !names.includes('x') && !names.includes('csrf-probe') && names.filter((n) => n === PROJECT_NAME).length === 1,
      `projects ${JSON.stringify(names)}`,
    );
  });

}

// --- the audit -------------------------------------------------------------------------

// One page's first load in a fresh context (empty cache, the page's own CSP, 375 px
// wide): bytes, horizontal overflow, a screenshot.
async function measure(browser, storageState, name, url) {
  const context = await browser.newContext({ baseURL: base, viewport: NARROW, storageState });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  try {
    const page = await context.newPage();
    watch(page, `measure:${name}`);
    const bodies = [];
    const responses = [];
    page.on('response', (res) => {
      responses.push(`${res.status()} ${new URL(res.url()).pathname}`);
      bodies.push(res.body().then((b) => b.length).catch(() => 0));
    });
    const res = await page.goto(url, { waitUntil: 'load', timeout: NAV_TIMEOUT_MS });
    await page.waitForLoadState('networkidle', { timeout: 3_000 }).catch(() => {});
    const bodyBytes = (await Promise.all(bodies)).reduce((a, b) => a + b, 0);
    const timing = await page.evaluate(() => {
      const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
      return {
        transfer: entries.reduce((a, e) => a + (e.transferSize || 0), 0),
        encoded: entries.reduce((a, e) => a + (e.encodedBodySize || 0), 0),
      };
    });
    const widths = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      client: document.documentElement.clientWidth,
    }));
    const title = await h1(page).catch(() => '');
    const screenshot = await shot(page, `${name}-375`);
    return {
      url,
      finalPath: path(page),
      status: res?.status() ?? null,
      h1: title,
      bodyBytes,
      transferBytes: timing.transfer,
      encodedBytes: timing.encoded,
      responses,
      scrollWidth: widths.scroll,
      screenshot,
    };
  } finally {
    await context.close().catch(() => {});
  }
}

const serious = (violations) =>
  violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));

// axe-core on the page as it is now. addScriptTag inserts an inline <script>, which the
// dashboard's CSP (no 'unsafe-inline') would block: hence the axe context's bypassCSP.
async function axe(page, axeSource) {
  await page.addScriptTag({ content: axeSource });
  const found = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target })),
    }));
  });
  return { serious: serious(found), all: found.map((v) => `${v.id}:${v.impact}`) };
}

async function audit(browser, axeSource) {
  const journeyState = await state.context.storageState();
  const signedOut = { cookies: [], origins: [] };
  const id = state.projectId;
  const pages = [
    ['sign-in', '/sign-in', signedOut],
    ['sign-up', '/sign-up', signedOut],
    ['projects', '/projects', journeyState],
    ['new-project', '/projects/new', journeyState],
    ...(id
      ? [
          ['overview', `/projects/${id}`, journeyState],
          ['keys', `/projects/${id}/keys`, journeyState],
          ['settings', `/projects/${id}/settings`, journeyState],
          ['tiers', `/projects/${id}/tiers`, journeyState],
          ['model', `/projects/${id}/model`, journeyState],
          ['usage', `/projects/${id}/usage`, journeyState],
          ['playground', `/projects/${id}/playground`, journeyState],
        ]
      : []),
    ['signing-keys', '/signing-keys', journeyState],
    ['provider-keys', '/provider-keys', journeyState],
    ['admin', '/admin', journeyState],
    ['plan', '/plan', journeyState],
    ['not-found', `/projects/${process.env.OTHER_PROJECT_ID}`, journeyState],
  ];
  if (!id) result.details.auditRan = 'no project: its pages were not audited';

  // axe: one context for all pages; CSP bypassed (see `axe`).
  const axeContext = await browser.newContext({ baseURL: base, viewport: WIDE, bypassCSP: true, storageState: journeyState });
  axeContext.setDefaultTimeout(ACTION_TIMEOUT_MS);
  const axeSignedOut = await browser.newContext({ baseURL: base, viewport: WIDE, bypassCSP: true });
  const axePage = await axeContext.newPage();
  const axeOutPage = await axeSignedOut.newPage();
  watch(axePage, 'axe');
  watch(axeOutPage, 'axe');

  const heavy = [];
  const wide = [];
  const inaccessible = [];
  for (const [name, url, storage] of pages) {
    const entry = {};
    try {
      Object.assign(entry, await measure(browser, storage, name, url));
      const weight = entry.transferBytes > 0 ? entry.transferBytes : entry.bodyBytes;
      entry.under150KB = weight > 0 && weight <= FIRST_LOAD_LIMIT;
      entry.fitsAt375 = entry.scrollWidth <= NARROW.width;
      if (!entry.under150KB) heavy.push(`${name}: ${weight} B`);
      if (!entry.fitsAt375) wide.push(`${name}: scrollWidth ${entry.scrollWidth}`);
    } catch (err) {
      entry.measureError = err.message.split('\n')[0];
      heavy.push(`${name}: ${entry.measureError}`);
      wide.push(`${name}: ${entry.measureError}`);
    }
    try {
      const p = storage === signedOut ? axeOutPage : axePage;
      await p.goto(url, { waitUntil: 'load' });
      const a = await axe(p, axeSource);
      entry.axe = a.serious;
      entry.axeAll = a.all;
      if (a.serious.length) inaccessible.push(`${name}: ${a.serious.map((v) => v.id).join(', ')}`);
    } catch (err) {
      entry.axeError = err.message.split('\n')[0];
      inaccessible.push(`${name}: ${entry.axeError}`);
    }
    result.pages[name] = entry;
    log(`audit ${name}: ${entry.status} ${entry.transferBytes ?? '?'} B transferred, scrollWidth ${entry.scrollWidth}, axe ${JSON.stringify(entry.axe ?? entry.axeError)}`);
  }

  // States only a form submission reaches, audited in the axe context.
  const states = [];
  if (id) {
    states.push([
      'settings-invalid',
      async (p) => {
        await p.goto(`/projects/${id}/settings`);
        await label(p, 'Rate limit (rpm)').fill('0');
        await submit(p, button(p, 'Save draft'));
      },
    ]);
    states.push([
      'keys-new-secret',
      async (p) => {
        await p.goto(`/projects/${id}/keys`);
        await label(p, 'Key name').fill('axe key');
        await submit(p, button(p, 'Create key'));
      },
    ]);
  }
  states.push([
    'form-expired',
    async (p) => {
      await p.goto('/projects/new');
      await p.evaluate(() => document.querySelectorAll('input[name="_csrf"]').forEach((i) => i.remove()));
      await label(p, 'Project name').fill('csrf-probe');
      await submit(p, button(p, 'Create project'));
    },
  ]);
  states.push([
    'sign-in-error',
    async (p) => {
      await p.goto('/sign-in');
      await label(p, 'Email').fill('nobody@example.com');
      await label(p, 'Password').fill('not the password at all');
      await submit(p, button(p, 'Sign in'));
    },
    true,
  ]);
  for (const [name, reach, out] of states) {
    const entry = {};
    const p = out ? axeOutPage : axePage;
    try {
      await reach(p);
      entry.h1 = await h1(p).catch(() => '');
      const a = await axe(p, axeSource);
      entry.axe = a.serious;
      entry.axeAll = a.all;
      if (a.serious.length) inaccessible.push(`${name}: ${a.serious.map((v) => v.id).join(', ')}`);
    } catch (err) {
      entry.axeError = err.message.split('\n')[0];
      inaccessible.push(`${name}: ${entry.axeError}`);
    }
    result.pages[name] = entry;
    log(`audit ${name}: axe ${JSON.stringify(entry.axe ?? entry.axeError)}`);
  }
  await axeContext.close().catch(() => {});
  await axeSignedOut.close().catch(() => {});

  check('auditRan', !!id && Object.keys(result.pages).length >= pages.length, result.details.auditRan ?? 'pages missing');
  check('firstLoadUnder150KB', heavy.length === 0, heavy);
  check('fitsAt375', wide.length === 0, wide);
  check('axeClean', inaccessible.length === 0, inaccessible);
}

async function signOut() {
  await step('sign-out', async () => {
    const page = state.page;
    await page.goto('/projects');
    await submit(page, button(page, 'Sign out'));
    await page.goto('/projects');
    check('signOutEndsSession', path(page) === '/sign-in', `after Sign out /projects went to ${path(page)}`);
  });
}

async function main() {
  base = env('BEHEST_BASE').replace(/\/$/, '');
  env('OTHER_PROJECT_ID');
  screenshotDir = resolve(env('SCREENSHOT_DIR'));
  await mkdir(screenshotDir, { recursive: true });
  const axeSource = await readFile(join(HERE, 'node_modules/axe-core/axe.min.js'), 'utf8').catch(() => {
    throw new Error('axe-core is not installed: run scripts/browser-setup.sh (npm ci in tests/browser)');
  });
  const axeVersion = JSON.parse(await readFile(join(HERE, 'node_modules/axe-core/package.json'), 'utf8')).version;
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
  result.chromium = cleanup.browser.version();
  result.axe = axeVersion;
  log(`chromium ${result.chromium} from ${executablePath}, axe-core ${axeVersion}, base ${base}`);

  await journey(cleanup.browser);
  await step('audit', () => audit(cleanup.browser, axeSource));
  await signOut();
  // The journey's and the measured pages' console (the axe contexts bypass CSP).
  check('noCspViolations', cspViolations.length === 0, cspViolations.slice(0, 10));
  check('noPageErrors', pageErrors.length === 0, pageErrors.slice(0, 10));

  result.ms = Date.now() - started;
  result.failed = Object.entries(result.checks).filter(([, ok]) => !ok).map(([name]) => name);
  result.ok = result.failed.length === 0;
  unreached();
  return finish(result.ok ? 0 : 1);
}

const hardTimeout = setTimeout(async () => {
  log(`hard timeout after ${HARD_TIMEOUT_MS} ms`);
  result.error = `timeout after ${HARD_TIMEOUT_MS} ms`;
  result.failed = Object.entries(result.checks).filter(([, ok]) => !ok).map(([name]) => name);
  unreached();
  finish(1);
  const force = setTimeout(() => process.exit(1), 10_000);
  force.unref();
  await closeAll();
  process.exit(1);
}, HARD_TIMEOUT_MS);

try {
  await main();
} catch (err) {
  log('error:', err?.stack ?? String(err));
  result.error = String(err?.message ?? err);
  result.failed = Object.entries(result.checks).filter(([, ok]) => !ok).map(([name]) => name);
  unreached();
  finish(1);
} finally {
  await closeAll();
  clearTimeout(hardTimeout);
}
