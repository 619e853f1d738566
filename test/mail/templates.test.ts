import { expect } from 'chai';
import { Browser } from '../helpers/browser.js';
import { startTestServer, ALICE, SPA_CLIENT, WEB_CLIENT, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, requestLink } from '../helpers/oidc.js';
import { TestSmtpServer, linkInText, type ReceivedMail } from '../helpers/smtp.js';
import { makeTheme } from '../helpers/theme.js';
import { removeTempDir } from '../helpers/temp.js';
import { withStateParameters } from '../../src/mail/links.js';
import { templateCandidates } from '../../src/mail/magic-link.js';
import type { UserRecord } from '../../src/storage/types.js';

const FAST_RETRY = { attempts: 2, initialDelayMs: 10, maxDelayMs: 50 };
const HOSTILE = { email: 'mallory@example.com', firstName: '<img src=x onerror="alert(1)">&co', lastName: 'Mallory', timezone: 'America/Denver' };
/** A public client whose id is a URN: ':' is fine in a folder name. */
const URN_CLIENT = { ...SPA_CLIENT, client_id: 'urn:acme:web', client_name: 'Acme Web', redirect_uris: ['http://127.0.0.1:9999/urn-cb'] };
const INJECTOR = { email: 'eve@example.com', firstName: 'Eve\r\nBcc: victim@evil.example', lastName: 'X\nSubject: pwned' };

describe('email templates', () => {
  let smtp: TestSmtpServer;
  let server: TestServer;
  let theme: string;

  before(async () => {
    smtp = await TestSmtpServer.start();
    theme = makeTheme({
      // Theme defaults for every client…
      'email/magic-link-subject.ejs': 'THEME subject for <%- client.name %>, expires at <%- formatTime(expiresAt, user.timezone) %>',
      'email/magic-link-text.ejs': 'THEME text <%- link %> code there: <%- code %>',
      'email/magic-link-html.ejs': '<p>THEME html <a href="<%= link %>"><%= user.firstName %></a> <%= state && state.note %></p>',
      // …one part just for German emails…
      'email/magic-link-html.de.ejs': '<p>THEME DE html <%= t(\'email.greeting\') %></p>',
      // …and one client with its own subject that names the user (to attempt header injection through it).
      [`email/clients/${SPA_CLIENT.client_id}/magic-link-subject.ejs`]: 'SPA subject for <%- user.firstName %> <%- user.lastName %>',
      [`email/clients/${URN_CLIENT.client_id}/magic-link-subject.ejs`]: 'URN subject for <%- client.name %>',
    });
    server = await startTestServer({ config: { theme, clients: [WEB_CLIENT, SPA_CLIENT, URN_CLIENT], users: [ALICE, HOSTILE, INJECTOR], mail: { smtpUrl: smtp.url(), retry: FAST_RETRY } } });
  });
  after(async () => {
    await server?.stop();
    await smtp?.stop();
    removeTempDir(theme);
  });
  beforeEach(() => smtp.received.splice(0));

  async function mailFor(email: string, clientId = WEB_CLIENT.client_id, params: Record<string, string> = {}): Promise<{ mail: ReceivedMail; browser: Browser }> {
    const browser = new Browser(server.issuer);
    const publicClient = [SPA_CLIENT, URN_CLIENT].find((c) => c.client_id === clientId);
    const config = publicClient ? await discover(server, publicClient.client_id, null) : await discover(server);
    const redirect = publicClient ? publicClient.redirect_uris[0] : WEB_CLIENT.redirect_uris[0];
    await requestLink(browser, await authorizationRequest(config, params, redirect), email);
    await server.app.outbox.drain();
    const mail = smtp.received.find((m) => m.envelope.to.includes(email));
    expect(mail, `an email to ${email}`).to.exist;
    return { mail: mail!, browser };
  }

  it('renders each part from the theme folder when the theme has it, with the expiry in the user’s timezone', async () => {
    const { mail } = await mailFor(HOSTILE.email);
    const record = (await server.app.store.users.findByEmail(HOSTILE.email)) as UserRecord;
    expect(record).to.exist;
    const match = /^THEME subject for Web App, expires at (.+)$/.exec(mail.parsed.subject ?? '');
    expect(match, mail.parsed.subject).to.not.equal(null);
    expect(match![1]).to.match(/M[SD]T$/, 'Denver time, as the user’s timezone says');
    expect(mail.parsed.text).to.match(/^THEME text http:\/\/\S+\/magic\/[\w-]+ code there: \d{6}/);
    expect(mail.parsed.html).to.include('THEME html');
  });

  it('lets a client have its own template for a part; the other parts stay the theme’s', async () => {
    const { mail } = await mailFor(ALICE.email, SPA_CLIENT.client_id);
    expect(mail.parsed.subject).to.equal('SPA subject for Alice Liddell');
    expect(mail.parsed.text).to.match(/^THEME text /);
  });

  it('finds a client’s own template for any client id that is a single safe folder name (urn:acme:web)', async () => {
    const { mail } = await mailFor(ALICE.email, URN_CLIENT.client_id);
    expect(mail.parsed.subject).to.equal('URN subject for Acme Web');
    expect(mail.parsed.text).to.match(/^THEME text /);
    expect(templateCandidates('subject', 'urn:acme:web', 'de')[0]).to.equal('email/clients/urn:acme:web/magic-link-subject.de');
    expect(templateCandidates('subject', 'app@example.com', 'de')[0]).to.equal('email/clients/app@example.com/magic-link-subject.de');
    for (const unsafe of ['..', '.', '.hidden', 'a/b', 'a\\b', '../../pages/x', 'a\u0000b', '']) {
      expect(templateCandidates('subject', unsafe, 'de'), JSON.stringify(unsafe)).to.deep.equal(['email/magic-link-subject.de', 'email/magic-link-subject']);
    }
  });

  it('prefers a part’s locale variant (name.<locale>.ejs) for emails in that locale', async () => {
    const { mail } = await mailFor(ALICE.email, WEB_CLIENT.client_id, { ui_locales: 'de' });
    expect(mail.parsed.html).to.include('THEME DE html Hallo,');
    expect(mail.parsed.subject).to.match(/^THEME subject for Web App/);
  });

  it('escapes user data in the HTML part', async () => {
    const { mail } = await mailFor(HOSTILE.email);
    expect(mail.parsed.html).not.to.include('<img');
    expect(mail.parsed.html).to.include('&lt;img src=x onerror=&#34;alert(1)&#34;&gt;&amp;co');
  });

  it('lets no name inject a header: the To name and a subject with the name stay one line', async () => {
    const { mail } = await mailFor(INJECTOR.email, SPA_CLIENT.client_id);
    expect(mail.envelope.to).to.deep.equal([INJECTOR.email]);
    expect(mail.parsed.bcc).to.equal(undefined);
    const keys = mail.parsed.headers.map((h) => h.key.toLowerCase());
    expect(keys).not.to.include('bcc');
    expect(keys.filter((k) => k === 'subject')).to.have.length(1);
    expect(mail.parsed.subject).to.equal('SPA subject for Eve Bcc: victim@evil.example X Subject: pwned');
    expect(mail.parsed.to).to.have.length(1);
    expect(mail.parsed.to![0]).to.deep.equal({ name: 'Eve Bcc: victim@evil.example X Subject: pwned', address: INJECTOR.email });
  });

  it('appends state to a /send link as query parameters and exposes it to templates', async () => {
    const user = (await server.app.store.users.findByEmail(ALICE.email)) as UserRecord;
    await server.app.mailer.sendNow({
      user,
      link: `${server.issuer}/oauth2/passwordless/abc?tenantId=t1`,
      code: null,
      client: { id: null, name: 'API' },
      state: { note: 'a & b', redirect_uri: 'https://evil.example/', tenantId: 'other', nested: { x: 1 } },
      reservedKeys: ['redirect_uri'],
      expiresAt: new Date(Date.now() + 120_000),
    });
    const mail = smtp.received.find((m) => m.envelope.to.includes(ALICE.email))!;
    const href = /href="([^"]+)"/.exec(mail.parsed.html ?? '')![1]!.replaceAll('&amp;', '&');
    const url = new URL(href);
    expect(url.searchParams.get('tenantId')).to.equal('t1');
    expect(url.searchParams.get('note')).to.equal('a & b');
    expect(url.searchParams.get('redirect_uri')).to.equal(null);
    expect(url.searchParams.get('nested')).to.equal('{"x":1}');
    expect(mail.parsed.html).to.include('a &amp; b');
  });
});

