import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { loadConfig } from '../../src/config/load.js';
import { openStore } from '../../src/storage/index.js';
import { MongoStore, connectMongoStore, parseMongoUri } from '../../src/storage/mongodb.js';
import { StoreUnavailableError, type Store } from '../../src/storage/types.js';
import { startMongoTarget, type MongoTarget } from '../helpers/mongo-engine.js';
import { makeCode, makeUser } from './contract/harness.js';
import { delivery } from './contract/webhooks.js';

async function rejection(operation: Promise<unknown>): Promise<unknown> {
  return operation.then(
    () => expect.fail('expected the operation to reject'),
    (error: unknown) => error,
  );
}

describe('parseMongoUri', () => {
  it('takes the database from the URI path and the hosts without credentials', () => {
    expect(parseMongoUri('mongodb://app:p%40ss@db1:27017,db2:27018/accounts?replicaSet=rs0')).to.deep.equal({
      hosts: 'db1:27017,db2:27018',
      database: 'accounts',
    });
    expect(parseMongoUri('mongodb+srv://app:secret@cluster0.example.net/login')).to.deep.equal({
      hosts: 'cluster0.example.net',
      database: 'login',
    });
  });

  it('falls back to oidc_magic_link when the URI names no database', () => {
    expect(parseMongoUri('mongodb://localhost:27017').database).to.equal('oidc_magic_link');
    expect(parseMongoUri('mongodb://localhost:27017/').database).to.equal('oidc_magic_link');
    expect(parseMongoUri('mongodb://localhost/?retryWrites=true').database).to.equal('oidc_magic_link');
  });
});

describe('openStore with MongoDB unreachable', () => {
  it('fails within the server selection timeout, naming the host and not the password', async function () {
    this.timeout(20_000);
    const config = loadConfig({ env: { MONGODB_URI: 'mongodb://alice:s3cret%2Dpw@127.0.0.1:9/oml?directConnection=true' } });
    const error = await rejection(openStore(config));
    expect(error).to.be.an('error');
    const message = (error as Error).message;
    expect(message).to.include('127.0.0.1:9');
    expect(message).to.not.include('s3cret');
    expect(message).to.not.include('alice:');
  });
});

describe('MongoStore when the database cannot be reached', () => {
  let store: MongoStore;

  before(() => {
    const client = new MongoClient('mongodb://127.0.0.1:9/?directConnection=true', { serverSelectionTimeoutMS: 300 });
    store = new MongoStore(client, 'oml_unreachable');
  });

  after(async () => {
    await store.close();
  });

  it('ping rejects with StoreUnavailableError', async () => {
    expect(await rejection(store.ping())).to.be.instanceOf(StoreUnavailableError);
  });

  it('turns failed operations of every repository into StoreUnavailableError', async () => {
    const operations: Promise<unknown>[] = [
      store.users.findById('x'),
      store.users.insert(makeUser()),
      store.codes.compareAndSet('x', { status: 'active' }, { status: 'used' }),
      store.counters.increment('x', Date.now() + 1000),
      store.apiKeys.list(),
      store.oidcAdapter('Session').find('x'),
      store.oidcAdapter('AuthorizationCode').consume('x'),
    ];
    for (const operation of operations) expect(await rejection(operation)).to.be.instanceOf(StoreUnavailableError);
  });
});

