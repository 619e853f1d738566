/**
 * `npm run bench:webhooks`: CPU of a hosted sign-in's two webhook deliveries in the sending
 * process, with no sign-in around it. Events are written and sent by the real parts (Events on
 * the memory store, the WebhookSender, node:http) to the bench's webhook receiver, a process of
 * its own (so its CPU is not counted), in rounds that alternate with a baseline doing the same changes with no webhook configured. What a
 * delivery costs is the difference per event; the `npm run bench -- --webhooks` flows then say
 * what share of a sign-in that is, without the noise of comparing two whole servers.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { MemoryStore } from '../src/storage/memory.js';
import { Events } from '../src/events/events.js';
import { WebhookSender } from '../src/events/sender.js';
import { buildUser } from '../src/accounts/users.js';
import { startWebhookSink } from './driver/webhook-sink.js';
import { countFlag, median } from './driver/stats.js';

process.env.LOG_LEVEL = 'silent';

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    options: {
      events: { type: 'string', default: '5000' },
      rounds: { type: 'string', default: '3' },
      concurrency: { type: 'string', default: '16' },
    },
  });
  const events = countFlag('events', flags.events);
  const rounds = countFlag('rounds', flags.rounds);
  const concurrency = countFlag('concurrency', flags.concurrency);

  const receiver = await startWebhookSink();
  const config = loadConfig({ env: {}, overrides: { webhooks: [{ id: 'bench', url: receiver.url, events: ['*'], secret: 'bench-webhook-secret-0123456789' }] } });
  const users = Array.from({ length: 100 }, (_, i) => buildUser({ email: `user${i}@bench.test`, firstName: 'Bench', registrations: [{ applicationId: 'bench', roles: [] }] }));

  /**
   * `events` sign-ins' worth of events, `concurrency` at a time, as a hosted sign-in raises them:
   * `magic-link.sent` observed from the log (emitSoon), then the last-login record with its
   * `user.login.success` in one step. CPU ms per sign-in.
   */
  async function round(withWebhook: boolean): Promise<number> {
    const store = new MemoryStore();
    for (const user of users) await store.users.insert(user);
    const webhooks = withWebhook ? config.webhooks : [];
    const emitter = new Events({ webhooks, store, settings: config.events });
    const sender = new WebhookSender(store.webhookDeliveries, webhooks, config.events);
    emitter.onWritten = () => sender.kick();
    sender.start();
    const before = process.cpuUsage();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < events; i = next++) {
          const user = users[i % users.length]!;
          emitter.observe('code.sent', { user: user.id, client: 'bench', signUp: false });
          await emitter.atomically(async (step) => {
            const current = (await store.users.recordLogin(user.id, 'bench', Date.now())) ?? user;
            step.emit('user.login.success', { user: current, applicationId: 'bench', info: { ipAddress: '127.0.0.1' }, fields: { authenticationType: 'PASSWORDLESS' } });
          });
        }
      }),
    );
    await sender.settled();
    const used = process.cpuUsage(before);
    await sender.stop();
    if (withWebhook) {
      const delivered = (await store.webhookDeliveries.list({ status: 'delivered', limit: 2 * events + 1 })).length;
      if (delivered !== 2 * events) throw new Error(`${delivered} of ${2 * events} deliveries made`);
    }
    return (used.user + used.system) / 1000 / events;
  }

  // A first pair warms the JIT up.
  await round(false);
  await round(true);
  const without: number[] = [];
  const withHook: number[] = [];
  for (let i = 1; i <= rounds; i += 1) {
    without.push(await round(false));
    withHook.push(await round(true));
    console.log(`round ${i}: ${without.at(-1)!.toFixed(3)} ms CPU per sign-in's events without a webhook, ${withHook.at(-1)!.toFixed(3)} with one: ${(withHook.at(-1)! - without.at(-1)!).toFixed(3)} ms for its two deliveries`);
  }
  console.log(`median: ${(median(withHook) - median(without)).toFixed(3)} ms of CPU for a sign-in's two deliveries (${events} sign-ins a round, ${concurrency} at a time)`);
  await receiver.close();
}

await main();
