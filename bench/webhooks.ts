/**
 * `npm run bench:webhooks`: CPU of a hosted sign-in's two webhook deliveries in the sending
 * process, with no sign-in around it. Events are written and sent by the real parts (Events on
 * the memory store, the WebhookSender, undici) to the bench's webhook receiver, a process of
 * its own (so its CPU is not counted). Three contenders alternate round by round, doing the same
 * changes: `none` (no webhook configured), `ours` (a webhook on every event), and `post` (no
 * webhook, but one bare POST of an event's JSON as each event comes, through the sender's HTTP
 * client on keep-alive connections, with no store, signature or retry): what the exchanges cost
 * one by one. What a delivery costs is ours − none; ours − post is what our sender adds to bare
 * exchanges, less what its gathering (`events.gatherMs`) saves on them.
 *
 * By default sign-ins run `--concurrency` at a time as fast as they go, so deliveries come in
 * bursts and share the event loop's wake-ups. With `--pace MS` a sign-in starts every MS ms and
 * its two events come half a pace apart, as a server under load raises them: each delivery then
 * pays for its own wake-ups and socket calls, which is what it costs inside `npm run bench`.
 * With `--backlog N`, ours' store first holds N deliveries waiting for a retry an hour away, as
 * after a receiver was down: what a backlog costs each new event. With `--scoped`, each sign-in's
 * changes run inside an AsyncLocalStorage scope, as node-oidc-provider runs every request of the
 * server: once one is in use, Node 20 runs an async hook for every promise and timer of the
 * process, the sender's included.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { MemoryStore } from '../src/storage/memory.js';
import { Events } from '../src/events/events.js';
import { WebhookSender } from '../src/events/sender.js';
import { buildUser } from '../src/accounts/users.js';
import { userJson } from '../src/api/user-json.js';
import type { UserRecord, WebhookDeliveryRecord } from '../src/storage/types.js';
import { startWebhookSink } from './driver/webhook-sink.js';
import { BarePoster } from './bare-poster.js';
import { countFlag, median } from './driver/stats.js';

process.env.LOG_LEVEL = 'silent';

type Contender = 'none' | 'ours' | 'post';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      events: { type: 'string', default: '5000' },
      rounds: { type: 'string', default: '3' },
      concurrency: { type: 'string', default: '16' },
      pace: { type: 'string', default: '0' },
      backlog: { type: 'string', default: '0' },
      scoped: { type: 'boolean', default: false },
    },
  });
  const events = countFlag('events', flags.events);
  const rounds = countFlag('rounds', flags.rounds);
  const concurrency = countFlag('concurrency', flags.concurrency);
  const pace = Number(flags.pace);
  if (!Number.isFinite(pace) || pace < 0) throw new Error('--pace must be a number of milliseconds (0: as fast as possible)');
  const backlog = flags.backlog === '0' ? 0 : countFlag('backlog', flags.backlog);
  const scope = flags.scoped ? new AsyncLocalStorage<{ signIn: number }>() : null;
  /** Runs one sign-in's step in its own scope with `--scoped`, as a request runs in the server. */
  const scoped = <T>(signIn: number, step: () => T): T => (scope ? scope.run({ signIn }, step) : step());

  const receiver = await startWebhookSink();
  const config = loadConfig({ env: {}, overrides: { webhooks: [{ id: 'bench', url: receiver.url, events: ['*'], secret: 'bench-webhook-secret-0123456789' }] } });
  const users = Array.from({ length: 100 }, (_, i) => buildUser({ email: `user${i}@bench.test`, firstName: 'Bench', registrations: [{ applicationId: 'bench', roles: [] }] }));
  const bare = new BarePoster(receiver.url);

  /** One bare POST of an event's JSON, built as Events builds it, through the sender's client; resolves when the answer is read. */
  function bareDelivery(type: string, user: UserRecord): Promise<void> {
    return bare.post(JSON.stringify({ event: { id: randomUUID(), type, createInstant: Date.now(), applicationId: 'bench', user: userJson(user), info: { ipAddress: '127.0.0.1' } } }));
  }

  /**
   * `events` sign-ins' worth of events, as a hosted sign-in raises them: `magic-link.sent`
   * observed from the log (emitSoon), then the last-login record with its `user.login.success`
   * in one step. CPU ms per sign-in.
   */
  async function round(contender: Contender): Promise<number> {
    const store = new MemoryStore();
    for (const user of users) await store.users.insert(user);
    const webhooks = contender === 'ours' ? config.webhooks : [];
    if (contender === 'ours' && backlog > 0) await store.webhookDeliveries.insertMany(waitingDeliveries(backlog));
    const emitter = new Events({ webhooks, store, settings: config.events });
    const sender = new WebhookSender(store.webhookDeliveries, webhooks, config.events);
    emitter.onWritten = () => sender.kick();
    sender.start();
    const posts: Promise<void>[] = [];

    const linkSent = (user: UserRecord): void => {
      emitter.observe('code.sent', { user: user.id, client: 'bench', signUp: false });
      if (contender === 'post') posts.push(bareDelivery('magic-link.sent', user));
    };
    const signedIn = async (user: UserRecord): Promise<void> => {
      const current = await emitter.atomically(async (step) => {
        const record = (await store.users.recordLogin(user.id, 'bench', Date.now())) ?? user;
        step.emit('user.login.success', { user: record, applicationId: 'bench', info: { ipAddress: '127.0.0.1' }, fields: { authenticationType: 'PASSWORDLESS' } });
        return record;
      });
      if (contender === 'post') posts.push(bareDelivery('user.login.success', current));
    };

    const before = process.cpuUsage();
    if (pace > 0) {
      const logins: Promise<void>[] = [];
      for (let i = 0; i < events; i += 1) {
        const user = users[i % users.length]!;
        scoped(i, () => linkSent(user));
        await sleep(pace / 2);
        logins.push(scoped(i, () => signedIn(user)));
        await sleep(pace / 2);
      }
      await Promise.all(logins);
    } else {
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          for (let i = next++; i < events; i = next++) {
            const user = users[i % users.length]!;
            await scoped(i, () => {
              linkSent(user);
              return signedIn(user);
            });
          }
        }),
      );
    }
    await Promise.all(posts);
    await sender.settled();
    const used = process.cpuUsage(before);
    await sender.stop();
    const made = contender === 'ours' ? (await store.webhookDeliveries.list({ status: 'delivered', limit: 2 * events + 1 })).length : contender === 'post' ? posts.length : 2 * events;
    if (made !== 2 * events) throw new Error(`${contender}: ${made} of ${2 * events} deliveries made`);
    return (used.user + used.system) / 1000 / events;
  }

  /** `count` deliveries to the bench's webhook, each of its own user, tried once and due again in an hour. */
  function waitingDeliveries(count: number): WebhookDeliveryRecord[] {
    const now = Date.now();
    return Array.from({ length: count }, (_, i) => ({
      id: `backlog-${i}:bench`,
      eventId: `backlog-${i}`,
      webhookId: 'bench',
      type: 'user.login.success',
      orderKey: `user:backlog-${i}`,
      sequence: -count + i,
      body: '{"event":{}}',
      status: 'pending',
      attempts: 1,
      createdAt: now,
      nextAttemptAt: now + 3_600_000,
      leaseOwner: null,
      leaseUntil: 0,
      lastStatus: 503,
      lastError: 'HTTP 503',
      settledAt: null,
      retainUntil: now + 86_400_000,
    }));
  }

  // A first pass warms the JIT up.
  for (const contender of ['none', 'ours', 'post'] as const) await round(contender);
  const results: Record<Contender, number[]> = { none: [], ours: [], post: [] };
  for (let i = 1; i <= rounds; i += 1) {
    // A B C, then C B A: a drift of the machine's speed weighs on every contender alike.
    const order: Contender[] = i % 2 === 1 ? ['none', 'ours', 'post'] : ['post', 'ours', 'none'];
    for (const contender of order) results[contender].push(await round(contender));
    const [none, ours, post] = [results.none.at(-1)!, results.ours.at(-1)!, results.post.at(-1)!];
    console.log(
      `round ${i}: ms CPU per sign-in: ${none.toFixed(3)} without a webhook, ${ours.toFixed(3)} with one, ${post.toFixed(3)} with two bare POSTs; ` +
        `deliveries ${(ours - none).toFixed(3)}, bare POSTs ${(post - none).toFixed(3)}, ours over bare ${(ours - post).toFixed(3)}`,
    );
  }
  const [none, ours, post] = [median(results.none), median(results.ours), median(results.post)];
  const how = `${pace > 0 ? `a sign-in every ${pace} ms` : `${concurrency} at a time`}${backlog > 0 ? `, ${backlog} deliveries waiting in ours' store` : ''}${scope ? ', each in an AsyncLocalStorage scope' : ''}`;
  console.log(`median, ms of CPU per sign-in (${events} sign-ins a round, ${how}):`);
  console.log(`  its two deliveries (ours − none)                ${(ours - none).toFixed(3)}`);
  console.log(`  two bare POSTs, one by one (post − none)       ${(post - none).toFixed(3)}`);
  console.log(`  our sender over them, gathering (ours − post)  ${(ours - post).toFixed(3)}`);
  await bare.close();
  await receiver.close();
}

await main();
