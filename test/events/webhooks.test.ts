import { expect } from 'chai';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as client from 'openid-client';
import { Browser } from '../helpers/browser.js';
import { ALICE, WEB_CLIENT, type TestServer } from '../helpers/server.js';
import { ADMIN_KEY, call, startApiServer } from '../api/helpers.js';
import { authorizationRequest, discover, exchange, lastMailTo, linkOf, requestLink, shortCodeOf } from '../helpers/oidc.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { captureLogs } from '../helpers/logs.js';
import { runCli } from '../../src/cli.js';
import { totpCode } from '../two-factor/helpers.js';
import { pairNumberOn } from '../helpers/cross-device.js';
import { delivery } from '../storage/contract/webhooks.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { WebhookSender } from '../../src/events/sender.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

const SECRET = 'webhook-secret-for-the-tests-0123';
/** Fast retries: a test sees several tries within a second. */
const FAST = { retryInitialMs: 20, retryMaxMs: 100, pollMs: 20, leaseSeconds: 5 };

/** Imports a code block of docs/webhooks.md (after `<!-- snippet: name -->`) as a module: the docs' own code is what is tested. */
async function documentedSnippet(name: string): Promise<Record<string, (...args: never[]) => unknown>> {
  const doc = readFileSync('docs/webhooks.md', 'utf8');
  const code = new RegExp(`<!-- snippet: ${name} -->\\s*\`\`\`js\\n([\\s\\S]*?)\`\`\``).exec(doc)?.[1];
  expect(code, `docs/webhooks.md has the ${name} snippet`).to.be.a('string');
  // Next to node_modules, so its `import 'jose'` resolves as in a receiver's project.
  const file = path.resolve(`test/.snippet-${name}-${process.pid}.mjs`);
  writeFileSync(file, code!);
  try {
    return (await import(pathToFileURL(file).href)) as Record<string, (...args: never[]) => unknown>;
  } finally {
    rmSync(file, { force: true });
  }
}

async function startWithWebhooks(receiver: Receiver, more: Record<string, unknown> = {}, events: Record<string, unknown> = {}): Promise<TestServer> {
  return startApiServer({
    config: {
      webhooks: [{ id: 'all', url: receiver.url, events: ['*'], secret: SECRET, timeoutMs: 300, headers: { 'X-Tenant': 'acme' }, ...more }],
      events: { ...FAST, ...events },
    },
  });
}

const eventsOf = (receiver: Receiver, type?: string) => receiver.acknowledged().map((r) => r.event).filter((e) => !type || e.type === type);

