import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { load as loadYaml } from 'js-yaml';
import type * as client from 'openid-client';
import { Browser } from '../helpers/browser.js';
import { ALICE, BOB, WEB_CLIENT, startTestServer, type TestServer } from '../helpers/server.js';
import { startApiServer, call, ADMIN_KEY } from '../api/helpers.js';
import { authorizationRequest, discover, exchange, lastMailTo, linkOf, requestLink, shortCodeOf } from '../helpers/oidc.js';
import { labelValues, parseMetrics, prometheusParserFamilies, valueOf, type Families } from '../helpers/prometheus.js';
import { freePort } from '../helpers/ports.js';
import { pairNumberOn } from '../helpers/cross-device.js';
import { DevMailbox } from '../../src/mail/dev-mailbox.js';
import type { MailMessage } from '../../src/mail/types.js';
import { loadConfig } from '../../src/config/load.js';
import { productionGaps } from '../../src/config/production.js';

const TOKEN = 'metrics-scrape-token-for-tests';

/** The dev mailbox, except that every email to Bob is refused for good (an SMTP 550). */
class RefusingBobMailbox extends DevMailbox {
  override async send(message: MailMessage): Promise<void> {
    if (message.to === BOB.email) throw Object.assign(new Error('550 mailbox unavailable'), { responseCode: 550 });
    return super.send(message);
  }
}

async function scrape(issuerOrUrl: string, token: string | null = TOKEN): Promise<Response> {
  const url = issuerOrUrl.endsWith('/metrics') ? issuerOrUrl : `${issuerOrUrl}/metrics`;
  return fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
}

