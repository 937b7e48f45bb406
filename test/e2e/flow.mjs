// End-to-end flow: examples/express + Gatehouse's hosted pages, in headless
// Chromium (the system one at /usr/bin/chromium; playwright-core never
// downloads a browser). e2e_test.go starts both servers and runs this file;
// it can also be run by hand against servers you started yourself:
//
//   APP_URL=http://localhost:3000 GATEHOUSE_URL=http://127.0.0.1:8080 \
//   WORKOS_CLIENT_ID=client_… ACCESS_TOKEN_TTL_SECONDS=3 node test/e2e/flow.mjs
//
// Each step is logged; on failure the page is saved as $E2E_OUT/<step>.png
// (and .html) and the script exits non-zero.
//
// Emails (verification codes, reset links, sign-in codes) are read from
// gatehouse dev's inbox, GATEHOUSE_URL/_dev/inbox.json, as a person would
// read their mailbox.

import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`flow.mjs: ${name} is not set`);
    process.exit(2);
  }
  return v;
};
const APP_URL = env('APP_URL').replace(/\/+$/, '');
const GATEHOUSE_URL = env('GATEHOUSE_URL').replace(/\/+$/, '');
const CLIENT_ID = env('WORKOS_CLIENT_ID');
const TTL_SECONDS = Number(env('ACCESS_TOKEN_TTL_SECONDS'));
const OUT = process.env.E2E_OUT || 'testout/e2e';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const HOSTED_SIGN_IN = `${GATEHOUSE_URL}/hosted/${CLIENT_ID}/sign-in`;
const HOME = `${APP_URL}/`;
const NAV_TIMEOUT = 20_000;

const suffix = randomBytes(6).toString('hex');
const user = {
  email: `e2e-${suffix}@example.com`,
  password: `Gatehouse e2e ${randomBytes(12).toString('base64url')} passphrase`,
  firstName: 'Ada',
  lastName: `Tester-${suffix}`,
};
// The password set through "Forgot password?".
const newPassword = `Gatehouse e2e reset ${randomBytes(12).toString('base64url')} passphrase`;
// An address with no account, which signs up with an emailed code.
const magicEmail = `e2e-magic-${suffix}@example.com`;

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

// track logs a page's main-frame navigations and failed responses. It
// returns the URL of every navigation request, redirect hops included
// (hops), and of every page actually committed in the main frame (pages).
function track(p, label) {
  const hops = [];
  const pages = [];
  p.on('framenavigated', (frame) => {
    if (frame === p.mainFrame()) pages.push(frame.url());
  });
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
  return { hops, pages };
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
  return cookies.find((c) => c.name === 'wos-session')?.value;
}

async function expectSignedInHome(p, want = user.email) {
  await p.waitForURL(HOME, { timeout: NAV_TIMEOUT });
  const email = p.locator('#email');
  await email.waitFor({ timeout: 10_000 });
  check((await email.innerText()) === want, `home page shows ${await email.innerText()}, want ${want}`);
  check(await p.getByRole('button', { name: 'Sign out' }).isVisible(), 'no "Sign out" button on the home page');
}

