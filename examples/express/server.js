// The WorkOS AuthKit Node quickstart (Express), written out in full and
// pointed at a local Gatehouse. Nothing in here is Gatehouse-specific except
// the SDK's host options: the same code runs against api.workos.com.
//
//   go run ./cmd/gatehouse dev              (from the repository root)
//   cd examples/express && npm install && node server.js
//
// See README.md for what each route does.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import cookieParser from 'cookie-parser';
import { doubleCsrf } from 'csrf-csrf';
import express from 'express';
import { WorkOS } from '@workos-inc/node';

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

const here = fileURLToPath(new URL('.', import.meta.url));
const START_HINT =
  'Run `go run ./cmd/gatehouse dev` from the repository root first: it writes ' +
  'GATEHOUSE_URL, WORKOS_API_KEY, WORKOS_CLIENT_ID and WORKOS_COOKIE_PASSWORD to .gatehouse/dev.env.';

function fail(message) {
  console.error(`examples/express: ${message}\n${START_HINT}`);
  process.exit(1);
}

// `gatehouse dev` writes a dotenv file; load it with Node's built-in loader.
// Variables already set in the real environment win (loadEnvFile never
// overwrites them). A missing file is only an error when DOTENV_PATH names
// it explicitly; otherwise the variables may all come from the environment.
const dotenvPath = resolve(process.env.DOTENV_PATH || resolve(here, '../../.gatehouse/dev.env'));
try {
  process.loadEnvFile(dotenvPath);
} catch (err) {
  if (err.code !== 'ENOENT' || process.env.DOTENV_PATH) {
    fail(`cannot read the env file ${dotenvPath}: ${err.message}`);
  }
}

const required = ['GATEHOUSE_URL', 'WORKOS_API_KEY', 'WORKOS_CLIENT_ID', 'WORKOS_COOKIE_PASSWORD'];
const missing = required.filter((name) => !process.env[name]);
if (missing.length > 0) {
  fail(`missing ${missing.join(', ')} (looked in the environment and in ${dotenvPath}).`);
}

const { GATEHOUSE_URL, WORKOS_API_KEY, WORKOS_CLIENT_ID, WORKOS_COOKIE_PASSWORD } = process.env;
if (WORKOS_COOKIE_PASSWORD.length < 32) {
  fail('WORKOS_COOKIE_PASSWORD must be at least 32 characters long.');
}

let gatehouse;
try {
  gatehouse = new URL(GATEHOUSE_URL);
} catch {
  fail(`GATEHOUSE_URL=${GATEHOUSE_URL} is not a URL.`);
}
if (!['http:', 'https:'].includes(gatehouse.protocol) || gatehouse.pathname !== '/' || gatehouse.search) {
  // The SDK resolves API paths against the host root, so a path prefix
  // would be silently dropped.
  fail(`GATEHOUSE_URL=${GATEHOUSE_URL} must be an http(s) origin like http://127.0.0.1:8080, without a path.`);
}

const PORT = Number(process.env.PORT || 3000);
if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535) {
  fail(`PORT=${process.env.PORT} is not a port number.`);
}
const APP_URL = (process.env.APP_URL || `http://localhost:${PORT}`).replace(/\/+$/, '');
const REDIRECT_URI = `${APP_URL}/callback`;
const SIGN_OUT_REDIRECT = `${APP_URL}/`; // allowed as the default sign-out redirect by `gatehouse dev`
const SECURE_COOKIES = APP_URL.startsWith('https:');

// The only Gatehouse-specific part: the SDK's host options.
const workos = new WorkOS(WORKOS_API_KEY, {
  clientId: WORKOS_CLIENT_ID,
  apiHostname: gatehouse.hostname,
  port: gatehouse.port ? Number(gatehouse.port) : undefined,
  https: gatehouse.protocol === 'https:',
});

// ---------------------------------------------------------------------------
// Cookies
// ---------------------------------------------------------------------------

const SESSION_COOKIE = 'wos-session';
const STATE_COOKIE = 'wos-auth-state';
const sessionCookieOptions = { path: '/', httpOnly: true, sameSite: 'lax', secure: SECURE_COOKIES };

