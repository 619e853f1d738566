import { expect } from 'chai';
import { Browser } from '../helpers/browser.js';
import { startTestServer, ALICE, WEB_CLIENT, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, exchange, requestLink } from '../helpers/oidc.js';
import { TestSmtpServer, headerOf, linkInText } from '../helpers/smtp.js';
import { selfSignedCertificate } from '../helpers/certificate.js';
import { captureLogEvents } from '../helpers/logs.js';

const FAST_RETRY = { attempts: 3, initialDelayMs: 10, maxDelayMs: 50 };

describe('email over SMTP', () => {
  let smtp: TestSmtpServer;
  let server: TestServer;

  before(async () => {
    smtp = await TestSmtpServer.start({ users: { mailer: 'p@ss word' } });
    server = await startTestServer({
      config: {
        mail: {
          smtpUrl: smtp.url({ user: 'mailer', pass: 'p@ss word' }),
          from: 'Example Sign-in <no-reply@login.example.com>',
          replyTo: 'help@example.com',
          retry: FAST_RETRY,
        },
      },
    });
  });
  after(async () => {
    await server.stop();
    await smtp.stop();
  });
  beforeEach(() => smtp.received.splice(0));

  async function signInRequest(params: Record<string, string> = {}) {
    const browser = new Browser(server.issuer);
    const rp = await authorizationRequest(await discover(server), params);
    const page = await requestLink(browser, rp, ALICE.email);
    await server.app.outbox.drain();
    return { browser, rp, page };
  }

  it('sends multipart/alternative text + HTML with the headers a mail system expects, authenticated with the URL credentials', async () => {
    await signInRequest();
    expect(smtp.received).to.have.length(1);
    const mail = smtp.received[0]!;
    expect(mail.user, 'AUTH with the credentials of SMTP_URL').to.equal('mailer');
    expect(mail.envelope.to).to.deep.equal([ALICE.email]);
    expect(mail.envelope.from).to.equal('no-reply@login.example.com');
    expect(headerOf(mail, 'content-type')).to.match(/^multipart\/alternative;/);
    expect(mail.raw).to.match(/Content-Type: text\/plain; charset=utf-8/i);
    expect(mail.raw).to.match(/Content-Type: text\/html; charset=utf-8/i);
    expect(mail.parsed.text).to.be.a('string').and.include('Web App');
    expect(mail.parsed.html).to.be.a('string').and.include('<strong>Web App</strong>');
    expect(mail.parsed.messageId).to.match(/^<[0-9a-f-]{36}@login\.example\.com>$/);
    expect(Date.now() - Date.parse(mail.parsed.date ?? '')).to.be.within(0, 60_000);
    expect(headerOf(mail, 'auto-submitted')).to.equal('auto-generated');
    expect(headerOf(mail, 'content-language')).to.equal('en');
    expect(mail.parsed.to).to.deep.equal([{ name: 'Alice Liddell', address: ALICE.email }]);
    expect(mail.parsed.from).to.deep.equal({ name: 'Example Sign-in', address: 'no-reply@login.example.com' });
    expect(mail.parsed.replyTo).to.deep.equal([{ name: '', address: 'help@example.com' }]);
    expect(mail.parsed.subject).to.equal('Your sign-in link for Web App');
    expect(server.app.mail.stats.sent).to.be.greaterThan(0);
  });

  it('carries a link built from the issuer, the same in both parts, that completes the sign-in', async () => {
    const { browser, rp } = await signInRequest();
    const mail = smtp.received[0]!;
    const link = linkInText(mail);
    expect(link.startsWith(`${server.issuer}/interaction/`)).to.equal(true);
    expect(mail.parsed.html).to.include(`href="${link}"`);
    expect(mail.parsed.text).to.match(/Or type this code there: \d{6}\n/);
    expect(mail.parsed.text).to.match(/until \d{1,2}:\d{2}.*\(3 minutes\)/);

    const landed = await browser.get(link);
    expect(landed.url.startsWith(WEB_CLIENT.redirect_uris[0]!)).to.equal(true);
    const tokens = await exchange(rp, landed.url);
    expect(tokens.claims()!.email).to.equal(ALICE.email);
  });
});

describe('email over smtps:// with TLS options', () => {
  it('delivers over implicit TLS when the configured TLS options accept the server certificate', async () => {
    const smtp = await TestSmtpServer.start({ secure: true });
    // smtp-server's built-in certificate is self-signed: only a test may turn verification off.
    const server = await startTestServer({
      config: { mail: { smtpUrl: smtp.url(), retry: FAST_RETRY, smtp: { tls: { rejectUnauthorized: false } } } },
    });
    try {
      const browser = new Browser(server.issuer);
      await requestLink(browser, await authorizationRequest(await discover(server)), ALICE.email);
      await server.app.outbox.drain();
      expect(smtp.received).to.have.length(1);
      expect(smtp.received[0]!.parsed.subject).to.include('Web App');
    } finally {
      await server.stop();
      await smtp.stop();
    }
  });

  it('refuses a certificate it cannot verify by default (and counts the failure)', async () => {
    const smtp = await TestSmtpServer.start({ secure: true });
    const server = await startTestServer({ config: { mail: { smtpUrl: smtp.url(), retry: { attempts: 1, initialDelayMs: 0, maxDelayMs: 0 } } } });
    try {
      const browser = new Browser(server.issuer);
      await requestLink(browser, await authorizationRequest(await discover(server)), ALICE.email);
      await server.app.outbox.drain();
      expect(smtp.received).to.have.length(0);
      const { stats } = server.app.mail;
      expect(stats.sent).to.equal(0);
      expect(stats.failedTransient + stats.failedPermanent).to.equal(1);
    } finally {
      await server.stop();
      await smtp.stop();
    }
  });

  const refusedCertificates = [
    { name: 'a self-signed certificate over smtps://', start: { secure: true, certificate: selfSignedCertificate() }, cause: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
    { name: 'a self-signed certificate over STARTTLS', start: { starttls: true, certificate: selfSignedCertificate() }, cause: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
    {
      name: 'an expired certificate over smtps://',
      start: { secure: true, certificate: selfSignedCertificate({ notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') }) },
      cause: 'CERT_HAS_EXPIRED',
    },
  ];
  for (const { name, start, cause } of refusedCertificates) {
    it(`treats ${name} as configuration: one try, a permanent failure logged with its cause`, async () => {
      const smtp = await TestSmtpServer.start(start);
      const server = await startTestServer({ config: { mail: { smtpUrl: smtp.url(), retry: FAST_RETRY } } });
      try {
        const mailLines = await captureLogEvents(
          'debug',
          async () => {
            await requestLink(new Browser(server.issuer), await authorizationRequest(await discover(server)), ALICE.email);
            await server.app.outbox.drain();
          },
          /^mail\.(retry|failed)$/,
        );
        expect(smtp.received).to.have.length(0);
        expect(server.app.mail.stats).to.deep.include({ sent: 0, retried: 0, failedTransient: 0, failedPermanent: 1 });
        expect(mailLines, 'one try, no mail.retry').to.have.length(1);
        expect(mailLines[0]).to.include({ event: 'mail.failed', permanent: true, attempt: 1, reason: 'tls_certificate_refused', cause });
      } finally {
        await server.stop();
        await smtp.stop();
      }
    });
  }
});