describe('events and webhooks', () => {
  let receiver: Receiver;
  let server: TestServer;
  let config: client.Configuration;

  beforeEach(async () => {
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await server?.stop();
    await receiver.close();
  });

  it('posts a hosted sign-in as FusionAuth events, signed so the documented snippets verify them', async () => {
    server = await startWithWebhooks(receiver);
    config = await discover(server);
    const browser = new Browser(server.issuer);
    const rp = await authorizationRequest(config);
    await requestLink(browser, rp, ALICE.email);
    const mail = (await lastMailTo(server, ALICE.email))!;
    const landed = await browser.get(linkOf(mail));
    const tokens = await exchange(rp, landed.url);
    await server.app.webhooks.settled();

    const login = eventsOf(receiver, 'user.login.success');
    expect(login).to.have.length(1);
    expect(login[0]).to.include({ type: 'user.login.success', applicationId: WEB_CLIENT.client_id, authenticationType: 'PASSWORDLESS' });
    expect(login[0]!.id).to.match(/^[0-9a-f-]{36}$/);
    expect(login[0]!.createInstant).to.be.a('number');
    expect((login[0]!.user as { email: string; id: string }).email).to.equal(ALICE.email);
    expect((login[0]!.user as { id: string }).id).to.equal(tokens.claims()!.sub);
    expect(eventsOf(receiver, 'magic-link.sent')).to.have.length(1);

    const delivery = receiver.acknowledged().find((r) => r.event.type === 'user.login.success')!;
    expect(delivery.headers['content-type']).to.equal('application/json');
    expect(delivery.headers['x-tenant']).to.equal('acme');
    expect(delivery.headers['x-oml-event-id']).to.equal(login[0]!.id);
    expect(delivery.headers['x-oml-delivery-attempt']).to.equal('1');
    const { verifyWebhook } = await documentedSnippet('verify-hmac');
    const { verifyFusionAuthSignature } = await documentedSnippet('verify-jwt');
    const check = verifyWebhook as (body: string, header: string | undefined, secret: string) => boolean;
    const checkJwt = verifyFusionAuthSignature as (body: string, jwt: string, secret: string) => Promise<boolean>;
    expect(check(delivery.body, delivery.headers['x-oml-signature'] as string, SECRET)).to.equal(true);
    expect(check(`${delivery.body} `, delivery.headers['x-oml-signature'] as string, SECRET), 'a changed body fails').to.equal(false);
    expect(check(delivery.body, delivery.headers['x-oml-signature'] as string, 'another-secret-of-enough-length'), 'another secret fails').to.equal(false);
    const stale = (delivery.headers['x-oml-signature'] as string).replace(/t=(\d+)/, (_, t: string) => `t=${Number(t) - 3600}`);
    expect(check(delivery.body, stale, SECRET), 'an hour-old timestamp is a replay').to.equal(false);
    expect(await checkJwt(delivery.body, delivery.headers['x-fusionauth-signature-jwt'] as string, SECRET)).to.equal(true);
    expect(await checkJwt(`${delivery.body} `, delivery.headers['x-fusionauth-signature-jwt'] as string, SECRET)).to.equal(false);

    // Nothing secret in any event body.
    const all = receiver.received.map((r) => r.body).join('\n');
    for (const secret of [linkOf(mail).split('/').pop()!, tokens.access_token, tokens.refresh_token ?? 'none', SECRET, ADMIN_KEY]) expect(all).not.to.include(secret);
    // A six-digit code as a JSON value: as bare digits it can turn up by chance inside an instant.
    expect(all).not.to.include(`"${shortCodeOf(mail)}"`);
  });

  it('posts user changes from the API in the order they happened, every one at least once while the receiver fails half the time', async () => {
    receiver.behaviour = (n) => (n % 2 === 0 ? 500 : 200);
    server = await startWithWebhooks(receiver, { events: ['user.create', 'user.update', 'user.deactivate', 'user.reactivate', 'user.delete', 'user.registration.create'] });
    const created = await call(server, 'POST', '/api/user', { key: ADMIN_KEY, body: { user: { email: 'order@example.com', firstName: 'A' } } });
    const id = created.json!.user.id as string;
    await call(server, 'PATCH', `/api/user/${id}`, { key: ADMIN_KEY, body: { user: { firstName: 'B' } } });
    await call(server, 'POST', `/api/user/registration/${id}`, { key: ADMIN_KEY, body: { registration: { applicationId: WEB_CLIENT.client_id } } });
    await call(server, 'DELETE', `/api/user/${id}`, { key: ADMIN_KEY });
    await call(server, 'PUT', `/api/user/${id}?reactivate=true`, { key: ADMIN_KEY });
    await call(server, 'DELETE', `/api/user/${id}?hardDelete=true`, { key: ADMIN_KEY });
    await receiver.waitForAcknowledged(6);
    await server.app.webhooks.settled();

    const delivered = eventsOf(receiver);
    expect(delivered.map((e) => e.type)).to.deep.equal(['user.create', 'user.update', 'user.registration.create', 'user.deactivate', 'user.reactivate', 'user.delete']);
    expect(receiver.received.length, 'each failed try was tried again').to.be.greaterThan(6);
    expect(new Set(receiver.received.map((r) => r.event.id)).size, 'a retry carries the same event id').to.equal(6);
    expect((delivered[1]!.user as { firstName: string }).firstName).to.equal('B');
    expect((delivered[5]!.user as { id: string }).id).to.equal(id);
    const attempts = await call(server, 'GET', '/api/webhook/attempts?status=delivered', { key: ADMIN_KEY });
    expect(attempts.status).to.equal(200);
    expect(attempts.json!.attempts).to.have.length(6);
    expect(attempts.json!.attempts.every((a: { attempts: number }) => a.attempts >= 1)).to.equal(true);
    expect(attempts.json!.attempts.some((a: { attempts: number }) => a.attempts >= 2)).to.equal(true);
  });

  it('posts authenticator enrolment and refresh-token revocation, written before the API answers', async () => {
    server = await startWithWebhooks(receiver, { events: ['user.two-factor.method.add', 'user.two-factor.method.remove', 'jwt.refresh-token.revoke'] });
    const user = (await call(server, 'POST', '/api/user', { key: ADMIN_KEY, body: { user: { email: 'totp@example.com' } } })).json!.user as { id: string };
    const secret = (await call(server, 'GET', '/api/two-factor/secret', { key: ADMIN_KEY })).json!.secretBase32Encoded as string;
    expect((await call(server, 'POST', `/api/user/two-factor/${user.id}`, { key: ADMIN_KEY, body: { method: 'authenticator', code: totpCode(secret), secretBase32Encoded: secret } })).status).to.equal(200);
    // Stored before the answer: the store holds the delivery as soon as the call returns.
    const stored = await server.app.store.webhookDeliveries.list({ limit: 10 });
    expect(stored.map((d) => d.type)).to.include('user.two-factor.method.add');
    expect((await call(server, 'DELETE', `/api/jwt/refresh?userId=${user.id}`, { key: ADMIN_KEY })).status).to.equal(200);
    await receiver.waitForAcknowledged(2);
    const [added, revoked] = eventsOf(receiver);
    expect(added).to.include({ type: 'user.two-factor.method.add', userId: user.id });
    expect(revoked).to.include({ type: 'jwt.refresh-token.revoke', userId: user.id, reason: 'user' });
    expect(receiver.received.map((r) => r.body).join('\n')).not.to.include(secret);
  });

  it('posts what the magic link went through: opened elsewhere, approved there, a code voided by guesses, a limit hit, a refused login', async () => {
    server = await startApiServer({
      config: {
        webhooks: [{ id: 'all', url: receiver.url, events: ['*'], secret: SECRET, timeoutMs: 300 }],
        events: FAST,
        rateLimits: { sendPerAddress: { limit: 2, windowSeconds: 900 } },
      },
    });
    config = await discover(server);
    // Another device opens the link and approves with the number shown where the sign-in began.
    const laptop = new Browser(server.issuer);
    const inbox = await requestLink(laptop, await authorizationRequest(config), ALICE.email);
    const phone = new Browser(server.issuer);
    const onPhone = await phone.get(linkOf((await lastMailTo(server, ALICE.email))!));
    expect((await phone.submit(onPhone, '/approve', { number: pairNumberOn(inbox) })).status).to.equal(200);
    // A second sign-in whose code is guessed at until it is void.
    const guesser = new Browser(server.issuer);
    const second = await requestLink(guesser, await authorizationRequest(config), ALICE.email);
    const right = shortCodeOf((await lastMailTo(server, ALICE.email))!);
    for (let i = 0; i < 6; i += 1) await guesser.submit(second, '/code', { code: right === '000000' ? '111111' : '000000' });
    // A third email to the address is over its limit.
    expect((await requestLink(new Browser(server.issuer), await authorizationRequest(config), ALICE.email)).status).to.equal(429);
    // An API login whose user was deactivated after the code was started.
    const user = (await call(server, 'POST', '/api/user', { key: ADMIN_KEY, body: { user: { email: 'gone@example.com' }, registration: { applicationId: WEB_CLIENT.client_id } } })).json!.user as { id: string };
    const started = await call(server, 'POST', '/api/passwordless/start', { key: ADMIN_KEY, body: { loginId: 'gone@example.com', applicationId: WEB_CLIENT.client_id } });
    await call(server, 'DELETE', `/api/user/${user.id}`, { key: ADMIN_KEY });
    expect((await call(server, 'POST', '/api/passwordless/login', { body: { code: started.json!.code } })).status).to.equal(423);

    await server.mails();
    await server.app.webhooks.settled();
    const seen = (type: string) => eventsOf(receiver, type);
    expect(seen('magic-link.sent')).to.have.length(2);
    expect(seen('magic-link.opened-elsewhere').map((e) => e.openedIn)).to.deep.equal(['scanner_like']);
    expect(seen('magic-link.cross-device.approved')).to.have.length(1);
    expect(seen('magic-link.code.voided'), 'once, however many guesses follow').to.have.length(1);
    expect(seen('rate-limit.hit').map((e) => e.limit)).to.deep.equal(['sendPerAddress']);
    expect(seen('user.login.failed')).to.have.length(1);
    expect(seen('user.login.failed')[0]).to.include({ userId: user.id, reason: 'locked' });
    const bodies = receiver.received.map((r) => r.body).join('\n');
    expect(bodies).not.to.include(`"${right}"`).and.not.to.include(started.json!.code as string);
    expect(bodies, 'no address outside a user object').not.to.match(/"email":"alice@example\.com"/);
  });

  it('tries again after a timeout and after a dropped connection, and logs one line per outcome without secrets', async () => {
    receiver.behaviour = (n) => (n === 0 ? 'hang' : n === 1 ? 'drop' : 200);
    server = await startWithWebhooks(receiver, { events: ['user.create'] });
    const lines = await captureLogs('info', async () => {
      await call(server, 'POST', '/api/user', { key: ADMIN_KEY, body: { user: { email: 'flaky@example.com' } } });
      await receiver.waitForAcknowledged(1, 10_000);
      await server.app.webhooks.settled();
    });
    expect(receiver.received.map((r) => r.answered)).to.deep.equal([null, null, 200]);
    expect(new Set(receiver.received.map((r) => r.event.id)).size).to.equal(1);
    const outcomes = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((e) => String(e.event).startsWith('webhook.'));
    expect(outcomes.map((e) => [e.event, e.error ?? null])).to.deep.equal([
      ['webhook.retry', 'timeout'],
      ['webhook.retry', outcomes[1]!.error],
      ['webhook.delivered', null],
    ]);
    expect(String(outcomes[1]!.error)).to.match(/SOCKET|RESET|other side closed|TypeError/i);
    expect(lines.join('\n')).not.to.include(SECRET);
  });

  it('finishes a hosted sign-in while the receiver holds its delivery unanswered: nothing is sent on the request path', async () => {
    receiver.behaviour = () => 'hang';
    // A try may last a minute: a sign-in that waited for its delivery would outlast the test's timeout.
    server = await startWithWebhooks(receiver, { timeoutMs: 60_000 }, { leaseSeconds: 120 });
    config = await discover(server);
    const browser = new Browser(server.issuer);
    const rp = await authorizationRequest(config);
    await requestLink(browser, rp, ALICE.email);
    const landed = await browser.get(linkOf((await lastMailTo(server, ALICE.email))!));
    const tokens = await exchange(rp, landed.url);
    expect(tokens.access_token).to.be.a('string');
    for (let waited = 0; receiver.received.length === 0 && waited < 3000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(receiver.received.map((r) => [r.event.type, r.answered]), 'the first event is still held by the receiver').to.deep.equal([['magic-link.sent', null]]);
    const pending = await server.app.store.webhookDeliveries.list({ status: 'pending', limit: 10 });
    expect(pending.map((d) => d.type).sort(), 'the login event waits behind it, in order').to.deep.equal(['magic-link.sent', 'user.login.success']);
  });

  it('refuses to follow a redirect', async () => {
    receiver.behaviour = (n) => (n === 0 ? 307 : 200);
    server = await startWithWebhooks(receiver, { events: ['user.create'] });
    await call(server, 'POST', '/api/user', { key: ADMIN_KEY, body: { user: { email: 'redirect@example.com' } } });
    await receiver.waitForAcknowledged(1);
    expect(receiver.received.map((r) => r.answered)).to.deep.equal([307, 200]);
  });

  it('marks an event older than maxAgeHours failed and logs it, instead of trying forever', async () => {
    receiver.behaviour = () => 503;
    server = await startWithWebhooks(receiver, { events: ['user.create'] });
    const lines = await captureLogs('info', async () => {
      const now = Date.now();
      await server.app.store.webhookDeliveries.insertMany([
        {
          id: 'old-event:all', eventId: 'old-event', webhookId: 'all', type: 'user.create', orderKey: 'type:user.create', sequence: 1,
          body: JSON.stringify({ event: { id: 'old-event', type: 'user.create' } }), status: 'pending', attempts: 3,
          createdAt: now - 25 * 3_600_000, nextAttemptAt: now, leaseOwner: null, leaseUntil: 0, lastStatus: 503, lastError: 'HTTP 503', settledAt: null, retainUntil: now + 86_400_000,
        },
      ]);
      server.app.webhooks.kick();
      await server.app.webhooks.settled();
    });
    const [failed] = await server.app.store.webhookDeliveries.list({ status: 'failed', limit: 10 });
    expect(failed).to.include({ eventId: 'old-event', attempts: 4, lastStatus: 503 });
    expect(receiver.received).to.have.length(1);
    expect(lines.some((l) => l.includes('"event":"webhook.failed"') && l.includes('"reason":"max_age"'))).to.equal(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(receiver.received, 'not tried again').to.have.length(1);
  });

  it('keeps a slow receiver from holding up another webhook', async () => {
    const fast = await startReceiver();
    receiver.behaviour = () => 'hang';
    server = await startApiServer({
      config: {
        webhooks: [
          { id: 'slow', url: receiver.url, events: ['user.create'], secret: SECRET, timeoutMs: 5000 },
          { id: 'fast', url: fast.url, events: ['user.create'], secret: SECRET },
        ],
        events: { ...FAST, concurrencyPerUrl: 1, leaseSeconds: 15 },
      },
    });
    try {
      for (let i = 0; i < 3; i += 1) await call(server, 'POST', '/api/user', { key: ADMIN_KEY, body: { user: { email: `many${i}@example.com` } } });
      await fast.waitForAcknowledged(3, 3000);
      expect(receiver.received.length, 'one in flight to the slow URL at a time').to.equal(1);
    } finally {
      await fast.close();
    }
  });

  it('lists deliveries with the CLI and replays an event with the same id', async () => {
    server = await startWithWebhooks(receiver, { events: ['user.create'] });
    await call(server, 'POST', '/api/user', { key: ADMIN_KEY, body: { user: { email: 'replay@example.com' } } });
    const [first] = await receiver.waitForAcknowledged(1);
    const out: string[] = [];
    const context = { out: (text: string) => void out.push(text), err: (text: string) => void out.push(text), store: server.app.store };
    expect(await runCli(['webhooks', 'list', '--status', 'delivered'], context)).to.equal(0);
    expect(out.join('')).to.include(first!.event.id).and.include('user.create').and.include('delivered');
    expect(await runCli(['webhooks', 'replay', first!.event.id], context)).to.equal(0);
    server.app.webhooks.kick();
    const again = await receiver.waitForAcknowledged(2);
    expect(again[1]!.event.id).to.equal(first!.event.id);
    expect(await runCli(['webhooks', 'replay', 'no-such-event'], context)).to.equal(1);
  });

  it('sends nothing and stores nothing without webhooks', async () => {
    server = await startApiServer();
    await call(server, 'POST', '/api/user', { key: ADMIN_KEY, body: { user: { email: 'quiet@example.com' } } });
    expect(await server.app.store.webhookDeliveries.list({ limit: 10 })).to.deep.equal([]);
  });

  it('refuses a bad webhook at start-up, naming it', async () => {
    const { productionGaps } = await import('../../src/config/production.js');
    const hook = { id: 'x', url: 'https://hooks.example.com/in', events: ['*'], secret: SECRET };
    const load = (webhooks: unknown[]) => () => loadConfig({ env: {}, overrides: { webhooks } });
    expect(load([{ ...hook, url: 'ftp://hooks.example.com/in' }])).to.throw(/webhooks\.0\.url/);
    expect(load([{ ...hook, url: 'https://user:pw@hooks.example.com/in' }])).to.throw(/credentials/);
    expect(load([{ ...hook, secret: 'short' }])).to.throw(/webhooks\.0\.secret/);
    // An HTTP client throws on such a header: before the sender's guard, that ended the process at the first try.
    expect(load([{ ...hook, headers: { 'X-Tenant': 'acme\r\nX-Injected: 1' } }])).to.throw(/webhooks\.0\.headers\.X-Tenant.*line breaks/s);
    expect(load([{ ...hook, headers: { 'X-Tenant': 'acme café\tok' } }]), 'a tab and Latin-1 pass, as HTTP clients (node:http, undici) take them').not.to.throw();
    expect(load([{ ...hook, headers: { 'content-type': 'text/plain' } }]), 'a header the sender sets').to.throw(/webhooks\.0\.headers\.content-type.*sender sets itself/s);
    expect(load([{ ...hook, headers: { 'X-OML-Signature': 'forged' } }])).to.throw(/webhooks\.0\.headers\.X-OML-Signature/);
    expect(load([{ ...hook, headers: { 'x-fusionauth-signature-jwt': 'forged' } }]), 'FusionAuth\'s signature, in any case').to.throw(/webhooks\.0\.headers\.x-fusionauth-signature-jwt/);
    expect(load([{ ...hook, headers: { 'X-Omletter': 'fine' } }]), 'only our own X-OML- prefix is reserved').not.to.throw();
    expect(load([hook, hook])).to.throw(/used twice/);
    expect(load([{ ...hook, timeoutMs: 120_000 }]), 'a try must end before its lease').to.throw(/webhooks\.0\.timeoutMs/);
    const gaps = (url: string, allowInsecureUrl = false) =>
      productionGaps({ ...loadConfig({ env: {}, overrides: { webhooks: [{ ...hook, url, allowInsecureUrl }] } }), production: true }).filter((g) => g.path[0] === 'webhooks');
    expect(gaps('http://hooks.internal/in')).to.have.length(1);
    expect(gaps('http://hooks.internal/in', true)).to.have.length(0);
    expect(gaps('https://hooks.example.com/in')).to.have.length(0);
    const documented = /"secret": "([^"]+)"/.exec(readFileSync('docs/webhooks.md', 'utf8'))![1]!;
    const pasted = productionGaps({ ...loadConfig({ env: {}, overrides: { webhooks: [{ ...hook, secret: documented }] } }), production: true }).filter((g) => g.path[0] === 'webhooks');
    expect(pasted.map((g) => g.path.join('.')), 'the docs\' example secret is refused in production').to.deep.equal(['webhooks.0.secret']);
  });
});

