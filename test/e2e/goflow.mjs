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

import {
  check, clickSignOut, codeIn, config, devInbox, expectDashboard as expectDashboardAt, expectSignedInHome as expectHome,
  fillSignUp, launch, log, newContext, sessionCookie as appCookie, short, sleep, startsWith, steps, submitHostedForm,
  track,
} from './lib.mjs';

const { APP_URL, GATEHOUSE_URL, CLIENT_ID, TTL_SECONDS, OUT, CHROMIUM, HOSTED, HOSTED_SIGN_IN, HOME } =
  config('goflow.mjs', { out: 'testout/e2e-go' });
const DASHBOARD = `${APP_URL}/dashboard`;

const suffix = randomBytes(6).toString('hex');
const user = {
  email: `e2e-go-${suffix}@example.com`,
  password: `Gatehouse e2e ${randomBytes(12).toString('base64url')} passphrase`,
  firstName: 'Grace',
  lastName: `Gopher-${suffix}`,
};

// ---------------------------------------------------------------------------
// Harness (lib.mjs) and this flow's checks
// ---------------------------------------------------------------------------

let page; // the page a failing step is captured from
const { step, run } = steps({ out: OUT, currentPage: () => page });
const { newEmail } = devInbox(GATEHOUSE_URL);

// sessionCookie is the app's wos-session cookie, if set.
const sessionCookie = (context) => appCookie(context, APP_URL);
const expectSignedInHome = (p) => expectHome(p, HOME, user.email);
const expectDashboard = (p) => expectDashboardAt(p, DASHBOARD, user.email);

// verificationCode polls the dev inbox for the newest email to address and
// returns the 6-digit code standing alone on an indented line of its text.
async function verificationCode(address) {
  return codeIn(await newEmail(address, new Set()));
}

// ---------------------------------------------------------------------------
// The flow
// ---------------------------------------------------------------------------

const browser = await launch(CHROMIUM);
log(`Chromium ${browser.version()}; app ${APP_URL}; Gatehouse ${GATEHOUSE_URL}; client ${CLIENT_ID}; user ${user.email}`);

await run(browser, async () => {
  const context = await newContext(browser);
  page = await context.newPage();
  const { hops } = track(page, 'main');
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
    await fillSignUp(page, user);
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
    const chain = await clickSignOut(page, HOME, hops);
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
});
