import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import type * as client from 'openid-client';
import { Browser, type Page } from '../helpers/browser.js';
import { startTestServer, ALICE, BOB, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, lastMailTo, linkOf, requestLink, shortCodeOf } from '../helpers/oidc.js';
import { call, startApiServer, START_KEY } from '../api/helpers.js';
import { awayFromWindowEnd } from '../helpers/rate-window.js';
import { pairNumberOn } from '../helpers/cross-device.js';

const UNKNOWN = 'nobody-here@example.com';

/** Low limits for these tests only; the general suites run with high ones. */
function limits(overrides: Record<string, unknown> = {}) {
  return {
    rateLimits: {
      enabled: true,
      sendPerAddress: { limit: 2, windowSeconds: 900 },
      sendPerIp: { limit: 1000, windowSeconds: 900 },
      sendGlobal: { limit: 1000, windowSeconds: 60 },
      typedCodesPerAccount: { limit: 6, windowSeconds: 3600 },
      ...overrides,
    },
  };
}

/** A page with the per-request parts (uid, tokens, the pair number, the minutes left) blanked out. */
function normalised(page: Page): string {
  return page.body
    .replaceAll(BOB.email, 'ADDRESS')
    .replaceAll(ALICE.email, 'ADDRESS')
    .replaceAll(UNKNOWN, 'ADDRESS')
    .replace(/\/interaction\/[\w-]+/g, '/interaction/UID')
    .replace(/name="csrf" value="[^"]*"/g, 'name="csrf" value="T"')
    .replace(/value="\d{2}"/g, 'value="NN"')
    .replace(/>\d{2}</g, '>NN<')
    .replace(/\d+ minutes?/g, 'N minutes');
}