async function expectDashboard(p) {
  check(p.url() === `${APP_URL}/dashboard`, `at ${p.url()}, want ${APP_URL}/dashboard`);
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

// expectTitle checks a hosted page's heading.
async function expectTitle(p, want) {
  const h1 = p.locator('h1#page-title');
  await h1.waitFor({ timeout: 10_000 });
  const got = (await h1.innerText()).trim();
  check(got === want, `the page at ${short(p.url())} is titled "${got}", want "${want}"`);
}

// ---------------------------------------------------------------------------
// The dev inbox
// ---------------------------------------------------------------------------

// inbox returns the emails gatehouse dev captured for address, newest first.
async function inbox(address) {
  const res = await fetch(`${GATEHOUSE_URL}/_dev/inbox.json`, { headers: { accept: 'application/json' } });
  const body = await res.text();
  check(res.ok, `GET /_dev/inbox.json: ${res.status} ${body.slice(0, 200)}`);
  const { data } = JSON.parse(body);
  check(Array.isArray(data), `/_dev/inbox.json has no data array: ${body.slice(0, 200)}`);
  return data.filter((e) => e.to.toLowerCase() === address.toLowerCase());
}

// seenEmails records the IDs of an address's emails before an action, so
// newEmail can wait for the one the action sends.
async function seenEmails(address) {
  return new Set((await inbox(address)).map((e) => e.id));
}

// newEmail polls the dev inbox briefly for an email to address that was not
// in seen, and returns the newest such email.
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

// codeIn finds the 6-digit code, which stands alone on an indented line.
function codeIn(mail) {
  const m = /^[ \t]+(\d{6})[ \t]*$/m.exec(mail.text);
  check(m, `no 6-digit code in the email "${mail.subject}":\n${mail.text}`);
  return m[1];
}

// resetLinkIn finds the password-reset link of a reset email.
function resetLinkIn(mail) {
  const prefix = `${GATEHOUSE_URL}/hosted/${CLIENT_ID}/reset-password?token=`;
  const link = mail.text.split(/\s+/).find((w) => w.startsWith(prefix));
  check(link, `no link starting ${prefix} in the email "${mail.subject}":\n${mail.text}`);
  return link;
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
  const { hops, pages } = track(page, 'main');
  let seen; // an address's emails before the step that sends one

  // signOut clicks the home page's "Sign out" button and checks the browser
  // went through Gatehouse's logout endpoint and ended on the home page,
  // signed out.
  async function signOut() {
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
    check(
      chain.some((u) => u.startsWith(`${GATEHOUSE_URL}/user_management/sessions/logout?session_id=`)),
      'sign-out did not go through Gatehouse /user_management/sessions/logout',
    );
    check(page.url() === HOME, `ended at ${page.url()}, want ${HOME}`);
    await page.getByRole('link', { name: 'Sign in', exact: true }).waitFor({ timeout: 5_000 });
    check(!(await sessionCookie(context)), 'the wos-session cookie is still set after signing out');
  }

  await step('01-sign-up', async () => {
    await page.goto(HOME);
    await page.getByRole('link', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(startsWith(HOSTED_SIGN_IN));
    log(`  hosted sign-in: ${short(page.url())}`);
    const signUp = page.locator('a[href*="/sign-up"]').first();
    check((await signUp.count()) > 0, 'the hosted sign-in page has no link to /sign-up');
    await signUp.click();
    await page.waitForURL((u) => u.toString().startsWith(GATEHOUSE_URL) && u.pathname.includes('/sign-up'));
    log(`  hosted sign-up: ${short(page.url())}`);
    await page.locator('input[name=email]').fill(user.email);
    await page.locator('input[name=password]').fill(user.password);
    await page.locator('input[name=first_name]').fill(user.firstName);
    await page.locator('input[name=last_name]').fill(user.lastName);
    seen = await seenEmails(user.email);
    await submitHostedForm(page);
  });

  await step('01b-verify-email', async () => {
    // Email verification is on by default: the sign-up continues on the
    // "Check your email" page with a code sent to the new address.
    await page.waitForURL((u) => u.toString().startsWith(`${GATEHOUSE_URL}/hosted/${CLIENT_ID}/verify-email?`));
    log(`  verification page: ${short(page.url())}`);
    const url = new URL(page.url());
    check(url.searchParams.get('request'), 'the verification page URL has no request parameter');
    check(/^email_verification_/.test(url.searchParams.get('verification') || ''), 'the verification page URL has no email_verification_ ID');
    await expectTitle(page, 'Check your email');
    const lead = await page.locator('p.lead').innerText();
    check(lead.includes(user.email), `the verification page does not name ${user.email}: "${lead}"`);
    check(await page.getByRole('button', { name: 'Send a new code' }).isVisible(), 'no "Send a new code" button');
    const code = codeIn(await newEmail(user.email, seen));
    await page.locator('input[name=code]').fill(code);
    await page.locator('button[name=action][value=verify]').click();
  });

  await step('02-signed-in', async () => {
    await expectSignedInHome(page);
    const first = await page.locator('#first-name').innerText();
    const last = await page.locator('#last-name').innerText();
    check(first === user.firstName && last === user.lastName, `home shows name "${first} ${last}", want "${user.firstName} ${user.lastName}"`);
    check(await sessionCookie(context), 'no wos-session cookie after signing in');
  });

  await step('03-dashboard', async () => {
    await page.goto(`${APP_URL}/dashboard`);
    await expectDashboard(page);
    log(`  session ${await page.locator('#session-id').innerText()}, access token expires ${await page.locator('#expires').innerText()}`);
  });

  await step('04-refresh', async () => {
    const before = await sessionCookie(context);
    const expiresBefore = await page.locator('#expires').innerText();
    const wait = (TTL_SECONDS + 2) * 1000;
    log(`  waiting ${wait / 1000}s for the access token to expire`);
    await sleep(wait);
    const from = hops.length;
    await page.reload();
    await page.waitForLoadState('load');
    await expectDashboard(page);
    const after = await sessionCookie(context);
    check(after, 'the wos-session cookie disappeared');
    check(after !== before, 'the wos-session cookie did not change: the access token was not refreshed');
    const expiresAfter = await page.locator('#expires').innerText();
    check(expiresAfter !== expiresBefore, `the access-token expiry stayed ${expiresAfter}`);
    log(`  refreshed via ${hops.slice(from).map(short).join(' -> ')}; expires ${expiresAfter}`);
  });

  await step('05-sign-out-with-expired-token', async () => {
    await page.goto(HOME);
    await expectSignedInHome(page);
    // Node's getLogoutUrl needs a currently valid access token: let it
    // expire so the app has to refresh before it can name the session.
    const wait = (TTL_SECONDS + 2) * 1000;
    log(`  waiting ${wait / 1000}s for the access token to expire before signing out`);
    await sleep(wait);
    await signOut();
  });

  await step('06-dashboard-asks-again', async () => {
    await page.goto(`${APP_URL}/dashboard`);
    await page.waitForURL(startsWith(HOSTED_SIGN_IN));
    await page.locator('input[name=password]').waitFor({ timeout: 10_000 });
    log(`  credentials asked again at ${short(page.url())}`);
  });

  await step('07-sign-in-again', async () => {
    await page.locator('input[name=email]').fill(user.email);
    await page.locator('input[name=password]').fill(user.password);
    await submitHostedForm(page);
    await expectSignedInHome(page);
  });

  await step('07b-second-authorization-uses-gatehouse-session', async () => {
    const from = hops.length;
    const fromPage = pages.length;
    await page.goto(`${APP_URL}/login`);
    await expectSignedInHome(page);
    const chain = hops.slice(from);
    log(`  chain: ${chain.map(short).join(' -> ')}`);
    check(
      chain.some((u) => u.startsWith(`${GATEHOUSE_URL}/user_management/authorize`)),
      '/login did not go through Gatehouse /user_management/authorize',
    );
    // Redirect hops are not pages: only a committed navigation was shown.
    const shown = pages.slice(fromPage).filter((u) => u.startsWith(GATEHOUSE_URL));
    check(shown.length === 0, `Gatehouse showed a page instead of redirecting straight back: ${shown.map(short).join(', ')}`);
  });

  await step('08-hosted-sign-in-without-request', async () => {
    const fresh = await browser.newContext();
    fresh.setDefaultTimeout(15_000);
    fresh.setDefaultNavigationTimeout(NAV_TIMEOUT);
    page = await fresh.newPage();
    const { hops: freshHops } = track(page, 'fresh');
    await page.goto(HOSTED_SIGN_IN);
    await page.waitForURL((u) => u.toString().startsWith(HOSTED_SIGN_IN) && u.searchParams.has('request'));
    log(`  chain: ${freshHops.map(short).join(' -> ')}`);
    check(
      freshHops.some((u) => u.startsWith(`${APP_URL}/login`)),
      `the bare hosted sign-in page did not send the browser to the app's sign-in endpoint ${APP_URL}/login`,
    );
    check(
      freshHops.some((u) => u.startsWith(`${GATEHOUSE_URL}/user_management/authorize`)),
      'the flow did not go through /user_management/authorize',
    );
    await page.locator('input[name=password]').waitFor({ timeout: 10_000 });
    await fresh.close();
  });

  await step('09-sign-out-again', async () => {
    // Back in the first browser, signed in through Gatehouse's browser
    // session (step 07b): that session signs out too, and then the
    // credentials are asked again.
    page = context.pages()[0];
    await page.goto(HOME);
    await expectSignedInHome(page);
    await signOut();
    await page.goto(`${APP_URL}/login`);
    await page.waitForURL(startsWith(HOSTED_SIGN_IN));
    await page.locator('input[name=password]').waitFor({ timeout: 10_000 });
  });

  // signInPage goes from the app's /login to the hosted sign-in page.
  async function signInPage() {
    await page.goto(`${APP_URL}/login`);
    await page.waitForURL(startsWith(HOSTED_SIGN_IN));
    await expectTitle(page, 'Sign in');
  }

  await step('10-forgot-password', async () => {
    // On the hosted sign-in page from step 09.
    const forgot = page.locator('a[href*="/forgot-password"]');
    check((await forgot.count()) === 1, 'the hosted sign-in page has no "Forgot password?" link');
    await forgot.click();
    await page.waitForURL(startsWith(`${GATEHOUSE_URL}/hosted/${CLIENT_ID}/forgot-password`));
    log(`  forgot-password page: ${short(page.url())}`);
    await expectTitle(page, 'Reset your password');
    await page.locator('input[name=email]').fill(user.email);
    seen = await seenEmails(user.email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await expectTitle(page, 'Check your email');
    const text = await page.locator('p.message').innerText();
    check(text.includes(user.email), `the confirmation does not name ${user.email}: "${text}"`);
  });

  let resetLink;
  await step('11-reset-email', async () => {
    const mail = await newEmail(user.email, seen);
    resetLink = resetLinkIn(mail);
    log(`  reset link: ${short(resetLink)}`);
  });

  await step('12-set-new-password', async () => {
    const from = hops.length;
    await page.goto(resetLink);
    await expectTitle(page, 'Choose a new password');
    const lead = await page.locator('p.lead').innerText();
    check(lead.includes(user.email), `the reset page does not name ${user.email}: "${lead}"`);
    await page.locator('input[name=password]').fill(newPassword);
    await page.getByRole('button', { name: 'Set new password' }).click();
    // A reset ends at the environment's sign-in endpoint (the app's
    // /login), which starts a normal flow on the hosted sign-in page.
    await page.waitForURL(startsWith(HOSTED_SIGN_IN));
    await page.locator('input[name=password]').waitFor({ timeout: 10_000 });
    const chain = hops.slice(from);
    log(`  chain: ${chain.map(short).join(' -> ')}`);
    check(chain.some((u) => u.startsWith(`${APP_URL}/login`)), `the reset did not send the browser to the app's sign-in endpoint ${APP_URL}/login`);
    check(
      chain.some((u) => u.startsWith(`${GATEHOUSE_URL}/user_management/authorize`)),
      'the flow after the reset did not go through /user_management/authorize',
    );
  });

  await step('13-old-password-refused', async () => {
    await page.locator('input[name=email]').fill(user.email);
    await page.locator('input[name=password]').fill(user.password);
    await submitHostedForm(page);
    const alert = page.locator('#form-error');
    await alert.waitFor({ timeout: 10_000 });
    const msg = (await alert.innerText()).trim();
    check(msg === 'The email or password is incorrect.', `the old password got "${msg}", want the generic "The email or password is incorrect."`);
    check(page.url().startsWith(HOSTED_SIGN_IN), `at ${page.url()} after a refused password, want the hosted sign-in page`);
    await expectTitle(page, 'Sign in');
  });

  await step('14-sign-in-with-new-password', async () => {
    user.password = newPassword;
    await page.locator('input[name=email]').fill(user.email);
    await page.locator('input[name=password]').fill(user.password);
    await submitHostedForm(page);
    // The reset proved the address: no verification step this time.
    await expectSignedInHome(page);
    await page.goto(`${APP_URL}/dashboard`);
    await expectDashboard(page);
  });

  await step('15-magic-code-sign-in', async () => {
    await page.goto(HOME);
    await signOut();
    await signInPage();
    const magic = page.locator('a[href*="/magic"]');
    check((await magic.count()) === 1, 'the hosted sign-in page has no "Email me a sign-in code" link');
    check((await magic.innerText()).trim() === 'Email me a sign-in code', `the magic link reads "${await magic.innerText()}"`);
    await magic.click();
    await page.waitForURL(startsWith(`${GATEHOUSE_URL}/hosted/${CLIENT_ID}/magic?`));
    await expectTitle(page, 'Sign in with a code');
    await page.locator('input[name=email]').fill(user.email);
    seen = await seenEmails(user.email);
    await page.getByRole('button', { name: 'Email me a code' }).click();
    await page.waitForURL(startsWith(`${GATEHOUSE_URL}/hosted/${CLIENT_ID}/magic-code?`));
    log(`  code page: ${short(page.url())}`);
    await expectTitle(page, 'Check your email');
    const code = codeIn(await newEmail(user.email, seen));
    await page.locator('input[name=code]').fill(code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expectSignedInHome(page);
    const first = await page.locator('#first-name').innerText();
    check(first === user.firstName, `home shows first name "${first}", want "${user.firstName}" (the same account)`);
  });

  await step('16-magic-code-sign-up', async () => {
    await signOut();
    await signInPage();
    await page.locator('a[href*="/magic"]').click();
    await page.waitForURL(startsWith(`${GATEHOUSE_URL}/hosted/${CLIENT_ID}/magic?`));
    await page.locator('input[name=email]').fill(magicEmail);
    seen = await seenEmails(magicEmail);
    await page.getByRole('button', { name: 'Email me a code' }).click();
    await page.waitForURL(startsWith(`${GATEHOUSE_URL}/hosted/${CLIENT_ID}/magic-code?`));
    await expectTitle(page, 'Check your email');
    const code = codeIn(await newEmail(magicEmail, seen));
    await page.locator('input[name=code]').fill(code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await expectSignedInHome(page, magicEmail);
    const first = await page.locator('#first-name').innerText();
    check(first === '', `a new account by code shows first name "${first}", want none`);
    await page.goto(`${APP_URL}/dashboard`);
    check(page.url() === `${APP_URL}/dashboard`, `at ${page.url()}, want ${APP_URL}/dashboard`);
    const email = await page.locator('#email').innerText();
    check(email === magicEmail, `dashboard shows ${email}, want ${magicEmail}`);
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
