import { expect } from 'chai';
import { MongoServerError } from 'mongodb';
import { loadConfig } from '../../src/config/load.js';
import { Events } from '../../src/events/events.js';
import { buildUser } from '../../src/accounts/users.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { connectMongoStore, MongoStore } from '../../src/storage/mongodb.js';
import { refusesTransactions } from '../../src/storage/mongodb/transactions.js';
import { StoreUnavailableError, type Store, type UserRecord, type WebhookDeliveryRecord, type WebhookDeliveryRepository } from '../../src/storage/types.js';
import { onEachStore, onMongoStore } from '../helpers/stores.js';
import { captureLogEvents } from '../helpers/logs.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { ADMIN_KEY, call, startApiServer } from '../api/helpers.js';
import type { TestServer } from '../helpers/server.js';

/**
 * Issue 18: an event is written in the same step as the change it reports. On MongoDB with
 * transactions (the jongodb test engine has them) a step is one transaction: a change whose work
 * or event write fails leaves nothing. The memory store cannot undo a write, but never writes the
 * events of a step that failed.
 */

const SECRET = 'webhook-secret-for-the-atomic-tests';

function configWithWebhook(url = 'http://127.0.0.1:9/hook') {
  return loadConfig({ env: {}, overrides: { webhooks: [{ id: 'all', url, events: ['*'], secret: SECRET }] } });
}

function eventsOn(store: Store): Events {
  const config = configWithWebhook();
  return new Events({ webhooks: config.webhooks, store, settings: config.events });
}

let counter = 0;
function newUser(): UserRecord {
  counter += 1;
  return buildUser({ email: `atomic-${Date.now()}-${counter}@example.com` });
}

/** The deliveries written about `userId`. */
async function deliveriesAbout(store: Store, userId: string): Promise<WebhookDeliveryRecord[]> {
  return (await store.webhookDeliveries.list({ limit: 10_000 })).filter((d) => d.orderKey === `user:${userId}`);
}

/** Whether the store undoes a failed step (MongoDB with transactions), else it keeps the writes made before the failure. */
async function rollsBack(store: Store): Promise<boolean> {
  return store instanceof MongoStore && (await store.usesTransactions());
}

/** The error `promise` rejects with (a resolved promise fails the test). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  expect.fail('expected a rejection');
}

/** `inner` whose deliveries can no longer be written: every other call goes to the real store. */
function refusingDeliveries(inner: Store): Store {
  const deliveries = new Proxy(inner.webhookDeliveries, {
    get(object, property) {
      if (property === 'insertMany') return async () => Promise.reject(new StoreUnavailableError('test: deliveries refused'));
      const value = Reflect.get(object, property, object) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(object) : value;
    },
  }) satisfies WebhookDeliveryRepository;
  return new Proxy(inner, {
    get(object, property) {
      if (property === 'webhookDeliveries') return deliveries;
      const value = Reflect.get(object, property, object) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(object) : value;
    },
  });
}

async function openStore(uri: string | null): Promise<Store> {
  return uri === null ? new MemoryStore() : connectMongoStore(uri);
}

/** A store on `uri` (null: memory) as a case's fixture: the store, and its stop. */
async function storeFixture(uri: string | null): Promise<{ store: Store; stop(): Promise<void> }> {
  const store = await openStore(uri);
  return { store, stop: () => store.close() };
}

