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

import {
  check, clickSignOut, codeIn, config, devInbox, expectDashboard as expectDashboardAt, expectSignedInHome as expectHome,
  expectTitle, fillSignUp, launch, log, newContext, sessionCookie as appCookie, short, sleep, startsWith, steps,
  submitHostedForm, track,
} from './lib.mjs';

const { APP_URL, GATEHOUSE_URL, CLIENT_ID, TTL_SECONDS, OUT, CHROMIUM, HOSTED_SIGN_IN, HOME } =
  config('flow.mjs', { out: 'testout/e2e' });

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
// Harness (lib.mjs) and this flow's checks
// ---------------------------------------------------------------------------

let page; // the page a failing step is captured from
const { step, run } = steps({ out: OUT, currentPage: () => page });
const { seenEmails, newEmail } = devInbox(GATEHOUSE_URL);

// sessionCookie is the value of the app's wos-session cookie, if set.
async function sessionCookie(context) {
  return (await appCookie(context, APP_URL))?.value;
}

const expectSignedInHome = (p, want = user.email) => expectHome(p, HOME, want);
const expectDashboard = (p) => expectDashboardAt(p, `${APP_URL}/dashboard`, user.email);

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

const browser = await launch(CHROMIUM);
log(`Chromium ${browser.version()}; app ${APP_URL}; Gatehouse ${GATEHOUSE_URL}; client ${CLIENT_ID}; user ${user.email}`);

await run(browser, async () => {
  const context = await newContext(browser);
  page = await context.newPage();
  const { hops, pages } = track(page, 'main');
  let seen; // an address's emails before the step that sends one

  // signOut clicks the home page's "Sign out" button and checks the browser
  // went through Gatehouse's logout endpoint and ended on the home page,
  // signed out.
  async function signOut() {
    const chain = await clickSignOut(page, HOME, hops);
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
    await fillSignUp(page, user);
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
    const fresh = await newContext(browser);
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
});
