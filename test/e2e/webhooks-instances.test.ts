import { expect } from 'chai';
import { ALICE, WEB_CLIENT, testKeys } from '../helpers/server.js';
import { ADMIN_KEY, API_KEYS } from '../api/helpers.js';
import { startMongoTarget, type MongoTarget } from '../helpers/mongo-engine.js';
import { startInstance, type Instance } from '../helpers/cluster.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';

const SECRET = 'webhook-secret-for-the-tests-0123';

/** Creates a user through `instance`'s API: one user.create event. */
async function createUser(instance: Instance, email: string): Promise<string> {
  const response = await fetch(`${instance.origin}/api/user`, {
    method: 'POST',
    headers: { authorization: ADMIN_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ user: { email } }),
  });
  expect(response.status, await response.clone().text()).to.equal(200);
  return ((await response.json()) as { user: { id: string } }).user.id;
}

/**
 * Server processes on one MongoDB (the wire engine in CI): deliveries are leased in the store,
 * so each is sent by one instance at a time, and a crash mid-delivery loses nothing.
 */
describe('webhooks across instances and crashes (MongoDB)', function () {
  this.timeout(120_000);
  let target: MongoTarget | null = null;
  let receiver: Receiver;
  const running: Instance[] = [];

  before(async function () {
    target = await startMongoTarget();
    if (!target) this.skip();
  });
  beforeEach(async () => {
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((instance) => instance.stop()));
    await receiver.close();
  });

  async function configFor(leaseSeconds = 3) {
    const keys = await testKeys();
    return {
      clients: [WEB_CLIENT],
      users: [ALICE],
      apiKeys: API_KEYS,
      jwks: keys.jwks,
      cookieKeys: keys.cookieKeys,
      storage: { mongodbUri: target!.freshUri() },
      webhooks: [{ id: 'crm', url: receiver.url, events: ['user.create'], secret: SECRET, timeoutMs: (leaseSeconds - 1.5) * 1000 }],
      events: { retryInitialMs: 50, retryMaxMs: 200, pollMs: 50, leaseSeconds },
    };
  }

  it('two instances on one database deliver each event once', async () => {
    const config = await configFor();
    running.push(...(await Promise.all([startInstance('hooks-a', config), startInstance('hooks-b', config)])));
    const [a, b] = running as [Instance, Instance];
    const ids: string[] = [];
    for (let i = 0; i < 12; i += 1) ids.push(await createUser(i % 2 === 0 ? a : b, `pair${i}@example.com`));
    await receiver.waitForAcknowledged(12, 30_000);
    // Both instances poll all along: a second delivery of anything would show up meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const eventIds = receiver.received.map((r) => r.event.id);
    expect(eventIds, 'no event sent twice').to.have.length(12);
    expect(new Set(eventIds).size).to.equal(12);
    expect(receiver.received.map((r) => (r.event.user as { id: string }).id).sort()).to.deep.equal([...ids].sort());
  });

  it('delivers, after a restart, what was in flight when the server was killed (the same event id)', async () => {
    const config = await configFor(3);
    receiver.behaviour = (n) => (n === 0 ? 'hang' : 200);
    const first = await startInstance('hooks-crash', config);
    await createUser(first, 'crash@example.com');
    const deadline = Date.now() + 20_000;
    while (receiver.received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(receiver.received, 'the delivery is in flight').to.have.length(1);
    await first.crash();

    running.push(await startInstance('hooks-after', config));
    const [, again] = await receiver.waitForAcknowledged(1, 30_000).then(() => receiver.received);
    expect(again!.event.id, 'the same event, sent again once the dead lease ran out').to.equal(receiver.received[0]!.event.id);
    expect(again!.headers['x-oml-delivery-attempt']).to.equal('1');
  });
});
