import { createHook, AsyncLocalStorage } from 'node:async_hooks';
import { loadConfig } from '../src/config/load.js';
import { MemoryStore } from '../src/storage/memory.js';
import { Events } from '../src/events/events.js';
import { WebhookSender } from '../src/events/sender.js';
import { buildUser } from '../src/accounts/users.js';
import { startWebhookSink } from './driver/webhook-sink.js';
process.env.LOG_LEVEL = 'silent';
const receiver = await startWebhookSink();
const config = loadConfig({ env: {}, overrides: { webhooks: [{ id: 'bench', url: receiver.url, events: ['*'], secret: 'bench-webhook-secret-0123456789' }] } });
const store = new MemoryStore();
const user = buildUser({ email: 'u@bench.test', firstName: 'B', registrations: [{ applicationId: 'bench', roles: [] }] });
await store.users.insert(user);
const emitter = new Events({ webhooks: config.webhooks, store, settings: config.events });
const sender = new WebhookSender(store.webhookDeliveries, config.webhooks, config.events);
emitter.onWritten = () => sender.kick();
sender.start();
const counts = new Map<string, number>();
let on = false;
const stacks = new Map<string, number>();
createHook({ init(_id, type) { if (!on) return; counts.set(type, (counts.get(type) ?? 0) + 1); if (process.env.STACKS) { const st = (new Error().stack ?? '').split('\n').slice(2, 12).filter((l) => !l.includes('node:internal/async_hooks') && !l.includes('zz-count')).slice(0, 4).map((l) => l.trim().replace(/\(.*\/(node_modules|src)\//, '(').replace(/file:\/\/\S*\//,'')).join(' < '); const k = type + ': ' + st; stacks.set(k, (stacks.get(k) ?? 0) + 1); } } }).enable();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const N = Number(process.argv[2] ?? 200);
const mode = process.argv[3] ?? 'both';
async function signIn() {
  if (mode === 'both' || mode === 'sent') emitter.observe('code.sent', { user: user.id, client: 'bench', signUp: false });
  await sleep(40); // let it go
  if (mode === 'both' || mode === 'login') await emitter.atomically(async (step) => {
    const record = (await store.users.recordLogin(user.id, 'bench', Date.now())) ?? user;
    step.emit('user.login.success', { user: record, applicationId: 'bench', info: { ipAddress: '127.0.0.1' } });
    return record;
  });
  await sleep(40);
}
for (let i = 0; i < 20; i++) await signIn();
on = true;
for (let i = 0; i < N; i++) await signIn();
on = false;
await sender.settled();
const per = [...counts].map(([t, c]) => [t, +(c / N).toFixed(2)] as const).sort((a, b) => b[1] - a[1]);
console.log(mode, 'async resources per sign-in (minus 2 sleeps each):', per, 'total', per.reduce((s, [, c]) => s + c, 0));
if (process.env.STACKS) for (const [k, c] of [...stacks].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log((c / N).toFixed(2), k);
await sender.stop(); await receiver.close();
