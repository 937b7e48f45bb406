// Compatibility test: email verification, password reset and Magic Auth
// through the official @workos-inc/node SDK (pinned in package.json),
// changing nothing but the SDK's host options. node_test.go starts a server
// and runs this file with:
//
//   GATEHOUSE_HOST, GATEHOUSE_PORT  where the server listens (plain http)
//   WORKOS_API_KEY                  an API key of a fresh environment
//   WORKOS_CLIENT_ID                that environment's client ID
//   GATEHOUSE_OUTBOX_URL            a test-only helper: GET ?to=ADDRESS returns
//                                   {count, latest: {id, to, subject, text, code, link}}
//                                   for the emails Gatehouse queued to ADDRESS
//
// Every call to Gatehouse goes through workos.userManagement.*; only the
// outbox helper (standing in for the user's mailbox) is read with fetch.
//
// Tests run one after another against one environment with the default
// email settings (verification, Magic Auth and sign-up by code on).
//
// Send limits: Gatehouse allows 3 emails per address and 10 per client IP
// per minute. The management endpoints (send verification, password reset,
// Magic Auth) count the caller's own address, here 127.0.0.1, so this file
// keeps its total of such calls within a minute at or below 10 (see
// ipBudget). The authenticate calls pass ipAddress, which Gatehouse honours
// for a caller with an API key.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  AuthenticationException,
  GenericServerException,
  NotFoundException,
  RateLimitExceededException,
  UnprocessableEntityException,
  WorkOS,
} from '@workos-inc/node';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set (see the comment at the top of email.test.mjs)`);
  return v;
}

const HOST = env('GATEHOUSE_HOST');
const PORT = Number(env('GATEHOUSE_PORT'));
const API_KEY = env('WORKOS_API_KEY');
const CLIENT_ID = env('WORKOS_CLIENT_ID');
const OUTBOX_URL = env('GATEHOUSE_OUTBOX_URL');
const BASE_URL = `http://${HOST}:${PORT}`;

const workos = new WorkOS(API_KEY, {
  apiHostname: HOST,
  port: PORT,
  https: false,
  clientId: CLIENT_ID,
  // Fail fast: a retried error would only slow the run and hide the status.
  maxRetries: 0,
  timeout: 30_000,
});
const um = workos.userManagement;

const RUN = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
let seq = 0;
const email = (label) => `${label}-${RUN}-${++seq}@example.com`;
const PASSWORD = 'correct horse battery staple 42';
const NEW_PASSWORD = 'a brand new passphrase for 2025';
// Authenticate calls carry the end user's address (documentation range).
let ipSeq = 0;
const endUserIP = () => `203.0.113.${++ipSeq}`;

// ipBudget counts the management calls that count against 127.0.0.1's
// per-minute email limit, so a new test cannot silently push the file over it.
let ipBudget = 0;
function spendIP(n = 1) {
  ipBudget += n;
  assert.ok(ipBudget <= 10, `this file would make ${ipBudget} email requests from 127.0.0.1 within a minute (limit 10)`);
}

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const CODE = /^\d{6}$/;
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function assertTimestamp(value, what) {
  assert.equal(typeof value, 'string', `${what} must be a string`);
  assert.match(value, ISO_MS, `${what} must be ISO 8601 UTC with milliseconds`);
}

// assertExpiresIn checks expiresAt is about ttlMinutes after createdAt.
function assertExpiresIn(obj, ttlMinutes) {
  assertTimestamp(obj.createdAt, 'createdAt');
  assertTimestamp(obj.expiresAt, 'expiresAt');
  const ttl = Date.parse(obj.expiresAt) - Date.parse(obj.createdAt);
  assert.ok(Math.abs(ttl - ttlMinutes * 60_000) < 5_000, `expiresAt is ${ttl} ms after createdAt, want ${ttlMinutes} minutes`);
  const age = Date.now() - Date.parse(obj.createdAt);
  assert.ok(age > -60_000 && age < 120_000, `createdAt ${obj.createdAt} is not about now`);
}

