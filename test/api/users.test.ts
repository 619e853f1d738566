import { expect } from 'chai';
import type { TestServer } from '../helpers/server.js';
import { ALICE } from '../helpers/server.js';
import { ADMIN_KEY, call, login, start, startApiServer } from './helpers.js';

describe('REST API: users', () => {
  let server: TestServer;
  const admin = (method: string, path: string, body?: unknown) => call(server, method, path, { key: ADMIN_KEY, ...(body !== undefined ? { body } : {}) });

  before(async () => {
    server = await startApiServer();
  });
  after(() => server.stop());

  it('creates a user and reads it back by id and by email, shaped like FusionAuth\'s user', async () => {
    const created = await admin('POST', '/api/user', {
      user: { email: 'Dora@Example.com', firstName: 'Dora', lastName: 'Explorer', preferredLanguages: ['fr'], timezone: 'Europe/Paris', data: { plan: 'pro' } },
    });
    expect(created.status).to.equal(200);
    const user = created.json!.user;
    expect(user).to.include({ email: 'Dora@Example.com', firstName: 'Dora', lastName: 'Explorer', fullName: 'Dora Explorer', active: true, verified: true, timezone: 'Europe/Paris' });
    expect(user.id).to.match(/^[0-9a-f-]{36}$/);
    expect(user.preferredLanguages).to.deep.equal(['fr']);
    expect(user.data).to.deep.equal({ plan: 'pro' });
    expect(user.registrations).to.deep.equal([]);
    expect(user.twoFactor).to.deep.equal({ methods: [] });
    expect(user.insertInstant).to.be.a('number');

    const byId = await admin('GET', `/api/user/${user.id}`);
    expect(byId.status).to.equal(200);
    expect(byId.json!.user).to.deep.equal(user);
    const byEmail = await admin('GET', '/api/user?email=dora%40example.com');
    expect(byEmail.json!.user.id).to.equal(user.id);
  });

  it('creates a user with a given id', async () => {
    const id = '7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f';
    const created = await admin('POST', `/api/user/${id}`, { user: { email: 'fixed-id@example.com' } });
    expect(created.status).to.equal(200);
    expect(created.json!.user.id).to.equal(id);
    expect((await admin('POST', `/api/user/${id}`, { user: { email: 'other@example.com' } })).json!.fieldErrors.userId[0].code).to.equal('[duplicate]userId');
  });

  it('reads a user id in capitals as the same id: one user per UUID, found whatever the case', async () => {
    const upper = 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE';
    const created = await admin('POST', `/api/user/${upper}`, { user: { email: 'capitals@example.com' } });
    expect(created.status).to.equal(200);
    expect(created.json!.user.id).to.equal(upper.toLowerCase());
    const again = await admin('POST', `/api/user/${upper.toLowerCase()}`, { user: { email: 'lower@example.com' } });
    expect(again.status).to.equal(400);
    expect(again.json!.fieldErrors.userId[0].code).to.equal('[duplicate]userId');
    for (const id of [upper, upper.toLowerCase(), 'aaaaaaaa-BBBB-4ccc-8DDD-eeeeeeeeeeee']) {
      expect((await admin('GET', `/api/user/${id}`)).json!.user.email, id).to.equal('capitals@example.com');
    }
    expect((await admin('PATCH', `/api/user/${upper}`, { user: { firstName: 'Cap' } })).json!.user.id).to.equal(upper.toLowerCase());
    expect((await admin('POST', `/api/user/registration/${upper}`, { registration: { applicationId: 'web' } })).status).to.equal(200);
    expect((await admin('DELETE', `/api/user/${upper}?hardDelete=true`)).status).to.equal(200);
    expect((await admin('GET', `/api/user/${upper.toLowerCase()}`)).status).to.equal(404);
  });

  it('refuses a duplicate email and a bad email with field errors', async () => {
    const duplicate = await admin('POST', '/api/user', { user: { email: ALICE.email.toUpperCase() } });
    expect(duplicate.status).to.equal(400);
    expect(duplicate.json!.fieldErrors['user.email'][0].code).to.equal('[duplicate]user.email');
    const bad = await admin('POST', '/api/user', { user: { email: 'not-an-email' } });
    expect(bad.json!.fieldErrors['user.email'][0].code).to.equal('[notEmail]user.email');
    const missing = await admin('POST', '/api/user', {});
    expect(missing.json!.fieldErrors.user[0].code).to.equal('[blank]user');
  });

  it('answers 404 (empty) for an unknown id or email, and 400 for a lookup without an email', async () => {
    for (const path of ['/api/user/00000000-0000-4000-8000-000000000000', '/api/user/not-a-uuid', '/api/user?email=nobody%40example.com']) {
      const answer = await admin('GET', path);
      expect(answer.status, path).to.equal(404);
      expect(answer.text).to.equal('');
    }
    const noEmail = await admin('GET', '/api/user');
    expect(noEmail.status).to.equal(400);
    expect(noEmail.json!.fieldErrors.email[0].code).to.equal('[blank]email');
  });

  it('changes names and merges data with PATCH, and locks and unlocks with active', async () => {
    const { user } = (await admin('POST', '/api/user', { user: { email: 'erin@example.com', firstName: 'Erin', data: { a: 1 } } })).json!;
    const patched = await admin('PATCH', `/api/user/${user.id}`, { user: { lastName: 'Brockovich', data: { b: 2 }, active: false } });
    expect(patched.status).to.equal(200);
    expect(patched.json!.user).to.include({ firstName: 'Erin', lastName: 'Brockovich', active: false });
    expect(patched.json!.user.data).to.deep.equal({ a: 1, b: 2 });
    expect((await admin('GET', `/api/user/${user.id}`)).json!.user.active).to.equal(false);

    const code = (await start(server, { applicationId: 'web', loginId: 'erin@example.com' })).json!.code;
    expect((await login(server, { code })).status).to.equal(423);
    await admin('PATCH', `/api/user/${user.id}`, { user: { active: true } });
    expect((await login(server, { code })).status).to.equal(200);

    expect((await admin('PATCH', '/api/user/00000000-0000-4000-8000-000000000000', { user: { firstName: 'x' } })).status).to.equal(404);
    expect((await admin('PATCH', `/api/user/${user.id}`, { user: { active: 'no' } })).json!.fieldErrors['user.active'][0].code).to.equal('[invalid]user.active');
  });

  it('reads null as not set when creating a user, and a PATCH with null clears the field (an expiry too)', async () => {
    const created = await admin('POST', '/api/user', { user: { email: 'nell@example.com', firstName: null, lastName: null, data: null, timezone: null, expiry: null, active: null, preferredLanguages: null }, registration: null });
    expect(created.status, created.text).to.equal(200);
    expect(created.json!.user).to.include({ active: true }).and.not.have.any.keys('firstName', 'lastName', 'timezone', 'expiry');
    expect(created.json!.user.registrations).to.deep.equal([]);
    const registered = await admin('POST', '/api/user', { user: { email: 'nora@example.com' }, registration: { applicationId: 'web', roles: null } });
    expect(registered.json!.user.registrations[0].roles).to.deep.equal([]);

    const { user } = (await admin('POST', '/api/user', { user: { email: 'otto@example.com', firstName: 'Otto', lastName: 'Lilienthal', timezone: 'Europe/Berlin', expiry: Date.now() - 1000, data: { a: 1 } } })).json!;
    const code = (await start(server, { applicationId: 'web', loginId: 'otto@example.com' })).json!.code;
    expect((await login(server, { code })).status).to.equal(410);
    const cleared = await admin('PATCH', `/api/user/${user.id}`, { user: { firstName: null, timezone: null, expiry: null, data: null, active: null, email: null } });
    expect(cleared.status, cleared.text).to.equal(200);
    expect(cleared.json!.user).to.include({ lastName: 'Lilienthal', email: 'otto@example.com', active: true }).and.not.have.any.keys('firstName', 'timezone', 'expiry');
    expect(cleared.json!.user.data).to.deep.equal({ a: 1 });
    expect((await admin('GET', `/api/user/${user.id}`)).json!.user).to.not.have.any.keys('firstName', 'expiry');
    expect((await login(server, { code })).status, 'the expiry is gone').to.equal(200);
  });

  it('hard-deletes a user (?hardDelete=true): 200 then 404, and the user can no longer log in', async () => {
    const { user } = (await admin('POST', '/api/user', { user: { email: 'fay@example.com' } })).json!;
    const code = (await start(server, { applicationId: 'web', loginId: 'fay@example.com' })).json!.code;
    const deleted = await admin('DELETE', `/api/user/${user.id}?hardDelete=true`);
    expect(deleted.status).to.equal(200);
    expect(deleted.text).to.equal('');
    expect((await admin('GET', `/api/user/${user.id}`)).status).to.equal(404);
    expect((await admin('DELETE', `/api/user/${user.id}?hardDelete=true`)).status).to.equal(404);
    expect((await login(server, { code })).status).to.equal(404);
  });

  it("a deleted user's unused code does not log in a later user given the same id", async () => {
    const id = '11111111-2222-4333-8444-555555555555';
    expect((await admin('POST', `/api/user/${id}`, { user: { email: 'leaver@example.com' } })).status).to.equal(200);
    const typed = await start(server, { applicationId: 'web', loginId: 'leaver@example.com', loginStrategy: 'FormField' });
    expect((await admin('DELETE', `/api/user/${id}?hardDelete=true`)).status).to.equal(200);
    expect((await admin('POST', `/api/user/${id}`, { user: { email: 'newcomer@example.com' } })).status).to.equal(200);
    expect((await login(server, { code: typed.json!.code }))).to.include({ status: 404, text: '' });
    expect((await login(server, { code: typed.json!.code, oneTimeCode: typed.json!.oneTimeCode })).status).to.equal(404);
    expect((await call(server, 'POST', '/api/passwordless/send', { body: { code: typed.json!.code } })).status, 'nor can it be emailed to the newcomer').to.equal(400);
  });

  it('registers a user to an application with roles: the next login is a 200 with those roles', async () => {
    const { user } = (await admin('POST', '/api/user', { user: { email: 'gus@example.com' } })).json!;
    const before = await login(server, { code: (await start(server, { applicationId: 'web', loginId: 'gus@example.com' })).json!.code, applicationId: 'web' });
    expect(before.status).to.equal(202);

    const registered = await admin('POST', `/api/user/registration/${user.id}`, { registration: { applicationId: 'web', roles: ['viewer'] } });
    expect(registered.status).to.equal(200);
    expect(registered.json!.registration).to.include({ applicationId: 'web' });
    expect(registered.json!.registration.roles).to.deep.equal(['viewer']);
    expect(registered.json!.user.registrations).to.have.length(1);

    const after = await login(server, { code: (await start(server, { applicationId: 'web', loginId: 'gus@example.com' })).json!.code, applicationId: 'web' });
    expect(after.status).to.equal(200);
    expect(after.json!.refreshToken).to.be.a('string');

    const again = await admin('POST', `/api/user/registration/${user.id}`, { registration: { applicationId: 'web' } });
    expect(again.json!.fieldErrors['registration.applicationId'][0].code).to.equal('[duplicate]registration.applicationId');
    const unknownApp = await admin('POST', `/api/user/registration/${user.id}`, { registration: { applicationId: 'nope' } });
    expect(unknownApp.json!.fieldErrors['registration.applicationId'][0].code).to.equal('[invalid]registration.applicationId');
    expect((await admin('POST', '/api/user/registration/00000000-0000-4000-8000-000000000000', { registration: { applicationId: 'web' } })).status).to.equal(404);
  });

  it('creates and registers a new user in one call', async () => {
    const answer = await admin('POST', '/api/user/registration', { user: { email: 'hal@example.com' }, registration: { applicationId: 'partner', roles: ['reader', 'reader'] } });
    expect(answer.status).to.equal(200);
    expect(answer.json!.registration.roles).to.deep.equal(['reader']);
    const found = await admin('GET', '/api/user?email=hal%40example.com');
    expect(found.json!.user.registrations[0].applicationId).to.equal('partner');
  });
});
