import { expect } from 'chai';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import PostalMime from 'postal-mime';
import * as client from 'openid-client';
import { Browser } from '../helpers/browser.js';
import type { TestServer } from '../helpers/server.js';
import { ALICE, WEB_CLIENT } from '../helpers/server.js';
import { discover } from '../helpers/oidc.js';
import { ADMIN_KEY, START_KEY, call, login, start, startApiServer } from './helpers.js';

interface Received {
  to: string;
  subject: string;
  text: string;
  html: string;
}

/** A real SMTP server on a random port that keeps every message it is given, parsed. */
async function startSmtp(): Promise<{ port: number; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        PostalMime.parse(Buffer.concat(chunks)).then(
          (email) => {
            received.push({ to: email.to?.[0]?.address ?? '', subject: email.subject ?? '', text: email.text ?? '', html: email.html ?? '' });
            callback();
          },
          (err: Error) => callback(err),
        );
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const port = (smtp.server.address() as AddressInfo).port;
  return { port, received, close: () => new Promise<void>((resolve) => smtp.close(() => resolve())) };
}

function linkIn(text: string, issuer: string): string {
  const link = new RegExp(`(${issuer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/passwordless/\\S+)`).exec(text)?.[1];
  expect(link, 'the email carries the API link').to.be.a('string');
  return link!;
}

