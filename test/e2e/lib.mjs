// The harness the browser flows share (flow.mjs, goflow.mjs, dashboard.mjs):
// their settings, the step log with a capture of the page a step failed on,
// navigation tracking, headless Chromium with no network of its own, gatehouse
// dev's inbox, and the checks of the app's and the hosted pages that more
// than one flow makes. What only one flow does stays in its script.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

export { sleep };

// NAV_TIMEOUT bounds a navigation (and the wait for a page after one).
export const NAV_TIMEOUT = 20_000;

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

// config reads the settings every flow needs from the environment; a
// missing one ends the script (exit 2) with a message naming it. script
// names the script in that message, out is the default of E2E_OUT. The
// returned env reads a further setting the same way.
export function config(script, { out }) {
  const env = (name) => {
    const v = process.env[name];
    if (!v) {
      console.error(`${script}: ${name} is not set`);
      process.exit(2);
    }
    return v;
  };
  const APP_URL = env('APP_URL').replace(/\/+$/, '');
  const GATEHOUSE_URL = env('GATEHOUSE_URL').replace(/\/+$/, '');
  const CLIENT_ID = env('WORKOS_CLIENT_ID');
  const TTL_SECONDS = Number(env('ACCESS_TOKEN_TTL_SECONDS'));
  const HOSTED = `${GATEHOUSE_URL}/hosted/${CLIENT_ID}`;
  return {
    env,
    APP_URL,
    GATEHOUSE_URL,
    CLIENT_ID,
    TTL_SECONDS,
    OUT: process.env.E2E_OUT || out,
    CHROMIUM: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    HOSTED,
    HOSTED_SIGN_IN: `${HOSTED}/sign-in`,
    HOME: `${APP_URL}/`,
  };
}

// ---------------------------------------------------------------------------
// Log, checks and steps
// ---------------------------------------------------------------------------

const started = Date.now();
export const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
export const log = (msg) => console.log(`[${elapsed()}] ${msg}`);

// StepError is a broken expectation, as opposed to an error of the harness.
export class StepError extends Error {}
export const check = (cond, msg) => {
  if (!cond) throw new StepError(msg);
};

// capture saves page as dir/<name>.png and .html and logs its URL and the
// start of its text (textLimit characters).
export async function capture(page, dir, name, { textLimit = 400 } = {}) {
  if (!page || page.isClosed()) return;
  try {
    mkdirSync(dir, { recursive: true });
    const png = join(dir, `${name}.png`);
    await page.screenshot({ path: png, fullPage: true, timeout: 5_000 });
    writeFileSync(join(dir, `${name}.html`), await page.content());
    log(`  page at failure: ${page.url()}`);
    log(`  saved ${png} and ${name}.html`);
    const text = (await page.locator('body').innerText({ timeout: 2_000 })).replace(/\s+/g, ' ').trim();
    log(`  page text: ${text.slice(0, textLimit)}`);
  } catch (err) {
    log(`  could not capture the page: ${err.message}`);
  }
}

// steps returns a flow's step runner and the run that wraps the flow.
//
// step(name, fn) logs fn's outcome; if fn fails it logs the first
// messageLines lines of the error and captures currentPage() in out as
// <capturePrefix><name>. By default a failed step ends the flow. With
// keepGoing, a failed step is recorded and the flow goes on unless the step
// says { fatal: true } (the steps after it need what it does).
//
// run(browser, flow) runs the flow, logs PASS or what failed, closes the
// browser and exits: 0 only if every step passed.
export function steps({ out, currentPage, keepGoing = false, capturePrefix = '', messageLines = 6, textLimit = 400 }) {
  const failures = [];
  const snap = (name) => capture(currentPage(), out, `${capturePrefix}${name}`, { textLimit });

  async function step(name, fn, { fatal = !keepGoing } = {}) {
    log(`STEP ${name}`);
    try {
      await fn();
      log(`  ok ${name}`);
      return true;
    } catch (err) {
      log(`FAIL ${name}: ${err.message.split('\n').slice(0, messageLines).join('\n    ')}`);
      if (keepGoing) failures.push(name);
      await snap(name);
      if (fatal) throw Object.assign(err, { reported: true });
      return false;
    }
  }

  async function run(browser, flow) {
    let exitCode = 0;
    try {
      await flow();
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
        await snap('unexpected');
      }
      if (failures.length > 0) log(`FAILED: ${failures.join(', ')}`);
    } finally {
      await browser.close().catch(() => {});
    }
    process.exit(exitCode);
  }

  return { step, run };
}

// ---------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------