describe('the default template', () => {
  it('names the client, the link, the code and the expiry; escapes a hostile name in HTML', async () => {
    const smtp = await TestSmtpServer.start();
    const server = await startTestServer({ config: { users: [HOSTILE], mail: { smtpUrl: smtp.url(), retry: FAST_RETRY } } });
    try {
      const browser = new Browser(server.issuer);
      await requestLink(browser, await authorizationRequest(await discover(server)), HOSTILE.email);
      await server.app.outbox.drain();
      const mail = smtp.received[0]!;
      expect(mail.parsed.html).not.to.include('<img');
      expect(mail.parsed.html).to.include('Hello &lt;img src=x onerror=&#34;alert(1)&#34;&gt;&amp;co,');
      expect(mail.parsed.text, 'the text part is plain text').to.include('Hello <img src=x onerror="alert(1)">&co,');
      expect(mail.parsed.html).to.include(`href="${linkInText(mail)}"`);
      expect(mail.parsed.text).to.match(/until \d{1,2}:\d{2}\s?[AP]M M[SD]T \(3 minutes\)/);
    } finally {
      await server.stop();
      await smtp.stop();
    }
  });
});

describe('withStateParameters', () => {
  it('URL-encodes entries, keeps keys the link has and reserved ones, drops null', () => {
    const link = withStateParameters('https://id.example/p/abc?tenantId=1', { tenantId: '2', client_id: 'x', q: 'a b&c=d', empty: null, n: 3 }, ['client_id']);
    expect(link).to.equal('https://id.example/p/abc?tenantId=1&q=a+b%26c%3Dd&n=3');
    expect(withStateParameters('https://id.example/p', null)).to.equal('https://id.example/p');
  });
});
