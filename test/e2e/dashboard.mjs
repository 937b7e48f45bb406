// The operator dashboard end to end, in headless Chromium (the system one at
// /usr/bin/chromium; playwright-core never downloads a browser).
// dashboard_test.go starts `gatehouse dev` and examples/express and runs
// this file; it can also be run by hand against servers you started:
//
//   APP_URL=http://localhost:3000 GATEHOUSE_URL=http://127.0.0.1:8080 \
//   WORKOS_CLIENT_ID=client_… ADMIN_LINK=http://127.0.0.1:8080/admin/login/… \
//   ACCESS_TOKEN_TTL_SECONDS=3 node test/e2e/dashboard.mjs
//
// (ADMIN_LINK is the "Admin sign-in" line gatehouse dev prints; the access
// token lifetime must be short: `gatehouse environments update
// --access-token-ttl 3s`.)
//
// A user signs up through the app. An admin then signs in to the dashboard
// with the one-time link and works through the pages. Each step is logged;
// a failing step saves its page as $E2E_OUT/FAIL-<step>.png (and .html),
// and the steps that do not need it still run. The main pages are saved
// as $E2E_OUT/<page>.png. The script exits non-zero if any step failed.

import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`dashboard.mjs: ${name} is not set`);
    process.exit(2);
  }
  return v;
};
const APP_URL = env('APP_URL').replace(/\/+$/, '');
const GATEHOUSE_URL = env('GATEHOUSE_URL').replace(/\/+$/, '');
const CLIENT_ID = env('WORKOS_CLIENT_ID');
const ADMIN_LINK = env('ADMIN_LINK');
const TTL_SECONDS = Number(env('ACCESS_TOKEN_TTL_SECONDS'));
const OUT = process.env.E2E_OUT || 'testout/e2e/dashboard';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const HOSTED = `${GATEHOUSE_URL}/hosted/${CLIENT_ID}`;
const HOSTED_SIGN_IN = `${HOSTED}/sign-in`;
const HOME = `${APP_URL}/`;
const ADMIN = `${GATEHOUSE_URL}/admin`;
const NAV_TIMEOUT = 20_000;

const suffix = randomBytes(6).toString('hex');
const user = {
  email: `e2e-dash-${suffix}@example.com`,
  password: `Gatehouse e2e ${randomBytes(12).toString('base64url')} passphrase`,
  firstName: 'Grace',
  lastName: `Dash-${suffix}`,
};
// What the admin sets and then looks for.
const extraRedirect = `${APP_URL}/e2e-callback-${suffix}`;
const badWildcard = 'https://*.com/callback';
const keyName = `e2e key ${suffix}`;
const brand = { appName: `Acme Portal ${suffix}`, color: '#c2255c', rgb: 'rgb(194, 37, 92)' };

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

let page; // the page a failing step is captured from
const failures = [];
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const log = (msg) => console.log(`[${elapsed()}] ${msg}`);

class StepError extends Error {}
const check = (cond, msg) => {
  if (!cond) throw new StepError(msg);
};

// step runs fn, logs the outcome and captures the page if it fails. A
// failing step is recorded and the flow goes on, unless it is fatal (the
// steps after it need what it does).
async function step(name, fn, { fatal = false } = {}) {
  log(`STEP ${name}`);
  try {
    await fn();
    log(`  ok ${name}`);
    return true;
  } catch (err) {
    log(`FAIL ${name}: ${err.message.split('\n').slice(0, 8).join('\n    ')}`);
    failures.push(name);
    await capture(`FAIL-${name}`);
    if (fatal) throw Object.assign(err, { reported: true });
    return false;
  }
}

async function capture(name) {
  if (!page || page.isClosed()) return;
  try {
    mkdirSync(OUT, { recursive: true });
    const png = join(OUT, `${name}.png`);
    await page.screenshot({ path: png, fullPage: true, timeout: 5_000 });
    writeFileSync(join(OUT, `${name}.html`), await page.content());
    log(`  page at failure: ${page.url()}`);
    log(`  saved ${png} and ${name}.html`);
    const text = (await page.locator('body').innerText({ timeout: 2_000 })).replace(/\s+/g, ' ').trim();
    log(`  page text: ${text.slice(0, 500)}`);
  } catch (err) {
    log(`  could not capture the page: ${err.message}`);
  }
}

