// End-to-end flow of the Go quickstart (examples/go) + Gatehouse's hosted
// pages, in headless Chromium (the system one at /usr/bin/chromium;
// playwright-core never downloads a browser). goexample_test.go starts
// `gatehouse dev` and the app and runs this file; it can also be run by hand
// against servers you started yourself:
//
//   APP_URL=http://localhost:3000 GATEHOUSE_URL=http://127.0.0.1:8080 \
//   WORKOS_CLIENT_ID=client_… ACCESS_TOKEN_TTL_SECONDS=3 node test/e2e/goflow.mjs
//
// (after `gatehouse environments update --access-token-ttl 3s …`). The
// verification code of the sign-up is read from gatehouse dev's inbox,
// GATEHOUSE_URL/_dev/inbox.json. Each step is logged; on failure the page is
// saved as $E2E_OUT/<step>.png (and .html) and the script exits non-zero.

import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`goflow.mjs: ${name} is not set`);
    process.exit(2);
  }
  return v;
};
const APP_URL = env('APP_URL').replace(/\/+$/, '');
const GATEHOUSE_URL = env('GATEHOUSE_URL').replace(/\/+$/, '');
const CLIENT_ID = env('WORKOS_CLIENT_ID');
const TTL_SECONDS = Number(env('ACCESS_TOKEN_TTL_SECONDS'));
const OUT = process.env.E2E_OUT || 'testout/e2e-go';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const HOSTED = `${GATEHOUSE_URL}/hosted/${CLIENT_ID}`;
const HOSTED_SIGN_IN = `${HOSTED}/sign-in`;
const HOME = `${APP_URL}/`;
const DASHBOARD = `${APP_URL}/dashboard`;
const NAV_TIMEOUT = 20_000;

const suffix = randomBytes(6).toString('hex');
const user = {
  email: `e2e-go-${suffix}@example.com`,
  password: `Gatehouse e2e ${randomBytes(12).toString('base64url')} passphrase`,
  firstName: 'Grace',
  lastName: `Gopher-${suffix}`,
};

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

let page; // the page a failing step is captured from
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const log = (msg) => console.log(`[${elapsed()}] ${msg}`);

class StepError extends Error {}
const check = (cond, msg) => {
  if (!cond) throw new StepError(msg);
};

async function step(name, fn) {
  log(`STEP ${name}`);
  try {
    await fn();
    log(`  ok ${name}`);
  } catch (err) {
    log(`FAIL ${name}: ${err.message.split('\n').slice(0, 6).join('\n    ')}`);
    await capture(name);
    throw Object.assign(err, { reported: true });
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
    log(`  page text: ${text.slice(0, 400)}`);
  } catch (err) {
    log(`  could not capture the page: ${err.message}`);
  }
}

// track logs a page's main-frame navigations (redirect hops included) and
// failed responses, and returns the URLs of the navigation requests.
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

// short shortens long query values (codes, tokens, states) for the log.
function short(url) {
  try {
    const u = new URL(url);
    for (const [k, v] of u.searchParams) if (v.length > 24) u.searchParams.set(k, `${v.slice(0, 12)}…`);
    return decodeURIComponent(u.toString());
  } catch {
    return url;
  }
}

const startsWith = (prefix) => (url) => url.toString().startsWith(prefix);

async function sessionCookie(context) {
  const cookies = await context.cookies(APP_URL);
  return cookies.find((c) => c.name === 'wos-session');
}

async function expectSignedInHome(p) {
  await p.waitForURL(HOME, { timeout: NAV_TIMEOUT });
  const email = p.locator('#email');
  await email.waitFor({ timeout: 10_000 });
  check((await email.innerText()) === user.email, `home page shows ${await email.innerText()}, want ${user.email}`);
  check(await p.getByRole('button', { name: 'Sign out' }).isVisible(), 'no "Sign out" button on the home page');
}

async function expectDashboard(p) {
  check(p.url() === DASHBOARD, `at ${p.url()}, want ${DASHBOARD}`);
  const h1 = await p.locator('h1').innerText();
  check(h1 === 'Dashboard', `heading is "${h1}", want "Dashboard"`);
  const email = await p.locator('#email').innerText();
  check(email === user.email, `dashboard shows ${email}, want ${user.email}`);
}

// submitHostedForm submits the form holding the password field.
async function submitHostedForm(p) {
  const form = p.locator('form:has(input[name=password])');
  await form.locator('button[type=submit]').first().click();
}

