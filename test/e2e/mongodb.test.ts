import { expect } from 'chai';
import * as client from 'openid-client';
import { Browser } from '../helpers/browser.js';
import { startTestServer, ALICE, WEB_CLIENT, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, exchange, lastMailTo, linkOf, requestLink, shortCodeOf } from '../helpers/oidc.js';
import { startMongoTarget, type MongoTarget } from '../helpers/mongo-engine.js';

describe('hosted magic-link sign-in on MongoDB (end to end)', function () {
  // A busy machine and a JVM-based test engine: give the engine time, never the assertions.
  this.timeout(60_000);
  let target: MongoTarget | null = null;
  let server: TestServer | null = null;
  let config: client.Configuration;

  before(async function () {
    target = await startMongoTarget();
    if (!target) return this.skip();
    server = await startTestServer({ config: { storage: { mongodbUri: target.freshUri() } } });
    config = await discover(server);
  });
  after(async () => {
    await server?.stop();
    await target?.stop();
  });

  it('keeps its state in MongoDB', async () => {
    expect(server!.app.store.kind).to.equal('mongodb');
    const ready = await fetch(`${server!.issuer}/ready`);
    expect(await ready.json()).to.deep.equal({ status: 'ready', store: 'mongodb' });
  });

  it('runs the Authorization Code flow with PKCE: email → link → code → tokens → userinfo → refresh', async () => {
    const browser = new Browser(server!.issuer);
    const rp = await authorizationRequest(config, { login_hint: ALICE.email });
    await requestLink(browser, rp, ALICE.email);
    const mail = (await lastMailTo(server!, ALICE.email))!;
    expect(mail, 'an email was sent').to.exist;

    const landed = await browser.get(linkOf(mail));
    const callback = new URL(landed.url);
    expect(callback.origin + callback.pathname).to.equal(WEB_CLIENT.redirect_uris[0]);
    expect(callback.searchParams.get('state')).to.equal(rp.state);

    const tokens = await exchange(rp, landed.url);
    const claims = tokens.claims()!;
    expect(claims.email).to.equal(ALICE.email);
    expect(claims.amr).to.deep.equal(['email']);
    const user = await server!.app.store.users.findByEmail(ALICE.email);
    expect(claims.sub).to.equal(user!.id);

    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    expect(userinfo).to.include({ sub: claims.sub, email: ALICE.email, given_name: 'Alice' });

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).to.be.a('string').and.not.equal(tokens.access_token);
    expect(refreshed.refresh_token, 'refresh tokens rotate').to.be.a('string').and.not.equal(tokens.refresh_token);
    const reuse = await client.refreshTokenGrant(config, tokens.refresh_token!).then(
      () => null,
      (err: unknown) => err,
    );
    expect((reuse as { error?: string } | null)?.error, 'a rotated refresh token is spent').to.equal('invalid_grant');

    // The link is spent in the database, not in this process.
    expect((await browser.get(linkOf(mail))).status).to.equal(410);
  });

  it('signs in with the typed short code, and the code cannot be redeemed twice', async () => {
    const browser = new Browser(server!.issuer);
    const rp = await authorizationRequest(config);
    const inbox = await requestLink(browser, rp, ALICE.email);
    const mail = (await lastMailTo(server!, ALICE.email))!;
    const landed = await browser.submit(inbox, '/code', { code: shortCodeOf(mail) });
    expect(new URL(landed.url).searchParams.get('code')).to.be.a('string');
    const tokens = await exchange(rp, landed.url);
    expect(tokens.claims()!.email).to.equal(ALICE.email);
    const again = await exchange(rp, landed.url).then(
      () => null,
      (err: unknown) => err,
    );
    expect((again as { error?: string } | null)?.error, 'an authorization code is consumed once').to.equal('invalid_grant');
  });

  it('honours the session for a second sign-in (SSO) and ends it with logout', async () => {
    const browser = new Browser(server!.issuer);
    const rp = await authorizationRequest(config);
    await requestLink(browser, rp, ALICE.email);
    const tokens = await exchange(rp, (await browser.get(linkOf((await lastMailTo(server!, ALICE.email))!))).url);

    const silent = await authorizationRequest(config, { prompt: 'none' });
    const sso = await browser.get(silent.url.href);
    expect(new URL(sso.url).searchParams.get('code'), 'SSO from the stored session').to.be.a('string');

    const endUrl = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: WEB_CLIENT.post_logout_redirect_uris[0]!,
    });
    const confirm = await browser.get(endUrl.href);
    await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' });
    const after = await browser.get((await authorizationRequest(config, { prompt: 'none' })).url.href);
    expect(new URL(after.url).searchParams.get('error')).to.equal('login_required');
  });
});
