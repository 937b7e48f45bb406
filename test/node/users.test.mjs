// Compatibility test: drives Gatehouse's Users API with the official
// @workos-inc/node SDK (pinned in package.json), changing nothing but the
// SDK's host options. Everything goes through workos.userManagement.*; no
// raw HTTP. node_test.go starts a server and runs this file with:
//
//   GATEHOUSE_HOST, GATEHOUSE_PORT  where the server listens (plain http)
//   WORKOS_API_KEY                  an API key of a fresh environment
//   WORKOS_CLIENT_ID                that environment's client ID
//
// Run it by hand against a running server with
//   GATEHOUSE_HOST=127.0.0.1 GATEHOUSE_PORT=8080 WORKOS_API_KEY=sk_test_… \
//   WORKOS_CLIENT_ID=client_… node --test test/node/users.test.mjs
//
// Tests in this file run one after another, in order, against one
// environment; each creates the users it looks at and never assumes the
// environment is otherwise empty.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import {
  ConflictException,
  NotFoundException,
  UnauthorizedException,
  UnprocessableEntityException,
  WorkOS,
} from '@workos-inc/node';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set (see the comment at the top of users.test.mjs)`);
  return v;
}

const HOST = env('GATEHOUSE_HOST');
const PORT = Number(env('GATEHOUSE_PORT'));
const API_KEY = env('WORKOS_API_KEY');
const CLIENT_ID = env('WORKOS_CLIENT_ID');

function newClient(apiKey, { maxRetries = 0 } = {}) {
  return new WorkOS(apiKey, {
    apiHostname: HOST,
    port: PORT,
    https: false,
    clientId: CLIENT_ID,
    // Fail fast: a retried 5xx would only hide a server error behind backoff.
    maxRetries,
    timeout: 30_000,
  });
}

const workos = newClient(API_KEY);
const um = workos.userManagement;

// A per-run tag keeps emails and external IDs unique even if the file is run
// twice against the same environment.
const RUN = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
let seq = 0;
const email = (label) => `${label}-${RUN}-${++seq}@example.com`;
const PASSWORD = 'correct horse battery staple 42';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const USER_ID = /^user_[0-9A-HJKMNP-TV-Z]{26}$/;
// The keys deserializeUser produces in SDK 11.0.0. A key whose value is
// undefined means the server left the field out of its JSON.
const USER_KEYS = [
  'object', 'id', 'email', 'emailVerified', 'name', 'firstName', 'profilePictureUrl',
  'lastName', 'lastSignInAt', 'locale', 'createdAt', 'updatedAt', 'externalId', 'metadata',
].sort();
const UNKNOWN_USER_ID = 'user_01JD6Z3M4Q8R7W0V2T5Y9XKC1B';

function assertNullableString(u, key) {
  assert.ok(u[key] === null || typeof u[key] === 'string', `user.${key} must be a string or null, got ${JSON.stringify(u[key])}`);
}

function assertTimestamp(value, what) {
  assert.equal(typeof value, 'string', `${what} must be a string`);
  assert.match(value, ISO_MS, `${what} must be ISO 8601 UTC with milliseconds`);
  assert.equal(new Date(value).toISOString(), value, `${what} must be a real date`);
}

// assertUser checks the SDK's camelCase User has every field with the right type.
function assertUser(u) {
  assert.deepEqual(Object.keys(u).sort(), USER_KEYS);
  for (const k of USER_KEYS) {
    assert.notEqual(u[k], undefined, `user.${k} is undefined: the server did not send it`);
  }
  assert.equal(u.object, 'user');
  assert.match(u.id, USER_ID);
  assert.equal(typeof u.email, 'string');
  assert.equal(typeof u.emailVerified, 'boolean');
  for (const k of ['name', 'firstName', 'lastName', 'profilePictureUrl', 'locale', 'externalId']) {
    assertNullableString(u, k);
  }
  if (u.lastSignInAt !== null) assertTimestamp(u.lastSignInAt, 'lastSignInAt');
  assertTimestamp(u.createdAt, 'createdAt');
  assertTimestamp(u.updatedAt, 'updatedAt');
  assert.ok(Date.parse(u.updatedAt) >= Date.parse(u.createdAt), 'updatedAt must not be before createdAt');
  assert.equal(Object.prototype.toString.call(u.metadata), '[object Object]', 'metadata must be a JSON object');
  for (const [k, v] of Object.entries(u.metadata)) {
    assert.equal(typeof v, 'string', `metadata.${k} must be a string`);
  }
}

// assertRequestError checks the fields every SDK request exception carries.
function assertRequestError(err, Class, status) {
  assert.ok(err instanceof Class, `expected ${Class.name}, got ${err?.constructor?.name}: ${err?.message}`);
  assert.equal(err.name, Class.name);
  assert.equal(err.status, status);
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

// listAll walks every page with the given page size, returning the pages.
async function listPages(options) {
  const pages = [];
  let after;
  for (;;) {
    const page = await um.listUsers({ ...options, after });
    pages.push(page);
    assert.ok(pages.length <= 1000, 'pagination does not end');
    after = page.listMetadata.after;
    if (!after) break;
  }
  return pages;
}

function assertIDsStrictly(ids, order) {
  for (let i = 1; i < ids.length; i++) {
    const ok = order === 'desc' ? ids[i - 1] > ids[i] : ids[i - 1] < ids[i];
    assert.ok(ok, `IDs must be strictly ${order}ending: ${ids[i - 1]} then ${ids[i]}`);
  }
}

async function createPlainUsers(n, label) {
  const out = [];
  // Sequential creation gives strictly increasing IDs, so the expected
  // order of a list is known.
  for (let i = 0; i < n; i++) {
    out.push(await um.createUser({ email: email(label) }));
  }
  return out;
}

test('createUser returns the full User with camelCase fields', async () => {
  const before = Date.now();
  const e = email('full');
  const u = await um.createUser({
    email: e,
    password: PASSWORD,
    firstName: 'Ada',
    lastName: 'Lovelace',
    externalId: `ext-${RUN}-full`,
    metadata: { plan: 'pro', team: 'engines' },
    emailVerified: true,
  });
  assertUser(u);
  assert.equal(u.email, e);
  assert.equal(u.emailVerified, true);
  assert.equal(u.firstName, 'Ada');
  assert.equal(u.lastName, 'Lovelace');
  assert.equal(u.name, null);
  assert.equal(u.externalId, `ext-${RUN}-full`);
  assert.deepEqual(u.metadata, { plan: 'pro', team: 'engines' });
  assert.equal(u.profilePictureUrl, null);
  assert.equal(u.lastSignInAt, null);
  assert.equal(u.locale, null);
  assert.equal('radarAuthAttemptId' in u, false);
  assert.equal(u.createdAt, u.updatedAt);
  const created = Date.parse(u.createdAt);
  assert.ok(created >= before - 60_000 && created <= Date.now() + 60_000, `createdAt ${u.createdAt} is not about now`);
  assert.equal('password' in u, false);
});

test('createUser with only an email fills defaults', async () => {
  const e = email('minimal');
  // With retries on (the SDK default), POSTs carry an Idempotency-Key header.
  const retrying = newClient(API_KEY, { maxRetries: 3 });
  const u = await retrying.userManagement.createUser({ email: e });
  assertUser(u);
  assert.equal(u.email, e);
  assert.equal(u.emailVerified, false);
  assert.equal(u.firstName, null);
  assert.equal(u.lastName, null);
  assert.equal(u.externalId, null);
  assert.deepEqual(u.metadata, {});
});

test('getUser and getUserByExternalId return the created user', async () => {
  const externalId = `ext:${RUN} with/odd chars?&#`;
  const created = await um.createUser({
    email: email('get'),
    firstName: 'Grace',
    externalId,
    metadata: { k: 'v' },
  });
  assertUser(created);
  const got = await um.getUser(created.id);
  assertUser(got);
  assert.deepEqual(got, created);
  const byExt = await um.getUserByExternalId(externalId);
  assert.deepEqual(byExt, created);
});

