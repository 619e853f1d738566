import { expect } from 'chai';
import { connect } from 'node:net';
import { projectRoot } from '../../src/config/load.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { routesOf } from '../../src/api/index.js';
import { CsrfTokens } from '../../src/http/csrf.js';
import { demoClientSecret } from '../../src/provider/clients.js';
import { Browser } from '../helpers/browser.js';
import { authorizationRequest, discover } from '../helpers/oidc.js';
import { ALICE, THIRD_PARTY_CLIENT, WEB_CLIENT, type TestServer } from '../helpers/server.js';
import { writeCountingStore } from '../helpers/write-counting-store.js';
import { ADMIN_KEY, START_KEY, call, startApiServer } from '../api/helpers.js';

/** One malformed request. `path` is sent as written (no normalisation by fetch where it matters). */
interface Probe {
  label: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

interface Answer {
  status: number;
  headers: string;
  body: string;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** Values that try to break parsers, validators, templates and logs. */
const ODD_STRINGS = [
  '',
  ' ',
  'a'.repeat(20_000),
  'é'.repeat(3_000),
  '\u0000\u0001\u0007\u001b[31m',
  'alice@example.com\r\nBcc: victim@example.com',
  'alice@example.com\u0000@evil.test',
  '\u202eexample.com@alice',
  'ａｌｉｃｅ@ｅｘａｍｐｌｅ.ｃｏｍ',
  'Ａ\u0301\u0301\u0301\u0301\u0301\u0301@example.com',
  '😀'.repeat(500),
  '\ud800',
  '<script>alert(1)</script>@example.com',
  '"><img src=x onerror=alert(1)>',
  "' OR '1'='1",
  '{"$ne":null}',
  '${7*7}<%= 7*7 %>{{7*7}}',
  '../../../../etc/passwd',
  '%00%0d%0a',
];

const JSON_BODIES: string[] = [
  '{"code":',
  '{"loginId": "alice@example.com", "applicationId": "web"',
  '[',
  '"just a string"',
  '42',
  'null',
  '{}',
  '[]',
  `${'['.repeat(5_000)}${']'.repeat(5_000)}`,
  `${'{"a":'.repeat(3_000)}1${'}'.repeat(3_000)}`,
  JSON.stringify({ code: { $ne: null } }),
  JSON.stringify({ code: ['a', 'b'], oneTimeCode: { $gt: '' } }),
  JSON.stringify({ loginId: 5, applicationId: true, state: 'x' }),
  JSON.stringify({ loginId: ALICE.email, applicationId: 'web', state: { deep: 'x'.repeat(70_000) } }),
  JSON.stringify({ __proto__: { admin: true }, constructor: { prototype: { admin: true } } }).replace('{', '{"__proto__":{"isAdmin":true},'),
  JSON.stringify({ user: { email: 'x\u0000@example.com', firstName: '\u202e'.repeat(100) } }),
  JSON.stringify({ refreshToken: 'a'.repeat(5_000) }),
  '{"code":"\\ud800\\udc00\\ud800"}',
  '\ufeff{"code":"x"}',
];

const FORM_BODIES: string[] = [
  ...ODD_STRINGS.map((value) => new URLSearchParams({ email: value, csrf: 'x', code: value, state: value, pair: value }).toString()),
  'email[]=a@example.com&email[]=b@example.com&csrf[]=1',
  'email[$ne]=x&code[__proto__][admin]=1',
  '__proto__[admin]=1&constructor[prototype][admin]=1',
  'email=%E0%A4%A&code=%ff%fe',
  'email=' + 'a'.repeat(40_000),
  'a=1&'.repeat(3_000),
];

const CONTENT_TYPES = ['application/json', 'application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x', 'application/xml', 'application/json; charset=utf-7', 'garbage'];

/** Fills each `{param}` of a route with a value. */
function fill(route: string, value: string): string {
  return route.replace(/\{\w+\}/g, value);
}

describe('fuzzing every route with malformed requests (rule 11)', function () {
  this.timeout(240_000);
  let server: TestServer;
  let writes: Map<string, number>;
  let realUid = '';
  let cookie = '';
  let linkCode = '';
  const routes: { method: string; path: string }[] = [];

  before(async () => {
    const counting = writeCountingStore(new MemoryStore());
    writes = counting.writes;
    server = await startApiServer({ store: counting.store });

    // A real sign-in waiting at the email form, and a real API code, so probes reach past the first check.
    const browser = new Browser(server.issuer);
    const form = await browser.get((await authorizationRequest(await discover(server))).url.href);
    realUid = /\/interaction\/([\w-]+)\/email/.exec(form.body)![1]!;
    cookie = await browser.jar.getCookieString(`${server.issuer}/interaction/${realUid}/email`);
    linkCode = (await call(server, 'POST', '/api/passwordless/start', { key: START_KEY, body: { applicationId: 'web', loginId: ALICE.email } })).json!.code as string;

    for (const router of server.app.routers) {
      for (const line of routesOf(router)) {
        const [method = '', path = ''] = line.split(' ');
        routes.push({ method, path });
      }
    }
    const discovery = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    for (const [key, value] of Object.entries(discovery)) {
      if ((key.endsWith('_endpoint') || key === 'jwks_uri') && typeof value === 'string') {
        const path = new URL(value).pathname;
        for (const method of ['GET', 'POST']) routes.push({ method, path });
      }
    }
    // node-oidc-provider routes discovery does not name.
    routes.push({ method: 'GET', path: '/.well-known/openid-configuration' }, { method: 'POST', path: '/session/end/confirm' }, { method: 'GET', path: '/auth/{uid}' });
  });
  after(() => server.stop());

  function probes(): Probe[] {
    const list: Probe[] = [];
    const paramValues = ['x', realUid, 'a'.repeat(3_000), '%00', '%F0%9F%98%80', '%ff%fe', '..%2f..%2fpackage.json', '%252e%252e', linkCode.slice(0, 10)];
    const distinctPaths = [...new Set(routes.map((r) => r.path))];
    for (const route of distinctPaths) {
      const declared = routes.filter((r) => r.path === route).map((r) => r.method);
      // Wrong methods.
      for (const method of METHODS.filter((m) => !declared.includes(m))) list.push({ label: `wrong method ${method} ${route}`, method, path: fill(route, 'x') });
      // Bogus path parameters, with and without the sign-in's cookie.
      if (route.includes('{')) {
        for (const value of paramValues) {
          for (const method of declared) list.push({ label: `param ${method} ${route} = ${value.slice(0, 20)}`, method, path: fill(route, value), headers: { cookie } });
        }
      }
      for (const method of declared.filter((m) => m !== 'GET')) {
        const path = fill(route, realUid);
        // Wrong, missing and lying content types.
        for (const type of CONTENT_TYPES) list.push({ label: `type ${type} ${route}`, method, path, headers: { 'content-type': type, cookie }, body: '{"email":"alice@example.com"' });
        list.push({ label: `no content type ${route}`, method, path, headers: { cookie }, body: 'email=alice%40example.com' });
        // Broken and hostile JSON.
        for (const body of JSON_BODIES) list.push({ label: `json ${route} ${body.slice(0, 24)}`, method, path, headers: { 'content-type': 'application/json', authorization: ADMIN_KEY, cookie }, body });
        // Odd form fields.
        for (const body of FORM_BODIES) list.push({ label: `form ${route} ${body.slice(0, 24)}`, method, path, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body });
        // A huge body.
        list.push({ label: `huge ${route}`, method, path, headers: { 'content-type': 'application/json', authorization: ADMIN_KEY }, body: `{"loginId":"${'a'.repeat(3_000_000)}"}` });
      }
      // Odd query strings on every route.
      for (const value of ['%00', '%E0%A4%A', 'a'.repeat(6_000), '%0d%0aSet-Cookie:%20x=1', 'javascript:alert(1)']) {
        const path = fill(route, realUid);
        list.push({ label: `query ${route} ${value.slice(0, 12)}`, method: declared[0] ?? 'GET', path: `${path}?state=${value}&redirect_uri=${value}&client_id=${value}&email=${value}&ui_locales=${value}&code=${value}`, headers: { cookie } });
      }
    }
    // Odd addresses with a valid form token, so they reach the address check itself.
    const emailToken = new CsrfTokens(server.app.keys.cookieKeys).issue('email', realUid);
    for (const value of [...ODD_STRINGS, 'alice@@example.com', `${'a'.repeat(250)}@example.com`, 'alice@exa mple.com']) {
      list.push({ label: `valid token, odd email ${value.slice(0, 20)}`, method: 'POST', path: `/interaction/${realUid}/email`, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body: new URLSearchParams({ csrf: emailToken, email: value }).toString() });
    }
    // Path tricks.
    for (const path of [
      '/static/../package.json',
      '/static/%2e%2e/package.json',
      '/static/%252e%252e/config/default.json',
      '/static/..%2f..%2fsrc%2fapp.ts',
      '/static/style.css%00.js',
      '//auth',
      '/interaction/%2e%2e/%2e%2e/dev/mail',
      '/api/user/%2e%2e%2fopenapi.json',
      '/api/../dev/mail.json',
      '/.%2e/.%2e/etc/passwd',
      `/${'a/'.repeat(2_000)}`,
      '/%ff',
      '/%',
      '/interaction/x/%E2%80%AE',
      '/passwordless/%0d%0aLocation:%20http:%2f%2fevil.test',
    ]) {
      list.push({ label: `path ${path.slice(0, 40)}`, method: 'GET', path });
    }
    // Header tricks.
    const headerSets: Record<string, string>[] = [
      { host: 'evil.test' },
      { 'x-forwarded-host': 'evil.test', 'x-forwarded-proto': 'https', 'x-forwarded-for': '1.2.3.4, <script>' },
      { 'accept-language': `${'x'.repeat(5_000)};q=abc, *;q=-1, de;q=NaN` },
      { cookie: `_interaction=${'a'.repeat(3_000)}; _interaction.sig=%%%; _session=\u00ff`.replace(/[^\x20-\x7e]/g, '?') },
      { authorization: `Bearer ${'a'.repeat(5_000)}` },
      { authorization: ` ${ADMIN_KEY}x` },
      { 'content-length': '0' },
      { 'user-agent': '\u00e9'.replace(/[^\x20-\x7e]/g, '?') + 'x'.repeat(6_000) },
    ];
    for (const headers of headerSets) {
      for (const path of ['/interaction/x', `/interaction/${realUid}`, '/api/user', '/auth', '/demo/login', '/passwordless/x']) list.push({ label: `headers ${Object.keys(headers).join(',')} ${path}`, method: 'GET', path, headers });
    }
    return list;
  }

  async function send(probe: Probe): Promise<Answer> {
    const response = await fetch(`${server.issuer}${probe.path}`, {
      method: probe.method,
      redirect: 'manual',
      headers: probe.headers ?? {},
      ...(probe.body !== undefined && probe.method !== 'GET' && probe.method !== 'HEAD' ? { body: probe.body } : {}),
    });
    const headers = [...response.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n');
    return { status: response.status, headers, body: await response.text() };
  }

  /** Requests fetch refuses to send (raw CR/LF in the request line and headers), over a socket. */
  function sendRaw(request: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1');
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString('latin1')));
      socket.on('end', () => {
        const [head = '', ...rest] = data.split('\r\n\r\n');
        resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head, body: rest.join('\r\n\r\n') });
      });
      socket.on('error', reject);
      socket.write(request);
      socket.end();
    });
  }

  it('answers at least 300 malformed requests across every route with a 4xx (or a harmless 2xx/3xx), no traces, no secrets, and no change in the store', async () => {
    const keys = server.app.keys;
    const privateParts = (keys.jwks as { keys: Record<string, string>[] }).keys.flatMap((k) => [k.d, k.p, k.q].filter((v): v is string => typeof v === 'string'));
    const secrets = [ADMIN_KEY, START_KEY, WEB_CLIENT.client_secret, THIRD_PARTY_CLIENT.client_secret, demoClientSecret(keys.cookieKeys), linkCode, ...keys.cookieKeys, ...privateParts];
    const writesBefore = new Map(writes);
    expect(writesBefore.get('codes.insert'), 'the counting store sees the set-up\'s writes').to.be.greaterThan(0);

    const list = probes();
    const raw = [
      `GET /interaction/x HTTP/1.1\r\nHost: localhost\r\nX-Evil: a\rb\r\n\r\n`,
      `GET /api/user HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${ADMIN_KEY}\nX-Injected: 1\r\nConnection: close\r\n\r\n`,
      `POST /api/passwordless/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{"code":"x"}`,
      `POST /api/passwordless/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\nConnection: close\r\n\r\n0\r\n\r\n`,
      `GET /interaction/${realUid} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n${'X-Many: 1\r\n'.repeat(500)}\r\n`,
      `GET /%0d%0aSet-Cookie:x=1 HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n`,
    ];

    const failures: string[] = [];
    const check = (label: string, answer: Answer) => {
      const text = `${answer.headers}\n${answer.body}`;
      if (answer.status >= 500) failures.push(`${label}: status ${answer.status} ${answer.body.slice(0, 200)}`);
      if (/\n\s+at [^\n]*:\d+:\d+/.test(text) || text.includes(projectRoot) || text.includes('node_modules')) failures.push(`${label}: stack trace or file path`);
      for (const secret of secrets) if (text.includes(secret)) failures.push(`${label}: leaks a secret`);
      if (/^set-cookie: x=1/im.test(answer.headers) || /^x-injected/im.test(answer.headers)) failures.push(`${label}: header injection`);
      if (/https?:\/\/evil\.test/.test(text)) failures.push(`${label}: built a link from a request header`);
    };
    const statuses = new Map<number, number>();
    let index = 0;
    // A few at a time: fast enough, and gentle on a shared machine.
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (index < list.length) {
          const probe = list[index++]!;
          const answer = await send(probe).catch((err: unknown) => ({ status: 0, headers: '', body: `fetch failed: ${String(err)}` }));
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          if (answer.status === 0) failures.push(`${probe.label}: ${answer.body}`);
          else check(probe.label, answer);
        }
      }),
    );
    for (const request of raw) {
      const answer = await sendRaw(request);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      check(`raw ${request.slice(0, 40).replace(/\r\n/g, ' ')}`, answer);
    }

    const changed = [...writes].filter(([area, count]) => count !== (writesBefore.get(area) ?? 0));
    const total = list.length + raw.length;
    const distinct = new Set(routes.map((r) => r.path)).size;
    if (process.env.FUZZ_REPORT) process.stdout.write(`fuzz: ${total} requests, ${distinct} distinct routes, statuses ${JSON.stringify(Object.fromEntries(statuses))}, writes ${JSON.stringify(changed)}\n`);

    expect(total).to.be.at.least(300);
    expect(failures, failures.slice(0, 30).join('\n')).to.deep.equal([]);
    expect(changed, 'store writes during the fuzz').to.deep.equal([]);
  });
});