async function metricsOf(server: TestServer): Promise<{ text: string; families: Families }> {
  await server.mails();
  const response = await scrape(server.issuer);
  expect(response.status).to.equal(200);
  expect(response.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  return { text, families: parseMetrics(text) };
}

describe('Prometheus metrics (/metrics)', () => {
  let server: TestServer;
  let config: client.Configuration;
  /** Every secret the flows below handled: none may appear in a label value. */
  const secrets: string[] = [];

  before(async () => {
    server = await startApiServer({
      // The default per-address limit (the test servers' is far higher): one case runs into it.
      config: { metrics: { enabled: true, token: TOKEN }, mail: { retry: { attempts: 1 } }, rateLimits: { sendPerAddress: { limit: 5, windowSeconds: 900 } } },
      transport: new RefusingBobMailbox(100),
    });
    config = await discover(server);
  });
  after(() => server.stop());

  /** `work`'s effect on the named series: after minus before. */
  async function delta(work: () => Promise<void>, series: [name: string, labels?: Record<string, string>][]): Promise<number[]> {
    const before = (await metricsOf(server)).families;
    await work();
    const after = (await metricsOf(server)).families;
    return series.map(([name, labels]) => valueOf(after, name, labels) - valueOf(before, name, labels));
  }

  it('asks for the bearer token: none or a wrong one gets 401 and no metrics', async () => {
    for (const token of [null, 'wrong-token-of-enough-length', `${TOKEN}x`]) {
      const response = await scrape(server.issuer, token);
      expect(response.status, String(token)).to.equal(401);
      expect(response.headers.get('www-authenticate')).to.match(/^Bearer/);
      expect(await response.text()).not.to.include('oml_');
    }
    const post = await fetch(`${server.issuer}/metrics`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(post.status).to.equal(405);
  });

  it('serves the Prometheus text format with the process metrics (read by Prometheus\'s own client parser)', async function () {
    const { text, families } = await metricsOf(server);
    const parsed = prometheusParserFamilies(text);
    if (!parsed) {
      console.log('      (python3-prometheus-client not installed: the text was read by the test reader only)');
    } else {
      expect(parsed.map((f) => f.name)).to.include.members(['oml_http_request_duration_seconds', 'oml_sign_ins_started', 'process_cpu_user_seconds']);
      expect(parsed.find((f) => f.name === 'oml_http_request_duration_seconds')!.type).to.equal('histogram');
    }
    const names = families.map((f) => f.name);
    expect(names).to.include.members(['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']);
    expect(families.find((f) => f.name === 'oml_http_request_duration_seconds')?.type).to.equal('HISTOGRAM');
    expect(families.find((f) => f.name === 'oml_sign_ins_started_total')?.type).to.equal('COUNTER');
  });

  it('counts one hosted sign-in through its funnel: started, email queued and sent, link opened in the same browser, completed', async () => {
    let landed = '';
    const moved = await delta(
      async () => {
        const browser = new Browser(server.issuer);
        const rp = await authorizationRequest(config);
        await requestLink(browser, rp, ALICE.email);
        const mail = (await lastMailTo(server, ALICE.email))!;
        secrets.push(linkOf(mail).split('/').pop()!, shortCodeOf(mail));
        landed = (await browser.get(linkOf(mail))).url;
        const tokens = await exchange(rp, landed);
        secrets.push(tokens.access_token, tokens.id_token!, ...(tokens.refresh_token ? [tokens.refresh_token] : []));
      },
      [
        ['oml_sign_ins_started_total', { channel: 'hosted', client: WEB_CLIENT.client_id }],
        ['oml_emails_total', { purpose: 'hosted', outcome: 'queued' }],
        ['oml_emails_total', { purpose: 'hosted', outcome: 'sent' }],
        ['oml_links_opened_total', { channel: 'hosted', opened_in: 'same_browser' }],
        ['oml_sign_ins_completed_total', { channel: 'hosted', client: WEB_CLIENT.client_id }],
        ['oml_http_request_duration_seconds', { route: '/interaction/:uid/magic/:code', method: 'GET', status: '303' }],
        ['oml_http_request_duration_seconds', { route: '/token', method: 'POST', status: '200' }],
      ],
    );
    expect(moved).to.deep.equal([1, 1, 1, 1, 1, 1, 1]);
    expect(new URL(landed).searchParams.get('code')).to.be.a('string');
  });

  it('counts a wrong typed code, a link opened where no sign-in began, and a HEAD from a link checker', async () => {
    const moved = await delta(
      async () => {
        const browser = new Browser(server.issuer);
        const rp = await authorizationRequest(config);
        const inbox = await requestLink(browser, rp, ALICE.email);
        const mail = (await lastMailTo(server, ALICE.email))!;
        const right = shortCodeOf(mail);
        const wrong = right === '000000' ? '111111' : '000000';
        const typed = await browser.submit(inbox, '/code', { code: wrong });
        expect(typed.status).to.equal(400);
        expect((await fetch(linkOf(mail), { method: 'HEAD', redirect: 'manual' })).status).to.be.below(500);
        const elsewhere = new Browser(server.issuer);
        expect((await elsewhere.get(linkOf(mail))).status).to.equal(200);
      },
      [
        ['oml_typed_codes_total', { channel: 'hosted', outcome: 'wrong' }],
        ['oml_typed_codes_total', { channel: 'hosted', outcome: 'right' }],
        ['oml_links_opened_total', { opened_in: 'scanner_like' }],
        ['oml_links_opened_total', { opened_in: 'same_browser' }],
        // The sign-in pages' routes come from the plugin's own routers (as mounted), not a list kept beside them.
        ['oml_http_request_duration_seconds', { route: '/interaction/:uid/code', method: 'POST', status: '400' }],
      ],
    );
    // The other browser carries no cookie of this server: it reads as scanner-like, as the HEAD does.
    expect(moved).to.deep.equal([1, 0, 2, 0, 1]);
  });

  it('counts a link opened in another browser that carries cookies of this server (not the sign-in\'s) as other_browser', async () => {
    const moved = await delta(
      async () => {
        await requestLink(new Browser(server.issuer), await authorizationRequest(config), ALICE.email);
        // As a browser that signed in here some other time: its session cookie, none of this sign-in's.
        const opened = await fetch(linkOf((await lastMailTo(server, ALICE.email))!), { headers: { cookie: '_session=from-an-earlier-visit' }, redirect: 'manual' });
        expect(opened.status).to.equal(200);
      },
      [
        ['oml_links_opened_total', { channel: 'hosted', opened_in: 'other_browser' }],
        ['oml_links_opened_total', { channel: 'hosted', opened_in: 'same_browser' }],
        ['oml_links_opened_total', { channel: 'hosted', opened_in: 'scanner_like' }],
      ],
    );
    expect(moved).to.deep.equal([1, 0, 0]);
  });

  it('counts a cross-device approval and a rate-limit refusal by the limit that bit', async () => {
    const moved = await delta(
      async () => {
        const laptop = new Browser(server.issuer);
        const inbox = await requestLink(laptop, await authorizationRequest(config), ALICE.email);
        const phone = new Browser(server.issuer);
        const onPhone = await phone.get(linkOf((await lastMailTo(server, ALICE.email))!));
        expect((await phone.submit(onPhone, '/approve', { number: pairNumberOn(inbox) })).status).to.equal(200);
        // An address with no account has the same per-address budget (5 per 15 minutes here).
        const statuses: number[] = [];
        for (let i = 0; i < 6; i += 1) statuses.push((await requestLink(new Browser(server.issuer), await authorizationRequest(config), 'nobody-metrics@example.com')).status);
        expect(statuses.at(-1)).to.equal(429);
      },
      [
        ['oml_cross_device_approvals_total', { outcome: 'given' }],
        ['oml_links_opened_total', { opened_in: 'scanner_like' }],
        ['oml_rate_limit_refusals_total', { limit: 'sendPerAddress' }],
        ['oml_emails_total', { purpose: 'hosted', outcome: 'not_sent', reason: 'no_account' }],
      ],
    );
    expect(moved).to.deep.equal([1, 1, 1, 5]);
  });

  it('counts an email the SMTP server refused for good, by reason', async () => {
    const moved = await delta(
      async () => {
        const browser = new Browser(server.issuer);
        const inbox = await requestLink(browser, await authorizationRequest(config), BOB.email);
        expect(inbox.status, 'the page does not change when the email fails').to.equal(200);
      },
      [
        ['oml_emails_total', { purpose: 'hosted', outcome: 'failed', reason: 'permanent' }],
        ['oml_emails_total', { purpose: 'hosted', outcome: 'sent' }],
      ],
    );
    expect(moved).to.deep.equal([1, 0]);
  });

  it('counts API calls by route template and status, and the API sign-in', async () => {
    const moved = await delta(
      async () => {
        const start = await call(server, 'POST', '/api/passwordless/start', { key: ADMIN_KEY, body: { loginId: ALICE.email, applicationId: WEB_CLIENT.client_id } });
        expect(start.status).to.equal(200);
        secrets.push(start.json!.code as string);
        const login = await call(server, 'POST', '/api/passwordless/login', { body: { code: start.json!.code, applicationId: WEB_CLIENT.client_id } });
        // 202: signed in, not registered to the application (FusionAuth's answer).
        expect(login.status).to.equal(202);
        secrets.push(login.json!.token as string, ...(login.json!.refreshToken ? [login.json!.refreshToken as string] : []));
        const missing = await call(server, 'GET', `/api/user/${ALICE.email}`, { key: ADMIN_KEY });
        expect(missing.status).to.be.within(400, 404);
      },
      [
        ['oml_api_requests_total', { route: '/api/passwordless/start', method: 'POST', status: '200' }],
        ['oml_api_requests_total', { route: '/api/passwordless/login', method: 'POST', status: '202' }],
        ['oml_sign_ins_started_total', { channel: 'api', client: WEB_CLIENT.client_id }],
        ['oml_sign_ins_completed_total', { channel: 'api', client: WEB_CLIENT.client_id }],
      ],
    );
    expect(moved).to.deep.equal([1, 1, 1, 1]);
  });

  it('times store operations by repository and method, node-oidc-provider models included', async () => {
    const { families } = await metricsOf(server);
    const operations = new Set(families.find((f) => f.name === 'oml_store_operation_duration_seconds')!.samples.map((s) => s.labels.operation!));
    expect([...operations]).to.include.members(['codes.insert', 'users.findByEmail', 'oidc.Interaction.upsert', 'oidc.Session.findByUid', 'counters.increment']);
    for (const operation of operations) expect(operation).to.match(/^(oidc\.[A-Za-z]+|[a-zA-Z]+)\.[a-zA-Z]+$/);
  });

  it('puts no link code, typed code, address or token in any label value, over a fuzzed run of odd paths', async () => {
    const browser = new Browser(server.issuer);
    const rp = await authorizationRequest(config);
    await requestLink(browser, rp, ALICE.email);
    const uid = /\/interaction\/([\w-]+)\//.exec((await lastMailTo(server, ALICE.email))!.text)![1]!;
    for (let i = 0; i < 60; i += 1) {
      const secret = randomBytes(12).toString('base64url');
      secrets.push(secret);
      const paths = [
        `/interaction/${uid}/magic/${secret}`,
        `/interaction/${secret}`,
        `/interaction/${secret}/email`,
        `/api/user/${secret}@example.com`,
        `/passwordless/${secret}`,
        `/${secret}`,
        `/static/${secret}.css`,
        `/auth/${secret}`,
        `/api/${secret}/${secret}`,
        `/dev/mail/${secret}`,
      ];
      const path = paths[i % paths.length]!;
      const method = ['GET', 'POST', 'HEAD', 'DELETE', 'PATCH'][i % 5]!;
      await fetch(`${server.issuer}${path}?code=${secret}&email=${secret}@example.com`, { method, headers: { authorization: secret } });
    }
    const { text, families } = await metricsOf(server);
    const values = labelValues(families);
    expect(values.length).to.be.greaterThan(50);
    for (const { series, label, value } of values) {
      expect(value, `${series}{${label}}`).not.to.include('@');
      for (const secret of secrets) expect(value, `${series}{${label}}`).not.to.include(secret);
    }
    // In the whole text only the long secrets: a six-digit typed code turns up by chance in the numbers (bytes, seconds).
    for (const secret of secrets.filter((s) => s.length >= 12)) expect(text).not.to.include(secret);
    expect(text).not.to.include(ALICE.email).and.not.to.include(BOB.email).and.not.to.include(uid);
    const routes = new Set(values.filter((v) => v.label === 'route').map((v) => v.value));
    expect(routes.has('unmatched'), 'paths no route serves share one label value').to.equal(true);
    expect(routes.size, 'route labels stay few whatever was asked').to.be.below(40);
  });

  it('names in the dashboard and the alert rules only metrics the server exposes', async () => {
    const { families } = await metricsOf(server);
    const exposed = new Set(families.flatMap((f) => [f.name, ...f.samples.map((s) => s.name)]));
    const dashboard = JSON.parse(readFileSync('ops/grafana-dashboard.json', 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
    const rules = loadYaml(readFileSync('ops/prometheus-rules.yml', 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const expressions = [
      ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr }))),
      ...rules.groups.flatMap((group) => group.rules.map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr }))),
    ];
    expect(expressions.length).to.be.greaterThan(8);
    const named = expressions.flatMap(({ where, expr }) => (expr.match(/\b(?:oml|process|nodejs)_[a-z_]+\b/g) ?? []).map((name) => ({ where, name })));
    expect(named.length).to.be.greaterThan(expressions.length - 1);
    for (const { where, name } of named) expect(exposed.has(name), `${where} names ${name}`).to.equal(true);
  });
});