// shot saves a page the dashboard's look is judged by.
async function shot(p, name) {
  mkdirSync(OUT, { recursive: true });
  const png = join(OUT, `${name}.png`);
  await p.screenshot({ path: png, fullPage: true, timeout: 10_000 });
  log(`  screenshot ${png}`);
  // A full-page screenshot hides what only a horizontal scroll shows: note
  // it (as an observation, not a failure).
  const hidden = await p.evaluate(() => {
    const out = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > doc.clientWidth + 1) out.push(`the page is ${doc.scrollWidth}px wide in a ${doc.clientWidth}px window`);
    document.querySelectorAll('.table-wrap').forEach((w) => {
      if (w.scrollWidth > w.clientWidth + 1) {
        const t = w.querySelector('table');
        out.push(`table #${t?.id} is ${w.scrollWidth}px wide in a ${w.clientWidth}px box (scrolls sideways)`);
      }
    });
    return out;
  });
  for (const h of hidden) log(`  layout note (${name}): ${h}`);
}

// track logs a page's main-frame navigations and failed responses, and
// returns the URL of every navigation request, redirect hops included.
function track(p, label) {
  const hops = [];
  p.on('request', (req) => {
    if (req.isNavigationRequest() && req.frame() === p.mainFrame()) {
      hops.push(req.url());
      log(`  [${label}] ${req.method()} ${short(req.url())}`);
    }
  });
  p.on('response', (res) => {
    if (res.status() >= 400) log(`  [${label}] ${res.status()} from ${res.request().method()} ${short(res.url())}`);
  });
  p.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) log(`  [${label}] console error: ${msg.text()}`);
  });
  p.on('pageerror', (err) => log(`  [${label}] page error: ${err.message}`));
  return hops;
}

// short shortens long path segments and query values (tokens, codes) for
// the log.
function short(url) {
  try {
    const u = new URL(url);
    for (const [k, v] of u.searchParams) if (v.length > 24) u.searchParams.set(k, `${v.slice(0, 12)}…`);
    u.pathname = u.pathname.replace(/\/admin\/login\/[^/]{12}[^/]+/, (m) => `${m.slice(0, 25)}…`);
    return decodeURIComponent(u.toString());
  } catch {
    return url;
  }
}

const startsWith = (prefix) => (url) => url.toString().startsWith(prefix);

async function text(locator) {
  return (await locator.innerText()).replace(/\s+/g, ' ').trim();
}

// ---------------------------------------------------------------------------
// The app and the hosted pages (as in flow.mjs)
// ---------------------------------------------------------------------------

async function expectSignedInHome(p) {
  await p.waitForURL(HOME, { timeout: NAV_TIMEOUT });
  const email = p.locator('#email');
  await email.waitFor({ timeout: 10_000 });
  check((await email.innerText()) === user.email, `home page shows ${await email.innerText()}, want ${user.email}`);
  check(await p.getByRole('button', { name: 'Sign out' }).isVisible(), 'no "Sign out" button on the home page');
}

async function submitHostedForm(p) {
  const form = p.locator('form:has(input[name=password])');
  await form.locator('button[type=submit]').first().click();
}

async function expectTitle(p, want) {
  const h1 = p.locator('h1#page-title');
  await h1.waitFor({ timeout: 10_000 });
  const got = (await h1.innerText()).trim();
  check(got === want, `the page at ${short(p.url())} is titled "${got}", want "${want}"`);
}

async function inbox(address) {
  const res = await fetch(`${GATEHOUSE_URL}/_dev/inbox.json`, { headers: { accept: 'application/json' } });
  const body = await res.text();
  check(res.ok, `GET /_dev/inbox.json: ${res.status} ${body.slice(0, 200)}`);
  const { data } = JSON.parse(body);
  check(Array.isArray(data), `/_dev/inbox.json has no data array: ${body.slice(0, 200)}`);
  return data.filter((e) => e.to.toLowerCase() === address.toLowerCase());
}

async function seenEmails(address) {
  return new Set((await inbox(address)).map((e) => e.id));
}

