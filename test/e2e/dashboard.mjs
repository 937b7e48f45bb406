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
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import {
  NAV_TIMEOUT, StepError, check, codeIn, config, devInbox, expectSignedInHome as expectHome, expectTitle, fillSignUp,
  launch, log, newContext as openContext, short, sleep, startsWith, steps, submitHostedForm, track,
} from './lib.mjs';

const { env, APP_URL, GATEHOUSE_URL, CLIENT_ID, TTL_SECONDS, OUT, CHROMIUM, HOSTED, HOSTED_SIGN_IN, HOME } =
  config('dashboard.mjs', { out: 'testout/e2e/dashboard' });
const ADMIN_LINK = env('ADMIN_LINK');
const ADMIN = `${GATEHOUSE_URL}/admin`;

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
// A failing step is recorded and the flow goes on, unless it is fatal (the
// steps after it need what it does).
const { step, run } = steps({
  out: OUT, currentPage: () => page, keepGoing: true, capturePrefix: 'FAIL-', messageLines: 8, textLimit: 500,
});

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

async function text(locator) {
  return (await locator.innerText()).replace(/\s+/g, ' ').trim();
}

// ---------------------------------------------------------------------------
// The app and the hosted pages (as in flow.mjs)
// ---------------------------------------------------------------------------

const expectSignedInHome = (p) => expectHome(p, HOME, user.email);
const { seenEmails, newEmail } = devInbox(GATEHOUSE_URL);

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
  // The notice comes first in the page: wait for the rest of it to be
  // parsed too, since callers go on to look at what follows it.
  await p.waitForLoadState('domcontentloaded', { timeout: 10_000 });
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

const browser = await launch(CHROMIUM);
log(`Chromium ${browser.version()}; app ${APP_URL}; Gatehouse ${GATEHOUSE_URL}; client ${CLIENT_ID}; user ${user.email}`);

const newContext = () => openContext(browser, { viewport: { width: 1280, height: 800 } });

await run(browser, async () => {
  // The user's browser and the admin's are separate.
  const userCtx = await newContext();
  const userPage = await userCtx.newPage();
  const { hops: userHops } = track(userPage, 'user');
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
    await fillSignUp(page, user);
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
});
