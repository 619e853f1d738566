import { expect } from 'chai';
import type * as client from 'openid-client';
import { Browser, type Page } from '../helpers/browser.js';
import { ALICE, WEB_CLIENT, startTestServer, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, exchange, lastMailTo, linkOf, requestLink, shortCodeOf } from '../helpers/oidc.js';
import { inboxPageShape, interactionUidOf, pairNumberOn } from '../helpers/cross-device.js';
import { normalizeEmail } from '../../src/storage/types.js';
import { captureLogEvents } from '../helpers/logs.js';
import { makeTheme } from '../helpers/theme.js';
import { removeTempDir } from '../helpers/temp.js';
import { DevMailbox } from '../../src/mail/dev-mailbox.js';
import type { MailMessage } from '../../src/mail/types.js';

/** A client where a new address may create its account with the sign-in email. */
const SIGN_UP_CLIENT = {
  client_id: 'signup-web',
  client_secret: 'signup-web-secret-that-is-long-enough',
  client_name: 'Sign-up App',
  redirect_uris: ['http://127.0.0.1:9999/signup-cb'],
  grant_types: ['authorization_code', 'refresh_token'],
  first_party: true,
  require_registration: true,
  self_service_registration: {
    enabled: true,
    fields: ['firstName', { name: 'lastName', required: true }],
    terms_url: 'https://example.com/terms',
    default_roles: ['member'],
  },
};

const landedWithCode = (url: string) => url.startsWith(SIGN_UP_CLIENT.redirect_uris[0]!) && new URL(url).searchParams.has('code');

