import { expect } from 'chai';
import Koa from 'koa';
import { Browser, type Page } from '../helpers/browser.js';
import { startTestServer, ALICE, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, exchange, requestLink } from '../helpers/oidc.js';
import { TestSmtpServer, deadSmtpUrl, linkInText } from '../helpers/smtp.js';
import { MailUnavailableError } from '../../src/mail/errors.js';
import { isTransientMailError } from '../../src/mail/errors.js';
import { errorHandler, toAppError, apiErrorBody } from '../../src/http/error-handler.js';
import type { UserRecord } from '../../src/storage/types.js';
import { captureLogs, logEvents } from '../helpers/logs.js';
import { START_KEY, call, startApiServer } from '../api/helpers.js';
import { awayFromWindowEnd } from '../helpers/rate-window.js';
import { createUser } from '../../src/accounts/admin.js';

const FAST_RETRY = { attempts: 3, initialDelayMs: 10, maxDelayMs: 50 };

/** The parts of a page that legitimately differ between two requests: per-form tokens and the interaction id. */
function normalized(page: Page, uid: string, email: string): string {
  return page.body
    .replace(/name="csrf" value="[^"]*"/g, 'name="csrf" value="*"')
    // Each sign-in shows its own random approval number, known address or not.
    .replace(/name="pair" value="\d{2}"/g, 'PAIR')
    .replace(/(class="big-code pair-number"[^>]*>)\d{2}</g, '$1PAIR<')
    .replaceAll(uid, 'UID')
    .replaceAll(email, 'EMAIL');
}