test('listUsers pages with limit/after, newest first, and back with before', async () => {
  const made = await createPlainUsers(25, 'page');
  const madeIDs = new Set(made.map((u) => u.id));

  // The default page size is 10.
  const first = await um.listUsers();
  assert.equal(first.object, 'list');
  assert.equal(first.data.length, 10);
  assert.equal(typeof first.listMetadata.after, 'string');
  first.data.forEach(assertUser);

  const pages = await listPages({ limit: 10 });
  const last = pages[pages.length - 1];
  assert.equal(last.listMetadata.after, null, 'the last page must have list_metadata.after null');
  assert.equal(pages[0].listMetadata.before, null, 'the first page must have list_metadata.before null');
  const ids = [];
  for (const [i, page] of pages.entries()) {
    assert.ok(page.data.length <= 10, `page ${i} has ${page.data.length} users`);
    if (i < pages.length - 1) {
      assert.equal(page.data.length, 10, `page ${i} is not full but is not the last`);
      assert.equal(page.listMetadata.after, page.data[9].id, 'after must be the last ID on the page');
    }
    assert.ok('before' in page.listMetadata && 'after' in page.listMetadata);
    page.data.forEach(assertUser);
    ids.push(...page.data.map((u) => u.id));
  }
  assert.equal(new Set(ids).size, ids.length, 'a user appeared on two pages');
  assertIDsStrictly(ids, 'desc');
  const seen = ids.filter((id) => madeIDs.has(id));
  assert.deepEqual(seen, made.map((u) => u.id).reverse(), 'every created user once, newest first');
  assert.equal(first.data.map((u) => u.id).join(), pages[0].data.map((u) => u.id).join());

  // Going back from the second page with before gives the first page.
  assert.ok(pages.length >= 3);
  assert.equal(typeof pages[1].listMetadata.before, 'string');
  const back = await um.listUsers({ limit: 10, before: pages[1].listMetadata.before });
  assert.deepEqual(back.data.map((u) => u.id), pages[0].data.map((u) => u.id));

  // order=asc lists oldest first.
  const ascIDs = (await listPages({ limit: 10, order: 'asc' })).flatMap((p) => p.data.map((u) => u.id));
  assertIDsStrictly(ascIDs, 'asc');
  assert.deepEqual(ascIDs, [...ids].reverse());
});

