import { expect } from 'chai';
import type * as client from 'openid-client';
import { Browser, type Page } from '../helpers/browser.js';
import { ALICE, BOB, THIRD_PARTY_CLIENT, type TestServer } from '../helpers/server.js';
import { authorizationRequest, discover, lastMailTo, requestLink } from '../helpers/oidc.js';
import { call, login, start, startApiServer } from '../api/helpers.js';
import { captureLogEvents } from '../helpers/logs.js';

/**
 * The findings of the second outside review (issue 16), one test each, through the running
 * server as the reviewer drove it.
 */

/** A user of the web app, whose API logins get refresh tokens. */
const CAROL = { email: 'carol@example.com', registrations: [{ applicationId: 'web', roles: [] }] };

/** The visible text of a page's first error box, or '' (what a user reads). */
function errorTextOf(page: Page): string {
  const box = /<p class="error"[^>]*>([\s\S]*?)<\/p>/.exec(page.body)?.[1] ?? '';
  return box.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim();
}

/** A typed code that is not `code`. */
function wrongCodeFor(code: string): string {
  return code === '000000' ? '111111' : '000000';
}

describe('security round two (issue 16)', () => {
  let server: TestServer;
  let web: client.Configuration;
  let partner: client.Configuration;

  before(async () => {
    server = await startApiServer({ config: { users: [ALICE, BOB, CAROL] } });
    web = await discover(server);
    partner = await discover(server, THIRD_PARTY_CLIENT.client_id, THIRD_PARTY_CLIENT.client_secret);
  });
  after(() => server.stop());

  describe('1. the owner of a hosted code does not depend on the client’s policy', () => {
    /** Browser 1 on `web`, browser 2 on the registration-only client, both for `email`; browser 1 then types a wrong code. */
    async function sequence(email: string): Promise<{ status: number; text: string }> {
      const one = new Browser(server.issuer);
      const inbox = await requestLink(one, await authorizationRequest(web), email);
      await server.mails();
      const two = new Browser(server.issuer);
      await requestLink(two, await authorizationRequest(partner, {}, THIRD_PARTY_CLIENT.redirect_uris[0]), email);
      await server.mails();
      const typed = await one.submit(inbox, '/code', { code: '000000' });
      return { status: typed.status, text: errorTextOf(typed) };
    }

    it('answers a known address the partner client refuses exactly as an unknown one', async () => {
      const known = await sequence(BOB.email);
      const unknown = await sequence('nobody-at-all@example.com');
      expect(known).to.deep.equal(unknown);
      expect(known.text).to.include('newer');
    });
  });

  describe('2. a budget of wrong typed codes per client address and in all', () => {
    let limited: TestServer;
    before(async () => {
      limited = await startApiServer({ config: { rateLimits: { wrongCodesPerIp: { limit: 4, windowSeconds: 3600 } } } });
    });
    after(() => limited.stop());

    it('refuses the guesses of one address across many accounts with 429 and Retry-After, on the page and the API', async () => {
      const config = await discover(limited);
      const users = ['alice@example.com', 'bob@example.com', 'carol@example.com', 'dave@example.com', 'erin@example.com'];
      const answers: number[] = [];
      let last: Page | null = null;
      for (const email of users) {
        const browser = new Browser(limited.issuer);
        const inbox = await requestLink(browser, await authorizationRequest(config), email);
        last = await browser.submit(inbox, '/code', { code: '000000' });
        answers.push(last.status);
      }
      expect(answers.slice(0, 4)).to.deep.equal([400, 400, 400, 400]);
      expect(answers[4]).to.equal(429);
      expect(Number(last!.headers.get('retry-after'))).to.be.greaterThan(0);

      const started = await start(limited, { applicationId: 'web', loginId: ALICE.email, loginStrategy: 'FormField' });
      const refused = await login(limited, { code: started.json!.code, oneTimeCode: wrongCodeFor(String(started.json!.oneTimeCode)), applicationId: 'web' });
      expect(refused.status).to.equal(429);
      expect(Number(refused.headers.get('retry-after'))).to.be.greaterThan(0);
    });
  });

  describe('3. a FormField code needs its one-time code', () => {
    it('does not log in with the code alone, and counts that as a wrong guess', async () => {
      const started = await start(server, { applicationId: 'web', loginId: ALICE.email, loginStrategy: 'FormField' });
      const code = String(started.json!.code);
      const alone = await login(server, { code, applicationId: 'web' });
      expect(alone.status).to.equal(404);
      const record = (await server.app.codes.inspect(code)).record!;
      expect(record.attempts).to.equal(1);
      const right = await login(server, { code, oneTimeCode: started.json!.oneTimeCode, applicationId: 'web' });
      expect(right.status, 'logged in (not registered to web: 202)').to.equal(202);
    });

    it('emails the one-time code to type, not a link that holds the code', async () => {
      const started = await start(server, { applicationId: 'web', loginId: ALICE.email, loginStrategy: 'FormField' });
      const code = String(started.json!.code);
      const sent = await call(server, 'POST', '/api/passwordless/send', { body: { code } });
      expect(sent.status).to.equal(200);
      const mail = (await lastMailTo(server, ALICE.email))!;
      expect(mail.text).to.not.include(code);
      expect(mail.html).to.not.include(code);
      expect(mail.text).to.include(String(started.json!.oneTimeCode));
    });
  });

  describe('4. a code is for the application it was started for', () => {
    it('does not log in to another application (404, as an unknown code), and the code still works for its own', async () => {
      const started = await start(server, { applicationId: 'web', loginId: ALICE.email });
      const other = await login(server, { code: started.json!.code, applicationId: 'partner' });
      expect(other.status).to.equal(404);
      const own = await login(server, { code: started.json!.code, applicationId: 'web' });
      expect(own.status, 'logged in (not registered to web: 202)').to.equal(202);
    });
  });

  describe('5. reuse of a rotated API refresh token', () => {
    it('revokes the whole chain and logs refresh.reuse_detected', async () => {
      const started = await start(server, { applicationId: 'web', loginId: CAROL.email });
      const first = await login(server, { code: started.json!.code, applicationId: 'web' });
      expect(first.status).to.equal(200);
      const original = String(first.json!.refreshToken);
      const rotated = await call(server, 'POST', '/api/jwt/refresh', { body: { refreshToken: original } });
      expect(rotated.status).to.equal(200);
      const successor = String(rotated.json!.refreshToken);
      const events = await captureLogEvents('info', async () => {
        const replay = await call(server, 'POST', '/api/jwt/refresh', { body: { refreshToken: original } });
        expect(replay.status).to.equal(400);
      }, 'refresh.reuse_detected');
      expect(events).to.have.length(1);
      expect(JSON.stringify(events[0])).to.not.include(original);
      const thief = await call(server, 'POST', '/api/jwt/refresh', { body: { refreshToken: successor } });
      expect(thief.status, 'the successor is revoked with the chain').to.equal(400);
    });
  });

  describe('7. the code form is bound to the sign-in’s own address', () => {
    it('mints no code-form token for an address a refused form carried', async () => {
      const browser = new Browser(server.issuer);
      const inbox = await requestLink(browser, await authorizationRequest(web), ALICE.email);
      const refused = await browser.submit(inbox, '/code', { csrf: 'forged.token', email: 'someone-else@example.com', code: '000000' });
      expect(refused.status).to.equal(403);
      expect(refused.body).to.not.include('someone-else@example.com');
    });
  });

  describe('8. anonymous hosted requests never void or block what the integrator started', () => {
    let tight: TestServer;
    before(async () => {
      tight = await startApiServer({ config: { rateLimits: { sendPerAddress: { limit: 2, windowSeconds: 900 } } } });
    });
    after(() => tight.stop());

    it('keeps an API code usable and its /send allowed after hosted requests for the same user', async () => {
      const started = await start(tight, { applicationId: 'web', loginId: ALICE.email });
      const config = await discover(tight);
      for (let i = 0; i < 3; i += 1) await requestLink(new Browser(tight.issuer), await authorizationRequest(config), ALICE.email);
      await tight.mails();
      const sent = await call(tight, 'POST', '/api/passwordless/send', { body: { code: started.json!.code } });
      expect(sent.status, 'the hosted requests spent none of the API’s send budget').to.equal(200);
      const loggedIn = await login(tight, { code: started.json!.code, applicationId: 'web' });
      // 202: logged in, not registered to web (a superseded code would answer 404).
      expect(loggedIn.status, 'the hosted codes did not supersede the API code').to.equal(202);
    });
  });

  describe('9. which code is newest is decided in the store, not by an instance’s clock', () => {
    it('keeps the code issued last even when its instance’s clock is behind', async () => {
      const owner = { userId: 'clock-user', clientId: 'web', interactionUid: null, withShortCode: false };
      const now = Date.now();
      const ahead = await server.app.codes.issue(owner, now + 5000);
      const behind = await server.app.codes.issue(owner, now - 5000);
      expect((await server.app.codes.inspect(behind.linkCode)).usable, 'the later issue stays valid').to.equal(true);
      const earlier = await server.app.codes.inspect(ahead.linkCode);
      expect(earlier.usable ? 'usable' : earlier.problem).to.equal('superseded');
    });
  });

  describe('10. a browser signed in by an emailed API link', () => {
    it('gets no session that prompt=none can reuse for another client', async () => {
      const spa = await discover(server, 'spa', null);
      const started = await start(server, {
        applicationId: 'web',
        loginId: ALICE.email,
        state: { client_id: 'web', redirect_uri: 'http://127.0.0.1:9999/cb', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' },
      });
      expect((await call(server, 'POST', '/api/passwordless/send', { body: { code: started.json!.code } })).status).to.equal(200);
      const link = /(http:\/\/\S+\/passwordless\/\S+)/.exec((await lastMailTo(server, ALICE.email))!.text)![1]!;
      const browser = new Browser(server.issuer);
      const landed = await browser.submit(await browser.get(link), '/api-link');
      expect(new URL(landed.url).searchParams.get('code')).to.be.a('string');
      const silent = await browser.get((await authorizationRequest(spa, { prompt: 'none' }, 'http://127.0.0.1:9999/spa-cb')).url.href);
      expect(new URL(silent.url).searchParams.get('error')).to.equal('login_required');
    });
  });
});