function setSessionCookie(res, sealedSession) {
  res.cookie(SESSION_COOKIE, sealedSession, sessionCookieOptions);
}

function clearSessionCookie(res) {
  res.clearCookie(SESSION_COOKIE, sessionCookieOptions);
}

// CSRF protection for POST /logout: csrf-csrf's double-submit cookie. Its
// HMAC key is derived from WORKOS_COOKIE_PASSWORD (a separate key, so tokens
// survive restarts without another secret to manage) and each token is bound
// to the WorkOS session ID, which stays the same when the access token is
// refreshed.
const csrfSecret = createHmac('sha256', WORKOS_COOKIE_PASSWORD).update('examples/express csrf-csrf').digest('hex');
const { generateCsrfToken, doubleCsrfProtection } = doubleCsrf({
  getSecret: () => csrfSecret,
  getSessionIdentifier: (req) => req.workosSessionId ?? '',
  // The __Host- prefix requires Secure cookies, so only over https.
  cookieName: SECURE_COOKIES ? '__Host-example.x-csrf-token' : 'example.x-csrf-token',
  cookieOptions: { path: '/', httpOnly: true, sameSite: 'strict', secure: SECURE_COOKIES },
  // HTML forms send the token as the _csrf field; scripts that fetched it
  // from GET /csrf-token send the x-csrf-token header. Which one is read is
  // decided by the content type, never a fallthrough.
  getCsrfTokenFromRequest: (req) =>
    req.is('application/x-www-form-urlencoded') ? req.body?._csrf : req.headers['x-csrf-token'],
});

// readSessionId unseals the session cookie (no network call, no signature
// check) to learn the session ID the CSRF token is bound to.
async function readSessionId(req, _res, next) {
  req.workosSessionId = '';
  const sessionData = req.cookies[SESSION_COOKIE];
  if (!sessionData) return next();
  try {
    const session = await workos.userManagement.getSessionFromCookie({
      sessionData,
      cookiePassword: WORKOS_COOKIE_PASSWORD,
    });
    req.workosSessionId = jwtClaims(session?.accessToken)?.sid ?? '';
  } catch {
    // An unreadable cookie is treated like no session.
  }
  next();
}