function assertRequestError(err, Class, status) {
  assert.ok(err instanceof Class, `expected ${Class.name}, got ${err?.constructor?.name}: ${err?.message}`);
  assert.equal(err.status, status, `status: ${err.message}`);
  assert.equal(typeof err.requestID, 'string');
  assert.ok(err.requestID.length > 0, 'requestID must be set from the X-Request-ID response header');
}

async function rejectsWith(promise, Class, status, check = () => {}) {
  await assert.rejects(promise, (err) => {
    assertRequestError(err, Class, status);
    check(err);
    return true;
  });
}

// A bad one-time code is 400 {code, message}: neither an authentication
// step-up code nor an OAuth error, so Node 11 raises GenericServerException.
async function rejectsWithCode(promise, status, code) {
  await rejectsWith(promise, GenericServerException, status, (err) => {
    assert.equal(err.name, 'GenericServerException');
    assert.equal(err.code, code, `code: ${JSON.stringify(err.rawData)}`);
    assert.equal(err.rawData.code, code);
    assert.equal(typeof err.message, 'string');
    assert.ok(err.message.length > 0);
  });
}

// outbox reads the emails Gatehouse queued to address.
async function outbox(address) {
  const res = await fetch(`${OUTBOX_URL}/?to=${encodeURIComponent(address)}`);
  const body = await res.text();
  assert.equal(res.status, 200, `outbox helper: ${res.status} ${body}`);
  return JSON.parse(body);
}

// latestEmail waits briefly for the newest email to address (more than
// `after` of them) and returns it.
async function latestEmail(address, { after = 0 } = {}) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const box = await outbox(address);
    if (box.count > after) return box.latest;
    assert.ok(Date.now() < deadline, `no new email to ${address} (have ${box.count})`);
    await sleep(50);
  }
}

async function latestCode(address, opts) {
  const mail = await latestEmail(address, opts);
  assert.match(mail.code, CODE, `no 6-digit code in the email to ${address}:\n${mail.text}`);
  return mail;
}

// wrong returns a 6-digit code that differs from code.
const wrong = (code) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

function assertSignedIn(res, user) {
  assert.equal(res.user.id, user.id);
  assert.equal(res.user.email, user.email);
  assert.equal(res.user.emailVerified, true);
  assert.match(res.accessToken, JWT);
  assert.equal(typeof res.refreshToken, 'string');
  assert.ok(res.refreshToken.length >= 20);
}

// signUpUnverified creates a user with a password, as an app's own sign-up
// form would, and checks the email starts unverified.
async function signUpUnverified(label) {
  const u = await um.createUser({ email: email(label), password: PASSWORD, firstName: 'Ada' });
  assert.equal(u.emailVerified, false);
  return u;
}

// passwordStepUp signs in with a password and expects the email
// verification step-up; it returns the exception.
async function passwordStepUp(user) {
  let caught;
  await assert.rejects(
    um.authenticateWithPassword({ email: user.email, password: PASSWORD, clientId: CLIENT_ID, ipAddress: endUserIP() }),
    (err) => {
      caught = err;
      return true;
    },
  );
  return caught;
}

test('a password sign-in of an unverified user raises AuthenticationException email_verification_required', async () => {
  const user = await signUpUnverified('stepup');
  const before = (await outbox(user.email)).count;
  const err = await passwordStepUp(user);
  assertRequestError(err, AuthenticationException, 403);
  assert.equal(err.name, 'AuthenticationException');
  assert.equal(err.code, 'email_verification_required');
  assert.equal(typeof err.message, 'string');
  assert.ok(err.message.length > 0);
  assert.equal(typeof err.pendingAuthenticationToken, 'string');
  assert.ok(err.pendingAuthenticationToken.length >= 20, 'the pending token is too short to be a secret');
  assert.equal(err.rawData.code, 'email_verification_required');
  assert.equal(err.rawData.pending_authentication_token, err.pendingAuthenticationToken);
  assert.equal(err.rawData.email, user.email);
  assert.match(err.rawData.email_verification_id, /^email_verification_[0-9A-HJKMNP-TV-Z]{26}$/);

  // The code went to the user's address.
  const mail = await latestCode(user.email, { after: before });
  assert.equal(mail.to, user.email);
  assert.match(mail.subject, /verify/i);

  // The EmailVerification object: the code is never readable again.
  const ev = await um.getEmailVerification(err.rawData.email_verification_id);
  assert.equal(ev.object, 'email_verification');
  assert.equal(ev.id, err.rawData.email_verification_id);
  assert.equal(ev.userId, user.id);
  assert.equal(ev.email, user.email);
  assert.equal(ev.code, undefined);
  assertExpiresIn(ev, 15);
  assertTimestamp(ev.updatedAt, 'updatedAt');
  await rejectsWith(um.getEmailVerification('email_verification_01JD6Z3M4Q8R7W0V2T5Y9XKC1B'), NotFoundException, 404, (e) => {
    assert.equal(e.code, 'entity_not_found');
  });
});

