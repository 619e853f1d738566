/**
 * `npm run bench:inproc`: server CPU of a REST API pair (start + login) with no sockets and no
 * second process. Requests are injected into the real application's handler (light-my-request),
 * one after another, so what is measured is our handler's own work. For scale, each round also
 * drives a floor: Koa with @koa/router and koa-body answering the same two requests with fixed
 * JSON, injected the same way — ours minus the floor is what our API code adds. Rounds
 * alternate, so drift of the machine hits all three alike.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import inject from 'light-my-request';
import type { RequestListener } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import { koaBody } from 'koa-body';
import { openStore } from '../src/storage/index.js';
import { buildApplication } from '../src/app.js';
import { generateCookieKeys, generateSigningKeys } from '../src/provider/keys.js';
import { oursConfig } from './ours-config.js';
import { benchEmail, BENCH_CLIENT_ID } from './protocol.js';
import { apiPair } from './driver/flows.js';
import type { Target } from './driver/http.js';
import { countFlag, median } from './driver/stats.js';

process.env.LOG_LEVEL = 'silent';

const { values: flags } = parseArgs({
  options: {
    pairs: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '3' },
    users: { type: 'string', default: '1000' },
  },
});
const pairs = countFlag('pairs', flags.pairs);
const rounds = countFlag('rounds', flags.rounds);
const users = countFlag('users', flags.users);

/** A `Target` whose requests are injected into `handler` instead of sent over a socket. */
function injected(handler: RequestListener): Pick<Target, 'request'> {
  return {
    async request(method, path, headers = {}, body) {
      const reply = await inject(handler, { method: method as 'POST', url: path, headers: { host: 'localhost', ...headers }, ...(body !== undefined ? { payload: body } : {}) });
      return { status: reply.statusCode, headers: {}, body: reply.payload };
    },
  };
}

/** The same two endpoints on bare Koa, answering fixed JSON: what any Koa API pays. */
function floorHandler(): RequestListener {
  const koa = new Koa();
  const router = new Router();
  const json = koaBody({ json: true, urlencoded: false, text: false, multipart: false });
  let issued = 0;
  router.post('/api/passwordless/start', json, (ctx) => {
    ctx.body = { code: `code-${(issued += 1)}` };
  });
  router.post('/api/passwordless/login', json, (ctx) => {
    ctx.body = { user: { id: (ctx.request.body as { code?: string }).code, email: 'user@bench.test' } };
  });
  koa.use(router.routes());
  return koa.callback();
}

/** Server CPU (user + system) per pair over `count` pairs, in ms. */
async function cpuPerPair(handler: RequestListener, apiKey: string, count: number, noJWT: boolean): Promise<number> {
  const target = injected(handler);
  const before = process.cpuUsage();
  for (let i = 0; i < count; i += 1) {
    const outcome = await apiPair(target, apiKey, BENCH_CLIENT_ID, benchEmail(i % users), noJWT);
    if (outcome.kind !== 'ok') throw new Error(`start answered ${outcome.status}`);
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count / 1000;
}

const apiKey = randomBytes(32).toString('base64url');
const config = oursConfig({
  kind: 'ours',
  jwks: await generateSigningKeys(),
  cookieKeys: generateCookieKeys(),
  client: { client_id: BENCH_CLIENT_ID, client_secret: randomBytes(24).toString('base64url'), redirect_uris: ['http://127.0.0.1:9/cb'] },
  users,
  smtpUrl: null,
  mongodbUri: null,
  apiKey,
  workers: 1,
  webhookUrl: null,
  webhookEvents: ['*'],
  ttlSeconds: null,
});
const app = await buildApplication({ config, issuer: 'http://localhost', store: await openStore(config) });
try {
  const floor = floorHandler();
  await cpuPerPair(app.handler, apiKey, Math.min(2000, pairs), true);
  await cpuPerPair(floor, apiKey, Math.min(2000, pairs), true);
  const results: Record<'floor' | 'noJWT' | 'JWT', number[]> = { floor: [], noJWT: [], JWT: [] };
  for (let round = 0; round < rounds; round += 1) {
    results.floor.push(await cpuPerPair(floor, apiKey, pairs, true));
    results.noJWT.push(await cpuPerPair(app.handler, apiKey, pairs, true));
    results.JWT.push(await cpuPerPair(app.handler, apiKey, pairs, false));
  }
  for (const [variant, values] of Object.entries(results)) {
    console.log(`${variant.padEnd(5)} ms CPU per pair: median ${median(values).toFixed(3)} (rounds: ${values.map((v) => v.toFixed(3)).join(', ')})`);
  }
} finally {
  await app.close();
}
process.exit(0);
