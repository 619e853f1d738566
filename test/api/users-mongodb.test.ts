import { expect } from 'chai';
import type { TestServer } from '../helpers/server.js';
import { startMongoTarget, type MongoTarget } from '../helpers/mongo-engine.js';
import { ADMIN_KEY, call, startApiServer } from './helpers.js';

describe('REST API: users on MongoDB (concurrent changes, usernames, deactivation)', function () {
  // A JVM-based test engine on a busy machine: give the engine time, never the assertions.
  this.timeout(60_000);
  let target: MongoTarget | null = null;
  let server: TestServer | null = null;
  const admin = (method: string, path: string, body?: unknown) => call(server!, method, path, { key: ADMIN_KEY, ...(body !== undefined ? { body } : {}) });

  before(async function () {
    target = await startMongoTarget();
    if (!target) return this.skip();
    server = await startApiServer({ config: { storage: { mongodbUri: target.freshUri() } } });
  });
  after(async () => {
    await server?.stop();
    await target?.stop();
  });

  /** Each round runs two changes at once; every change answered 200 must be in the stored user. */
  const ROUNDS = 10;

  it('keeps both of two simultaneous changes: a lock and a name, two data merges, two registrations', async () => {
    for (let round = 0; round < ROUNDS; round += 1) {
      const { user } = (await admin('POST', '/api/user', { user: { email: `race-${round}@example.com` } })).json!;
      const path = `/api/user/${user.id}`;

      const [lock, rename] = await Promise.all([admin('PATCH', path, { user: { active: false } }), admin('PATCH', path, { user: { firstName: 'Renamed' } })]);
      expect([lock.status, rename.status]).to.deep.equal([200, 200]);
      expect((await admin('GET', path)).json!.user, `round ${round}: the lock was kept`).to.include({ active: false, firstName: 'Renamed' });

      const merges = await Promise.all([admin('PATCH', path, { user: { data: { a: 1 } } }), admin('PATCH', path, { user: { data: { b: 2 } } })]);
      expect(merges.map((answer) => answer.status)).to.deep.equal([200, 200]);
      expect((await admin('GET', path)).json!.user.data, `round ${round}`).to.deep.equal({ a: 1, b: 2 });

      const registered = await Promise.all(['web', 'partner'].map((applicationId) => admin('POST', `/api/user/registration/${user.id}`, { registration: { applicationId } })));
      expect(registered.map((answer) => answer.status)).to.deep.equal([200, 200]);
      const applications = (await admin('GET', path)).json!.user.registrations.map((registration: { applicationId: string }) => registration.applicationId);
      expect(applications.sort(), `round ${round}`).to.deep.equal(['partner', 'web']);
    }
  });

  it('keeps usernames unique and finds users by loginId on MongoDB too; a DELETE keeps the user, hardDelete removes it', async () => {
    const { user } = (await admin('POST', '/api/user', { user: { email: 'mongo-name@example.com', username: 'Mongo_Name' } })).json!;
    const clash = await admin('POST', '/api/user', { user: { email: 'mongo-other@example.com', username: 'mongo_name' } });
    expect(clash.status).to.equal(400);
    expect(clash.json!.fieldErrors['user.username'][0].code).to.equal('[duplicate]user.username');
    // Any number of users without a username: the unique index is partial.
    for (const n of [1, 2]) expect((await admin('POST', '/api/user', { user: { email: `mongo-none-${n}@example.com` } })).status).to.equal(200);
    expect((await admin('GET', '/api/user?loginId=MONGO_NAME')).json!.user.id).to.equal(user.id);
    expect((await admin('DELETE', `/api/user/${user.id}`)).status).to.equal(200);
    expect((await admin('GET', `/api/user/${user.id}`)).json!.user.active).to.equal(false);
    expect((await admin('DELETE', `/api/user/${user.id}?hardDelete=true`)).status).to.equal(200);
    expect((await admin('GET', '/api/user?username=mongo_name')).status).to.equal(404);
  });
});