// inbox returns the emails gatehouse dev captured for address, newest first.
async function inbox(address) {
  const res = await fetch(`${GATEHOUSE_URL}/_dev/inbox.json`, { headers: { accept: 'application/json' } });
  const body = await res.text();
  check(res.ok, `GET /_dev/inbox.json: ${res.status} ${body.slice(0, 200)}`);
  const { data } = JSON.parse(body);
  check(Array.isArray(data), `/_dev/inbox.json has no data array: ${body.slice(0, 200)}`);
  return data.filter((e) => String(e.to).toLowerCase() === address.toLowerCase());
}

// verificationCode polls the dev inbox for the newest email to address and
// returns the 6-digit code standing alone on an indented line of its text.
async function verificationCode(address) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [mail] = await inbox(address);
    if (mail) {
      log(`  email to ${address}: "${mail.subject}"`);
      const m = /^[ \t]+(\d{6})[ \t]*$/m.exec(mail.text);
      check(m, `no 6-digit code in the email "${mail.subject}":\n${mail.text}`);
      return m[1];
    }
    check(Date.now() < deadline, `no email to ${address} in the dev inbox after 10s`);
    await sleep(200);
  }
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

let exitCode = 0;
try {
  const context = await browser.newContext();
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(NAV_TIMEOUT);
  page = await context.newPage();
  const hops = track(page, 'main');
  let sessionId;

  await step('01-sign-up', async () => {
    await page.goto(HOME);
    await page.getByRole('link', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(startsWith(HOSTED_SIGN_IN));
    log(`  hosted sign-in: ${short(page.url())}`);
    const signUp = page.locator('a[href*="/sign-up"]').first();
    check((await signUp.count()) > 0, 'the hosted sign-in page has no link to /sign-up');
    await signUp.click();
    await page.waitForURL(startsWith(`${HOSTED}/sign-up`));
    await page.locator('input[name=email]').fill(user.email);
    await page.locator('input[name=password]').fill(user.password);
    await page.locator('input[name=first_name]').fill(user.firstName);
    await page.locator('input[name=last_name]').fill(user.lastName);
    await submitHostedForm(page);
  });

  await step('02-verify-email', async () => {
    await page.waitForURL(startsWith(`${HOSTED}/verify-email?`));
    log(`  verification page: ${short(page.url())}`);
    const code = await verificationCode(user.email);
    await page.locator('input[name=code]').fill(code);
    await page.locator('button[name=action][value=verify]').click();
  });

  await step('03-signed-in', async () => {
    await expectSignedInHome(page);
    const first = await page.locator('#first-name').innerText();
    const last = await page.locator('#last-name').innerText();
    check(first === user.firstName && last === user.lastName, `home shows name "${first} ${last}", want "${user.firstName} ${user.lastName}"`);
    const cookie = await sessionCookie(context);
    check(cookie, 'no wos-session cookie after signing in');
    check(cookie.httpOnly && cookie.sameSite === 'Lax' && cookie.path === '/', `wos-session cookie attributes ${JSON.stringify({ ...cookie, value: '…' })}`);
    check(/^Fe26\.2\*1\*.*~2$/.test(cookie.value), `the wos-session cookie is not a Node-format iron seal: ${cookie.value.slice(0, 40)}…`);
    check(!(await context.cookies(APP_URL)).some((c) => c.name === 'wos-auth-state'), 'the state cookie was not cleared by /callback');
  });

  await step('04-dashboard', async () => {
    await page.goto(DASHBOARD);
    await expectDashboard(page);
    sessionId = await page.locator('#session-id').innerText();
    check(/^session_/.test(sessionId), `session ID "${sessionId}"`);
    log(`  session ${sessionId}, access token expires ${await page.locator('#expires').innerText()}`);
  });

  await step('05-transparent-refresh', async () => {
    const before = (await sessionCookie(context)).value;
    const expiresBefore = await page.locator('#expires').innerText();
    const wait = (TTL_SECONDS + 2) * 1000;
    log(`  waiting ${wait / 1000}s for the access token to expire`);
    await sleep(wait);
    const from = hops.length;
    const res = await page.reload();
    await page.waitForLoadState('load');
    const chain = hops.slice(from);
    log(`  chain: ${chain.map(short).join(' -> ')}`);
    // The SDK's middleware refreshes in place: one request, no redirect.
    check(chain.length === 1 && chain[0] === DASHBOARD, `reloading the dashboard went ${chain.map(short).join(' -> ')}, want only ${DASHBOARD}`);
    check(res.status() === 200, `the reload answered ${res.status()}`);
    check(res.request().redirectedFrom() === null, 'the reload was redirected');
    await expectDashboard(page);
    const after = await sessionCookie(context);
    check(after, 'the wos-session cookie disappeared');
    check(after.value !== before, 'the wos-session cookie did not change: the access token was not refreshed');
    check(after.httpOnly && after.sameSite === 'Lax' && after.path === '/', 'the refreshed cookie lost its attributes');
    const expiresAfter = await page.locator('#expires').innerText();
    check(expiresAfter !== expiresBefore, `the access-token expiry stayed ${expiresAfter}`);
    const sid = await page.locator('#session-id').innerText();
    check(sid === sessionId, `the session changed from ${sessionId} to ${sid}`);
    log(`  refreshed; expires ${expiresAfter}`);
  });

  await step('06-csrf-and-state-checks', async () => {
    const before = (await sessionCookie(context)).value;
    // The page's request context shares the browser's cookies.
    for (const form of [{}, { _csrf: 'forged.token' }]) {
      const res = await context.request.post(`${APP_URL}/logout`, { form, maxRedirects: 0 });
      check(res.status() === 403, `POST /logout with ${JSON.stringify(form)} answered ${res.status()}, want 403`);
    }
    check((await sessionCookie(context))?.value === before, 'a refused sign-out changed the session cookie');
    const res = await context.request.get(`${APP_URL}/callback?code=whatever&state=forged`, { maxRedirects: 0 });
    check(res.status() === 400, `a callback with a forged state answered ${res.status()}, want 400`);
    check((await res.text()).includes('state mismatch'), 'the forged-state page does not say "state mismatch"');
    await page.goto(HOME);
    await expectSignedInHome(page);
  });

  await step('07-sign-out-with-expired-token', async () => {
    // The home page's form was rendered with a valid token; let the token
    // expire before submitting it: the SDK's LogoutURL needs no refresh.
    const wait = (TTL_SECONDS + 2) * 1000;
    log(`  waiting ${wait / 1000}s for the access token to expire before signing out`);
    await sleep(wait);
    const from = hops.length;
    const backHome = page.waitForResponse(
      (res) => res.url() === HOME && res.request().isNavigationRequest() && res.request().method() === 'GET',
      { timeout: NAV_TIMEOUT },
    );
    await page.getByRole('button', { name: 'Sign out' }).click();
    await backHome;
    await page.waitForLoadState('load');
    const chain = hops.slice(from);
    log(`  sign-out chain: ${chain.map(short).join(' -> ')}`);
    const logout = `${GATEHOUSE_URL}/user_management/sessions/logout?`;
    check(chain.length === 3 && chain[0] === `${APP_URL}/logout` && chain[1].startsWith(logout) && chain[2] === HOME,
      `sign-out went ${chain.map(short).join(' -> ')}, want POST /logout -> Gatehouse logout -> ${HOME}`);
    const q = new URL(chain[1]).searchParams;
    check(q.get('session_id') === sessionId, `logout named session ${q.get('session_id')}, want ${sessionId}`);
    check(q.get('return_to') === HOME, `logout return_to ${q.get('return_to')}, want ${HOME}`);
    check(page.url() === HOME, `ended at ${page.url()}, want ${HOME}`);
    await page.getByRole('link', { name: 'Sign in', exact: true }).waitFor({ timeout: 5_000 });
    check(!(await sessionCookie(context)), 'the wos-session cookie is still set after signing out');
  });

  await step('08-dashboard-asks-again', async () => {
    const from = hops.length;
    await page.goto(DASHBOARD);
    await page.waitForURL(startsWith(HOSTED_SIGN_IN));
    await page.locator('input[name=password]').waitFor({ timeout: 10_000 });
    const chain = hops.slice(from);
    log(`  chain: ${chain.map(short).join(' -> ')}`);
    check(chain[1] === `${APP_URL}/login`, `the dashboard did not send the browser to ${APP_URL}/login`);
  });

  await step('09-sign-in-again', async () => {
    await page.locator('input[name=email]').fill(user.email);
    await page.locator('input[name=password]').fill(user.password);
    await submitHostedForm(page);
    // Verified at sign-up: no code this time.
    await expectSignedInHome(page);
    await page.goto(DASHBOARD);
    await expectDashboard(page);
    const sid = await page.locator('#session-id').innerText();
    check(sid !== sessionId, `signing in again reused the ended session ${sid}`);
  });

  log('PASS: every step passed');
} catch (err) {
  exitCode = 1;
  if (!err.reported) {
    log(`FAIL: ${err.stack || err}`);
    await capture('unexpected');
  }
} finally {
  await browser.close().catch(() => {});
}
process.exit(exitCode);
