// The Node side of the cross-language session tests (crosslang_test.go
// runs it). It reads one JSON request on stdin, runs it with the official
// @workos-inc/node SDK and writes one JSON result on stdout:
//
//   {"op":"code","code":…}            authenticateWithCode with sealSession → {sealedSession, user, accessToken}
//   {"op":"authenticate","sessionData":…[,"cookiePassword":…]}
//                                     loadSealedSession(…).authenticate()
//   {"op":"refresh","sessionData":…}  loadSealedSession(…).refresh()
//   {"op":"unseal","sessionData":…}   getSessionFromCookie: the sealed JSON, re-serialised
//
// Environment: GATEHOUSE_HOST, GATEHOUSE_PORT (plain http), WORKOS_API_KEY,
// WORKOS_CLIENT_ID, WORKOS_COOKIE_PASSWORD, and NODE_DEPS_DIR, the directory
// whose node_modules holds the SDK (test/node).

import { createRequire } from 'node:module';
import { join } from 'node:path';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set`);
  return v;
}

const require = createRequire(join(env('NODE_DEPS_DIR'), 'package.json'));
const { WorkOS } = require('@workos-inc/node');

const CLIENT_ID = env('WORKOS_CLIENT_ID');
const COOKIE_PASSWORD = env('WORKOS_COOKIE_PASSWORD');
const workos = new WorkOS(env('WORKOS_API_KEY'), {
  clientId: CLIENT_ID,
  apiHostname: env('GATEHOUSE_HOST'),
  port: Number(env('GATEHOUSE_PORT')),
  https: false,
  maxRetries: 0,
});
const um = workos.userManagement;

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

// user keeps the fields the tests compare.
const user = (u) => u && { id: u.id, email: u.email, firstName: u.firstName, lastName: u.lastName, emailVerified: u.emailVerified };

const ops = {
  async code({ code }) {
    const res = await um.authenticateWithCode({
      code,
      clientId: CLIENT_ID,
      session: { sealSession: true, cookiePassword: COOKIE_PASSWORD },
    });
    return { sealedSession: res.sealedSession, user: user(res.user), accessToken: res.accessToken };
  },
  async authenticate({ sessionData, cookiePassword = COOKIE_PASSWORD }) {
    const r = await um.loadSealedSession({ sessionData, cookiePassword }).authenticate();
    return {
      authenticated: r.authenticated,
      reason: r.reason ?? '',
      sessionId: r.sessionId ?? '',
      organizationId: r.organizationId ?? '',
      user: user(r.user),
      accessToken: r.accessToken ?? '',
    };
  },
  async refresh({ sessionData }) {
    const r = await um.loadSealedSession({ sessionData, cookiePassword: COOKIE_PASSWORD }).refresh();
    return {
      authenticated: r.authenticated,
      reason: r.reason ?? '',
      sealedSession: r.sealedSession ?? '',
      sessionId: r.sessionId ?? '',
      user: user(r.user),
    };
  },
  async unseal({ sessionData }) {
    const data = await um.getSessionFromCookie({ sessionData, cookiePassword: COOKIE_PASSWORD });
    return { json: JSON.stringify(data ?? null) };
  },
};

try {
  const req = await readStdin();
  const op = ops[req.op];
  if (!op) throw new Error(`unknown op ${JSON.stringify(req.op)}`);
  process.stdout.write(JSON.stringify(await op(req)));
} catch (err) {
  console.error(`session.mjs: ${err?.stack || err}`);
  process.exit(1);
}