async function newEmail(address, seen) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const fresh = (await inbox(address)).filter((e) => !seen.has(e.id));
    if (fresh.length > 0) {
      log(`  email to ${address}: "${fresh[0].subject}" (${fresh[0].status})`);
      return fresh[0];
    }
    check(Date.now() < deadline, `no new email to ${address} in the dev inbox after 10s`);
    await sleep(200);
  }
}

function codeIn(mail) {
  const m = /^[ \t]+(\d{6})[ \t]*$/m.exec(mail.text);
  check(m, `no 6-digit code in the email "${mail.subject}":\n${mail.text}`);
  return m[1];
}

// api calls Gatehouse's API with an API key and returns the status and body.
async function api(path, key) {
  const res = await fetch(`${GATEHOUSE_URL}${path}`, { headers: { authorization: `Bearer ${key}`, accept: 'application/json' } });
  const body = await res.text();
  let json;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status: res.status, body, json };
}

// ---------------------------------------------------------------------------
// The dashboard
// ---------------------------------------------------------------------------

let envId; // the dev environment's ID, from the dashboard's URLs
const envPage = (rest) => `${ADMIN}/env/${envId}/${rest}`;

// notice waits for the confirmation a dashboard change shows.
async function expectNotice(p, want) {
  const n = p.locator('#notice');
  await n.waitFor({ timeout: 10_000 });
  const got = await text(n);
  check(got.startsWith(want), `the notice reads "${got}", want "${want}…"`);
}

// expectAdminPage checks that p shows a dashboard page of the environment,
// signed in as the dev admin.
async function expectAdminPage(p, section, title) {
  await expectTitle(p, title);
  const account = await text(p.locator('#account-link'));
  check(account === 'admin@localhost', `signed in as "${account}", want admin@localhost`);
  if (section) {
    const current = p.locator('nav.sidenav a[aria-current=page]');
    check((await current.count()) === 1, `the side navigation marks ${await current.count()} pages as current`);
    check((await text(current)) === section, `the side navigation marks "${await text(current)}" as current, want "${section}"`);
  }
}

// cssColor is the computed value of a CSS property of the first match.
async function cssColor(locator, prop) {
  return locator.first().evaluate((el, pr) => getComputedStyle(el).getPropertyValue(pr), prop);
}

// ---------------------------------------------------------------------------
// The flow
// ---------------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-quic',
  ],
});
log(`Chromium ${browser.version()}; app ${APP_URL}; Gatehouse ${GATEHOUSE_URL}; client ${CLIENT_ID}; user ${user.email}`);

async function newContext() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  ctx.setDefaultTimeout(15_000);
  ctx.setDefaultNavigationTimeout(NAV_TIMEOUT);
  return ctx;
}