function uidOf(page: Page): string {
  return /\/interaction\/([^/"]+)\//.exec(page.body)?.[1] ?? '';
}

describe('email delivery failures', () => {
  describe('SMTP server down', () => {
    let server: TestServer;
    before(async () => {
      server = await startTestServer({ config: { mail: { smtpUrl: await deadSmtpUrl(), retry: FAST_RETRY } } });
    });
    after(() => server.stop());

    it('answers the very same page for a known address (send fails) as for an unknown one (nothing sent)', async () => {
      const config = await discover(server);
      const known = await requestLink(new Browser(server.issuer), await authorizationRequest(config), ALICE.email);
      const unknown = await requestLink(new Browser(server.issuer), await authorizationRequest(config), 'nobody@example.com');
      expect(known.status).to.equal(200);
      expect(unknown.status).to.equal(200);
      expect(normalized(known, uidOf(known), ALICE.email)).to.equal(normalized(unknown, uidOf(unknown), 'nobody@example.com'));
      expect(known.body).to.include('Check your inbox');
      await server.app.outbox.drain();
    });

    it('retries a bounded number of times, then logs the failure without the link or code and counts it', async () => {
      const before = { ...server.app.mail.stats };
      const lines = await captureLogs('debug', async () => {
        await requestLink(new Browser(server.issuer), await authorizationRequest(await discover(server)), ALICE.email);
        await server.app.outbox.drain();
      });
      const { stats } = server.app.mail;
      expect(stats.retried - before.retried, 'two retries after the first try').to.equal(FAST_RETRY.attempts - 1);
      expect(stats.failedTransient - before.failedTransient).to.equal(1);
      expect(stats.sent).to.equal(0);
      const failed = lines.filter((l) => l.includes('"mail.failed"'));
      expect(failed).to.have.length(1);
      expect(JSON.parse(failed[0]!)).to.include({ level: 'error', permanent: false, domain: 'example.com', attempt: 3 });
      // The CHANGELOG's promise: the retry and failure lines name the cause, here a refused connection.
      expect(JSON.parse(failed[0]!)).to.include({ cause: 'ECONNREFUSED' });
      const retries = logEvents(lines, 'mail.retry');
      expect(retries, 'one mail.retry line per retry').to.have.length(FAST_RETRY.attempts - 1);
      for (const retry of retries) expect(retry).to.include({ cause: 'ECONNREFUSED' });
      for (const line of lines) {
        expect(line).not.to.match(/\/magic\//);
        expect(line).not.to.match(/code there/);
      }
    });

    it('makes sendNow (the API’s /send) reject with MailUnavailableError, which the error model answers with 503', async () => {
      const user = (await server.app.store.users.findByEmail(ALICE.email)) as UserRecord;
      const send = () =>
        server.app.mailer.sendNow({
          user,
          link: `${server.issuer}/oauth2/passwordless/some-code`,
          code: null,
          client: { id: null, name: 'API' },
          state: null,
          expiresAt: new Date(Date.now() + 180_000),
        });
      let caught: unknown;
      try {
        await send();
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(MailUnavailableError);
      expect((caught as MailUnavailableError).permanent).to.equal(false);
      const appError = toAppError(caught);
      expect(appError.status).to.equal(503);
      expect(appError.code).to.equal('service_unavailable');

      // Through the error handler, as an /api route would throw it.
      const koa = new Koa();
      koa.use(errorHandler(null as never));
      koa.use(async () => {
        await send();
      });
      const http = koa.listen(0);
      try {
        const port = (http.address() as { port: number }).port;
        const response = await fetch(`http://127.0.0.1:${port}/api/passwordless/send`, { method: 'POST' });
        expect(response.status).to.equal(503);
        expect(response.headers.get('retry-after')).to.equal('5');
        expect(await response.json()).to.deep.equal(apiErrorBody(appError));
      } finally {
        http.close();
      }
    });
  });

  describe('transient and permanent refusals', () => {
    let smtp: TestSmtpServer;
    let server: TestServer;
    before(async () => {
      smtp = await TestSmtpServer.start();
      server = await startTestServer({ config: { mail: { smtpUrl: smtp.url(), retry: FAST_RETRY } } });
    });
    after(async () => {
      await server.stop();
      await smtp.stop();
    });
    beforeEach(() => {
      smtp.received.splice(0);
      smtp.attempts = 0;
    });

    it('retries a 4xx refusal and delivers on the next try; that link signs in', async () => {
      smtp.refuseNext({ code: 421, message: 'Try again later' });
      const before = { ...server.app.mail.stats };
      const browser = new Browser(server.issuer);
      const rp = await authorizationRequest(await discover(server));
      await requestLink(browser, rp, ALICE.email);
      await server.app.outbox.drain();
      expect(smtp.attempts).to.equal(2);
      expect(smtp.received).to.have.length(1);
      expect(server.app.mail.stats.retried - before.retried).to.equal(1);
      expect(server.app.mail.stats.sent - before.sent).to.equal(1);
      const landed = await browser.get(linkInText(smtp.received[0]!));
      expect((await exchange(rp, landed.url)).claims()!.email).to.equal(ALICE.email);
    });

    it('does not retry a 5xx refusal: one try, counted as permanent', async () => {
      smtp.refuseNext({ code: 550, message: 'Mailbox unavailable' });
      const before = { ...server.app.mail.stats };
      await requestLink(new Browser(server.issuer), await authorizationRequest(await discover(server)), ALICE.email);
      await server.app.outbox.drain();
      expect(smtp.attempts).to.equal(1);
      expect(smtp.received).to.have.length(0);
      expect(server.app.mail.stats.failedPermanent - before.failedPermanent).to.equal(1);
      expect(server.app.mail.stats.retried - before.retried).to.equal(0);
    });
  });

  describe('the API’s /send while the mail server is down', () => {
    const LIMIT = 3;
    let server: TestServer;
    let smtp: TestSmtpServer | null = null;
    let smtpUrl: string;
    before(async () => {
      smtpUrl = await deadSmtpUrl();
      server = await startApiServer({ config: { mail: { smtpUrl, retry: FAST_RETRY }, rateLimits: { sendPerAddress: { limit: LIMIT, windowSeconds: 900 } } } });
      await createUser(server.app.store.users, { email: 'zed@example.com', registrations: [{ applicationId: 'web', roles: [] }] });
    });
    after(async () => {
      await server.stop();
      await smtp?.stop();
    });

    const startCode = async (): Promise<string> => (await call(server, 'POST', '/api/passwordless/start', { key: START_KEY, body: { applicationId: 'web', loginId: 'zed@example.com' } })).json!.code as string;
    const send = async (code: string): Promise<number> => (await call(server, 'POST', '/api/passwordless/send', { body: { code } })).status;

    it('counts only emails that went out: the same code is sent once the server is back, and the address limit is untouched', async () => {
      // Every count below must fall in one window of sendPerAddress and of sendGlobal.
      await awayFromWindowEnd([900, 60]);
      const code = await startCode();
      // More failed tries than the code may be sent (3) and than the address may get (LIMIT).
      for (let i = 0; i < LIMIT + 2; i += 1) expect(await send(code), `try ${i + 1} during the outage`).to.equal(503);

      smtp = await TestSmtpServer.start({ port: Number(new URL(smtpUrl).port) });
      expect(await send(code), 'the same code once the server is back').to.equal(200);
      expect(await send(code)).to.equal(200);
      expect(await send(code)).to.equal(200);
      expect(smtp.received, 'three emails of that code').to.have.length(3);
      expect(await send(code), 'a fourth email of one code').to.equal(400);
      // The address got LIMIT emails: the failed tries took none of its budget, and it still holds.
      expect(await send(await startCode()), 'an email beyond the address limit').to.equal(429);
      expect(smtp.received).to.have.length(LIMIT);
    });

    it('counts a send the mail server refused for good (5xx): a refused recipient cannot be hammered without limit', async () => {
      await awayFromWindowEnd([900, 60]);
      smtp ??= await TestSmtpServer.start({ port: Number(new URL(smtpUrl).port) });
      await createUser(server.app.store.users, { email: 'yan@example.com', registrations: [{ applicationId: 'web', roles: [] }] });
      const code = (await call(server, 'POST', '/api/passwordless/start', { key: START_KEY, body: { applicationId: 'web', loginId: 'yan@example.com' } })).json!.code as string;
      smtp.refuseNext(...Array.from({ length: 5 }, () => ({ code: 550, message: 'Mailbox unavailable' })));
      const attemptsBefore = smtp.attempts;
      const statuses = [];
      for (let i = 0; i < 5; i += 1) statuses.push(await send(code));
      expect(statuses, 'three refused sends use up the code').to.deep.equal([503, 503, 503, 400, 400]);
      expect(smtp.attempts - attemptsBefore, 'one SMTP try per counted send, no retries').to.equal(3);
    });
  });

  it('tells transient SMTP errors from permanent ones', () => {
    expect(isTransientMailError({ responseCode: 421 })).to.equal(true);
    expect(isTransientMailError({ responseCode: 451, code: 'EENVELOPE' })).to.equal(true);
    expect(isTransientMailError({ responseCode: 550 })).to.equal(false);
    expect(isTransientMailError({ responseCode: 535, code: 'EAUTH' })).to.equal(false);
    expect(isTransientMailError({ code: 'ECONNECTION' })).to.equal(true);
    expect(isTransientMailError({ code: 'ETIMEDOUT' })).to.equal(true);
    expect(isTransientMailError({ code: 'ESOCKET', originalCode: 'ECONNREFUSED' })).to.equal(true);
    // A certificate that does not verify is configuration: the next try would fail the same way.
    expect(isTransientMailError({ code: 'ESOCKET', originalCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' })).to.equal(false);
    expect(isTransientMailError({ code: 'ESOCKET', originalCode: 'ERR_TLS_CERT_ALTNAME_INVALID' })).to.equal(false);
    expect(isTransientMailError({ code: 'EAUTH' })).to.equal(false);
    expect(isTransientMailError(new Error('boom'))).to.equal(false);
  });
});

describe('mail transport choice', () => {
  it('uses the dev mailbox without SMTP_URL in development, and refuses to run without SMTP in production', async () => {
    const { loadConfig } = await import('../../src/config/load.js');
    const { createTransport } = await import('../../src/mail/index.js');
    expect(createTransport(loadConfig({ env: {} })).kind).to.equal('dev-mailbox');
    expect(() => createTransport(loadConfig({ env: { NODE_ENV: 'production' } }))).to.throw(/mail\.smtpUrl/);
    const smtp = createTransport(loadConfig({ env: { NODE_ENV: 'production', SMTP_URL: 'smtps://u:p@smtp.example.com:465' } }));
    expect(smtp.kind).to.equal('smtp');
    await smtp.close();
  });
});