type Hook = Config['webhooks'][number];

/**
 * A WebhookSender on a memory store posting to `receiver`, with the fast retries and no polling
 * in the way (only the sender's own wake-ups send anything); `settings` and `hook` override.
 */
function senderFor(receiver: Receiver, settings: Partial<Config['events']> = {}, hook: Partial<Hook> = {}): { store: MemoryStore; sender: WebhookSender } {
  const store = new MemoryStore();
  const events = { ...loadConfig({ env: {} }).events, ...FAST, pollMs: 60_000, ...settings };
  const target: Hook = { id: 'hook', url: receiver.url, events: ['*'], secret: SECRET, headers: {}, timeoutMs: 1000, allowInsecureUrl: false, ...hook };
  return { store, sender: new WebhookSender(store.webhookDeliveries, [target], events) };
}

describe('webhook sender, given a request its HTTP client will not write', () => {
  it('counts it as a failed try and keeps the process running (it used to end it with an unhandled rejection)', async () => {
    const receiver = await startReceiver();
    // The configuration refuses such a header ('refuses a bad webhook at start-up'); this is the sender's own guard.
    const { store, sender } = senderFor(receiver, { pollMs: 20 }, { id: 'bad', headers: { 'X-Tenant': 'acme\r\nX-Injected: 1' }, timeoutMs: 300 });
    try {
      await store.webhookDeliveries.insertMany([delivery({ webhookId: 'bad' })]);
      sender.start();
      let [record] = await store.webhookDeliveries.list({ limit: 1 });
      for (let waited = 0; record!.attempts < 2 && waited < 3000; waited += 20) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        [record] = await store.webhookDeliveries.list({ limit: 1 });
      }
      expect(record, 'tried again with backoff, as any failed try').to.include({ status: 'pending', lastError: 'UND_ERR_INVALID_ARG', lastStatus: null });
      expect(record!.attempts).to.be.at.least(2);
      expect(receiver.received, 'nothing was sent').to.have.length(0);
    } finally {
      await sender.stop();
      await receiver.close();
    }
  });
});

