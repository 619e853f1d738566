import { expect } from 'chai';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { Browser } from '../helpers/browser.js';
import { buildUser, modifyUser } from '../../src/accounts/users.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { startTestServer, ALICE, BOB, WEB_CLIENT, SPA_CLIENT, THIRD_PARTY_CLIENT, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, exchange, lastMailTo, linkOf, requestLink, shortCodeOf } from '../helpers/oidc.js';
import { codeRecordOf, inboxPageShape, interactionUidOf, pairNumberOn } from '../helpers/cross-device.js';

describe('hosted magic-link sign-in (end to end)', () => {
  let server: TestServer;
  let config: client.Configuration;

  before(async () => {
    server = await startTestServer();
    config = await discover(server);
  });
  after(() => server.stop());

  /** Runs a whole sign-in for `email` in `browser` and returns where it landed. */
  async function signIn(browser: Browser, params: Record<string, string> = {}) {
    const rp = await authorizationRequest(config, params);
    await requestLink(browser, rp, ALICE.email);
    const mail = await lastMailTo(server, ALICE.email);
    const landed = await browser.get(linkOf(mail!));
    return { rp, landed, mail: mail! };
  }

  it('runs the Authorization Code flow with PKCE: email → link → code → tokens → userinfo → refresh', async () => {
    const browser = new Browser(server.issuer);
    const rp = await authorizationRequest(config, { login_hint: ALICE.email });
    const form = await browser.get(rp.url.href);
    expect(form.status).to.equal(200);
    expect(form.body).to.include(`value="${ALICE.email}"`);
    expect(form.body).to.include('Web App');

    const inbox = await browser.submit(form, '/email', { email: ALICE.email });
    expect(inbox.status).to.equal(200);
    expect(inbox.body).to.include('Check your inbox');

    const mail = await lastMailTo(server, ALICE.email);
    expect(mail, 'an email was sent').to.exist;
    expect(mail!.subject).to.include('Web App');
    expect(mail!.html).to.include(linkOf(mail!));
    expect(shortCodeOf(mail!)).to.match(/^\d{6}$/);

    const landed = await browser.get(linkOf(mail!));
    const callback = new URL(landed.url);
    expect(callback.origin + callback.pathname).to.equal(WEB_CLIENT.redirect_uris[0]);
    expect(callback.searchParams.get('code')).to.be.a('string');
    expect(callback.searchParams.get('state')).to.equal(rp.state);
    expect(callback.searchParams.get('iss')).to.equal(server.issuer);

    const tokens = await exchange(rp, landed.url);
    const claims = tokens.claims()!;
    expect(claims.email).to.equal(ALICE.email);
    expect(claims.email_verified).to.equal(true);
    expect(claims.name).to.equal('Alice Liddell');
    expect(claims.amr).to.deep.equal(['email']);
    expect(tokens.access_token).to.be.a('string');
    expect(tokens.refresh_token, 'first-party client with refresh_token grant gets a refresh token').to.be.a('string');

    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(userinfo).to.include({ sub: claims.sub, email: ALICE.email, email_verified: true, given_name: 'Alice', family_name: 'Liddell', zoneinfo: 'Europe/London', locale: 'en' });

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).to.be.a('string').and.not.equal(tokens.access_token);
    expect(refreshed.refresh_token, 'refresh tokens rotate').to.be.a('string').and.not.equal(tokens.refresh_token);
    let reuseError: unknown;
    try {
      await client.refreshTokenGrant(config, tokens.refresh_token!);
    } catch (err) {
      reuseError = err;
    }
    expect((reuseError as { error?: string })?.error).to.equal('invalid_grant');
  });

  it('gives the ID token the subject of the user record (a stable UUID)', async () => {
    const browser = new Browser(server.issuer);
    const { rp, landed } = await signIn(browser);
    const tokens = await exchange(rp, landed.url);
    const user = await server.app.store.users.findByEmail(ALICE.email);
    expect(tokens.claims()!.sub).to.equal(user!.id).and.match(/^[0-9a-f-]{36}$/);
    expect(decodeJwt(tokens.id_token!).iss).to.equal(server.issuer);
  });

  it('signs in again in the same browser without a new email (SSO), and prompt=login / max_age force a new one', async () => {
    const browser = new Browser(server.issuer);
    await signIn(browser);
    const before = (await server.mails()).length;

    const rp = await authorizationRequest(config);
    const again = await browser.get(rp.url.href);
    expect(new URL(again.url).searchParams.get('code'), 'SSO lands with a code').to.be.a('string');
    expect((await exchange(rp, again.url)).claims()!.email).to.equal(ALICE.email);
    expect((await server.mails()).length).to.equal(before);

    for (const params of [{ prompt: 'login' }, { max_age: '0' }] as Record<string, string>[]) {
      const forced = await authorizationRequest(config, params);
      const page = await browser.get(forced.url.href);
      expect(page.status, JSON.stringify(params)).to.equal(200);
      expect(page.body).to.include('name="email"');
    }
  });

  it('answers prompt=none without a session with login_required', async () => {
    const browser = new Browser(server.issuer);
    const rp = await authorizationRequest(config, { prompt: 'none' });
    const landed = await browser.get(rp.url.href);
    const url = new URL(landed.url);
    expect(url.searchParams.get('error')).to.equal('login_required');
    expect(url.searchParams.get('state')).to.equal(rp.state);
  });

  it('refuses an expired account: no email, and its existing session ends', async () => {
    const email = 'expiring@example.com';
    await server.app.store.users.insert(buildUser({ email }));
    const browser = new Browser(server.issuer);
    const rp = await authorizationRequest(config);
    await requestLink(browser, rp, email);
    const landed = await browser.get(linkOf((await lastMailTo(server, email))!));
    expect(new URL(landed.url).searchParams.get('code')).to.be.a('string');

    const user = (await server.app.store.users.findByEmail(email))!;
    await modifyUser(server.app.store.users, user.id, (current) => {
      current.expiry = Date.now() - 1000;
      return null;
    });
    const before = (await server.mails()).length;
    await requestLink(new Browser(server.issuer), await authorizationRequest(config), email);
    expect((await server.mails()).length, 'no email to an expired account').to.equal(before);
    const silent = await authorizationRequest(config, { prompt: 'none' });
    const after = await browser.get(silent.url.href);
    expect(new URL(after.url).searchParams.get('error'), 'the session of an expired account is over').to.equal('login_required');
  });

  it('ends the session with RP-initiated logout', async () => {
    const browser = new Browser(server.issuer);
    const { rp, landed } = await signIn(browser);
    const tokens = await exchange(rp, landed.url);
    const endUrl = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: WEB_CLIENT.post_logout_redirect_uris[0]!,
    });
    const confirm = await browser.get(endUrl.href);
    expect(confirm.status).to.equal(200);
    expect(confirm.body).to.include('Sign out');
    const done = await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' });
    expect(done.url).to.equal(WEB_CLIENT.post_logout_redirect_uris[0]);

    const silent = await authorizationRequest(config, { prompt: 'none' });
    const after = await browser.get(silent.url.href);
    expect(new URL(after.url).searchParams.get('error')).to.equal('login_required');
  });

  it('gives an unknown email the very same page and sends nothing', async () => {
    const known = new Browser(server.issuer);
    const unknown = new Browser(server.issuer);
    const rpKnown = await authorizationRequest(config);
    const rpUnknown = await authorizationRequest(config);
    const before = (await server.mails()).length;
    const pageKnown = await requestLink(known, rpKnown, ALICE.email);
    const pageUnknown = await requestLink(unknown, rpUnknown, 'nobody@example.com');
    expect(inboxPageShape(pageUnknown, 'nobody@example.com')).to.deep.equal(inboxPageShape(pageKnown, ALICE.email));
    const mails = await server.mails();
    expect(mails.length).to.equal(before + 1);
    expect(mails.some((m) => m.to === 'nobody@example.com')).to.equal(false);
  });

  it('shows "already used" for a link opened twice', async () => {
    const browser = new Browser(server.issuer);
    const { mail } = await signIn(browser);
    const second = await browser.get(linkOf(mail));
    expect(second.status).to.equal(410);
    expect(second.body).to.include('already been used');
  });

  it('lets a cookie-less fetch (scanner, other device, HEAD) change nothing; the user then signs in with the same link', async () => {
    const browser = new Browser(server.issuer);
    const rp = await authorizationRequest(config);
    await requestLink(browser, rp, ALICE.email);
    const mail = (await lastMailTo(server, ALICE.email))!;
    const link = linkOf(mail);

    const scanner = new Browser(server.issuer, 'LinkScanner/2.0');
    const head = await scanner.get(link, { method: 'HEAD' });
    expect(head.status).to.equal(200);
    const elsewhere = await scanner.get(link);
    expect(elsewhere.status).to.equal(200);
    expect(elsewhere.body).to.include('Continue where you started');
    expect(elsewhere.body).to.include(shortCodeOf(mail));
    expect(elsewhere.body).to.include('will not be signed in');
    expect(scanner.jar.getCookiesSync(server.issuer).map((c) => c.key)).to.not.include('_session');
    // And the same browser with the right cookie, but by HEAD, consumes nothing either.
    await browser.get(link, { method: 'HEAD' });

    const landed = await browser.get(link);
    expect(new URL(landed.url).searchParams.get('code')).to.be.a('string');
    expect((await exchange(rp, landed.url)).claims()!.email).to.equal(ALICE.email);
  });

  it('voids an earlier link when a new one is requested (superseded)', async () => {
    const browser = new Browser(server.issuer);
    const rp = await authorizationRequest(config);
    const inbox = await requestLink(browser, rp, ALICE.email);
    const first = (await lastMailTo(server, ALICE.email))!;
    await browser.submit(inbox, '/email', {});
    const second = (await lastMailTo(server, ALICE.email))!;
    expect(linkOf(second)).to.not.equal(linkOf(first));

    const stale = await browser.get(linkOf(first));
    expect(stale.status).to.equal(410);
    expect(stale.body).to.include('A newer link was sent');
    const landed = await browser.get(linkOf(second));
    expect(new URL(landed.url).searchParams.get('code')).to.be.a('string');
  });

  for (const [who, email] of [['a known address', ALICE.email], ['an unknown address', 'reloader@example.com']] as const) {
    it(`answers the same email form sent again (reload, Back then Forward) with the same page and no new code, for ${who}; a form rendered anew sends again`, async () => {
      const browser = new Browser(server.issuer);
      const rp = await authorizationRequest(config);
      const form = await browser.get(rp.url.href);
      const uid = interactionUidOf(form.url);
      const before = (await server.mails()).length;
      const first = await browser.submit(form, '/email', { email });
      await server.mails();
      const code = await codeRecordOf(server, uid);

      // The browser re-posts the very form it rendered: same token, same address (case aside).
      const again = await browser.submit(form, '/email', { email: email.toUpperCase() });
      expect(again.status).to.equal(200);
      expect(again.body).to.include('Check your inbox');
      expect(pairNumberOn(again), 'the same number as the first page').to.equal(pairNumberOn(first));
      expect((await server.mails()).length, 'no second email').to.equal(before + (email === ALICE.email ? 1 : 0));
      expect((await codeRecordOf(server, uid)).id, 'no new code').to.equal(code.id);

      // The form typed again is a new form: a new link.
      const retyped = await browser.submit(await browser.get(`/interaction/${uid}`), '/email', { email });
      expect(retyped.status).to.equal(200);
      expect((await server.mails()).length).to.equal(before + (email === ALICE.email ? 2 : 0));
      expect((await codeRecordOf(server, uid)).id, 'a new code').to.not.equal(code.id);
    });
  }

  it('says a typed code was replaced in words true also when the newer email was for another sign-in in this browser', async () => {
    const browser = new Browser(server.issuer);
    const first = await requestLink(browser, await authorizationRequest(config), ALICE.email);
    const code = shortCodeOf((await lastMailTo(server, ALICE.email))!);
    // A second sign-in (another tab, another app) emails the same address: the first code is replaced.
    await requestLink(browser, await authorizationRequest(config), ALICE.email);
    await server.mails();
    const typed = await browser.submit(first, '/code', { code });
    expect(typed.status).to.equal(400);
    expect(typed.body).to.include('A newer sign-in email has been sent to this address since');
    expect(typed.body).to.include('if it was for another sign-in, use “Send a new link” below');
    // And that button does send a working link for this sign-in.
    await browser.submit(typed, '/email');
    const landed = await browser.get(linkOf((await lastMailTo(server, ALICE.email))!));
    expect(new URL(landed.url).searchParams.get('code')).to.be.a('string');
  });

  it('lets only the client a token was issued to introspect or revoke it', async () => {
    const { rp, landed } = await signInWithTypedCode(server, config, new Browser(server.issuer), ALICE.email);
    const token = (await exchange(rp, landed.url)).access_token;
    const partner = await discover(server, THIRD_PARTY_CLIENT.client_id, THIRD_PARTY_CLIENT.client_secret);
    expect((await client.tokenIntrospection(partner, token)).active, 'another client learns nothing').to.equal(false);
    expect(await client.tokenIntrospection(config, token)).to.include({ active: true, client_id: WEB_CLIENT.client_id });
    const refused = await client.tokenRevocation(partner, token).then(() => null, (err: unknown) => err);
    expect(refused, 'another client cannot revoke it').to.be.instanceOf(client.ResponseBodyError);
    expect((await client.tokenIntrospection(config, token)).active, 'still valid after the refused revocation').to.equal(true);
    await client.tokenRevocation(config, token);
    expect((await client.tokenIntrospection(config, token)).active, 'revoked by its own client').to.equal(false);
  });

  it('signs in with the typed short code', async () => {
    const browser = new Browser(server.issuer);
    const { rp, mail, landed } = await signInWithTypedCode(server, config, browser, ALICE.email);
    expect((await exchange(rp, landed.url)).claims()!.email).to.equal(ALICE.email);
    // The link of that email is spent too: one email, one sign-in.
    expect((await browser.get(linkOf(mail))).status).to.equal(410);
  });

  it('takes the short code typed as people type it ("816 754", "816-754"), with a number pad and focus on the code box', async () => {
    for (const group of [(c: string) => `${c.slice(0, 3)} ${c.slice(3)}`, (c: string) => ` ${c.slice(0, 3)}-${c.slice(3)} `]) {
      const browser = new Browser(server.issuer);
      const rp = await authorizationRequest(config);
      const inbox = await requestLink(browser, rp, ALICE.email);
      expect(codeBoxOf(inbox)).to.include('inputmode="numeric"').and.include('autofocus');
      const mail = (await lastMailTo(server, ALICE.email))!;
      const wrong = await browser.submit(inbox, '/code', { code: shortCodeOf(mail) === '000000' ? '111 111' : '000 000' });
      expect(wrong.status).to.equal(400);
      expect(codeBoxOf(wrong), 'the code box keeps the focus after a wrong code').to.include('autofocus');
      const landed = await browser.submit(wrong, '/code', { code: group(shortCodeOf(mail)) });
      expect(new URL(landed.url).searchParams.get('code'), group(shortCodeOf(mail))).to.be.a('string');
    }
  });

  it('voids the code after 5 wrong guesses, even for the right code afterwards', async () => {
    const browser = new Browser(server.issuer);
    const rp = await authorizationRequest(config);
    let page = await requestLink(browser, rp, ALICE.email);
    const mail = (await lastMailTo(server, ALICE.email))!;
    const right = shortCodeOf(mail);
    const wrong = right === '000000' ? '111111' : '000000';
    for (let i = 1; i <= 4; i += 1) {
      page = await browser.submit(page, '/code', { code: wrong });
      expect(page.status).to.equal(400);
      expect(page.body).to.include(`${5 - i} ${5 - i === 1 ? 'try' : 'tries'} left`);
    }
    page = await browser.submit(page, '/code', { code: wrong });
    expect(page.body).to.include('Too many wrong codes');
    page = await browser.submit(page, '/code', { code: right });
    expect(page.status).to.equal(400);
    expect(page.url).to.not.include('code=');
    expect((await browser.get(linkOf(mail))).body).to.include('no longer works');
  });

  it('counts wrong codes for an unknown address the same way', async () => {
    const browser = new Browser(server.issuer);
    const rp = await authorizationRequest(config);
    let page = await requestLink(browser, rp, 'stranger@example.com');
    // The code (an unknown address gets one too, never sent) is made after the response, as for a known address.
    await server.mails();
    for (let i = 1; i <= 4; i += 1) {
      page = await browser.submit(page, '/code', { code: '123456' });
      expect(page.body).to.include(`${5 - i} ${5 - i === 1 ? 'try' : 'tries'} left`);
    }
    page = await browser.submit(page, '/code', { code: '123456' });
    expect(page.body).to.include('Too many wrong codes');
  });

  it('refuses a public client that sends no PKCE challenge', async () => {
    const spa = await discover(server, SPA_CLIENT.client_id, null);
    const url = client.buildAuthorizationUrl(spa, {
      redirect_uri: SPA_CLIENT.redirect_uris[0]!,
      scope: 'openid email',
      state: 'xyz',
    });
    const landed = await new Browser(server.issuer).get(url.href);
    const callback = new URL(landed.url);
    expect(callback.searchParams.get('error')).to.equal('invalid_request');
    expect(callback.searchParams.get('error_description')).to.match(/PKCE/);
  });

  it('signs a public client in with PKCE and no secret', async () => {
    const spa = await discover(server, SPA_CLIENT.client_id, null);
    const browser = new Browser(server.issuer);
    const rp = await authorizationRequest(spa, {}, SPA_CLIENT.redirect_uris[0]);
    await requestLink(browser, rp, BOB.email);
    const landed = await browser.get(linkOf((await lastMailTo(server, BOB.email))!));
    const spaTokens = await exchange(rp, landed.url);
    expect(spaTokens.claims()!.email).to.equal(BOB.email);
  });

  it('asks for consent on a third-party client, and only lets registered users in when it requires registration', async () => {
    const partner = await discover(server, THIRD_PARTY_CLIENT.client_id, THIRD_PARTY_CLIENT.client_secret);
    const before = (await server.mails()).length;
    const bobBrowser = new Browser(server.issuer);
    const bobRp = await authorizationRequest(partner, {}, THIRD_PARTY_CLIENT.redirect_uris[0]);
    await requestLink(bobBrowser, bobRp, BOB.email);
    expect((await server.mails()).length, 'Bob is not registered to partner: no email').to.equal(before);

    const browser = new Browser(server.issuer);
    const rp = await authorizationRequest(partner, {}, THIRD_PARTY_CLIENT.redirect_uris[0]);
    await requestLink(browser, rp, ALICE.email);
    const consent = await browser.get(linkOf((await lastMailTo(server, ALICE.email))!));
    expect(consent.status).to.equal(200);
    expect(consent.body).to.include('Partner App would like to');
    const landed = await browser.submit(consent, '/consent');
    const tokens = await exchange(rp, landed.url);
    expect(tokens.claims()!.email).to.equal(ALICE.email);
    expect(tokens.refresh_token, 'no refresh token without the refresh_token grant').to.equal(undefined);
  });

  it('refuses a consent or cancel with a wrong or missing token with a 403 "form expired" consent page in the sign-in’s language, and changes nothing', async () => {
    const partner = await discover(server, THIRD_PARTY_CLIENT.client_id, THIRD_PARTY_CLIENT.client_secret);
    const browser = new Browser(server.issuer, undefined, { 'accept-language': 'en' });
    const rp = await authorizationRequest(partner, { ui_locales: 'de' }, THIRD_PARTY_CLIENT.redirect_uris[0]);
    await requestLink(browser, rp, ALICE.email);
    const consent = await browser.get(linkOf((await lastMailTo(server, ALICE.email))!));
    const uid = new URL(consent.url).pathname.split('/')[2]!;
    expect(consent.body).to.include('Partner App möchte');
    for (const path of ['consent', 'abort']) {
      for (const form of [{ csrf: 'wrong' }, {}] as Record<string, string>[]) {
        const refused = await browser.post(`${server.issuer}/interaction/${uid}/${path}`, form);
        const what = `${path} ${JSON.stringify(form)}`;
        expect(refused.status, what).to.equal(403);
        expect(refused.url, what).to.equal(`${server.issuer}/interaction/${uid}/${path}`);
        expect(refused.body, what).to.include('<html lang="de">');
        expect(refused.body, what).to.include('Dieses Formular ist abgelaufen. Bitte versuchen Sie es noch einmal.');
        expect(refused.body, `${what}: the consent page again, to try again`).to.include('Partner App möchte');
      }
    }
    // Nothing was granted or cancelled: the sign-in is still at its consent, whose fresh form works.
    const again = await browser.get(`/interaction/${uid}`);
    expect(again.status).to.equal(200);
    const landed = await browser.submit(again, '/consent');
    const tokens = await exchange(rp, landed.url);
    expect(tokens.claims()!.email).to.equal(ALICE.email);
  });

  it('shows a readable page for an unknown sign-in request or a malformed link', async () => {
    const browser = new Browser(server.issuer);
    const gone = await browser.get('/interaction/does-not-exist');
    expect(gone.status).to.equal(400);
    expect(gone.body).to.include('This sign-in request is over');
    const bad = await browser.get('/interaction/abc/magic/not%20a%20code');
    expect(bad.status).to.equal(410);
    expect(bad.body).to.include('This link is not valid');
  });

  it('answers a reopened form address or a cut-off link with a page in the sign-in’s language, not a bare 404', async () => {
    const browser = new Browser(server.issuer, undefined, { 'accept-language': 'en' });
    const rp = await authorizationRequest(config, { ui_locales: 'de' });
    const form = await browser.get(rp.url.href);
    const uid = new URL(form.url).pathname.split('/')[2]!;
    const inbox = await browser.submit(form, '/email', { email: BOB.email });
    expect(inbox.url, 'the address bar now shows the form\'s address').to.equal(`${server.issuer}/interaction/${uid}/email`);
    for (const step of ['email', 'code', 'continue', 'resend', 'api-link', 'consent', 'two-factor']) {
      // A reload or a restored tab: a GET of the address the form was posted to.
      const reopened = await browser.get(`/interaction/${uid}/${step}`);
      expect(reopened.status, step).to.equal(405);
      expect(reopened.headers.get('allow'), step).to.equal('POST');
      expect(reopened.headers.get('content-type'), step).to.match(/^text\/html/);
      expect(reopened.body, step).to.include('<html lang="de">');
      expect(reopened.body, step).to.include('Sie haben die Anmeldeseite verlassen');
      expect(reopened.body, step).to.include(`href="/interaction/${uid}"`);
    }
    const back = await browser.get(`/interaction/${uid}`);
    expect(back.status).to.equal(200);
    expect(back.body).to.include('name="email"');

    // Another browser has no sign-in to go back to (the page still speaks the sign-in's language).
    const stranger = await new Browser(server.issuer, undefined, { 'accept-language': 'en' }).get(`/interaction/${uid}/email`);
    expect(stranger.status).to.equal(405);
    expect(stranger.body).to.include('Sie haben die Anmeldeseite verlassen');
    expect(stranger.body).to.include('Gehen Sie zurück zur App und melden Sie sich erneut an.');
    const finished = await new Browser(server.issuer, undefined, { 'accept-language': 'en' }).get('/interaction/no-such-sign-in/code');
    expect(finished.status).to.equal(405);
    expect(finished.body).to.include('You left the sign-in page');
    expect(finished.body).to.include('Go back to the app and start signing in again.');
    expect(stranger.body).not.to.include(`href="/interaction/${uid}"`);

    for (const cut of [`/interaction/${uid}/magic`, `/interaction/${uid}/magic/`]) {
      const page = await browser.get(cut);
      expect(page.status, cut).to.equal(404);
      expect(page.headers.get('content-type'), cut).to.match(/^text\/html/);
      expect(page.body, cut).to.include('Dieser Link ist ungültig');
    }
    for (const unknown of [`/interaction/${uid}/nothing-here`, '/interaction/', '/interaction']) {
      const page = await new Browser(server.issuer, undefined, { 'accept-language': 'de' }).get(unknown);
      expect(page.status, unknown).to.equal(404);
      expect(page.headers.get('content-type'), unknown).to.match(/^text\/html/);
      expect(page.body, unknown).to.include('Seite nicht gefunden');
    }
  });

  it('reads the sign-in of a reopened form address once, not once by id and again for the browser', async () => {
    // Counts node-oidc-provider's reads of interactions in a real memory store.
    const reads: string[] = [];
    const inner = new MemoryStore();
    const store = new Proxy(inner, {
      get(object, property) {
        if (property !== 'oidcAdapter') return Reflect.get(object, property, object) as unknown;
        return (model: string) => {
          const adapter = object.oidcAdapter(model);
          if (model !== 'Interaction') return adapter;
          return new Proxy(adapter, {
            get(target, name) {
              const value = Reflect.get(target, name, target) as unknown;
              if (name !== 'find' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
              return (id: string) => {
                reads.push(id);
                return (value as (id: string) => unknown).call(target, id);
              };
            },
          });
        };
      },
    });
    const counted = await startTestServer({ store });
    try {
      const browser = new Browser(counted.issuer, undefined, { 'accept-language': 'en' });
      const rp = await authorizationRequest(await discover(counted), { ui_locales: 'de' });
      const form = await browser.get(rp.url.href);
      const uid = new URL(form.url).pathname.split('/')[2]!;
      reads.length = 0;
      const reopened = await browser.get(`/interaction/${uid}/email`);
      expect(reopened.status).to.equal(405);
      expect(reopened.body).to.include('Sie haben die Anmeldeseite verlassen');
      expect(reopened.body).to.include(`href="/interaction/${uid}"`);
      expect(reads).to.deep.equal([uid]);
    } finally {
      await counted.stop();
    }
  });
});