test('authenticateWithEmailVerification completes the step-up once', async () => {
  const user = await signUpUnverified('verifygrant');
  const before = (await outbox(user.email)).count;
  const err = await passwordStepUp(user);
  assert.ok(err instanceof AuthenticationException, `expected AuthenticationException, got ${err?.constructor?.name}: ${err?.message}`);
  const pendingAuthenticationToken = err.pendingAuthenticationToken;
  const { code } = await latestCode(user.email, { after: before });

  // A wrong code: 400 invalid_one_time_code, and the right one still works.
  await rejectsWithCode(
    um.authenticateWithEmailVerification({ code: wrong(code), pendingAuthenticationToken, clientId: CLIENT_ID }),
    400, 'invalid_one_time_code',
  );
  // An unknown pending token.
  await rejectsWithCode(
    um.authenticateWithEmailVerification({ code, pendingAuthenticationToken: `x${pendingAuthenticationToken}`, clientId: CLIENT_ID }),
    400, 'invalid_pending_authentication_token',
  );

  const res = await um.authenticateWithEmailVerification({ code, pendingAuthenticationToken, clientId: CLIENT_ID });
  assertSignedIn(res, user);
  assert.equal(res.authenticationMethod, 'Password');
  assert.equal((await um.getUser(user.id)).emailVerified, true);

  // The pending token is single use.
  await rejectsWithCode(
    um.authenticateWithEmailVerification({ code, pendingAuthenticationToken, clientId: CLIENT_ID }),
    400, 'invalid_pending_authentication_token',
  );

  // Verified now: the password alone signs in, and no new code is sent.
  const count = (await outbox(user.email)).count;
  const again = await um.authenticateWithPassword({ email: user.email, password: PASSWORD, clientId: CLIENT_ID, ipAddress: endUserIP() });
  assertSignedIn(again, user);
  assert.equal((await outbox(user.email)).count, count, 'a verified user got another verification email');
});

test('sendVerificationEmail and verifyEmail verify a user', async () => {
  const user = await signUpUnverified('sendverify');
  const before = (await outbox(user.email)).count;
  spendIP();
  const sent = await um.sendVerificationEmail({ userId: user.id });
  assert.deepEqual(Object.keys(sent), ['user']);
  assert.equal(sent.user.id, user.id);
  assert.equal(sent.user.emailVerified, false);
  const { code } = await latestCode(user.email, { after: before });

  await rejectsWithCode(um.verifyEmail({ userId: user.id, code: wrong(code) }), 400, 'invalid_one_time_code');
  assert.equal((await um.getUser(user.id)).emailVerified, false);

  const verified = await um.verifyEmail({ userId: user.id, code });
  assert.deepEqual(Object.keys(verified), ['user']);
  assert.equal(verified.user.id, user.id);
  assert.equal(verified.user.emailVerified, true);
  assert.deepEqual(await um.getUser(user.id), verified.user);

  // The code is used up.
  await rejectsWithCode(um.verifyEmail({ userId: user.id, code }), 400, 'one_time_code_previously_used');
  // Nothing more to verify (refused before anything is sent or counted).
  await rejectsWithCode(um.sendVerificationEmail({ userId: user.id }), 400, 'email_already_verified');
  await rejectsWith(um.sendVerificationEmail({ userId: 'user_01JD6Z3M4Q8R7W0V2T5Y9XKC1B' }), NotFoundException, 404);

  // A verified user signs in with the password alone.
  const res = await um.authenticateWithPassword({ email: user.email, password: PASSWORD, clientId: CLIENT_ID, ipAddress: endUserIP() });
  assertSignedIn(res, user);
});