describe('sign-up with a magic link (self_service_registration)', () => {
  let server: TestServer;
  let config: client.Configuration;
  let plainConfig: client.Configuration;
  let seq = 0;
  const newAddress = () => `new-${Date.now()}-${(seq += 1)}@example.com`;

  before(async () => {
    server = await startTestServer({ config: { clients: [WEB_CLIENT, SIGN_UP_CLIENT], users: [{ ...ALICE, registrations: [{ applicationId: SIGN_UP_CLIENT.client_id, roles: [] }] }] } });
    config = await discover(server, SIGN_UP_CLIENT.client_id, SIGN_UP_CLIENT.client_secret);
    plainConfig = await discover(server);
  });
  after(() => server.stop());

  const redirect = { redirect_uri: SIGN_UP_CLIENT.redirect_uris[0]! };

  /** Asks for a link for `email` on the sign-up client in `browser`; the inbox page and the email. */
  async function askFor(browser: Browser, email: string) {
    const rp = await authorizationRequest(config, {}, redirect.redirect_uri);
    const inbox = await requestLink(browser, rp, email);
    const mail = (await lastMailTo(server, email))!;
    return { rp, inbox, mail };
  }

  const userByEmail = (email: string) => server.app.store.users.findByEmail(normalizeEmail(email));

  it('says "Sign in or create an account" on such a client only', async () => {
    const rp = await authorizationRequest(config, {}, redirect.redirect_uri);
    const form = await new Browser(server.issuer).get(rp.url.href);
    expect(form.body).to.include('Sign in or create an account for Sign-up App');
    const plain = await new Browser(server.issuer).get((await authorizationRequest(plainConfig)).url.href);
    expect(plain.body).to.include('Sign in to Web App').and.not.include('create an account');
  });

  it('creates the account in the browser that asked: email, form with the configured fields and terms, then the client gets its code', async () => {
    const email = newAddress();
    const browser = new Browser(server.issuer);
    const { rp, inbox, mail } = await askFor(browser, email);
    expect(inbox.status).to.equal(200);
    expect(inbox.body).to.include('Check your inbox');
    expect(mail.subject).to.equal('Create your account for Sign-up App');
    expect(mail.text).to.include('create an account for Sign-up App').and.include('nothing is created without the link');
    expect(mail.html).to.include('Create your account');
    expect(shortCodeOf(mail)).to.match(/^\d{6}$/);

    const form = await browser.get(linkOf(mail));
    expect(form.status).to.equal(200);
    expect(form.body).to.include('<title>Create your account').and.include(`Create your account for Sign-up App`).and.include(email);
    expect(form.body).to.include('name="firstName"').and.include('name="lastName"').and.include('href="https://example.com/terms"');
    expect(await userByEmail(email), 'no account before the form is sent').to.equal(null);
    const reloaded = await browser.get(`/interaction/${interactionUidOf(form.url)}`);
    expect(reloaded.body, 'the sign-in page shows the waiting form again').to.include('Create your account for Sign-up App').and.include('name="lastName"');

    const missing = await browser.submit(form, '/sign-up', { firstName: 'Carol', lastName: '  ', terms: 'accepted' });
    expect(missing.status).to.equal(400);
    expect(missing.body).to.include('Please fill in Last name.');
    expect(missing.body, 'what was typed stays').to.include('value="Carol"');
    const noTerms = await browser.submit(missing, '/sign-up', { firstName: 'Carol', lastName: 'Jones' });
    expect(noTerms.status).to.equal(400);
    expect(noTerms.body).to.include('Please accept the terms of use');
    expect(await userByEmail(email), 'a refused form makes nothing').to.equal(null);

    const landed = await browser.submit(noTerms, '/sign-up', { firstName: 'Carol', lastName: 'Jones', terms: 'accepted' });
    expect(landedWithCode(landed.url), landed.body.slice(0, 300)).to.equal(true);
    expect(new URL(landed.url).searchParams.get('state')).to.equal(rp.state);
    const tokens = await exchange(rp, landed.url);
    const claims = tokens.claims()!;
    expect(claims).to.include({ email, email_verified: true, given_name: 'Carol', family_name: 'Jones' });
    const user = (await userByEmail(email))!;
    expect(user.id).to.equal(claims.sub);
    expect(user.verified).to.equal(true);
    expect(user.registrations.map((r) => [r.applicationId, r.roles])).to.deep.equal([[SIGN_UP_CLIENT.client_id, ['member']]]);

    const again = await browser.submit(noTerms, '/sign-up', { firstName: 'Eve', lastName: 'Twice', terms: 'accepted' });
    expect(landedWithCode(again.url), 'the form works once').to.equal(false);
    expect((await userByEmail(email))!.firstName).to.equal('Carol');
  });

  it('works with the typed code as well', async () => {
    const email = newAddress();
    const browser = new Browser(server.issuer);
    const { rp, inbox, mail } = await askFor(browser, email);
    const form = await browser.submit(inbox, '/code', { code: shortCodeOf(mail) });
    expect(form.body).to.include('Create your account for Sign-up App');
    const landed = await browser.submit(form, '/sign-up', { lastName: 'Typed', terms: 'accepted' });
    expect(landedWithCode(landed.url)).to.equal(true);
    expect((await exchange(rp, landed.url)).claims()!).to.include({ email, family_name: 'Typed' });
  });

  it('follows the cross-device rules: approved on the phone, the form shows where the sign-in began', async () => {
    const email = newAddress();
    const laptop = new Browser(server.issuer);
    const phone = new Browser(server.issuer);
    const { rp, inbox, mail } = await askFor(laptop, email);
    const number = pairNumberOn(inbox);
    const onPhone = await phone.get(linkOf(mail));
    expect(onPhone.body, 'the phone shows no sign-up form').not.to.include('name="lastName"');
    const approved = await phone.submit(onPhone, '/approve', { number });
    expect(approved.status).to.equal(200);
    expect(await userByEmail(email)).to.equal(null);
    const form = await laptop.submit(inbox, '/continue');
    expect(form.body).to.include('Create your account for Sign-up App');
    expect(interactionUidOf(form.url)).to.equal(interactionUidOf(inbox.url));
    const landed = await laptop.submit(form, '/sign-up', { lastName: 'Phone', terms: 'accepted' });
    expect(landedWithCode(landed.url)).to.equal(true);
    expect((await exchange(rp, landed.url)).claims()!.email).to.equal(email);
  });

  it('cannot be told from a sign-in: same page, status and headers for a known and an unknown address, each gets an email', async () => {
    const unknown = newAddress();
    const known = await askFor(new Browser(server.issuer), ALICE.email);
    const fresh = await askFor(new Browser(server.issuer), unknown);
    expect(inboxPageShape(fresh.inbox, unknown)).to.deep.equal(inboxPageShape(known.inbox, ALICE.email));
    expect(known.mail.subject).to.equal('Your sign-in link for Sign-up App');
    expect(fresh.mail.subject).to.equal('Create your account for Sign-up App');
  });

  it('answers before the email goes: the inbox page comes while the mail server holds every email, for a known and an unknown address alike', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const mailbox = new (class extends DevMailbox {
      override async send(message: MailMessage): Promise<void> {
        await held;
        return super.send(message);
      }
    })(10);
    const slow = await startTestServer({ config: { clients: [SIGN_UP_CLIENT], users: [{ ...ALICE, registrations: [{ applicationId: SIGN_UP_CLIENT.client_id, roles: [] }] }] }, transport: mailbox });
    try {
      const slowConfig = await discover(slow, SIGN_UP_CLIENT.client_id, SIGN_UP_CLIENT.client_secret);
      const email = newAddress();
      for (const address of [ALICE.email, email]) {
        const inbox = await requestLink(new Browser(slow.issuer), await authorizationRequest(slowConfig, {}, redirect.redirect_uri), address);
        expect(inbox.status, address).to.equal(200);
        expect(inbox.body).to.include('Check your inbox');
      }
      expect(mailbox.list(), 'no email has gone yet').to.deep.equal([]);
      release();
      const subjects = (await slow.mails()).map((m) => [m.to, m.subject]);
      expect(subjects).to.have.deep.members([
        [ALICE.email, 'Your sign-in link for Sign-up App'],
        [email, 'Create your account for Sign-up App'],
      ]);
    } finally {
      release();
      await slow.stop();
    }
  });

  it('leaves an unknown address without email on a client without the setting', async () => {
    const email = newAddress();
    const before = (await server.mails()).length;
    await requestLink(new Browser(server.issuer), await authorizationRequest(plainConfig), email);
    const mails = await server.mails();
    expect(mails.length).to.equal(before);
    expect(await userByEmail(email)).to.equal(null);
  });

  it('makes one account when two sign-ups of one address race: the other signs in to it', async () => {
    const email = newAddress();
    const first = new Browser(server.issuer);
    const second = new Browser(server.issuer);
    const a = await askFor(first, email);
    const formA = await first.get(linkOf(a.mail));
    const b = await askFor(second, email);
    const formB = await second.get(linkOf(b.mail));
    expect(formA.body).to.include('name="lastName"');
    expect(formB.body).to.include('name="lastName"');
    let landedA!: Page;
    let landedB!: Page;
    const made = await captureLogEvents(
      'info',
      async () => {
        [landedA, landedB] = await Promise.all([
          first.submit(formA, '/sign-up', { lastName: 'First', terms: 'accepted' }),
          second.submit(formB, '/sign-up', { lastName: 'Second', terms: 'accepted' }),
        ]);
      },
      /^user\.sign/,
    );
    expect(made.map((e) => e.event).sort(), 'one made the account, the other found it made').to.deep.equal(['user.sign_up_raced', 'user.signed_up']);
    expect(landedWithCode(landedA.url) && landedWithCode(landedB.url), 'both sign in').to.equal(true);
    const [subA, subB] = [(await exchange(a.rp, landedA.url)).claims()!.sub, (await exchange(b.rp, landedB.url)).claims()!.sub];
    expect(subA).to.equal(subB);
    const all = await server.app.store.users.list({ limit: 1000, offset: 0 });
    expect(all.filter((u) => u.emailNormalized === normalizeEmail(email))).to.have.length(1);
  });

  it('is themeable like the other pages and emails: a theme’s sign-up page and wording win', async () => {
    const theme = makeTheme({
      'pages/sign-up.ejs': "<%- include('partials/top', { title: 'Join us' }) %><form class=\"brand-join\" method=\"post\" action=\"/interaction/<%= uid %>/sign-up\"><input type=\"hidden\" name=\"csrf\" value=\"<%= csrf %>\"><%= email %></form><%- include('partials/bottom') %>",
      'locales/en.json': JSON.stringify({ email: { signUpSubject: 'Join {client} today' } }),
    });
    const themed = await startTestServer({ config: { theme, clients: [SIGN_UP_CLIENT] } });
    try {
      const themedConfig = await discover(themed, SIGN_UP_CLIENT.client_id, SIGN_UP_CLIENT.client_secret);
      const email = newAddress();
      const browser = new Browser(themed.issuer);
      await requestLink(browser, await authorizationRequest(themedConfig, {}, redirect.redirect_uri), email);
      const mail = (await lastMailTo(themed, email))!;
      expect(mail.subject).to.equal('Join Sign-up App today');
      const form = await browser.get(linkOf(mail));
      expect(form.body).to.include('<title>Join us').and.include('class="brand-join"').and.include(email);
    } finally {
      await themed.stop();
      removeTempDir(theme);
    }
  });

  it('counts sign-up emails against the same per-address limit as sign-in emails', async () => {
    const limited = await startTestServer({ config: { clients: [SIGN_UP_CLIENT], rateLimits: { sendPerAddress: { limit: 2, windowSeconds: 900 } } } });
    try {
      const limitedConfig = await discover(limited, SIGN_UP_CLIENT.client_id, SIGN_UP_CLIENT.client_secret);
      const email = newAddress();
      const statuses: number[] = [];
      for (let i = 0; i < 3; i += 1) {
        statuses.push((await requestLink(new Browser(limited.issuer), await authorizationRequest(limitedConfig, {}, redirect.redirect_uri), email)).status);
      }
      expect(statuses).to.deep.equal([200, 200, 429]);
      expect((await limited.mails()).filter((m) => m.to === email)).to.have.length(2);
    } finally {
      await limited.stop();
    }
  });
});

describe('self_service_registration in the configuration', () => {
  it('names the bad setting of a client', async () => {
    const { loadConfig } = await import('../../src/config/load.js');
    const load = (setting: unknown) => () => loadConfig({ env: {}, overrides: { clients: [{ ...SIGN_UP_CLIENT, self_service_registration: setting }] } });
    expect(load({ enabled: true, fields: ['nickname'] })).to.throw(/clients\.0\.self_service_registration/);
    expect(load({ enabled: true, fields: ['firstName', 'firstName'] })).to.throw(/named twice/);
    expect(load({ enabled: true, terms_url: 'javascript:alert(1)' })).to.throw(/self_service_registration/);
    expect(load({ enabled: true, fields: ['firstName', { name: 'lastName', required: true }], terms_url: 'https://example.com/t' })).not.to.throw();
    expect(load(true)).not.to.throw();
  });
});