describe('webhook sender, its per-URL cap (events.concurrencyPerUrl)', () => {
  it('by default has sixteen deliveries to one URL in flight together, and never more', async () => {
    // Every POST is held unanswered: what reaches the receiver is what the sender has in flight.
    const receiver = await startReceiver(() => 'hang');
    const { store, sender } = senderFor(receiver, {}, { timeoutMs: 3000 });
    try {
      await store.webhookDeliveries.insertMany(Array.from({ length: 20 }, (_, i) => delivery({ sequence: i + 1 })));
      sender.start();
      for (let waited = 0; receiver.received.length < 16 && waited < 2000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
      await new Promise((resolve) => setTimeout(resolve, 300));
      // At the old default of four, a burst went out four at a time, one lease per freed slot.
      expect(receiver.received, 'a burst goes out together, up to the cap').to.have.length(16);
    } finally {
      await sender.stop(0);
      await receiver.close();
    }
  });
});

describe('webhook sender, gathering events (events.gatherMs)', () => {
  it('posts the events written within gatherMs together, each in its own POST, and sends a backlog on without waiting again', async () => {
    const receiver = await startReceiver();
    const arrivals: number[] = [];
    receiver.behaviour = () => (arrivals.push(Date.now()), 200);
    const { store, sender } = senderFor(receiver, { gatherMs: 400, concurrencyPerUrl: 1 });
    try {
      const written = Date.now();
      await store.webhookDeliveries.insertMany([delivery({ sequence: 1 })]);
      sender.start();
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(receiver.received, 'nothing before the gathering ends').to.have.length(0);
      await store.webhookDeliveries.insertMany([2, 3, 4].map((sequence) => delivery({ sequence })));
      sender.kick();
      await receiver.waitForAcknowledged(4, 3000);
      expect(arrivals[0]! - written, 'the first waited for the others').to.be.at.least(390);
      expect(receiver.received.map((r) => r.event.id), 'one POST per event').to.have.length(4);
      // One at a time (concurrencyPerUrl 1): each freed slot takes the next at once, not after another gatherMs.
      expect(arrivals[3]! - arrivals[0]!, 'the backlog went on at once').to.be.below(300);
    } finally {
      await sender.stop();
      await receiver.close();
    }
  });

  it('posts each event as it is written with gatherMs 0', async () => {
    const receiver = await startReceiver();
    const { store, sender } = senderFor(receiver, { gatherMs: 0 });
    try {
      sender.start();
      const written = Date.now();
      await store.webhookDeliveries.insertMany([delivery()]);
      sender.kick();
      await receiver.waitForAcknowledged(1, 3000);
      // Well inside the 150 ms in which the case above, gathering over 400 ms, saw nothing.
      expect(Date.now() - written).to.be.below(150);
    } finally {
      await sender.stop();
      await receiver.close();
    }
  });
});
