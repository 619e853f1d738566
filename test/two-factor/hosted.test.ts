import { expect } from 'chai';
import * as client from 'openid-client';
import { Browser } from '../helpers/browser.js';
import { type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, exchange } from '../helpers/oidc.js';
import { ADMIN_KEY, call, startApiServer } from '../api/helpers.js';
import { ACR_MULTI_FACTOR } from '../../src/provider/two-factor-prompt.js';
import { enrolledUser, exhaustStepTries, isStep, landedWithCode, plainUser, previousStepCode, throughLink, totpCode, wrongTotpCodes } from './helpers.js';

describe('hosted sign-in with a second factor', () => {
  let server: TestServer;
  let config: client.Configuration;

  before(async () => {
    server = await startApiServer({ config: { twoFactor: { trustTimeToLiveInSeconds: 2 } } });
    config = await discover(server);
  });
  after(() => server.stop());

  it('asks for the code after the link; a wrong one is refused, the right one signs in with amr email+otp and a multi-factor acr', async () => {
    const user = await enrolledUser(server);
    const browser = new Browser(server.issuer);
    const { rp, page } = await throughLink(server, config, browser, user.email);
    expect(isStep(page), page.body).to.equal(true);

    const wrong = await browser.submit(page, '/two-factor', { code: wrongTotpCodes(user.secret)[0]! });
    expect(wrong.status).to.equal(400);
    expect(wrong.body).to.include('4 tries left');

    const done = await browser.submit(wrong, '/two-factor', { code: totpCode(user.secret) });
    expect(landedWithCode(done), done.body).to.equal(true);
    const claims = (await exchange(rp, done.url)).claims()!;
    expect(claims.sub).to.equal(user.id);
    expect(claims.amr).to.deep.equal(['email', 'otp']);
    expect(claims.acr).to.equal(ACR_MULTI_FACTOR);

    const sso = await browser.get((await authorizationRequest(config)).url.href);
    expect(landedWithCode(sso), 'the session now carries both factors').to.equal(true);
  });

  it('refuses a code replayed in its window, and a browser that stopped after the link has no session', async () => {
    const user = await enrolledUser(server);
    const code = totpCode(user.secret);
    const first = new Browser(server.issuer);
    const one = await throughLink(server, config, first, user.email);
    expect(landedWithCode(await first.submit(one.page, '/two-factor', { code }))).to.equal(true);

    const second = new Browser(server.issuer);
    const two = await throughLink(server, config, second, user.email);
    const replay = await second.submit(two.page, '/two-factor', { code });
    expect(replay.status).to.equal(400);
    expect(isStep(replay)).to.equal(true);
    const again = await second.get((await authorizationRequest(config)).url.href);
    expect(isStep(again), 'SSO without the second factor is not possible').to.equal(true);
  });

  it('voids the step after 5 wrong codes: even the right code is refused then', async () => {
    const user = await enrolledUser(server);
    const browser = new Browser(server.issuer);
    const page = await exhaustStepTries(browser, (await throughLink(server, config, browser, user.email)).page, user.secret);
    const stepUrl = page.url;
    const refused = await browser.post(new URL(`${new URL(stepUrl).pathname}/two-factor`, server.issuer).href, { code: totpCode(user.secret), csrf: 'x' });
    expect(landedWithCode(refused)).to.equal(false);
    const back = await browser.submit(page, '/two-factor/decline');
    expect(new URL(back.url).searchParams.get('error')).to.equal('access_denied');
  });

  it('takes a recovery code once', async () => {
    const user = await enrolledUser(server);
    const recovery = user.recoveryCodes[0]!;
    const a = new Browser(server.issuer);
    const one = await throughLink(server, config, a, user.email);
    expect(landedWithCode(await a.submit(one.page, '/two-factor', { code: recovery }))).to.equal(true);
    const b = new Browser(server.issuer);
    const two = await throughLink(server, config, b, user.email);
    expect((await b.submit(two.page, '/two-factor', { code: recovery })).status).to.equal(400);
  });

  it('skips the step on a trusted device until the trust expires, and removing the authenticator revokes it', async () => {
    const user = await enrolledUser(server);
    const browser = new Browser(server.issuer);
    const one = await throughLink(server, config, browser, user.email);
    expect(one.page.body, 'the trust box states the configured 2 s, not a day').to.include('Trust this device for 2 seconds');
    expect(landedWithCode(await browser.submit(one.page, '/two-factor', { code: totpCode(user.secret), trust: 'yes' }))).to.equal(true);

    const trusted = await throughLink(server, config, browser, user.email, { prompt: 'login' });
    expect(landedWithCode(trusted.page), 'trusted device: no second step').to.equal(true);
    expect((await exchange(trusted.rp, trusted.page.url)).claims()!.amr).to.deep.equal(['email']);

    // Another user in a browser that carries this trust cookie still gives the second factor.
    const other = await enrolledUser(server);
    const otherBrowser = new Browser(server.issuer);
    for (const cookie of await browser.jar.getCookies(server.issuer)) if (cookie.key.startsWith('oml.2fa-trust')) await otherBrowser.jar.setCookie(cookie, server.issuer);
    expect((await otherBrowser.jar.getCookies(server.issuer)).length).to.equal(2);
    const notMine = await throughLink(server, config, otherBrowser, other.email);
    expect(isStep(notMine.page), "another user's trust does not count").to.equal(true);

    const stepUp = await throughLink(server, config, browser, user.email, { prompt: 'login', acr_values: ACR_MULTI_FACTOR });
    expect(isStep(stepUp.page), 'acr_values demands the step even on a trusted device').to.equal(true);

    await new Promise((resolve) => setTimeout(resolve, 2100));
    const expired = await throughLink(server, config, browser, user.email, { prompt: 'login' });
    expect(isStep(expired.page), 'the trust expired').to.equal(true);
  });

  it('forgets trusted devices when the authenticator is removed', async () => {
    const user = await enrolledUser(server);
    const browser = new Browser(server.issuer);
    const one = await throughLink(server, config, browser, user.email);
    expect(one.page.body, 'the trust box states the configured 2 s, not a day').to.include('Trust this device for 2 seconds');
    expect(landedWithCode(await browser.submit(one.page, '/two-factor', { code: totpCode(user.secret), trust: 'yes' }))).to.equal(true);
    const methodId = (await server.app.store.twoFactor.findByUser(user.id))!.methodId;
    expect((await call(server, 'DELETE', `/api/user/two-factor/${user.id}?methodId=${methodId}`, { key: ADMIN_KEY })).status).to.equal(200);
    const secret = (await call(server, 'GET', '/api/two-factor/secret', { key: ADMIN_KEY })).json!.secretBase32Encoded as string;
    expect((await call(server, 'POST', `/api/user/two-factor/${user.id}`, { key: ADMIN_KEY, body: { method: 'authenticator', code: await previousStepCode(secret), secretBase32Encoded: secret } })).status).to.equal(200);
    const after = await throughLink(server, config, browser, user.email, { prompt: 'login' });
    expect(isStep(after.page), 'trust revoked').to.equal(true);
  });

  it('with acr_values, a user without an authenticator gets a clear page and the client unmet_authentication_requirements', async () => {
    const user = await plainUser(server);
    const browser = new Browser(server.issuer);
    const plain = await throughLink(server, config, browser, user.email);
    expect(landedWithCode(plain.page), 'no authenticator, no demand: no step').to.equal(true);

    const { page } = await throughLink(server, config, browser, user.email, { prompt: 'login', acr_values: ACR_MULTI_FACTOR });
    expect(page.status).to.equal(403);
    expect(page.body).to.include('requires two-step verification');
    const back = await browser.submit(page, '/two-factor/decline');
    expect(new URL(back.url).searchParams.get('error')).to.equal('unmet_authentication_requirements');
    // Without a second factor the login was complete: it stays for clients that do not demand one.
    expect(landedWithCode(await browser.get((await authorizationRequest(config)).url.href))).to.equal(true);
  });
});