describe('a change and its events in one step of the store (issue 18)', () => {
  onEachStore(
    storeFixture,
    (current) => {
      const store = () => current().store;

      it('writes no event of a change whose work throws after the change, and on MongoDB undoes the change', async () => {
        const events = eventsOn(store());
        const user = newUser();
        const failed = events.atomically(async (step) => {
          await store().users.insert(user);
          step.emit('user.create', { user });
          throw new Error('boom after the change');
        });
        expect((await rejection(failed)).message).to.equal('boom after the change');
        expect(await deliveriesAbout(store(), user.id), 'no event').to.deep.equal([]);
        if (await rollsBack(store())) expect(await store().users.findById(user.id), 'no change').to.equal(null);
      });

      it('holds a step’s events back until its work is done, then numbers them in the order emitted', async () => {
        const events = eventsOn(store());
        const user = newUser();
        let seenDuringWork: WebhookDeliveryRecord[] | null = null;
        await events.atomically(async (step) => {
          await store().users.insert(user);
          step.emit('user.create', { user });
          step.emit('user.registration.create', { user });
          // Even read inside the step (in its transaction on MongoDB), no delivery is written yet.
          seenDuringWork = await deliveriesAbout(store(), user.id);
        });
        expect(seenDuringWork).to.deep.equal([]);
        const written = (await deliveriesAbout(store(), user.id)).sort((a, b) => a.sequence - b.sequence);
        expect(written.map((d) => d.type)).to.deep.equal(['user.create', 'user.registration.create']);
        expect(await store().users.findById(user.id)).to.not.equal(null);
      });

      it('fails the step when its events cannot be written, and on MongoDB the change goes with them', async () => {
        const refusing = refusingDeliveries(store());
        const events = eventsOn(refusing);
        const user = newUser();
        const failed = events.atomically(async (step) => {
          await refusing.users.insert(user);
          step.emit('user.create', { user });
        });
        expect(await rejection(failed)).to.be.instanceOf(StoreUnavailableError);
        if (await rollsBack(store())) expect(await store().users.findById(user.id), 'no change without its event').to.equal(null);
      });

      it('writes an observation seen inside a step even when the step fails (it is no part of the change)', async () => {
        const events = eventsOn(store());
        const user = newUser();
        const failed = events.atomically(async (step) => {
          events.emitSoon('magic-link.code.voided', { userId: user.id });
          throw new Error('boom');
        });
        expect((await rejection(failed)).message).to.equal('boom');
        const deadline = Date.now() + 5000;
        while ((await deliveriesAbout(store(), user.id)).length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        expect((await deliveriesAbout(store(), user.id)).map((d) => d.type)).to.deep.equal(['magic-link.code.voided']);
      });
    },
  );
});

describe('the user API writes a change with its event, or neither (issue 18)', () => {
  onEachStore(
    async (uri) => {
      const receiver = await startReceiver();
      const store = await openStore(uri);
      const webhooks = [{ id: 'all', url: receiver.url, events: ['*'], secret: SECRET }];
      const server = await startApiServer({ store, config: { webhooks } });
      const refusing = refusingDeliveries(await openStoreLike(store, uri));
      const refusingServer = await startApiServer({ store: refusing, config: { webhooks } });
      return {
        store,
        server,
        refusing,
        refusingServer,
        async stop() {
          await server.stop();
          await refusingServer.stop();
          await refusing.close();
          await store.close();
          await receiver.close();
        },
      };
    },
    (current) => {
      const admin = (server: TestServer, method: string, path: string, body?: unknown) => call(server, method, path, { key: ADMIN_KEY, ...(body !== undefined ? { body } : {}) });

      it('POST /api/user writes the user and exactly one user.create delivery; a duplicate email writes none', async () => {
        const { server, store } = current();
        const email = `api-atomic-${Date.now()}@example.com`;
        const created = await admin(server, 'POST', '/api/user', { user: { email } });
        expect(created.status).to.equal(200);
        const id = created.json!.user.id as string;
        expect(await store.users.findById(id)).to.not.equal(null);
        const duplicate = await admin(server, 'POST', '/api/user', { user: { email } });
        expect(duplicate.status).to.equal(400);
        const deliveries = (await store.webhookDeliveries.list({ limit: 10_000 })).filter((d) => JSON.parse(d.body).event.user?.email === email);
        expect(deliveries.map((d) => d.type)).to.deep.equal(['user.create']);
      });

      it('answers 503 when the event cannot be written, and on MongoDB the user was not created', async () => {
        const { refusingServer, store } = current();
        const email = `api-refused-${Date.now()}@example.com`;
        const answer = await admin(refusingServer, 'POST', '/api/user', { user: { email } });
        expect(answer.status).to.equal(503);
        // The memory store cannot undo the insert; MongoDB's transaction does.
        if (await rollsBack(store)) expect((await admin(current().server, 'GET', `/api/user?email=${encodeURIComponent(email)}`)).status).to.equal(404);
      });

      it('answers 503 to a PATCH whose event cannot be written, and on MongoDB the user is unchanged', async () => {
        const { server, refusingServer, store } = current();
        const email = `api-patch-${Date.now()}@example.com`;
        const id = (await admin(server, 'POST', '/api/user', { user: { email, firstName: 'Before' } })).json!.user.id as string;
        expect((await admin(refusingServer, 'PATCH', `/api/user/${id}`, { user: { firstName: 'After' } })).status).to.equal(503);
        if (await rollsBack(store)) expect((await admin(server, 'GET', `/api/user/${id}`)).json!.user.firstName).to.equal('Before');
      });
    },
  );
});

/** A second store on the same data: the same memory store, or another client of the same MongoDB database. */
async function openStoreLike(store: Store, uri: string | null): Promise<Store> {
  if (uri === null) return new Proxy(store, { get: (object, property) => (property === 'close' ? async () => undefined : (Reflect.get(object, property, object) as unknown)) });
  return connectMongoStore(uri);
}

onMongoStore(
  storeFixture,
  (current) => {
    const store = () => current().store;

    it('reports transactions on the test engine (the case below then checks rollback)', async function () {
      // jongodb and any replica set take transactions; a standalone MONGODB_URI would not.
      if (process.env.MONGODB_URI) return this.skip();
      expect(await rollsBack(store())).to.equal(true);
    });

    it('rolls back on MongoDB whatever repositories a change touched; counters are kept (a try stays counted)', async function () {
      // A standalone MONGODB_URI has no transactions (its own describe below covers it).
      if (!(await rollsBack(store()))) return this.skip();
      const user = newUser();
      const key = `atomic-try-${user.id}`;
      const failed = store().atomically(async () => {
        await store().users.insert(user);
        await store().refreshTokens.insert({ id: user.id, tokenHash: `hash-${user.id}`, userId: user.id, applicationId: 'app', startInstant: 1, insertInstant: 1, expiresAt: Date.now() + 60_000 });
        await store().twoFactorTrusts.insert({ id: `trust-${user.id}`, userId: user.id, insertInstant: 1, expiresAt: Date.now() + 60_000 });
        await store().apiKeys.insert({ id: user.id, keyHash: `key-${user.id}`, description: 'atomic', permissions: {}, insertInstant: 1 });
        await store().counters.increment(key, Date.now() + 60_000);
        await store().users.delete(user.id).then(() => store().users.insert(user));
        throw new Error('boom');
      });
      expect((await rejection(failed)).message).to.equal('boom');
      expect(await store().users.findById(user.id)).to.equal(null);
      expect(await store().refreshTokens.findByHash(`hash-${user.id}`)).to.equal(null);
      expect(await store().twoFactorTrusts.findById(`trust-${user.id}`, Date.now())).to.equal(null);
      expect(await store().apiKeys.findByHash(`key-${user.id}`)).to.equal(null);
      expect(await store().counters.get(key, Date.now()), 'the counter is outside the transaction').to.equal(1);
    });
  },
  'MongoDB with transactions (the test engine, or a replica set)',
);

onMongoStore(
  // Each case opens its own stores on this database, with the options it tests.
  async (uri) => ({ uri, stop: async () => undefined }),
  (current) => {
    it('classifies a standalone mongod’s answer to a transaction as "no transactions", and nothing else', () => {
      const standalone = new MongoServerError({ ok: 0, code: 20, codeName: 'IllegalOperation', errmsg: 'Transaction numbers are only allowed on a replica set member or mongos' });
      expect(refusesTransactions(standalone)).to.equal(true);
      expect(refusesTransactions(new MongoServerError({ ok: 0, code: 11000, errmsg: 'E11000 duplicate key error' }))).to.equal(false);
      expect(refusesTransactions(new Error('Transaction numbers are only allowed on a replica set member or mongos'))).to.equal(false);
    });

    it('says so once at start-up, runs the work plainly (change first, then its events), and keeps what a failed work wrote', async () => {
      let store: MongoStore | null = null;
      const logged = await captureLogEvents('info', async () => {
        store = await connectMongoStore(current().uri, { transactions: false });
        await store.atomically(async () => undefined);
      }, 'store.transactions_unavailable');
      const opened = store as unknown as MongoStore;
      try {
        expect(logged).to.have.length(1);
        expect(logged[0]!.level).to.equal('info');
        expect(await opened.usesTransactions()).to.equal(false);

        const events = eventsOn(opened);
        const user = newUser();
        await events.atomically(async (step) => {
          await opened.users.insert(user);
          step.emit('user.create', { user });
        });
        expect(await opened.users.findById(user.id)).to.not.equal(null);
        expect((await deliveriesAbout(opened, user.id)).map((d) => d.type)).to.deep.equal(['user.create']);

        const kept = newUser();
        const failed = events.atomically(async (step) => {
          await opened.users.insert(kept);
          step.emit('user.create', { user: kept });
          throw new Error('boom');
        });
        expect((await rejection(failed)).message).to.equal('boom');
        expect(await opened.users.findById(kept.id), 'no transaction: the change stays').to.not.equal(null);
        expect(await deliveriesAbout(opened, kept.id), 'its event, held back to the end, was never written').to.deep.equal([]);
      } finally {
        await opened.close();
      }
    });
  },
  'MongoDB without transactions (a standalone server)',
);