let exitCode = 0;
try {
  // The user's browser and the admin's are separate.
  const userCtx = await newContext();
  const userPage = await userCtx.newPage();
  const userHops = track(userPage, 'user');
  const adminCtx = await newContext();
  const adminPage = await adminCtx.newPage();
  track(adminPage, 'admin');

  let sessionId; // the user's session, as the app sees it
  let accessExpires; // when the user's access token expires (ms)
  let userId;

  await step('01-user-signs-up', async () => {
    page = userPage;
    await page.goto(HOME);
    await page.getByRole('link', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(startsWith(HOSTED_SIGN_IN));
    await page.locator('a[href*="/sign-up"]').first().click();
    await page.waitForURL((u) => u.toString().startsWith(GATEHOUSE_URL) && u.pathname.includes('/sign-up'));
    await page.locator('input[name=email]').fill(user.email);
    await page.locator('input[name=password]').fill(user.password);
    await page.locator('input[name=first_name]').fill(user.firstName);
    await page.locator('input[name=last_name]').fill(user.lastName);
    const seen = await seenEmails(user.email);
    await submitHostedForm(page);
    await page.waitForURL(startsWith(`${HOSTED}/verify-email?`));
    await expectTitle(page, 'Check your email');
    const code = codeIn(await newEmail(user.email, seen));
    await page.locator('input[name=code]').fill(code);
    await page.locator('button[name=action][value=verify]').click();
    await expectSignedInHome(page);
    await page.goto(`${APP_URL}/dashboard`);
    check(page.url() === `${APP_URL}/dashboard`, `at ${page.url()}, want ${APP_URL}/dashboard`);
    sessionId = (await page.locator('#session-id').innerText()).trim();
    check(/^session_[0-9A-Z]{26}$/.test(sessionId), `the app shows session ID "${sessionId}"`);
    accessExpires = Date.parse(await page.locator('#expires').innerText());
    check(Number.isFinite(accessExpires), 'the app does not show when the access token expires');
    log(`  signed in: session ${sessionId}, access token expires ${new Date(accessExpires).toISOString()}`);
  }, { fatal: true });

  await step('02-admin-signs-in-with-the-link', async () => {
    page = adminPage;
    await page.goto(ADMIN_LINK);
    await page.waitForURL((u) => /\/admin\/env\/[^/]+\/users$/.test(u.pathname));
    envId = decodeURIComponent(new URL(page.url()).pathname.split('/')[3]);
    log(`  signed in; environment ${envId}`);
    await expectAdminPage(page, 'Users', 'Users');
    const cookies = await adminCtx.cookies(GATEHOUSE_URL + '/admin/');
    const session = cookies.find((c) => c.name === 'gh_admin');
    check(session, 'no gh_admin cookie after the link');
    check(session.httpOnly && session.sameSite === 'Strict' && session.path === '/admin',
      `the gh_admin cookie is ${JSON.stringify({ httpOnly: session.httpOnly, sameSite: session.sameSite, path: session.path })}`);
  }, { fatal: true });

  await step('03-link-used-again-fails', async () => {
    const ctx = await newContext();
    page = await ctx.newPage();
    track(page, 'second-browser');
    const res = await page.goto(ADMIN_LINK);
    check(res.status() === 400, `the second use of the link answered ${res.status()}, want 400`);
    const err = await text(page.locator('#form-error'));
    check(err.startsWith('This link is not valid'), `the second use shows "${err}"`);
    await shot(page, 'link-used-again');
    await page.goto(`${ADMIN}/`);
    await page.waitForURL(startsWith(`${ADMIN}/login`));
    check((await page.locator('#account-link').count()) === 0, 'the second browser is signed in');
    await ctx.close();
  });

  await step('04-user-in-the-users-list', async () => {
    page = adminPage;
    await page.goto(envPage('users'));
    await expectAdminPage(page, 'Users', 'Users');
    const row = page.locator('#users tbody tr[data-user-id]', { hasText: user.email });
    check((await row.count()) === 1, `the users list has ${await row.count()} rows for ${user.email}`);
    userId = await row.getAttribute('data-user-id');
    const cells = await row.locator('td').allInnerTexts();
    log(`  row: ${cells.join(' | ')}`);
    check(cells[1].trim() === `${user.firstName} ${user.lastName}`, `the row names "${cells[1]}"`);
    check(!cells[0].includes('unverified'), 'the verified user is marked unverified');
    await shot(page, 'users');
  });

  await step('05-search-finds-the-user', async () => {
    page = adminPage;
    for (const q of [user.lastName.toLowerCase(), user.email.slice(0, 14).toUpperCase()]) {
      await page.goto(envPage('users'));
      await page.locator('input[name=q]').fill(q);
      await page.locator('#search').click();
      await page.waitForURL((u) => u.searchParams.get('q') === q);
      const rows = page.locator('#users tbody tr[data-user-id]');
      const ids = await rows.evaluateAll((rs) => rs.map((r) => r.getAttribute('data-user-id')));
      check(ids.length === 1 && ids[0] === userId, `searching "${q}" lists ${JSON.stringify(ids)}, want [${userId}]`);
      check((await page.locator('input[name=q]').inputValue()) === q, 'the search box does not keep the query');
      check((await page.locator('#clear-search').count()) === 1, 'no "Clear" link after a search');
    }
    await shot(page, 'users-search');
    await page.locator('input[name=q]').fill(`nobody-${suffix}`);
    await page.locator('#search').click();
    await page.waitForURL((u) => u.searchParams.get('q') === `nobody-${suffix}`);
    const empty = await text(page.locator('#users tbody td.empty'));
    check(empty === `No users match “nobody-${suffix}”.`, `a search with no match shows "${empty}"`);
  });

  await step('06-user-page', async () => {
    page = adminPage;
    await page.goto(envPage(`users?q=${encodeURIComponent(user.email)}`));
    await page.locator('#users tbody tr[data-user-id] a', { hasText: user.email }).click();
    await page.waitForURL(envPage(`users/${userId}`));
    await expectAdminPage(page, 'Users', user.email);
    check((await text(page.locator('#user-id'))) === userId, 'the user page shows another ID');
    check((await text(page.locator('#email-verified'))) === 'Verified', 'the user page does not show the email as verified');
    const row = page.locator(`#sessions tr[data-session-id="${sessionId}"]`);
    check((await row.count()) === 1, `the user page does not list the app's session ${sessionId}`);
    check((await row.getAttribute('data-status')) === 'active', `session ${sessionId} is ${await row.getAttribute('data-status')}, want active`);
    await shot(page, 'user');
  });

  let revoked = false;
  await step('07-revoke-the-session', async () => {
    page = adminPage;
    await page.goto(envPage(`users/${userId}`));
    await page.locator(`[id="revoke-${sessionId}"]`).click();
    await page.waitForURL((u) => u.pathname === new URL(envPage(`users/${userId}`)).pathname);
    await expectNotice(page, 'Session revoked.');
    const row = page.locator(`#sessions tr[data-session-id="${sessionId}"]`);
    check((await row.getAttribute('data-status')) === 'revoked', `after revoking, the session is ${await row.getAttribute('data-status')}`);
    check((await page.locator(`[id="revoke-${sessionId}"]`).count()) === 0, 'a revoked session still has a Revoke button');
    revoked = true;
    await shot(page, 'user-session-revoked');
  });

  await step('08-app-asks-the-user-to-sign-in', async () => {
    check(revoked, 'the session was not revoked (step 07)');
    page = userPage;
    // Until the access token expires the app trusts it (it is a JWT); the
    // refresh that follows is what Gatehouse refuses.
    const wait = Math.max(0, accessExpires - Date.now()) + 1500;
    log(`  waiting ${(wait / 1000).toFixed(1)}s for the access token (TTL ${TTL_SECONDS}s) to expire`);
    await sleep(wait);
    const from = userHops.length;
    await page.goto(`${APP_URL}/dashboard`);
    // It ends on the hosted sign-in page, or (if Gatehouse signs the
    // browser straight back in) on the app's home page.
    await page.waitForURL((u) => u.toString().startsWith(HOSTED_SIGN_IN) || u.toString() === HOME, { timeout: NAV_TIMEOUT });
    await page.waitForLoadState('load');
    const chain = userHops.slice(from).map(short).join(' -> ');
    log(`  chain: ${chain}`);
    if (!page.url().startsWith(HOSTED_SIGN_IN)) {
      // Find out what signed the user back in: a new session of theirs.
      await adminPage.goto(envPage(`users/${userId}`));
      const active = await adminPage.locator('#sessions tr[data-status=active]').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-session-id')));
      throw new StepError(`after the revocation, /dashboard ended at ${short(page.url())} signed in, not on the hosted sign-in page; ` +
        `chain: ${chain}; the user now has active session(s) ${active.join(', ') || 'none'} ` +
        `(Gatehouse's browser session outlived the revoked session and /user_management/authorize issued a new code without asking)`);
    }
    await page.locator('input[name=password]').waitFor({ timeout: 10_000 });
    await expectTitle(page, 'Sign in');
    const cookies = await userCtx.cookies(APP_URL);
    check(!cookies.some((c) => c.name === 'wos-session'), 'the app kept its session cookie');
  });

  await step('09-add-and-remove-a-redirect-uri', async () => {
    page = adminPage;
    await page.goto(envPage('redirects'));
    await expectAdminPage(page, 'Redirects', 'Redirects');
    const table = page.locator('#redirect-uris-table');
    check((await table.locator(`tr[data-uri="${APP_URL}/callback"]`).count()) === 1, `the dev redirect URI ${APP_URL}/callback is not listed`);
    await page.locator('#redirect-uris-uri').fill(extraRedirect);
    await page.locator('#redirect-uris-add').click();
    await expectNotice(page, 'Redirect added.');
    const row = table.locator(`tr[data-uri="${extraRedirect}"]`);
    check((await row.count()) === 1, `${extraRedirect} is not listed after adding it`);
    check((await text(row.locator('td').nth(1))) === '', 'the added URI became the default');
    await shot(page, 'redirects');
    await row.getByRole('button', { name: 'Remove' }).click();
    await expectNotice(page, 'Redirect removed.');
    check((await table.locator(`tr[data-uri="${extraRedirect}"]`).count()) === 0, `${extraRedirect} is still listed after removing it`);
    check((await table.locator(`tr[data-uri="${APP_URL}/callback"]`).count()) === 1, 'removing one URI removed the dev one too');
  });

  await step('10-invalid-wildcard-explained', async () => {
    page = adminPage;
    await page.goto(envPage('redirects'));
    await page.locator('#redirect-uris-uri').fill(badWildcard);
    await page.locator('#redirect-uris-add').click();
    const alert = page.locator('#redirect-uris-error');
    await alert.waitFor({ timeout: 10_000 });
    const msg = await text(alert);
    const rule = (await alert.locator('.rule code').count()) ? await text(alert.locator('.rule code')) : '';
    log(`  refusal: "${msg}"`);
    check(rule !== '', `the refusal names no rule: "${msg}"`);
    check(/registrable|\*\.com|public suffix/i.test(msg), `the refusal does not explain the wildcard rule: "${msg}"`);
    check((await page.locator('#redirect-uris-uri').inputValue()) === badWildcard, 'the refused URI is not kept in the field');
    check((await page.locator('#redirect-uris-uri').getAttribute('aria-invalid')) === 'true', 'the field is not marked invalid');
    check((await page.locator(`#redirect-uris-table tr[data-uri="${badWildcard}"]`).count()) === 0, 'the invalid wildcard was added');
    check(await page.locator('#redirect-rules').isVisible(), 'the rules are not shown');
    await shot(page, 'redirects-invalid-wildcard');
  });

  await step('11-api-key-create-use-revoke', async () => {
    page = adminPage;
    await page.goto(envPage('api-keys'));
    await expectAdminPage(page, 'API keys', 'API keys');
    await page.locator('#key-name').fill(keyName);
    await page.locator('#create-api-key').click();
    await expectTitle(page, 'API key created');
    const secret = await page.locator('#api-key-secret').inputValue();
    check(secret.length >= 20, `the secret shown is "${secret}"`);
    log(`  secret ${secret.slice(0, 10)}… (${secret.length} characters)`);
    await shot(page, 'api-key-created');

    const ok = await api('/user_management/users?limit=100', secret);
    check(ok.status === 200, `GET /user_management/users with the new key: ${ok.status} ${ok.body.slice(0, 200)}`);
    check(ok.json?.data?.some((u) => u.email === user.email), `the API's user list lacks ${user.email}`);

    await page.locator('#done').click();
    await page.waitForURL(envPage('api-keys'));
    check(!(await page.content()).includes(secret), 'the API keys page shows the secret again');
    const row = page.locator('#api-keys tbody tr[data-key-id]', { hasText: keyName });
    check((await row.count()) === 1, `the API keys list has ${await row.count()} rows named ${keyName}`);
    check((await row.getAttribute('data-status')) === 'active', 'the new key is not active');
    const keyId = await row.getAttribute('data-key-id');
    await page.locator(`[id="revoke-${keyId}"]`).click();
    await expectTitle(page, `Revoke ${keyName}?`);
    await page.locator('#confirm-revoke').click();
    await page.waitForURL((u) => u.pathname === new URL(envPage('api-keys')).pathname);
    await expectNotice(page, 'API key revoked.');
    const after = page.locator(`#api-keys tr[data-key-id="${keyId}"]`);
    check((await after.getAttribute('data-status')) === 'revoked', `after revoking, the key is ${await after.getAttribute('data-status')}`);
    await shot(page, 'api-keys');

    const refused = await api('/user_management/users', secret);
    check(refused.status === 401, `GET /user_management/users with the revoked key: ${refused.status} ${refused.body.slice(0, 200)}, want 401`);
    log(`  revoked key refused: ${refused.status} ${refused.body.slice(0, 160)}`);
  });

  await step('12-branding', async () => {
    page = adminPage;
    await page.goto(envPage('branding'));
    await expectAdminPage(page, 'Branding', 'Branding');
    await page.locator('#app_name').fill(brand.appName);
    await page.locator('#primary_color').fill(brand.color);
    // The preview follows the edits before saving (app.js).
    check((await text(page.locator('#preview-name'))) === brand.appName, 'the preview does not follow the app name as it is typed');
    check((await cssColor(page.locator('#branding-preview .preview-button'), 'background-color')) === brand.rgb,
      'the preview button does not follow the colour as it is typed');
    await page.locator('#save-branding').click();
    await expectNotice(page, 'Branding saved.');
    check((await page.locator('#app_name').inputValue()) === brand.appName, 'the saved app name is not in the form');
    check((await page.locator('#primary_color').inputValue()) === brand.color, 'the saved colour is not in the form');
    check((await text(page.locator('#preview-name'))) === brand.appName, 'the preview does not show the saved app name');
    // After a reload the colour comes from branding.css, not the script.
    const bg = await cssColor(page.locator('#branding-preview .preview-button'), 'background-color');
    check(bg === brand.rgb, `the preview button's background is ${bg}, want ${brand.rgb}`);
    await shot(page, 'branding');
  });

  await step('13-branding-on-the-hosted-sign-in-page', async () => {
    const ctx = await newContext();
    page = await ctx.newPage();
    track(page, 'visitor');
    await page.goto(`${APP_URL}/login`);
    await page.waitForURL(startsWith(HOSTED_SIGN_IN));
    await expectTitle(page, 'Sign in');
    const shown = await text(page.locator('p.brand'));
    check(shown === brand.appName, `the hosted sign-in page shows the name "${shown}", want "${brand.appName}"`);
    check((await page.title()).includes(brand.appName), `the page title "${await page.title()}" lacks the app name`);
    const css = await page.locator('link[rel=stylesheet][href*="/assets/brand/"]').getAttribute('href');
    check(css, 'the hosted page links no brand stylesheet');
    const bg = await cssColor(page.locator('button[type=submit]'), 'background-color');
    check(bg === brand.rgb, `the sign-in button's background is ${bg}, want ${brand.rgb} (${brand.color}); brand stylesheet ${css}`);
    log(`  "${shown}", button ${bg}, stylesheet ${css}`);
    await shot(page, 'hosted-sign-in-branded');
    await ctx.close();
  });

  await step('14-activity', async () => {
    page = adminPage;
    await page.goto(envPage('activity'));
    await expectAdminPage(page, 'Activity', 'Activity');
    const types = new Set(await page.locator('#events tbody tr[data-event-type]').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-event-type'))));
    log(`  event types: ${[...types].join(', ')}`);
    const want = ['admin.session_revoked', 'admin.redirect_added', 'admin.redirect_removed', 'admin.api_key_created', 'admin.api_key_revoked', 'admin.branding_updated'];
    const missing = want.filter((t) => !types.has(t));
    check(missing.length === 0, `the activity page lacks ${missing.join(', ')}`);
    const revokedRow = page.locator('#events tr[data-event-type="admin.session_revoked"]').first();
    const actor = await text(revokedRow.locator('td').nth(2));
    check(actor.includes('admin@localhost'), `the revocation's actor reads "${actor}", want the admin's email`);
    await shot(page, 'activity');
  });

  await step('15-settings', async () => {
    page = adminPage;
    await page.goto(envPage('settings'));
    await expectAdminPage(page, 'Settings', 'Settings');
    check((await text(page.locator('#client-id'))) === CLIENT_ID, 'the settings page shows another client ID');
    check((await text(page.locator('#environment-id'))) === envId, 'the settings page shows another environment ID');
    const ttl = await page.locator('#access_token_ttl').inputValue();
    check(ttl === `${TTL_SECONDS}s`, `the access-token lifetime reads "${ttl}", want ${TTL_SECONDS}s`);
    await shot(page, 'settings');
  });

  if (failures.length > 0) {
    exitCode = 1;
    log(`FAILED: ${failures.length} step(s): ${failures.join(', ')}`);
  } else {
    log('PASS: every step passed');
  }
} catch (err) {
  exitCode = 1;
  if (!err.reported) {
    log(`FAIL: ${err.stack || err}`);
    await capture('FAIL-unexpected');
  }
  if (failures.length > 0) log(`FAILED: ${failures.join(', ')}`);
} finally {
  await browser.close().catch(() => {});
}
process.exit(exitCode);