/** The code box of a "check your inbox" page. */
/** Asks for a link for `email` and types the emailed short code: the sign-in lands in the app with a code. */
async function signInWithTypedCode(server: TestServer, config: client.Configuration, browser: Browser, email: string) {
  const rp = await authorizationRequest(config);
  const inbox = await requestLink(browser, rp, email);
  const mail = (await lastMailTo(server, email))!;
  const landed = await browser.submit(inbox, '/code', { code: shortCodeOf(mail) });
  expect(new URL(landed.url).searchParams.get('code'), 'the typed code signed in').to.be.a('string');
  return { rp, mail, landed };
}

function codeBoxOf(page: { body: string }): string {
  return /<input id="code"[^>]*>/.exec(page.body)?.[0] ?? '';
}

describe('hosted sign-in: a letters-only short code', () => {
  let server: TestServer;
  let config: client.Configuration;
  before(async () => {
    server = await startTestServer({ config: { passwordless: { shortCode: { generator: 'randomAlpha', length: 8 } } } });
    config = await discover(server);
  });
  after(() => server.stop());

  it('offers a text keyboard, and ignores spaces and hyphens inside the typed code', async () => {
    const browser = new Browser(server.issuer);
    const rp = await authorizationRequest(config);
    const inbox = await requestLink(browser, rp, ALICE.email);
    expect(codeBoxOf(inbox)).to.include('inputmode="text"').and.include('autofocus');
    const code = shortCodeOf((await lastMailTo(server, ALICE.email))!);
    expect(code).to.match(/^[A-Za-z]{8}$/);
    const landed = await browser.submit(inbox, '/code', { code: `${code.slice(0, 4)}-${code.slice(4)}` });
    expect(new URL(landed.url).searchParams.get('code')).to.be.a('string');
  });
});