test('createPasswordReset, getPasswordReset and resetPassword set a new password', async () => {
  const user = await signUpUnverified('reset');
  const before = (await outbox(user.email)).count;
  spendIP();
  const reset = await um.createPasswordReset({ email: user.email });
  assert.equal(reset.object, 'password_reset');
  assert.match(reset.id, /^password_reset_[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.equal(reset.userId, user.id);
  assert.equal(reset.email, user.email);
  assert.equal(typeof reset.passwordResetToken, 'string');
  assert.ok(reset.passwordResetToken.length >= 20);
  assert.equal(
    reset.passwordResetUrl,
    `${BASE_URL}/hosted/${CLIENT_ID}/reset-password?token=${encodeURIComponent(reset.passwordResetToken)}`,
  );
  assertExpiresIn(reset, 30);
  // The app sends its own email with the token: Gatehouse sends none.
  assert.equal((await outbox(user.email)).count, before, 'createPasswordReset sent an email');

  const got = await um.getPasswordReset(reset.id);
  assert.equal(got.object, 'password_reset');
  assert.equal(got.id, reset.id);
  assert.equal(got.userId, user.id);
  assert.equal(got.email, user.email);
  assert.equal(got.passwordResetToken, undefined, 'the token must not be readable again');
  assert.equal(got.passwordResetUrl, undefined);
  assert.equal(got.expiresAt, reset.expiresAt);
  assert.equal(got.createdAt, reset.createdAt);

  // A weak password is refused without using up the token.
  await rejectsWith(um.resetPassword({ token: reset.passwordResetToken, newPassword: 'short' }), UnprocessableEntityException, 422, (err) => {
    assert.match(err.message, /password_too_short/);
  });

  const done = await um.resetPassword({ token: reset.passwordResetToken, newPassword: NEW_PASSWORD });
  assert.deepEqual(Object.keys(done), ['user']);
  assert.equal(done.user.id, user.id);
  assert.equal(done.user.emailVerified, true, 'a reset proves the address: the email counts as verified');

  // The token works once.
  await rejectsWithCode(um.resetPassword({ token: reset.passwordResetToken, newPassword: `${NEW_PASSWORD} again` }), 400, 'password_reset_token_invalid');

  // The old password is refused; the new one signs in without a step-up.
  await rejectsWithCode(
    um.authenticateWithPassword({ email: user.email, password: PASSWORD, clientId: CLIENT_ID, ipAddress: endUserIP() }),
    400, 'invalid_credentials',
  );
  const res = await um.authenticateWithPassword({ email: user.email, password: NEW_PASSWORD, clientId: CLIENT_ID, ipAddress: endUserIP() });
  assertSignedIn(res, user);

  // An address with no account.
  spendIP();
  await rejectsWith(um.createPasswordReset({ email: email('nobody') }), NotFoundException, 404, (err) => {
    assert.equal(err.code, 'entity_not_found');
  });
  await rejectsWith(um.getPasswordReset('password_reset_01JD6Z3M4Q8R7W0V2T5Y9XKC1B'), NotFoundException, 404);
});

test('createMagicAuth, getMagicAuth and authenticateWithMagicAuth sign in an existing user', async () => {
  const user = await um.createUser({ email: email('magic') });
  assert.equal(user.emailVerified, false);
  const before = (await outbox(user.email)).count;
  spendIP();
  const magic = await um.createMagicAuth({ email: user.email });
  assert.equal(magic.object, 'magic_auth');
  assert.match(magic.id, /^magic_auth_[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.equal(magic.userId, user.id);
  assert.equal(magic.email, user.email);
  assert.match(magic.code, CODE);
  assertExpiresIn(magic, 10);
  assertTimestamp(magic.updatedAt, 'updatedAt');
  assert.equal('radarAuthAttemptId' in magic, false);

  // The same code was emailed.
  const mail = await latestCode(user.email, { after: before });
  assert.equal(mail.code, magic.code);

  const got = await um.getMagicAuth(magic.id);
  assert.equal(got.object, 'magic_auth');
  assert.equal(got.id, magic.id);
  assert.equal(got.userId, user.id);
  assert.equal(got.email, user.email);
  assert.equal(got.code, undefined, 'the code must not be readable again');
  assert.equal(got.expiresAt, magic.expiresAt);
  await rejectsWith(um.getMagicAuth('magic_auth_01JD6Z3M4Q8R7W0V2T5Y9XKC1B'), NotFoundException, 404, (err) => {
    assert.equal(err.code, 'entity_not_found');
  });

  await rejectsWithCode(
    um.authenticateWithMagicAuth({ code: wrong(magic.code), email: user.email, clientId: CLIENT_ID, ipAddress: endUserIP() }),
    400, 'invalid_one_time_code',
  );
  const res = await um.authenticateWithMagicAuth({ code: magic.code, email: user.email, clientId: CLIENT_ID, ipAddress: endUserIP() });
  assertSignedIn(res, user);
  assert.equal(res.authenticationMethod, 'MagicAuth');
  assert.equal((await um.getUser(user.id)).emailVerified, true, 'a magic code proves the address');

  // The code works once.
  await rejectsWithCode(
    um.authenticateWithMagicAuth({ code: magic.code, email: user.email, clientId: CLIENT_ID, ipAddress: endUserIP() }),
    400, 'one_time_code_previously_used',
  );
});

test('authenticateWithMagicAuth creates the account of a new address', async () => {
  const address = email('magicnew');
  spendIP();
  const magic = await um.createMagicAuth({ email: address });
  assert.equal(magic.object, 'magic_auth');
  assert.equal(magic.userId, null);
  assert.equal(magic.email, address);
  assert.match(magic.code, CODE);
  assert.equal((await latestCode(address)).code, magic.code);
  assert.deepEqual((await um.listUsers({ email: address })).data, [], 'no account before the code is used');

  const res = await um.authenticateWithMagicAuth({ code: magic.code, email: address, clientId: CLIENT_ID, ipAddress: endUserIP() });
  assert.equal(res.user.email, address);
  assert.equal(res.user.emailVerified, true);
  assert.match(res.user.id, /^user_[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.match(res.accessToken, JWT);
  // The stored user has the sign-in recorded; the response's copy was read
  // before it (as for every grant), so compare the rest.
  const stored = await um.getUser(res.user.id);
  assertTimestamp(stored.lastSignInAt, 'lastSignInAt');
  assert.deepEqual({ ...stored, lastSignInAt: null }, { ...res.user, lastSignInAt: null });
});

test('too many createMagicAuth for one address raise RateLimitExceededException', async () => {
  const address = email('magiclimit');
  // 3 per address per minute; the 4th is refused by the address limit
  // before the IP is counted.
  spendIP(3);
  for (let i = 0; i < 3; i++) {
    const magic = await um.createMagicAuth({ email: address });
    assert.match(magic.code, CODE);
  }
  assert.equal((await outbox(address)).count, 3);
  await rejectsWith(um.createMagicAuth({ email: address }), RateLimitExceededException, 429, (err) => {
    assert.equal(err.name, 'RateLimitExceededException');
    assert.equal(typeof err.message, 'string');
    assert.ok(err.message.length > 0);
    assert.equal(typeof err.retryAfter, 'number', 'retryAfter comes from the Retry-After header');
    assert.ok(err.retryAfter >= 1 && err.retryAfter <= 60, `Retry-After ${err.retryAfter}`);
  });
  assert.equal((await outbox(address)).count, 3, 'a refused request sent an email');
  // Another address is not affected.
  spendIP();
  const other = await um.createMagicAuth({ email: email('magicother') });
  assert.match(other.code, CODE);
});