describe('metrics guard and defaults', () => {
  it('serves no /metrics unless metrics.enabled (the default is off)', async () => {
    const server = await startTestServer();
    try {
      const response = await scrape(server.issuer, null);
      expect(response.status).to.equal(404);
      expect(await response.text()).not.to.include('process_cpu');
    } finally {
      await server.stop();
    }
  });

  it('serves them on a port of their own when metrics.port is set, and not on the main port', async () => {
    const port = await freePort();
    const server = await startTestServer({ config: { metrics: { enabled: true, port, host: '127.0.0.1' } } });
    try {
      expect(server.metricsPort).to.equal(port);
      expect((await scrape(server.issuer, null)).status).to.equal(404);
      const own = await scrape(`http://127.0.0.1:${port}/metrics`, null);
      expect(own.status).to.equal(200);
      expect(await own.text()).to.include('oml_http_request_duration_seconds');
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).to.equal(404);
    } finally {
      await server.stop();
    }
  });

  it('NODE_ENV=production refuses metrics open on the main port: a token or a port of their own', () => {
    const production = (metrics: Record<string, unknown>) => {
      const config = loadConfig({ env: { NODE_ENV: 'production' } });
      return productionGaps({ ...config, metrics: { ...config.metrics, ...metrics } }).filter((gap) => gap.path[0] === 'metrics');
    };
    expect(production({ enabled: false })).to.have.length(0);
    expect(production({ enabled: true })).to.have.length(1);
    expect(production({ enabled: true })[0]!.message).to.include('metrics.token');
    expect(production({ enabled: true, token: TOKEN })).to.have.length(0);
    expect(production({ enabled: true, port: 9464 })).to.have.length(0);
  });

  it('names the bad metrics setting', () => {
    expect(() => loadConfig({ env: {}, overrides: { metrics: { enabled: true, token: 'short' } } })).to.throw(/metrics\.token/);
  });
});