describe('hosted sign-in: expired links', () => {
  let server: TestServer;
  let config: client.Configuration;
  before(async () => {
    server = await startTestServer({ config: { passwordless: { timeToLiveInSeconds: 1 } } });
    config = await discover(server);
  });
  after(() => server.stop());

  it('says the link expired and sends a fresh one for the same sign-in, which then works', async () => {
    const browser = new Browser(server.issuer);
    const rp = await authorizationRequest(config);
    await requestLink(browser, rp, ALICE.email);
    const first = (await lastMailTo(server, ALICE.email))!;
    await new Promise((resolve) => setTimeout(resolve, 1100));

    const expired = await browser.get(linkOf(first));
    expect(expired.status).to.equal(410);
    expect(expired.body).to.include('This link has expired');
    const resent = await browser.submit(expired, '/resend');
    expect(resent.body).to.include('A new link is on its way');
    const second = (await lastMailTo(server, ALICE.email))!;
    expect(second.id).to.not.equal(first.id);

    const landed = await browser.get(linkOf(second));
    expect(new URL(landed.url).searchParams.get('code'), 'fresh link completes the original request').to.be.a('string');
    expect((await exchange(rp, landed.url)).claims()!.email).to.equal(ALICE.email);
  });

  it('offers no fresh link once the sign-in is over, on the device that used it or any other', async () => {
    const browser = new Browser(server.issuer);
    const { mail } = await signInWithTypedCode(server, config, browser, ALICE.email);

    for (const device of [browser, new Browser(server.issuer)]) {
      const used = await device.get(linkOf(mail));
      expect(used.status).to.equal(410);
      expect(used.body).to.include('already been used');
      expect(used.body, 'no "send a new link" for a sign-in that is over').to.not.include('/resend');
    }
  });
});
