import { expect } from 'chai';
import { Browser } from '../helpers/browser.js';
import { authorizationRequest, discover, exchange, lastMailTo, linkOf, requestLink, shortCodeOf } from '../helpers/oidc.js';
import { startSignIn } from '../helpers/cross-device.js';
import { ALICE, BOB, SPA_CLIENT, THIRD_PARTY_CLIENT, WEB_CLIENT, type TestServer } from '../helpers/server.js';
import { ADMIN_KEY, START_KEY, call, startApiServer } from '../api/helpers.js';
import { awayFromWindowEnd } from '../helpers/rate-window.js';
import { captureLogEvents, captureLogs, logEvents } from '../helpers/logs.js';

/** A user registered for the web client, so the API hands out refresh tokens too. */
const CAROL = { email: 'carol@example.com', firstName: 'Carol', registrations: [{ applicationId: 'web', roles: ['admin'] }] };

describe('structured logs (rule 10)', () => {
  let server: TestServer;
  before(async () => {
    server = await startApiServer({ config: { users: [ALICE, BOB, CAROL], clients: [WEB_CLIENT, SPA_CLIENT, THIRD_PARTY_CLIENT], rateLimits: { sendPerAddress: { limit: 3, windowSeconds: 900 } } } });
  });
  after(() => server.stop());

  it('write audit events for a whole sign-in and API calls, and never a code, key, token or cookie', async () => {
    const secrets: string[] = [ADMIN_KEY, START_KEY, ...server.app.keys.cookieKeys];
    const shortCodes: string[] = [];
    const lines = await captureLogs('info', async () => {
      // Hosted: a wrong typed code, then the link.
      const config = await discover(server);
      const browser = new Browser(server.issuer);
      const rp = await authorizationRequest(config);
      const inbox = await requestLink(browser, rp, ALICE.email);
      await browser.submit(inbox, '/code', { code: 'WRONG1' });
      const mail = (await lastMailTo(server, ALICE.email))!;
      const link = linkOf(mail);
      secrets.push(link.split('/magic/')[1]!);
      shortCodes.push(shortCodeOf(mail));
      const landed = await browser.get(link);
      const tokens = await exchange(rp, landed.url);
      secrets.push(tokens.access_token, tokens.id_token!, tokens.refresh_token!);
      for (const cookie of await browser.jar.getCookies(server.issuer)) if (cookie.value.length >= 8) secrets.push(cookie.value);

      // API: start, send, log in with the one-time code, refresh; a refused key; a prevented login.
      const started = (await call(server, 'POST', '/api/passwordless/start', { key: START_KEY, body: { applicationId: 'web', loginId: CAROL.email, loginStrategy: 'FormField' } })).json!;
      secrets.push(started.code);
      shortCodes.push(started.oneTimeCode);
      expect((await call(server, 'POST', '/api/passwordless/send', { body: { code: started.code } })).status).to.equal(200);
      const apiLogin = (await call(server, 'POST', '/api/passwordless/login', { body: { code: started.code, oneTimeCode: started.oneTimeCode, applicationId: 'web' } })).json!;
      secrets.push(apiLogin.token, apiLogin.refreshToken);
      const refreshed = (await call(server, 'POST', '/api/jwt/refresh', { body: { refreshToken: apiLogin.refreshToken } })).json!;
      secrets.push(refreshed.token, refreshed.refreshToken);
      expect((await call(server, 'GET', '/api/user', { key: START_KEY })).status).to.equal(401);
      expect((await call(server, 'GET', '/api/user', { key: 'not-a-key-at-all-0000000000' })).status).to.equal(401);
      const bob = (await call(server, 'POST', '/api/passwordless/start', { key: START_KEY, body: { applicationId: 'partner', loginId: BOB.email } })).json!;
      secrets.push(bob.code);
      expect((await call(server, 'POST', '/api/passwordless/login', { body: { code: bob.code, applicationId: 'partner' } })).status).to.equal(409);

      // Cross-device: approved on a second device, finished in the first.
      const deviceA = new Browser(server.issuer);
      const crossDevice = await startSignIn(server, config, deviceA, CAROL.email);
      secrets.push(crossDevice.link.split('/magic/')[1]!);
      shortCodes.push(crossDevice.shortCode);
      const deviceB = new Browser(server.issuer);
      const elsewhere = await deviceB.get(crossDevice.link);
      expect((await deviceB.submit(elsewhere, '/approve', { number: crossDevice.number })).status).to.equal(200);
      const finished = await deviceA.submit(crossDevice.inbox, '/continue');
      expect(new URL(finished.url).searchParams.get('code'), 'the first device finished').to.be.a('string');

      // A rate limit that bites: four requests in one 15-minute window of sendPerAddress.
      await awayFromWindowEnd([900]);
      for (let i = 0; i < 4; i += 1) await requestLink(new Browser(server.issuer), await authorizationRequest(config), BOB.email);
      await server.mails();
    });

    const named = (event: string) => logEvents(lines, event);
    for (const event of ['code.requested', 'code.sent', 'code.redeemed', 'login.success', 'login.failure', 'apikey.denied', 'ratelimit.hit']) {
      expect(named(event), event).not.to.be.empty;
    }
    expect(named('code.rejected').map((e) => e.reason)).to.include('wrong');
    expect(named('code.redeemed').map((e) => e.method)).to.include.members(['link', 'cross_device']);
    expect(named('ratelimit.hit')[0]).to.include({ rule: 'sendPerAddress' });
    expect(named('apikey.denied').map((e) => e.reason)).to.include.members(['insufficient', 'unknown_key']);
    const requests = named('request');
    expect(requests.length).to.be.greaterThan(10);
    for (const request of requests) expect(request.requestId).to.match(/^[0-9a-f-]{36}$/);
    // node-oidc-provider's endpoints (served without our Koa stack) are logged like ours.
    expect(requests.map((r) => r.path)).to.include.members(['/.well-known/openid-configuration', '/auth', '/token', '/api/jwt/refresh']);

    const text = lines.join('\n');
    for (const secret of secrets) {
      expect(secret, 'a collected secret').to.be.a('string').with.length.greaterThan(5);
      expect(text.includes(secret), `a secret in the logs: ${secret.slice(0, 6)}…`).to.equal(false);
    }
    for (const code of shortCodes) expect(text).not.to.match(new RegExp(`(?<![0-9A-Za-z])${code}(?![0-9A-Za-z])`));
    expect(text).not.to.include(ALICE.email);
  });

  it('names the REST API endpoint of each request: its paths carry no code', async () => {
    const requests = await captureLogEvents(
      'info',
      async () => {
        const started = (await call(server, 'POST', '/api/passwordless/start', { key: START_KEY, body: { applicationId: 'web', loginId: CAROL.email } })).json!;
        const login = await call(server, 'POST', '/api/passwordless/login', { body: { code: started.code, applicationId: 'web' } });
        expect(login.status).to.equal(200);
      },
      'request',
    );
    const paths = requests.map((e) => e.path);
    expect(paths).to.include.members(['/api/passwordless/start', '/api/passwordless/login']);
  });

  it('redacts a link code in the path whatever the letter case the router accepted it in', async () => {
    const codes: string[] = [];
    const lines = await captureLogs('info', async () => {
      // The API's emailed link, as /Passwordless/<code>: the router takes it and starts the sign-in.
      const state = { client_id: WEB_CLIENT.client_id, redirect_uri: WEB_CLIENT.redirect_uris[0] };
      const started = (await call(server, 'POST', '/api/passwordless/start', { key: START_KEY, body: { applicationId: 'web', loginId: CAROL.email, state } })).json!;
      codes.push(started.code);
      const opened = await fetch(`${server.issuer}/Passwordless/${started.code}`, { redirect: 'manual' });
      expect(opened.status, 'the mixed-case link is served').to.equal(303);

      // The hosted link, as /interaction/<uid>/Magic/<code>: it signs in.
      const config = await discover(server);
      const browser = new Browser(server.issuer);
      const rp = await authorizationRequest(config);
      await requestLink(browser, rp, ALICE.email);
      const link = linkOf((await lastMailTo(server, ALICE.email))!);
      codes.push(link.split('/magic/')[1]!);
      const landed = await browser.get(link.replace('/magic/', '/Magic/'));
      expect((await exchange(rp, landed.url)).claims()!.email, 'the mixed-case link signed in').to.equal(ALICE.email);
    });
    const paths = logEvents(lines, 'request').map((e) => e.path);
    expect(paths).to.include('/Passwordless/[redacted]');
    expect(paths.some((p) => typeof p === 'string' && /^\/interaction\/[\w-]+\/Magic\/\[redacted\]$/.test(p))).to.equal(true);
    const text = lines.join('\n');
    for (const code of codes) expect(text.includes(code), `a link code in the logs: ${code.slice(0, 6)}…`).to.equal(false);
  });
});
