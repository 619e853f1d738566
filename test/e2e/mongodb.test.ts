import { expect } from 'chai';
import * as client from 'openid-client';
import { Browser } from '../helpers/browser.js';
import { startTestServer, ALICE, WEB_CLIENT, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, exchange, lastMailTo, linkOf, requestLink, shortCodeOf } from '../helpers/oidc.js';
import { freshDatabaseName, spawnEngine, startMongoTarget, withDatabase, type EngineProcess, type MongoTarget } from '../helpers/mongo-engine.js';
import { START_KEY, call, startApiServer } from '../api/helpers.js';
import { captureLogs, logEvents } from '../helpers/logs.js';
import { createUser } from '../../src/accounts/admin.js';

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

describe('a MongoDB outage while serving', function () {
  // Each request during the outage waits for server selection (5 s) before it gives up.
  this.timeout(120_000);
  let engine: EngineProcess | null = null;
  let server: TestServer | null = null;
  let uri = '';

  before(async function () {
    // Only an engine this test owns can be taken away; a shared MONGODB_URI server is never stopped.
    engine = await spawnEngine();
    if (!engine) {
      console.log('      [storage] no jongodb engine to stop: outage cases skipped');
      return this.skip();
    }
    console.log(`      [storage] outage engine: jongodb at 127.0.0.1:${engine.port}`);
    uri = withDatabase(engine.serverUri, freshDatabaseName());
    // With API keys: the emailed API link is one of the code-bearing paths an outage must not log.
    server = await startApiServer({ config: { storage: { mongodbUri: uri } } });
  });
  after(async () => {
    await server?.stop();
    await engine?.stop();
  });

  /** Fails if a body shows anything of a stack trace or the driver's own words. */
  function expectNoInternals(body: string): void {
    expect(body).to.not.match(/\bat .+\(.+:\d+:\d+\)|node_modules|Mongo\w*Error|ECONNREFUSED/);
  }

  it('answers 503 with a clear message while the database is down, and serves again once it is back', async () => {
    const browser = new Browser(server!.issuer);
    const config = await discover(server!);
    const rp = await authorizationRequest(config);
    const form = await browser.get(rp.url.href);
    expect(form.status, 'works before the outage').to.equal(200);
    const interactionPath = new URL(form.url).pathname;

    await engine!.stop();

    const ready = await fetch(`${server!.issuer}/ready`);
    expect(ready.status).to.equal(503);
    expect(ready.headers.get('retry-after')).to.equal('5');
    expect(await ready.json()).to.deep.equal({ status: 'unavailable', store: 'mongodb' });

    // Our own page (the interaction), and node-oidc-provider's routes: HTML and JSON.
    const page = await browser.get(interactionPath);
    expect(page.status).to.equal(503);
    expect(page.body).to.include('Temporarily unavailable').and.include('Please try again shortly');
    expectNoInternals(page.body);

    const authorize = await new Browser(server!.issuer).get((await authorizationRequest(config)).url.href);
    expect(authorize.status, 'the authorization endpoint').to.equal(503);
    expect(authorize.headers.get('content-type')).to.include('text/html');
    expect(authorize.body).to.include('Temporarily unavailable');
    expectNoInternals(authorize.body);

    // node-oidc-provider saves the session after its route has answered, outside its own error handling.
    const logout = await new Browser(server!.issuer).get('/session/end');
    expect(logout.status, 'RP-initiated logout without a session cookie').to.equal(503);
    expect(logout.headers.get('retry-after')).to.equal('5');
    expect(logout.headers.get('content-type')).to.include('text/html');
    expect(logout.body).to.include('Temporarily unavailable');
    expectNoInternals(logout.body);

    const token = await fetch(`${server!.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${WEB_CLIENT.client_id}:${WEB_CLIENT.client_secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(43) }).toString(),
    });
    expect(token.status, 'the token endpoint').to.equal(503);
    const tokenError = (await token.json()) as Record<string, string>;
    expect(tokenError.error).to.equal('server_error');
    expect(tokenError.error_description).to.match(/temporarily unavailable/);

    const userinfo = await fetch(`${server!.issuer}/me`, { headers: { authorization: `Bearer ${'z'.repeat(43)}` } });
    expect(userinfo.status, 'the userinfo endpoint').to.equal(503);
    expect(((await userinfo.json()) as Record<string, string>).error_description).to.match(/temporarily unavailable/);

    // The REST API, as its OpenAPI document promises for every call: 503, Retry-After, FusionAuth's error JSON.
    const api = await call(server!, 'POST', '/api/passwordless/start', { key: START_KEY, body: { applicationId: WEB_CLIENT.client_id, loginId: ALICE.email } });
    expect(api.status, 'a keyed /api call').to.equal(503);
    expect(api.headers.get('retry-after')).to.equal('5');
    expect(api.headers.get('content-type')).to.include('application/json');
    expect(api.json).to.deep.equal({ generalErrors: [{ code: '[service_unavailable]', message: 'The service is temporarily unavailable. Please try again shortly.' }] });
    expectNoInternals(api.text);

    // Back on the same port. The test engine keeps nothing on disk, so it comes back empty:
    // what resumes is service for new requests, through the driver's own reconnection.
    engine = await spawnEngine(engine!.port);
    expect(engine, 'the engine restarts').to.not.equal(null);
    await eventually(async () => (await fetch(`${server!.issuer}/ready`)).status === 200, 30_000);
    const again = await new Browser(server!.issuer).get((await authorizationRequest(config)).url.href);
    expect(again.status, 'a new sign-in starts again').to.equal(200);
    expect(again.body).to.include('name="email"');
  });

  it('never logs a link code when opening it fails for the outage (rule 10)', async () => {
    // Its own user: the engine restarted by another case comes back empty, seed users included.
    const email = `outage-${Date.now()}@example.com`;
    await createUser(server!.app.store.users, { email, registrations: [{ applicationId: WEB_CLIENT.client_id, roles: [] }] });
    const browser = new Browser(server!.issuer);
    const rp = await authorizationRequest(await discover(server!));
    await requestLink(browser, rp, email);
    const link = linkOf((await lastMailTo(server!, email))!);
    const state = { client_id: WEB_CLIENT.client_id, redirect_uri: WEB_CLIENT.redirect_uris[0] };
    const started = await call(server!, 'POST', '/api/passwordless/start', { key: START_KEY, body: { applicationId: WEB_CLIENT.client_id, loginId: email, state } });
    expect(started.status).to.equal(200);
    const codes = [link.split('/magic/')[1]!, started.json!.code as string];

    await engine!.stop();
    const lines = await captureLogs('debug', async () => {
      const hosted = await browser.get(link);
      expect(hosted.status, 'the magic link').to.equal(503);
      const emailed = await fetch(`${server!.issuer}/passwordless/${codes[1]}`, { redirect: 'manual' });
      expect(emailed.status, 'the emailed API link').to.equal(503);
    });
    engine = await spawnEngine(engine!.port);
    expect(engine, 'the engine restarts').to.not.equal(null);
    await eventually(async () => (await fetch(`${server!.issuer}/ready`)).status === 200, 30_000);

    const failed = logEvents(lines, 'request.failed');
    expect(failed.map((e) => e.path)).to.include('/passwordless/[redacted]');
    const text = lines.join('\n');
    for (const code of codes) expect(text.includes(code), `a link code in the logs: ${code.slice(0, 6)}…`).to.equal(false);
  });
});

/** Polls `condition` until it holds; fails after `timeoutMs`. */
async function eventually(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}