test('listUsers autoPagination follows after across pages', async () => {
  // autoPagination asks for limit=100 per page (and returns just the first
  // page when the caller gave a limit), so more than 100 users are needed
  // for it to follow a cursor.
  const count = async () => (await listPages({ limit: 100 })).reduce((n, p) => n + p.data.length, 0);
  const have = await count();
  const made = await createPlainUsers(Math.max(0, 105 - have), 'auto');

  const expected = (await listPages({ limit: 100 })).flatMap((p) => p.data.map((u) => u.id));
  assert.ok(expected.length > 100);

  const list = await um.listUsers();
  const all = await list.autoPagination();
  all.forEach(assertUser);
  const ids = all.map((u) => u.id);
  assert.deepEqual(ids, expected);
  assert.equal(new Set(ids).size, ids.length);
  for (const u of made) assert.ok(ids.includes(u.id), `${u.id} missing from autoPagination`);

  // With an explicit limit the SDK returns only the first page.
  const limited = await (await um.listUsers({ limit: 10 })).autoPagination();
  assert.equal(limited.length, 10);
});

test('listUsers filters by email', async () => {
  const e = `plus+${RUN}@example.com`;
  const u = await um.createUser({ email: e });
  await um.createUser({ email: email('other') });
  const found = await um.listUsers({ email: e });
  assert.deepEqual(found.data.map((x) => x.id), [u.id]);
  assert.equal(found.listMetadata.after, null);
  assert.deepEqual(found.data[0], u);

  const none = await um.listUsers({ email: `nobody-${RUN}@example.com` });
  assert.deepEqual(none.data, []);
  assert.equal(none.listMetadata.after, null);
});

test('updateUser changes fields, deletes metadata keys set to null, sets a password', async () => {
  const created = await um.createUser({
    email: email('update'),
    password: PASSWORD,
    firstName: 'Old',
    lastName: 'Name',
    metadata: { keep: '1', drop: '2' },
  });
  // Make sure updatedAt can move forward even at millisecond resolution.
  await new Promise((r) => setTimeout(r, 5));

  const updated = await um.updateUser({
    userId: created.id,
    firstName: 'New',
    metadata: { drop: null, added: '3' },
  });
  assertUser(updated);
  assert.equal(updated.id, created.id);
  assert.equal(updated.firstName, 'New');
  assert.equal(updated.lastName, 'Name', 'fields not sent must stay');
  assert.equal(updated.email, created.email);
  assert.deepEqual(updated.metadata, { keep: '1', added: '3' });
  assert.equal(updated.createdAt, created.createdAt);
  assert.ok(Date.parse(updated.updatedAt) > Date.parse(created.updatedAt), 'updatedAt must advance');
  assert.deepEqual(await um.getUser(created.id), updated);

  const withPassword = await um.updateUser({ userId: created.id, password: 'another strong passphrase 7' });
  assertUser(withPassword);
  assert.equal(withPassword.firstName, 'New');
  assert.deepEqual(withPassword.metadata, { keep: '1', added: '3' });

  const ext = `ext-${RUN}-updated`;
  const withExt = await um.updateUser({
    userId: created.id, externalId: ext, emailVerified: true, name: 'Full Name', locale: 'en-US',
  });
  assertUser(withExt);
  assert.equal(withExt.externalId, ext);
  assert.equal(withExt.emailVerified, true);
  assert.equal(withExt.name, 'Full Name');
  assert.equal(withExt.locale, 'en-US');
  assert.deepEqual(await um.getUserByExternalId(ext), withExt);

  await rejectsWith(um.updateUser({ userId: created.id, password: 'short' }), UnprocessableEntityException, 422, (err) => {
    assert.equal(err.code, 'invalid_request_parameters');
    assert.match(err.message, /password_too_short/);
  });
  await rejectsWith(um.updateUser({ userId: UNKNOWN_USER_ID, firstName: 'X' }), NotFoundException, 404);
});