describe('REST API: /api/passwordless/send and the emailed link', () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let server: TestServer;
  let oidc: client.Configuration;

  before(async () => {
    smtp = await startSmtp();
    server = await startApiServer({ config: { mail: { smtpUrl: `smtp://127.0.0.1:${smtp.port}` } } });
    oidc = await discover(server);
  });
  after(async () => {
    await server.stop();
    await smtp.close();
  });

  /** What an app puts in `state` so the link ends in its callback, as with FusionAuth's hosted link. */
  async function oauthState() {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    return {
      verifier,
      state,
      nonce,
      payload: {
        client_id: WEB_CLIENT.client_id,
        redirect_uri: WEB_CLIENT.redirect_uris[0]!,
        scope: 'openid email profile',
        state,
        nonce,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      },
    };
  }

  async function sendFor(body: Record<string, unknown>): Promise<{ code: string; mail: Received }> {
    const started = await start(server, { applicationId: 'web', loginId: ALICE.email, ...body });
    const before = smtp.received.length;
    const sent = await call(server, 'POST', '/api/passwordless/send', { body: { code: started.json!.code } });
    expect(sent.status).to.equal(200);
    expect(sent.text).to.equal('');
    expect(smtp.received.length).to.equal(before + 1);
    return { code: started.json!.code as string, mail: smtp.received.at(-1)! };
  }

  it('emails the link over SMTP with the state as query parameters, and its link completes an authorization code grant for the state\'s client', async () => {
    const rp = await oauthState();
    const { code, mail } = await sendFor({ state: rp.payload });
    expect(mail.to).to.equal(ALICE.email);
    expect(mail.subject).to.be.a('string').and.not.empty;
    const link = linkIn(mail.text, server.issuer);
    expect(mail.html).to.include(link.replaceAll('&', '&amp;'));
    const query = new URL(link).searchParams;
    expect(query.get('client_id')).to.equal('web');
    expect(query.get('redirect_uri')).to.equal(WEB_CLIENT.redirect_uris[0]);
    expect(query.get('state')).to.equal(rp.state);
    expect(new URL(link).pathname).to.equal(`/passwordless/${code}`);

    const browser = new Browser(server.issuer);
    const page = await browser.get(link);
    expect(page.status).to.equal(200);
    expect(page.url).to.match(/\/interaction\/[\w-]+$/);
    expect(page.body).to.include('Continue');
    expect(page.body).to.include('Web App');

    const landed = await browser.submit(page, '/api-link');
    const callback = new URL(landed.url);
    expect(callback.origin + callback.pathname).to.equal(WEB_CLIENT.redirect_uris[0]);
    expect(callback.searchParams.get('state')).to.equal(rp.state);
    const tokens = await client.authorizationCodeGrant(oidc, callback, { pkceCodeVerifier: rp.verifier, expectedState: rp.state, expectedNonce: rp.nonce });
    expect(tokens.claims()!.email).to.equal(ALICE.email);
    // api_link: the browser's session serves this request only (see docs/security.md).
    expect(tokens.claims()!.amr).to.deep.equal(['email', 'api_link']);

    // One link, one sign-in.
    expect((await browser.get(link)).status).to.equal(410);
    expect((await login(server, { code })).status).to.equal(404);
  });

  it('shows the link\'s pages in the state\'s ui_locales, else in the browser\'s language, from the catalogue', async () => {
    const rp = await oauthState();
    const { mail } = await sendFor({ state: { ...rp.payload, ui_locales: 'de' } });
    expect(mail.subject).to.equal('Ihr Anmeldelink für Web App');
    const link = linkIn(mail.text, server.issuer);
    const english = new Browser(server.issuer, undefined, { 'accept-language': 'en' });
    const page = await english.get(link);
    expect(page.status).to.equal(200);
    expect(page.body).to.include('<html lang="de">');
    expect(page.body).to.include('Anmeldung fortsetzen');
    await english.submit(page, '/api-link');

    const used = await english.get(link);
    expect(used.status).to.equal(410);
    expect(used.body).to.include('<html lang="de">');
    expect(used.body).to.include('Dieser Link wurde bereits verwendet');
    const cut = await new Browser(server.issuer, undefined, { 'accept-language': 'de' }).get(`${server.issuer}/passwordless/nope`);
    expect(cut.status).to.equal(410);
    expect(cut.body).to.include('Dieser Link ist ungültig');

    const { mail: noClient } = await sendFor({ state: { foo: 'bar' } });
    const orphan = await new Browser(server.issuer, undefined, { 'accept-language': 'de' }).get(linkIn(noClient.text, server.issuer));
    expect(orphan.status).to.equal(400);
    expect(orphan.body).to.include('<html lang="de">');
    expect(orphan.body).to.include('In der App fortfahren');
    expect(orphan.body).not.to.include('Continue in the app');
  });

  it('lets a scanner that follows every GET (with cookies) spend nothing; the user then signs in with the same link', async () => {
    const rp = await oauthState();
    const { code, mail } = await sendFor({ state: rp.payload });
    const link = linkIn(mail.text, server.issuer);

    const scanner = new Browser(server.issuer, 'LinkScanner/2.0');
    const scanned = await scanner.get(link);
    expect(scanned.status).to.equal(200);
    await scanner.get(link, { method: 'HEAD' });
    expect((await server.app.codes.inspect(code)).usable, 'the code is unspent after the scan').to.equal(true);

    const browser = new Browser(server.issuer);
    const landed = await browser.submit(await browser.get(link), '/api-link');
    expect(new URL(landed.url).searchParams.get('code')).to.be.a('string');
    // The scanner's page is now void: its Continue cannot spend a used code or sign anyone in.
    const late = await scanner.submit(scanned, '/api-link');
    expect(late.status).to.equal(410);
  });

  it('signs in the user of the link, not whoever holds a session in that browser', async () => {
    const browser = new Browser(server.issuer);
    const first = await oauthState();
    await browser.submit(await browser.get(linkIn((await sendFor({ state: first.payload })).mail.text, server.issuer)), '/api-link');

    const bobState = await oauthState();
    const started = await start(server, { applicationId: 'web', loginId: 'bob@example.com', state: bobState.payload });
    await call(server, 'POST', '/api/passwordless/send', { body: { code: started.json!.code } });
    const page = await browser.get(linkIn(smtp.received.at(-1)!.text, server.issuer));
    expect(page.body, 'a login prompt even with a session').to.include('Continue');
    const switching = await browser.submit(page, '/api-link');
    // node-oidc-provider ends Alice's session before it signs Bob in (a self-submitting form).
    expect(switching.body).to.include('/session/end/confirm');
    const landed = await browser.submit(switching, '/session/end/confirm');
    const tokens = await client.authorizationCodeGrant(oidc, new URL(landed.url), { pkceCodeVerifier: bobState.verifier, expectedState: bobState.state, expectedNonce: bobState.nonce });
    expect(tokens.claims()!.email).to.equal('bob@example.com');
  });

  it('refuses a Continue without the form token', async () => {
    const rp = await oauthState();
    const { code, mail } = await sendFor({ state: rp.payload });
    const browser = new Browser(server.issuer);
    const page = await browser.get(linkIn(mail.text, server.issuer));
    const uid = new URL(page.url).pathname.split('/')[2]!;
    const forged = await browser.post(`${server.issuer}/interaction/${uid}/api-link`, { csrf: 'forged' });
    expect(forged.status).to.equal(410);
    expect((await server.app.codes.inspect(code)).usable).to.equal(true);
  });

  it('does not redirect for a state whose redirect_uri is not registered for the client, and spends nothing', async () => {
    const rp = await oauthState();
    const { code, mail } = await sendFor({ state: { ...rp.payload, redirect_uri: 'https://evil.example/cb' } });
    const page = await new Browser(server.issuer).get(linkIn(mail.text, server.issuer));
    expect(page.status).to.equal(400);
    expect(page.url).to.include('/passwordless/');
    expect((await login(server, { code })).status).to.equal(200);
  });

  it('emails the one-time code of a FormField login too', async () => {
    const started = await start(server, { applicationId: 'web', loginId: ALICE.email, loginStrategy: 'FormField' });
    await call(server, 'POST', '/api/passwordless/send', { body: { code: started.json!.code } });
    expect(smtp.received.at(-1)!.text).to.include(started.json!.oneTimeCode);
  });

  it('answers 400 [invalid]code to an unknown or used code, and 400 [exhausted]code when one code is emailed too often', async () => {
    const unknown = await call(server, 'POST', '/api/passwordless/send', { body: { code: 'nope' } });
    expect(unknown.status).to.equal(400);
    expect(unknown.json!.fieldErrors.code[0].code).to.equal('[invalid]code');
    const missing = await call(server, 'POST', '/api/passwordless/send', { body: {} });
    expect(missing.json!.fieldErrors.code[0].code).to.equal('[blank]code');

    const { code } = await sendFor({});
    await call(server, 'POST', '/api/passwordless/send', { body: { code } });
    await call(server, 'POST', '/api/passwordless/send', { body: { code } });
    const flood = await call(server, 'POST', '/api/passwordless/send', { body: { code } });
    expect(flood.status).to.equal(400);
    expect(flood.json!.fieldErrors.code[0].code).to.equal('[exhausted]code');

    await login(server, { code });
    expect((await call(server, 'POST', '/api/passwordless/send', { body: { code } })).status).to.equal(400);
  });

  it('accepts FusionAuth\'s deprecated one-call form only with a key allowed to start logins', async () => {
    const body = { applicationId: 'web', loginId: ALICE.email, state: { note: 'legacy' } };
    const before = smtp.received.length;
    const refused = await call(server, 'POST', '/api/passwordless/send', { body });
    expect(refused.status).to.equal(401);
    expect(refused.text).to.equal('');
    expect(smtp.received.length).to.equal(before);

    const sent = await call(server, 'POST', '/api/passwordless/send', { body, key: START_KEY });
    expect(sent.status).to.equal(200);
    expect(smtp.received.length).to.equal(before + 1);
    const link = linkIn(smtp.received.at(-1)!.text, server.issuer);
    expect(new URL(link).searchParams.get('note')).to.equal('legacy');
    const code = decodeURIComponent(new URL(link).pathname.split('/')[2]!);
    expect((await login(server, { code })).json!.state).to.deep.equal({ note: 'legacy' });

    const unknown = await call(server, 'POST', '/api/passwordless/send', { body: { ...body, loginId: 'nobody@example.com' }, key: START_KEY });
    expect(unknown.status).to.equal(200);
    expect(smtp.received.length).to.equal(before + 1);
  });

  it('says which problem an unusable link has: used, superseded by a newer one, or not valid', async () => {
    const rp = await oauthState();
    const browser = new Browser(server.issuer);
    const usedLink = linkIn((await sendFor({ state: rp.payload })).mail.text, server.issuer);
    await browser.submit(await browser.get(usedLink), '/api-link');
    const used = await new Browser(server.issuer).get(usedLink);
    expect(used.status).to.equal(410);
    expect(used.body).to.include('This link has already been used').and.not.include('newer');

    const older = linkIn((await sendFor({ state: rp.payload })).mail.text, server.issuer);
    const olderPage = await browser.get(older);
    expect(olderPage.body).to.include('Continue');
    await sendFor({ state: rp.payload });
    const superseded = await new Browser(server.issuer).get(older);
    expect(superseded.status).to.equal(410);
    expect(superseded.body).to.include('A newer link was sent');
    // The Continue page opened before the newer link was sent says the same when pressed.
    const late = await browser.submit(olderPage, '/api-link');
    expect(late.status).to.equal(410);
    expect(late.body).to.include('A newer link was sent');

    const invalid = await new Browser(server.issuer).get(`${server.issuer}/passwordless/nope`);
    expect(invalid.body).to.include('This link is not valid');
  });

  describe('a user the client refuses', () => {
    async function newUser(email: string): Promise<string> {
      const created = await call(server, 'POST', '/api/user', { key: ADMIN_KEY, body: { user: { email } } });
      expect(created.status).to.equal(200);
      return created.json!.user.id as string;
    }
    const setActive = async (id: string, active: boolean) => expect((await call(server, 'PATCH', `/api/user/${id}`, { key: ADMIN_KEY, body: { user: { active } } })).status).to.equal(200);

    it('/send emails nothing to a locked user or to one not registered to a client that requires it, and still answers 200', async () => {
      const id = await newUser('locked-before-send@example.com');
      const started = await start(server, { applicationId: 'web', loginId: 'locked-before-send@example.com' });
      await setActive(id, false);
      const before = smtp.received.length;
      const sent = await call(server, 'POST', '/api/passwordless/send', { body: { code: started.json!.code } });
      expect(sent.status).to.equal(200);
      expect(sent.text).to.equal('');
      const partner = { client_id: 'partner', redirect_uri: 'http://127.0.0.1:9999/partner-cb' };
      const unregistered = await start(server, { applicationId: 'partner', loginId: 'bob@example.com', state: partner });
      expect((await call(server, 'POST', '/api/passwordless/send', { body: { code: unregistered.json!.code } })).status).to.equal(200);
      expect(smtp.received.length, 'no email went out').to.equal(before);
      // A user who may use the client still gets it.
      const registered = await start(server, { applicationId: 'partner', loginId: ALICE.email, state: partner });
      expect((await call(server, 'POST', '/api/passwordless/send', { body: { code: registered.json!.code } })).status).to.equal(200);
      expect(smtp.received.length).to.equal(before + 1);
    });

    it('the emailed link of a user locked after it was sent shows a refusal, before or after Continue, and spends nothing', async () => {
      const id = await newUser('locked-after-send@example.com');
      const rp = await oauthState();
      const started = await start(server, { applicationId: 'web', loginId: 'locked-after-send@example.com', state: rp.payload });
      await call(server, 'POST', '/api/passwordless/send', { body: { code: started.json!.code } });
      const link = linkIn(smtp.received.at(-1)!.text, server.issuer);
      const code = started.json!.code as string;

      const browser = new Browser(server.issuer);
      const page = await browser.get(link);
      expect(page.body).to.include('Continue');
      await setActive(id, false);
      const pressed = await browser.submit(page, '/api-link');
      expect(pressed.status).to.equal(403);
      expect(pressed.body).to.include('You cannot sign in here with this account').and.not.include('newer one');
      expect((await server.app.codes.inspect(code)).usable, 'Continue spent nothing').to.equal(true);

      const opened = await new Browser(server.issuer).get(link);
      expect(opened.status).to.equal(403);
      expect(opened.body).to.include('You cannot sign in here with this account').and.not.include('Continue');
      const german = await new Browser(server.issuer, undefined, { 'accept-language': 'de' }).get(link);
      expect(german.body).to.include('Mit diesem Konto können Sie sich hier nicht anmelden');
      expect((await server.app.codes.inspect(code)).usable).to.equal(true);

      // Unlocked, the same code works (through the API: a browser session in the second of the lock would not count).
      await setActive(id, true);
      expect((await login(server, { code, applicationId: 'web' })).status, 'logged in (202: not registered to web)').to.equal(202);
    });

    it('the link of a client that requires a registration the user lacks shows a refusal and spends nothing', async () => {
      const partner = { client_id: 'partner', redirect_uri: 'http://127.0.0.1:9999/partner-cb', state: 'p' };
      const started = await start(server, { applicationId: 'partner', loginId: 'bob@example.com', state: partner });
      const code = started.json!.code as string;
      // /send emails no link to Bob; the app may still build the link itself from the code.
      const page = await new Browser(server.issuer).get(`${server.issuer}/passwordless/${encodeURIComponent(code)}`);
      expect(page.status).to.equal(403);
      expect(page.body).to.include('You cannot sign in here with this account').and.not.include('Continue');
      expect((await server.app.codes.inspect(code)).usable).to.equal(true);
      expect((await login(server, { code, applicationId: 'partner' })).status, 'the API answers the same code with 409').to.equal(409);
    });
  });
});