describe('rate limits (hosted pages and API)', () => {
  describe('sending, per address', () => {
    let server: TestServer;
    let config: client.Configuration;
    before(async () => {
      server = await startTestServer({ config: limits() });
      config = await discover(server);
      // The three cases below count in one 15-minute window.
      await awayFromWindowEnd([900]);
    });
    after(() => server.stop());

    /** Asks three times for a link for `email` in one sign-in (then twice "Send a new link"); returns the three pages. */
    async function askThrice(email: string): Promise<{ pages: Page[]; browser: Browser }> {
      const browser = new Browser(server.issuer);
      const first = await requestLink(browser, await authorizationRequest(config), email);
      const second = await browser.submit(first, '/email');
      await server.mails();
      const third = await browser.submit(second, '/email');
      return { pages: [first, second, third], browser };
    }

    it('answers the third request within 15 minutes, from "Check your inbox", with that page again for known and unknown addresses: wait N minutes, the code sent still works', async () => {
      const { pages: known, browser } = await askThrice(ALICE.email);
      const { pages: unknown } = await askThrice(UNKNOWN);
      expect(known.map((p) => p.status)).to.deep.equal([200, 200, 429]);
      expect(unknown.map((p) => p.status)).to.deep.equal([200, 200, 429]);
      const limited = known[2]!;
      expect(limited.body).to.match(/Please wait \d+ minutes? before asking for another\. The code we already sent still works/);
      expect(Number(limited.headers.get('retry-after'))).to.be.within(1, 900);
      expect(pairNumberOn(limited), 'the number of the code that still works').to.equal(pairNumberOn(known[1]!));
      expect(normalised(limited)).to.equal(normalised(unknown[2]!));
      const sent = (await server.mails()).filter((m) => m.to === ALICE.email);
      expect(sent, 'the limited request sent nothing').to.have.length(2);

      // Not a dead end: the code of the last email, typed on the limited page, signs in.
      const landed = await browser.submit(limited, '/code', { code: shortCodeOf(sent[0]!) });
      expect(new URL(landed.url).searchParams.get('code'), 'signed in').to.be.a('string');
    });

    it('counts the address case-insensitively and leaves other addresses alone', async () => {
      const browser = new Browser(server.issuer);
      const limited = await requestLink(browser, await authorizationRequest(config), ALICE.email.toUpperCase());
      expect(limited.status).to.equal(429);
      // From the email form: the "please wait" page, with a way back to the sign-in's start.
      expect(limited.body).to.match(/Please wait \d+ minutes? and try again/);
      expect(limited.body, 'the page does not repeat the address').not.to.include(ALICE.email);
      const start = /<a href="(\/interaction\/[\w-]+)">Back to the sign-in<\/a>/.exec(limited.body)?.[1];
      expect(start, 'a link back to the sign-in').to.equal(new URL(limited.url).pathname.replace(/\/email$/, ''));
      const back = await browser.get(start!);
      expect(back.status).to.equal(200);
      expect(back.body).to.include('name="email"');
      const other = await requestLink(new Browser(server.issuer), await authorizationRequest(config), BOB.email);
      expect(other.status).to.equal(200);
    });

    it('does not count the same form sent again (a reload of "Check your inbox")', async () => {
      const browser = new Browser(server.issuer);
      const form = await browser.get((await authorizationRequest(config)).url.href);
      const email = 'reloads@example.com';
      const pages = [await browser.submit(form, '/email', { email })];
      await server.mails();
      for (let i = 0; i < 3; i += 1) pages.push(await browser.submit(form, '/email', { email }));
      expect(pages.map((p) => p.status), 'a resubmission is answered, not limited').to.deep.equal([200, 200, 200, 200]);
      // Two sends per address: the resubmissions took none, so the page's "Send a new link" still works once.
      expect((await browser.submit(pages[3]!, '/email')).status).to.equal(200);
    });

    it('answers the German page in German', async () => {
      const browser = new Browser(server.issuer);
      const page = await requestLink(browser, await authorizationRequest(config, { ui_locales: 'de' }), UNKNOWN);
      expect(page.status).to.equal(429);
      expect(page.body).to.match(/Bitte warten Sie \d+ Minuten?/);
    });
  });

  describe('sending, per client IP', () => {
    /** Asks for a link for `email` in a new sign-in, as a proxy in front forwards it with `forwardedFor`. */
    async function askVia(server: TestServer, config: client.Configuration, forwardedFor: string, email: string): Promise<number> {
      const browser = new Browser(server.issuer);
      const form = await browser.get((await authorizationRequest(config)).url.href);
      const csrf = /name="csrf" value="([^"]*)"/.exec(form.body)![1]!;
      const uid = /\/interaction\/([\w-]+)\/email/.exec(form.body)![1]!;
      const cookie = await browser.jar.getCookieString(`${server.issuer}/interaction/${uid}/email`);
      const response = await fetch(`${server.issuer}/interaction/${uid}/email`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': forwardedFor, cookie },
        body: new URLSearchParams({ csrf, email }).toString(),
      });
      return response.status;
    }

    it('uses X-Forwarded-For only when `proxy` (trust proxy) is on', async () => {
      for (const proxy of [true, false]) {
        const server = await startTestServer({ config: { proxy, ...limits({ sendPerIp: { limit: 2, windowSeconds: 900 } }) } });
        try {
          const config = await discover(server);
          await awayFromWindowEnd([900]);
          const statuses: number[] = [];
          for (const [i, ip] of ['203.0.113.7', '203.0.113.7', '203.0.113.7', '198.51.100.9'].entries()) {
            statuses.push(await askVia(server, config, ip, `ip-${i}@example.com`));
          }
          // Behind a trusted proxy each client has its own budget; otherwise the proxy's (socket) address is the client.
          expect(statuses, `proxy: ${proxy}`).to.deep.equal(proxy ? [200, 200, 429, 200] : [200, 200, 429, 429]);
        } finally {
          await server.stop();
        }
      }
    });

    it('lets one client that hammers past its own limit use up none of the global budget: another client still gets its email', async () => {
      const server = await startTestServer({
        config: { proxy: true, ...limits({ sendPerIp: { limit: 3, windowSeconds: 900 }, sendGlobal: { limit: 5, windowSeconds: 60 } }) },
      });
      try {
        const config = await discover(server);
        await awayFromWindowEnd([900, 60]);
        const statuses: number[] = [];
        // Made-up addresses and a known one: the client's own limit refuses all but three, whatever it names.
        for (let i = 0; i < 20; i += 1) statuses.push(await askVia(server, config, '203.0.113.66', i % 5 ? `hammer-${i}@example.com` : BOB.email));
        expect(statuses.filter((status) => status === 200)).to.have.length(3);
        expect(statuses.slice(3).every((status) => status === 429)).to.equal(true);
        expect(await askVia(server, config, '192.0.2.10', ALICE.email), 'a sign-in from another IP').to.equal(200);
        expect(await lastMailTo(server, ALICE.email), 'its email was sent').to.not.equal(undefined);
      } finally {
        await server.stop();
      }
    });

    it('takes the client from the right of X-Forwarded-For (`proxyHops`), so a forged entry on its left changes nothing', async () => {
      // What proxies that append (nginx $proxy_add_x_forwarded_for, cloud balancers) forward: "<what the client sent>, <the client>".
      for (const [hops, client] of [[1, '203.0.113.10'], [2, '203.0.113.20']] as const) {
        const server = await startTestServer({ config: { proxy: true, proxyHops: hops, ...limits({ sendPerIp: { limit: 2, windowSeconds: 900 } }) } });
        try {
          const config = await discover(server);
          await awayFromWindowEnd([900]);
          const statuses: number[] = [];
          for (let i = 0; i < 3; i += 1) {
            const forwarded = hops === 1 ? `198.51.100.${i}, ${client}` : `198.51.100.${i}, ${client}, 10.0.0.${i}`;
            statuses.push(await askVia(server, config, forwarded, `hop-${hops}-${i}@example.com`));
          }
          expect(statuses, `proxyHops: ${hops}`).to.deep.equal([200, 200, 429]);
          // The same answer everywhere the client IP is read: our routes and node-oidc-provider's context.
          for (const app of [server.app.koa, server.app.provider]) {
            const req = new http.IncomingMessage(new net.Socket());
            req.headers['x-forwarded-for'] = `198.51.100.99, ${client}${hops === 2 ? ', 10.0.0.1' : ''}`;
            expect(app.createContext(req, new http.ServerResponse(req)).ip).to.equal(client);
          }
        } finally {
          await server.stop();
        }
      }
    });

    it('shows the network of the client the proxy saw on the page a link opens on another device', async () => {
      const server = await startTestServer({ config: { proxy: true } });
      try {
        const config = await discover(server);
        expect(await askVia(server, config, '198.51.100.1, 203.0.113.10', ALICE.email)).to.equal(200);
        const link = linkOf((await lastMailTo(server, ALICE.email))!);
        const elsewhere = await new Browser(server.issuer).get(link);
        expect(elsewhere.body).to.include('203.0.113.x');
        expect(elsewhere.body).not.to.include('198.51.100.x');
      } finally {
        await server.stop();
      }
    });
  });

  describe('typed codes, per account across codes', () => {
    let server: TestServer;
    let config: client.Configuration;
    before(async () => {
      server = await startTestServer({ config: limits({ sendPerAddress: { limit: 50, windowSeconds: 900 } }) });
      config = await discover(server);
    });
    after(() => server.stop());

    /** Two sign-ins for `email`: five wrong codes in the first, then wrong, wrong and (for a known address) the right one in the second. */
    async function guess(email: string): Promise<{ answers: Page[]; right: Page | null }> {
      const answers: Page[] = [];
      for (const tries of [5, 2]) {
        const browser = new Browser(server.issuer);
        let page = await requestLink(browser, await authorizationRequest(config), email);
        // Mail work runs after the response; a person types only after the email arrived, so the code exists by then.
        await server.mails();
        for (let i = 0; i < tries; i += 1) {
          page = await browser.submit(page, '/code', { code: 'WRONG1' });
          answers.push(page);
        }
        if (tries === 2 && email !== UNKNOWN) {
          const mail = await lastMailTo(server, email);
          return { answers, right: await browser.submit(page, '/code', { code: shortCodeOf(mail!) }) };
        }
      }
      return { answers, right: null };
    }

    it('stops guessing after the account budget although each new code has tries left, alike for unknown addresses', async () => {
      await awayFromWindowEnd([3600]);
      const known = await guess(BOB.email);
      const unknown = await guess(UNKNOWN);
      const expected = [400, 400, 400, 400, 400, 400, 429];
      expect(known.answers.map((p) => p.status)).to.deep.equal(expected);
      expect(unknown.answers.map((p) => p.status)).to.deep.equal(expected);
      expect(known.answers[6]!.body).to.match(/Too many wrong codes. Please wait \d+ minutes?/);
      for (const [i, page] of known.answers.entries()) expect(normalised(page), `answer ${i}`).to.equal(normalised(unknown.answers[i]!));
      expect(known.right!.status, 'even the right code waits').to.equal(429);
      expect(known.right!.url).to.include('/interaction/');
    });

    it('binds the code form to the address, so editing it neither signs in nor opens a new budget', async () => {
      const browser = new Browser(server.issuer);
      const page = await requestLink(browser, await authorizationRequest(config), UNKNOWN);
      const edited = await browser.submit(page, '/code', { code: 'WRONG1', email: 'someone-else@example.com' });
      expect(edited.status).to.equal(403);
      expect(edited.body).to.include('This form has expired');
    });
  });

  describe('API one-time codes, per account across codes', () => {
    let server: TestServer;
    before(async () => {
      server = await startApiServer({ config: limits() });
    });
    after(() => server.stop());

    it('answers 429 [TooManyRequests] with Retry-After once the account spent its wrong codes, even to the right code', async () => {
      await awayFromWindowEnd([3600]);
      const startCode = async () => (await call(server, 'POST', '/api/passwordless/start', { key: START_KEY, body: { applicationId: 'web', loginId: ALICE.email, loginStrategy: 'FormField' } })).json!;
      const statuses: number[] = [];
      for (const tries of [5, 1]) {
        const { code } = await startCode();
        for (let i = 0; i < tries; i += 1) statuses.push((await call(server, 'POST', '/api/passwordless/login', { body: { code, oneTimeCode: 'WRONG1' } })).status);
      }
      expect(statuses, 'wrong codes are "not found" until the budget is spent').to.deep.equal([404, 404, 404, 404, 404, 404]);
      const { code, oneTimeCode } = await startCode();
      const limited = await call(server, 'POST', '/api/passwordless/login', { body: { code, oneTimeCode } });
      expect(limited.status).to.equal(429);
      expect(limited.json!.generalErrors[0].code).to.equal('[TooManyRequests]');
      expect(Number(limited.headers.get('retry-after'))).to.be.within(1, 3600);
      const bob = await call(server, 'POST', '/api/passwordless/start', { key: START_KEY, body: { applicationId: 'web', loginId: BOB.email, loginStrategy: 'FormField' } });
      const other = await call(server, 'POST', '/api/passwordless/login', { body: { code: bob.json!.code, oneTimeCode: bob.json!.oneTimeCode } });
      expect(other.status, 'other accounts are unaffected').to.equal(200);
    });

    it('limits /api/passwordless/send per address with 429 and Retry-After', async () => {
      await awayFromWindowEnd([900]);
      const statuses: number[] = [];
      let last = null;
      for (let i = 0; i < 3; i += 1) {
        const started = await call(server, 'POST', '/api/passwordless/start', { key: START_KEY, body: { applicationId: 'web', loginId: BOB.email } });
        last = await call(server, 'POST', '/api/passwordless/send', { body: { code: started.json!.code } });
        statuses.push(last.status);
      }
      expect(statuses).to.deep.equal([200, 200, 429]);
      expect(last!.json!.generalErrors[0].code).to.equal('[TooManyRequests]');
      expect(last!.headers.get('retry-after')).to.match(/^\d+$/);
    });
  });

  describe('API /send: only emails that go out count, and no per-IP budget', () => {
    let server: TestServer;
    before(async () => {
      const carol = { email: 'carol@example.com', firstName: 'Carol' };
      server = await startApiServer({ config: { ...limits({ sendPerIp: { limit: 2, windowSeconds: 900 }, sendPerAddress: { limit: 1, windowSeconds: 2 } }), users: [ALICE, BOB, carol] } });
    });
    after(() => server.stop());

    const startCode = async (email: string) => (await call(server, 'POST', '/api/passwordless/start', { key: START_KEY, body: { applicationId: 'web', loginId: email } })).json!.code as string;
    const send = (code: string) => call(server, 'POST', '/api/passwordless/send', { body: { code } });
    const nextAddressWindow = () => awayFromWindowEnd([2]);

    it('sends for every user of the calling server past sendPerIp: the caller is the integrator, not one client', async () => {
      await awayFromWindowEnd([900]);
      await nextAddressWindow();
      const statuses = [];
      for (const email of [ALICE.email, BOB.email, 'carol@example.com']) statuses.push((await send(await startCode(email))).status);
      expect(statuses, 'three users, one IP, sendPerIp 2').to.deep.equal([200, 200, 200]);
    });

    it('takes nothing of the three sends of a code when the address limit refuses, and answers 400 [exhausted]code after the third', async () => {
      const code = await startCode(BOB.email);
      await nextAddressWindow();
      expect((await send(code)).status).to.equal(200);
      for (let i = 0; i < 3; i += 1) expect((await send(code)).status, 'refused by sendPerAddress').to.equal(429);
      for (const nth of ['second', 'third']) {
        await nextAddressWindow();
        expect((await send(code)).status, `the ${nth} email of the code`).to.equal(200);
      }
      await nextAddressWindow();
      const fourth = await send(code);
      expect(fourth.status).to.equal(400);
      expect(fourth.json!.fieldErrors.code[0].code).to.equal('[exhausted]code');
      expect(fourth.headers.get('retry-after'), 'waiting would not help').to.equal(null);
    });
  });
});