// jwtClaims decodes (without verifying) a JWT's payload, or returns undefined.
function jwtClaims(token) {
  if (typeof token !== 'string') return undefined;
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------

// withAuth protects a route, as in the AuthKit quickstart: a valid access
// token passes; an expired one is refreshed (the new cookie is set and the
// browser sent back to the same URL); anything else goes to /login.
async function withAuth(req, res, next) {
  const sessionData = req.cookies[SESSION_COOKIE];
  try {
    const session = workos.userManagement.loadSealedSession({
      sessionData,
      cookiePassword: WORKOS_COOKIE_PASSWORD,
    });
    const auth = await session.authenticate();
    if (auth.authenticated) {
      req.auth = auth;
      return next();
    }
    if (auth.reason === 'no_session_cookie_provided') {
      return res.redirect('/login');
    }

    const refreshed = await session.refresh();
    if (refreshed.authenticated) {
      setSessionCookie(res, refreshed.sealedSession);
      return res.redirect(req.originalUrl);
    }
    if (refreshed.retryable) {
      // Gatehouse is busy or unreachable but the session is not over: keep
      // the cookie and let the user retry rather than signing them out.
      console.warn(`session refresh failed, retryable: ${refreshed.reason}`);
      return sendPage(res, 503, 'Try again', `<p>Could not refresh your session (${esc(refreshed.reason)}). Reload the page to try again.</p>`);
    }
    console.info(`session ended: ${auth.reason}, refresh: ${refreshed.reason}`);
  } catch (err) {
    // For example the JWKS could not be fetched, or the cookie is garbage.
    console.warn(`session check failed: ${err.message}`);
  }
  clearSessionCookie(res);
  return res.redirect('/login');
}

// currentUser is withAuth's gentle sibling for public pages: it returns the
// signed-in user (refreshing an expired access token in place) or undefined,
// and never redirects.
async function currentUser(req, res) {
  const sessionData = req.cookies[SESSION_COOKIE];
  if (!sessionData) return undefined;
  try {
    const session = workos.userManagement.loadSealedSession({
      sessionData,
      cookiePassword: WORKOS_COOKIE_PASSWORD,
    });
    const auth = await session.authenticate();
    if (auth.authenticated) return auth.user;
    const refreshed = await session.refresh();
    if (refreshed.authenticated) {
      setSessionCookie(res, refreshed.sealedSession);
      return refreshed.user;
    }
    if (refreshed.retryable) return undefined; // keep the cookie for next time
  } catch (err) {
    console.warn(`session check failed: ${err.message}`);
  }
  clearSessionCookie(res);
  return undefined;
}

// ---------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------

function esc(value) {
  return String(value ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
  );
}

function sendPage(res, status, title, body) {
  res
    .status(status)
    .set('Content-Type', 'text/html; charset=utf-8')
    .set('Cache-Control', 'no-store')
    .send(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Gatehouse Express example</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #1f2328; }
  nav a { margin-right: 1rem; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
  dt { font-weight: 600; }
  button { font: inherit; padding: .4rem 1rem; cursor: pointer; }
</style>
</head>
<body>
<nav><a href="/">Home</a><a href="/dashboard">Dashboard</a></nav>
<h1>${esc(title)}</h1>
${body}
</body>
</html>
`);
}

function signOutForm(csrfToken) {
  return `<form method="post" action="/logout">
<input type="hidden" name="_csrf" value="${esc(csrfToken)}">
<button type="submit">Sign out</button>
</form>`;
}

// ---------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------

const app = express();
app.disable('x-powered-by');
app.use(cookieParser());
app.get('/favicon.ico', (_req, res) => res.status(204).end());

app.get('/', readSessionId, async (req, res) => {
  const user = await currentUser(req, res);
  if (!user) {
    return sendPage(res, 200, 'Welcome', `<p>You are signed out.</p>
<p><a href="/login">Sign in</a></p>`);
  }
  const csrfToken = generateCsrfToken(req, res);
  const name = [user.firstName, user.lastName].filter(Boolean).join(' ');
  sendPage(res, 200, name ? `Welcome, ${name}` : 'Welcome', `<p>You are signed in as <strong id="email">${esc(user.email)}</strong>.</p>
<dl>
<dt>Email</dt><dd>${esc(user.email)}</dd>
<dt>First name</dt><dd id="first-name">${esc(user.firstName)}</dd>
<dt>Last name</dt><dd id="last-name">${esc(user.lastName)}</dd>
</dl>
<p><a href="/dashboard">Go to your dashboard</a></p>
${signOutForm(csrfToken)}`);
});

// /login starts a sign-in with AuthKit (the hosted pages). Gatehouse also
// sends browsers here (the environment's sign-in endpoint) when they open
// its hosted sign-in page directly. A random state, kept in a short-lived
// cookie, ties the callback to this browser.
app.get('/login', (req, res) => {
  const state = randomBytes(16).toString('base64url');
  res.cookie(STATE_COOKIE, state, { ...sessionCookieOptions, maxAge: 10 * 60 * 1000 });
  const url = workos.userManagement.getAuthorizationUrl({
    provider: 'authkit',
    redirectUri: REDIRECT_URI,
    clientId: WORKOS_CLIENT_ID,
    state,
  });
  res.redirect(url);
});

app.get('/callback', async (req, res) => {
  const { code, state, error, error_description: errorDescription } = req.query;
  const expectedState = req.cookies[STATE_COOKIE];
  res.clearCookie(STATE_COOKIE, sessionCookieOptions);
  if (error) {
    return sendPage(res, 400, 'Sign-in failed', `<p>${esc(error)}: ${esc(errorDescription)}</p><p><a href="/login">Try again</a></p>`);
  }
  if (typeof code !== 'string' || code === '') {
    return sendPage(res, 400, 'Sign-in failed', '<p>The callback has no code.</p><p><a href="/login">Try again</a></p>');
  }
  if (!sameString(state, expectedState)) {
    return sendPage(res, 400, 'Sign-in failed', '<p>The sign-in was not started from this browser (state mismatch).</p><p><a href="/login">Try again</a></p>');
  }
  try {
    const { sealedSession } = await workos.userManagement.authenticateWithCode({
      code,
      clientId: WORKOS_CLIENT_ID,
      session: { sealSession: true, cookiePassword: WORKOS_COOKIE_PASSWORD },
    });
    setSessionCookie(res, sealedSession);
    return res.redirect('/');
  } catch (err) {
    console.warn(`authenticateWithCode failed: ${err.message}`);
    return sendPage(res, 400, 'Sign-in failed', `<p>${esc(err.message)}</p><p><a href="/login">Try again</a></p>`);
  }
});

function sameString(a, b) {
  if (typeof a !== 'string' || typeof b !== 'string' || a === '') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

app.get('/dashboard', withAuth, (req, res) => {
  const { user, sessionId, accessToken } = req.auth;
  const exp = jwtClaims(accessToken)?.exp;
  sendPage(res, 200, 'Dashboard', `<p>Only signed-in users see this page.</p>
<dl>
<dt>Email</dt><dd id="email">${esc(user.email)}</dd>
<dt>Name</dt><dd>${esc([user.firstName, user.lastName].filter(Boolean).join(' '))}</dd>
<dt>Session ID</dt><dd id="session-id">${esc(sessionId)}</dd>
<dt>Access token expires</dt><dd id="expires">${exp ? esc(new Date(exp * 1000).toISOString()) : 'unknown'}</dd>
</dl>`);
});

// For scripts: a CSRF token to send as the x-csrf-token header.
app.get('/csrf-token', readSessionId, (req, res) => {
  res.set('Cache-Control', 'no-store').json({ csrfToken: generateCsrfToken(req, res) });
});

// /logout ends the WorkOS session (Gatehouse's sign-out endpoint also ends
// its own browser session) and comes back to the home page.
app.post(
  '/logout',
  express.urlencoded({ extended: false, limit: '4kb' }),
  readSessionId,
  doubleCsrfProtection,
  async (req, res) => {
    const sessionData = req.cookies[SESSION_COOKIE];
    clearSessionCookie(res);
    if (!sessionData) return res.redirect('/');
    try {
      const session = workos.userManagement.loadSealedSession({
        sessionData,
        cookiePassword: WORKOS_COOKIE_PASSWORD,
      });
      let logoutUrl;
      try {
        logoutUrl = await session.getLogoutUrl({ returnTo: SIGN_OUT_REDIRECT });
      } catch {
        // The Node SDK needs a currently valid access token to name the
        // session: refresh an expired one first.
        const refreshed = await session.refresh();
        if (refreshed.authenticated) {
          console.info('logout: refreshed the expired access token to build the logout URL');
          logoutUrl = await session.getLogoutUrl({ returnTo: SIGN_OUT_REDIRECT });
        } else {
          console.info(`logout: the session cannot be refreshed (${refreshed.reason}); clearing the cookie only`);
        }
      }
      if (logoutUrl) return res.redirect(logoutUrl);
    } catch (err) {
      console.warn(`could not build the logout URL: ${err.message}`);
    }
    return res.redirect('/');
  },
);

// Errors: a bad CSRF token is a 403 page; anything else a 500 page.
app.use((err, req, res, _next) => {
  if (err?.code === 'EBADCSRFTOKEN') {
    return sendPage(res, 403, 'Forbidden', '<p>The form expired. Go back, reload the page and try again.</p>');
  }
  console.error(err);
  return sendPage(res, 500, 'Something went wrong', `<p>${esc(err?.message)}</p>`);
});

app.listen(PORT, (err) => {
  if (err) fail(`cannot listen on port ${PORT}: ${err.message}`);
  console.log(`Express example listening on ${APP_URL} (Gatehouse at ${gatehouse.origin}, client ${WORKOS_CLIENT_ID})`);
});
