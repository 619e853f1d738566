import { expect } from 'chai';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { Browser } from '../helpers/browser.js';
import { startTestServer, ALICE, BOB, WEB_CLIENT, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, exchange, lastMailTo, linkOf, requestLink } from '../helpers/oidc.js';

/** A first-party client only registered users may sign in to. */
const ADMIN_CLIENT = {
  client_id: 'admin-app',
  client_secret: 'admin-secret-that-is-long-enough',
  client_name: 'Admin',
  redirect_uris: ['http://127.0.0.1:9999/admin-cb'],
  grant_types: ['authorization_code', 'refresh_token'],
  first_party: true,
  require_registration: true,
};
const ADMIN_USER = { email: 'dora@example.com', firstName: 'Dora', registrations: [{ applicationId: ADMIN_CLIENT.client_id }] };
/** A client that does not let its users sign in with a magic link. */
const CLOSED_CLIENT = { ...ADMIN_CLIENT, client_id: 'closed-app', client_secret: 'closed-secret-that-is-long-enough', redirect_uris: ['http://127.0.0.1:9999/closed-cb'], require_registration: false, passwordless_enabled: false };
const USER_KEY = 'u'.repeat(40);

/** Waits into the next whole second: sessions and tokens carry their instants in whole seconds. */
const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));

/** Signs `email` in to the web client in `browser`; the tokens the client gets. */
async function signInToWeb(server: TestServer, browser: Browser, email: string) {
  const rp = await authorizationRequest(await discover(server));
  await requestLink(browser, rp, email);
  const landed = await browser.get(linkOf((await lastMailTo(server, email))!));
  return { config: rp.config, tokens: await exchange(rp, landed.url) };
}

/** Where a prompt=none request for `config`'s client lands in `browser`: the callback URL. */
async function silentSignIn(browser: Browser, config: client.Configuration, redirectUri?: string): Promise<URL> {
  const rp = await authorizationRequest(config, { prompt: 'none' }, redirectUri);
  return new URL((await browser.get(rp.url.href)).url);
}

describe('sessions and tokens: who they still belong to', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({
      config: {
        clients: [WEB_CLIENT, ADMIN_CLIENT, CLOSED_CLIENT],
        users: [ALICE, BOB, ADMIN_USER],
        apiKeys: [{ key: USER_KEY, description: 'user admin', permissions: { '/api/user': ['GET', 'POST', 'PATCH', 'DELETE'] } }],
      },
    });
  });
  after(() => server.stop());

  /** Bob signs in to the web client; a prompt=none request to `restricted` must then not sign him in. */
  async function expectNoCarryOver(restricted: typeof ADMIN_CLIENT) {
    const admin = await discover(server, restricted.client_id, restricted.client_secret);
    const bob = new Browser(server.issuer);
    await signInToWeb(server, bob, BOB.email);
    const silent = await silentSignIn(bob, admin, restricted.redirect_uris[0]);
    expect(silent.searchParams.get('error')).to.equal('login_required');
    expect(silent.searchParams.get('code')).to.equal(null);
    return { admin, bob };
  }

  it('does not let a session from another client into a client that requires a registration the user lacks', async () => {
    const { admin, bob } = await expectNoCarryOver(ADMIN_CLIENT);
    const page = await bob.get((await authorizationRequest(admin, {}, ADMIN_CLIENT.redirect_uris[0])).url.href);
    expect(page.status).to.equal(200);
    expect(page.body, 'asked to sign in, not signed in').to.include('name="email"');

    // A registered user's session does carry over.
    const dora = new Browser(server.issuer);
    await signInToWeb(server, dora, ADMIN_USER.email);
    const carried = await silentSignIn(dora, admin, ADMIN_CLIENT.redirect_uris[0]);
    expect(carried.searchParams.get('code')).to.be.a('string');
  });

  it('ends every session and token issued before a lock, also after the unlock', async () => {
    const browser = new Browser(server.issuer);
    const { config, tokens } = await signInToWeb(server, browser, ALICE.email);
    const sub = decodeJwt(tokens.id_token!).sub!;
    const patch = (active: boolean) =>
      fetch(`${server.issuer}/api/user/${sub}`, { method: 'PATCH', headers: { authorization: USER_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ user: { active } }) });

    expect((await patch(false)).status).to.equal(200);
    expect((await patch(true)).status).to.equal(200);

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!).then(
      () => 'accepted',
      (err: { error?: string }) => err.error,
    );
    expect(refreshed, 'refresh token from before the lock').to.equal('invalid_grant');
    const userinfo = await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status, 'access token from before the lock').to.equal(401);
    expect((await silentSignIn(browser, config)).searchParams.get('error'), 'session from before the lock').to.equal('login_required');

    // Signing in again works (in a later second than the lock).
    await nextSecond();
    const again = await signInToWeb(server, new Browser(server.issuer), ALICE.email);
    expect(decodeJwt(again.tokens.id_token!).sub).to.equal(sub);
    expect((await client.refreshTokenGrant(config, again.tokens.refresh_token!)).access_token).to.be.a('string');
  });

  it('does not let a session from another client into a client with passwordless_enabled: false', async () => {
    await expectNoCarryOver(CLOSED_CLIENT);
  });

  it('does not pass a deleted user’s session or tokens to a later user given the same id', async () => {
    const email = `gone-${Date.now()}@example.com`;
    const created = await fetch(`${server.issuer}/api/user`, { method: 'POST', headers: { authorization: USER_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ user: { email } }) });
    const id = ((await created.json()) as { user: { id: string } }).user.id;
    const browser = new Browser(server.issuer);
    const { config, tokens } = await signInToWeb(server, browser, email);

    expect((await fetch(`${server.issuer}/api/user/${id}?hardDelete=true`, { method: 'DELETE', headers: { authorization: USER_KEY } })).status).to.equal(200);
    await nextSecond();
    const again = await fetch(`${server.issuer}/api/user/${id}`, { method: 'POST', headers: { authorization: USER_KEY, 'content-type': 'application/json' }, body: JSON.stringify({ user: { email: `newcomer-${email}` } }) });
    expect(again.status).to.equal(200);

    expect((await silentSignIn(browser, config)).searchParams.get('error'), 'the earlier user’s session').to.equal('login_required');
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!).then(
      () => 'accepted',
      (err: { error?: string }) => err.error,
    );
    expect(refreshed, 'the earlier user’s refresh token').to.equal('invalid_grant');
  });
});