test('deleteUser removes the user', async () => {
  const u = await um.createUser({ email: email('delete'), externalId: `ext-${RUN}-delete` });
  const result = await um.deleteUser(u.id);
  assert.equal(result, undefined);
  await rejectsWith(um.getUser(u.id), NotFoundException, 404, (err) => {
    assert.equal(err.code, 'entity_not_found');
  });
  await rejectsWith(um.getUserByExternalId(`ext-${RUN}-delete`), NotFoundException, 404);
  const listed = await um.listUsers({ email: u.email });
  assert.deepEqual(listed.data, []);
  await rejectsWith(um.deleteUser(u.id), NotFoundException, 404);
  // The email is free again.
  const again = await um.createUser({ email: u.email });
  assert.notEqual(again.id, u.id);
});

test('a wrong API key gives UnauthorizedException', async () => {
  const bad = newClient('sk_test_this_key_does_not_exist');
  await rejectsWith(bad.userManagement.getUser(UNKNOWN_USER_ID), UnauthorizedException, 401);
  await rejectsWith(bad.userManagement.listUsers(), UnauthorizedException, 401);
  await rejectsWith(bad.userManagement.createUser({ email: email('unauth') }), UnauthorizedException, 401);
});

test('an unknown user gives NotFoundException', async () => {
  await rejectsWith(um.getUser(UNKNOWN_USER_ID), NotFoundException, 404, (err) => {
    assert.equal(err.code, 'entity_not_found');
    assert.equal(typeof err.message, 'string');
    assert.ok(err.message.length > 0);
  });
  await rejectsWith(um.getUserByExternalId(`no-such-ext-${RUN}`), NotFoundException, 404, (err) => {
    assert.equal(err.code, 'entity_not_found');
  });
});

test('a duplicate email or external ID gives ConflictException', async () => {
  const e = email('dup');
  await um.createUser({ email: e, externalId: `ext-${RUN}-dup` });
  await rejectsWith(um.createUser({ email: e }), ConflictException, 409, (err) => {
    assert.equal(err.code, 'user_already_exists');
    assert.ok(err.message.length > 0);
  });
  await rejectsWith(um.createUser({ email: e.toUpperCase() }), ConflictException, 409);
  await rejectsWith(um.createUser({ email: email('dup2'), externalId: `ext-${RUN}-dup` }), ConflictException, 409, (err) => {
    assert.equal(err.code, 'external_id_already_exists');
  });
});

test('invalid input gives UnprocessableEntityException', async () => {
  // SDK 11.0.0 does not keep the body's errors array on the exception; it
  // writes each errors[].code into the message instead.
  await rejectsWith(um.createUser({ email: 'not-an-email' }), UnprocessableEntityException, 422, (err) => {
    assert.equal(err.code, 'invalid_request_parameters');
    assert.equal(err.message, 'The following requirement must be met:\n\temail_invalid\n');
  });
  await rejectsWith(um.createUser({ email: email('short'), password: 'short' }), UnprocessableEntityException, 422, (err) => {
    assert.equal(err.code, 'invalid_request_parameters');
    assert.equal(err.message, 'The following requirement must be met:\n\tpassword_too_short\n');
  });
  await rejectsWith(um.createUser({ email: 'bad', password: 'short' }), UnprocessableEntityException, 422, (err) => {
    assert.match(err.message, /^The following requirements must be met:\n/);
    assert.match(err.message, /\temail_invalid\n/);
    assert.match(err.message, /\tpassword_too_short\n/);
  });
  await rejectsWith(um.listUsers({ limit: 1000 }), UnprocessableEntityException, 422);
});