describe('MongoStore on a MongoDB engine', () => {
  let target: MongoTarget | null = null;
  let client: MongoClient;
  let store: Store;

  before(async function () {
    target = await startMongoTarget();
    if (!target) this.skip();
    store = await openStore(loadConfig({ env: { MONGODB_URI: target.uri } }));
    client = await new MongoClient(target.uri).connect();
  });

  after(async () => {
    await store?.close();
    await client?.close();
    await target?.stop();
  });

  const indexesOf = async (collection: string): Promise<Record<string, unknown>[]> =>
    client.db().collection(collection).listIndexes().toArray();

  it('openStore gives a MongoDB store on the database named in the URI', async () => {
    expect(store.kind).to.equal('mongodb');
    expect((store as MongoStore).databaseName).to.equal(parseMongoUri(target?.uri ?? '').database);
    await store.ping();
  });

  it('creates the indexes at start-up, and creating them again changes nothing', async () => {
    await store.init();
    const users = await indexesOf('users');
    expect(users.find((index) => index.name === 'emailNormalized_1')).to.deep.include({ key: { emailNormalized: 1 }, unique: true });
    const session = await indexesOf('oidc_Session');
    expect(session.find((index) => index.name === 'payload.uid_1')).to.include({ unique: true }).and.to.have.deep.property('partialFilterExpression', { 'payload.uid': { $exists: true } });
    expect(session.find((index) => index.name === 'expiresAt_ttl')).to.include({ expireAfterSeconds: 0 });
    const accessTokens = await indexesOf('oidc_AccessToken');
    expect(accessTokens.map((index) => index.name)).to.include('payload.grantId_1');
    const deviceCodes = await indexesOf('oidc_DeviceCode');
    expect(deviceCodes.find((index) => index.name === 'payload.userCode_1')).to.include({ unique: true });
    const codes = await indexesOf('passwordless_codes');
    expect(codes.map((index) => index.name)).to.include.members(['owner_1_status_1', 'interactionUid_1_createdAt_-1']);
    expect(codes.find((index) => index.name === 'purgeAt_ttl')).to.deep.include({ key: { purgeAt: 1 }, expireAfterSeconds: 0 });
    expect((await indexesOf('counters')).find((index) => index.name === 'expiresAt_ttl')).to.include({ expireAfterSeconds: 0 });
    expect((await indexesOf('api_keys')).find((index) => index.name === 'keyHash_1')).to.include({ unique: true });
    // A lease reads only the due deliveries, however many wait for a retry.
    expect((await indexesOf('webhook_deliveries')).find((index) => index.name === 'due_1')).to.deep.include({ key: { status: 1, nextAttemptAt: 1, sequence: 1 } });
  });

  it('stores Date copies for TTL cleanup while records keep numbers', async () => {
    await store.oidcAdapter('Grant').upsert('ttl-grant', { kind: 'Grant' }, 60);
    const code = makeCode();
    await store.codes.insert(code);
    await store.counters.increment('ttl-counter', Date.now() + 60_000);
    const db = client.db();
    const grant = await db.collection('oidc_Grant').findOne({ _id: 'ttl-grant' as never });
    expect(grant?.expiresAt).to.be.instanceOf(Date);
    expect(grant?.payload).to.deep.equal({ kind: 'Grant' });
    const storedCode = await db.collection('passwordless_codes').findOne({ _id: code.id as never });
    expect(storedCode?.purgeAt).to.deep.equal(new Date(code.retainUntil));
    expect(storedCode?.retainUntil).to.equal(code.retainUntil);
    expect((await db.collection('counters').findOne({ _id: 'ttl-counter' as never }))?.expiresAt).to.be.instanceOf(Date);
  });

  it('keeps a delivered webhook delivery until its retainUntil, not only a moment (its TTL date is set when it is written)', async () => {
    const now = Date.now();
    const retainUntil = now + 7 * 86_400_000;
    const record = delivery({ eventId: 'ttl-event', webhookId: 'hook', createdAt: now, nextAttemptAt: now, retainUntil });
    await store.webhookDeliveries.insertMany([record]);
    await store.webhookDeliveries.lease(now, 'owner', 60_000, 1000);
    expect(await store.webhookDeliveries.settle(record.id, 'owner', { status: 'delivered', attempts: 1, lastStatus: 200, settledAt: now, leaseOwner: null, leaseUntil: 0 })).to.equal(true);
    const stored = await client.db().collection('webhook_deliveries').findOne({ _id: record.id as never });
    expect(stored?.status).to.equal('delivered');
    expect(stored?.purgeAt, 'the TTL index deletes at retainUntil, a week from now').to.deep.equal(new Date(retainUntil));
    // Replayed on its last day: the TTL date moves with the new retention, or it would go while pending.
    const replayedUntil = retainUntil + 6 * 86_400_000;
    expect(await store.webhookDeliveries.requeueEvent('ttl-event', now + 6 * 86_400_000, replayedUntil)).to.equal(1);
    const replayed = await client.db().collection('webhook_deliveries').findOne({ _id: record.id as never });
    expect(replayed).to.deep.include({ status: 'pending', retainUntil: replayedUntil, purgeAt: new Date(replayedUntil) });
  });

  it('makes the deliveries waiting behind a head due at once when another instance settles the head while a lease marks it', async () => {
    const { MongoWebhookDeliveries } = await import('../../src/storage/mongodb/webhooks.js');
    const db = client.db();
    const other = new MongoWebhookDeliveries(db);
    const orderKey = `user:race-${Date.now()}`;
    const head = delivery({ webhookId: 'race', orderKey, sequence: 1 });
    const follower = delivery({ webhookId: 'race', orderKey, sequence: 2 });
    await other.insertMany([head, follower]);
    // The other instance holds the head for a minute; the follower is due, but waits behind it.
    await db.collection('webhook_deliveries').updateOne({ _id: head.id as never }, { $set: { leaseOwner: 'other', leaseUntil: Date.now() + 60_000 } });
    // This instance's collection lets the other settle the head just before the head is marked as having waiters.
    let settledInBetween = false;
    const racing = new MongoWebhookDeliveries(
      new Proxy(db, {
        get(target, property) {
          if (property !== 'collection') return Reflect.get(target, property, target) as unknown;
          return (name: string) =>
            new Proxy(target.collection(name), {
              get(collection, method) {
                const real = Reflect.get(collection, method, collection) as unknown;
                if (method !== 'updateOne' || typeof real !== 'function') return typeof real === 'function' ? real.bind(collection) : real;
                return async (filter: { _id?: unknown }, ...rest: unknown[]) => {
                  if (filter._id === head.id && !settledInBetween) {
                    settledInBetween = await other.settle(head.id, 'other', { status: 'delivered', settledAt: Date.now(), leaseOwner: null, leaseUntil: 0 });
                  }
                  return (real as (...args: unknown[]) => unknown).call(collection, filter, ...rest);
                };
              },
            });
        },
      }),
    );
    const first = await racing.lease(Date.now(), 'me', 60_000, 1000);
    expect(settledInBetween, 'the head was settled between the push-back and the mark').to.equal(true);
    expect(first.map((d) => d.id)).not.to.include(follower.id);
    // Not a minute later, when the head's lease would have ended: due at once.
    const next = await racing.lease(Date.now() + 5, 'me', 60_000, 1000);
    expect(next.map((d) => d.id), 'the follower goes as soon as its head is settled').to.include(follower.id);
  });

  it('keeps a bearer id (a refresh token, a session id) only as a digest: no document holds it', async () => {
    const db = client.db();
    for (const model of ['RefreshToken', 'AccessToken', 'AuthorizationCode', 'Session']) {
      const secret = `secret-${model}-${Date.now()}-${Math.random()}`;
      await store.oidcAdapter(model).upsert(secret, { kind: model, jti: secret, uid: `uid-${model}-${Date.now()}`, grantId: "g-1" }, 60);
      const documents = await db.collection(`oidc_${model}`).find({}).toArray();
      expect(JSON.stringify(documents), model).to.not.include(secret);
      expect(await store.oidcAdapter(model).find(secret), model).to.deep.include({ jti: secret, kind: model });
    }
  });

  it('still finds, consumes and removes a token an older version stored under its id', async () => {
    const db = client.db();
    const legacy = `legacy-${Date.now()}`;
    await db.collection('oidc_RefreshToken').insertOne({ _id: legacy as never, payload: { kind: 'RefreshToken', jti: legacy }, expiresAt: new Date(Date.now() + 60_000) });
    const adapter = store.oidcAdapter('RefreshToken');
    expect(await adapter.find(legacy)).to.deep.include({ jti: legacy });
    await adapter.consume(legacy);
    expect((await adapter.find(legacy))?.consumed).to.be.a('number');
    await adapter.destroy(legacy);
    expect(await adapter.find(legacy)).to.equal(undefined);
  });

  it('refuses a second session with the same uid', async () => {
    const sessions = store.oidcAdapter('Session');
    await sessions.upsert('session-a', { kind: 'Session', uid: 'shared-uid' }, 60);
    const error = await rejection(sessions.upsert('session-b', { kind: 'Session', uid: 'shared-uid' }, 60));
    expect(error).to.have.property('code', 'duplicate_key');
    expect((await sessions.findByUid('shared-uid'))?.kind).to.equal('Session');
  });

  it('answers StoreUnavailableError once the engine is gone', async function () {
    this.timeout(20_000);
    const doomed = await startMongoTarget();
    if (!doomed || doomed.engine !== 'jongodb') {
      await doomed?.stop();
      this.skip();
    }
    const victim = await connectMongoStore(doomed.uri, { serverSelectionTimeoutMS: 1000 });
    try {
      await victim.users.insert(makeUser());
      await doomed.stop();
      expect(await rejection(victim.ping())).to.be.instanceOf(StoreUnavailableError);
      expect(await rejection(victim.users.findById('x'))).to.be.instanceOf(StoreUnavailableError);
      expect(await rejection(victim.oidcAdapter('Session').find('x'))).to.be.instanceOf(StoreUnavailableError);
    } finally {
      await victim.close();
    }
  });
});