// launch starts the headless Chromium at path with its own network traffic
// (updates, sync, QUIC) turned off.
export function launch(path) {
  return chromium.launch({
    executablePath: path,
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
}

// newContext opens a browser context (a separate set of cookies) with the
// flows' timeouts.
export async function newContext(browser, options = {}) {
  const ctx = await browser.newContext(options);
  ctx.setDefaultTimeout(15_000);
  ctx.setDefaultNavigationTimeout(NAV_TIMEOUT);
  return ctx;
}

// track logs a page's main-frame navigations and failed responses. It
// returns the URL of every navigation request, redirect hops included
// (hops), and of every page actually committed in the main frame (pages).
export function track(p, label) {
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

// short shortens long query values (codes, tokens, states) and the token of
// an admin sign-in link for the log.
export function short(url) {
  try {
    const u = new URL(url);
    for (const [k, v] of u.searchParams) if (v.length > 24) u.searchParams.set(k, `${v.slice(0, 12)}…`);
    u.pathname = u.pathname.replace(/\/admin\/login\/[^/]{12}[^/]+/, (m) => `${m.slice(0, 25)}…`);
    return decodeURIComponent(u.toString());
  } catch {
    return url;
  }
}

export const startsWith = (prefix) => (url) => url.toString().startsWith(prefix);

// ---------------------------------------------------------------------------
// The quickstart apps and the hosted pages
// ---------------------------------------------------------------------------

// sessionCookie is the app's session cookie (wos-session) at appURL, if set.
export async function sessionCookie(context, appURL) {
  const cookies = await context.cookies(appURL);
  return cookies.find((c) => c.name === 'wos-session');
}

// expectSignedInHome waits for the app's home page and checks it shows
// email, signed in.
export async function expectSignedInHome(p, home, email) {
  await p.waitForURL(home, { timeout: NAV_TIMEOUT });
  const shown = p.locator('#email');
  await shown.waitFor({ timeout: 10_000 });
  check((await shown.innerText()) === email, `home page shows ${await shown.innerText()}, want ${email}`);
  check(await p.getByRole('button', { name: 'Sign out' }).isVisible(), 'no "Sign out" button on the home page');
}

// expectDashboard checks that p is the app's dashboard at url, for email.
export async function expectDashboard(p, url, email) {
  check(p.url() === url, `at ${p.url()}, want ${url}`);
  const h1 = await p.locator('h1').innerText();
  check(h1 === 'Dashboard', `heading is "${h1}", want "Dashboard"`);
  const shown = await p.locator('#email').innerText();
  check(shown === email, `dashboard shows ${shown}, want ${email}`);
}

// clickSignOut clicks the app's "Sign out" button on p, waits until the
// browser is back on the home page, and returns (and logs) the navigations
// on the way, from hops (see track).
export async function clickSignOut(p, home, hops) {
  const from = hops.length;
  const backHome = p.waitForResponse(
    (res) => res.url() === home && res.request().isNavigationRequest() && res.request().method() === 'GET',
    { timeout: NAV_TIMEOUT },
  );
  await p.getByRole('button', { name: 'Sign out' }).click();
  await backHome;
  await p.waitForLoadState('load');
  const chain = hops.slice(from);
  log(`  sign-out chain: ${chain.map(short).join(' -> ')}`);
  return chain;
}

// fillSignUp fills the hosted sign-up form for user.
export async function fillSignUp(p, user) {
  await p.locator('input[name=email]').fill(user.email);
  await p.locator('input[name=password]').fill(user.password);
  await p.locator('input[name=first_name]').fill(user.firstName);
  await p.locator('input[name=last_name]').fill(user.lastName);
}

// submitHostedForm submits the form holding the password field.
export async function submitHostedForm(p) {
  const form = p.locator('form:has(input[name=password])');
  await form.locator('button[type=submit]').first().click();
}

// expectTitle checks a hosted (or dashboard) page's heading.
export async function expectTitle(p, want) {
  const h1 = p.locator('h1#page-title');
  await h1.waitFor({ timeout: 10_000 });
  const got = (await h1.innerText()).trim();
  check(got === want, `the page at ${short(p.url())} is titled "${got}", want "${want}"`);
}

// ---------------------------------------------------------------------------
// The dev inbox
// ---------------------------------------------------------------------------

// devInbox reads the emails gatehouse dev at gatehouseURL captured, from
// /_dev/inbox.json, as a person would read their mailbox.
export function devInbox(gatehouseURL) {
  // inbox returns the emails to address, newest first.
  async function inbox(address) {
    const res = await fetch(`${gatehouseURL}/_dev/inbox.json`, { headers: { accept: 'application/json' } });
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

  // newEmail polls the inbox briefly for an email to address that was not
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

  return { inbox, seenEmails, newEmail };
}

// codeIn finds the 6-digit code, which stands alone on an indented line.
export function codeIn(mail) {
  const m = /^[ \t]+(\d{6})[ \t]*$/m.exec(mail.text);
  check(m, `no 6-digit code in the email "${mail.subject}":\n${mail.text}`);
  return m[1];
}
