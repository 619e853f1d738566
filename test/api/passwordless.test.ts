import { expect } from 'chai';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import type { TestServer } from '../helpers/server.js';
import { ALICE, BOB, WEB_CLIENT, THIRD_PARTY_CLIENT } from '../helpers/server.js';
import { ADMIN_KEY, START_KEY, call, login, start, startApiServer } from './helpers.js';

const CAROL = { email: 'carol@example.com', firstName: 'Carol', registrations: [{ applicationId: 'web', roles: ['admin', 'editor'] }] };
const NO_PASSWORDLESS = { client_id: 'closed', client_secret: 'closed-secret-that-is-long-enough', redirect_uris: ['http://127.0.0.1:9999/closed'], passwordless_enabled: false };

describe('REST API: /api/passwordless/start and /login', () => {
  let server: TestServer;
  let jwks: ReturnType<typeof createRemoteJWKSet>;

  before(async () => {
    server = await startApiServer({ config: { users: [ALICE, BOB, CAROL], clients: [WEB_CLIENT, THIRD_PARTY_CLIENT, NO_PASSWORDLESS] } });
    const discovery = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
    jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
  });
  after(() => server.stop());

  async function codeFor(email: string, extra: Record<string, unknown> = {}): Promise<string> {
    const started = await start(server, { applicationId: 'web', loginId: email, ...extra });
    expect(started.status).to.equal(200);
    return started.json!.code as string;
  }

  describe('start', () => {
    it('issues a link code of at least 128 bits, without a one-time code for ClickableLink', async () => {
      const started = await start(server, { applicationId: 'web', loginId: ALICE.email });
      expect(started.status).to.equal(200);
      expect(started.json!.code).to.match(/^[\w-]{43,}$/);
      expect(started.json).to.not.have.property('oneTimeCode');
      expect(started.headers.get('cache-control')).to.equal('no-store');
    });

    it('issues a one-time code too for FormField', async () => {
      const started = await start(server, { applicationId: 'web', loginId: ALICE.email, loginStrategy: 'FormField' });
      expect(started.status).to.equal(200);
      expect(started.json!.oneTimeCode).to.match(/^\d{6}$/);
    });

    it('finds the user by email whatever its case and spacing', async () => {
      expect((await start(server, { applicationId: 'web', loginId: '  ALICE@Example.com ' })).status).to.equal(200);
    });

    it('answers 404 with an empty body for an unknown user', async () => {
      const started = await start(server, { applicationId: 'web', loginId: 'nobody@example.com' });
      expect(started.status).to.equal(404);
      expect(started.text).to.equal('');
    });

    it('answers 400 with FusionAuth field errors', async () => {
      const cases: [Record<string, unknown>, string, string][] = [
        [{ applicationId: 'web', loginId: '   ' }, 'loginId', '[blank]loginId'],
        [{ applicationId: 'web' }, 'loginId', '[blank]loginId'],
        [{ loginId: ALICE.email }, 'applicationId', '[blank]applicationId'],
        [{ applicationId: 'no-such-app', loginId: ALICE.email }, 'applicationId', '[invalid]applicationId'],
        [{ applicationId: 'closed', loginId: ALICE.email }, 'applicationId', '[invalid]applicationId'],
        [{ applicationId: 42, loginId: ALICE.email }, 'applicationId', '[invalid]applicationId'],
        [{ applicationId: 'web', loginId: `${'a'.repeat(250)}@example.com` }, 'loginId', '[tooLong]loginId'],
        [{ applicationId: 'web', loginId: ALICE.email, loginStrategy: 'Carrier pigeon' }, 'loginStrategy', '[invalid]loginStrategy'],
        [{ applicationId: 'web', loginId: ALICE.email, state: 'not an object' }, 'state', '[invalid]state'],
        [{ applicationId: 'web', loginId: ALICE.email, state: { big: 'x'.repeat(5000) } }, 'state', '[invalid]state'],
      ];
      for (const [body, field, code] of cases) {
        const answer = await start(server, body);
        expect(answer.status, JSON.stringify(body).slice(0, 80)).to.equal(400);
        expect(answer.json!.fieldErrors[field].map((e: { code: string }) => e.code), field).to.include(code);
        expect(answer.json!.fieldErrors[field][0].message).to.be.a('string').and.not.empty;
      }
    });

    it('answers 401 with an empty body without a key, with a wrong key, and with a key not allowed this call', async () => {
      for (const key of [null, 'not-a-key-of-this-server-at-all', 'x'.repeat(600)]) {
        const answer = await call(server, 'POST', '/api/passwordless/start', { body: { applicationId: 'web', loginId: ALICE.email }, key });
        expect(answer.status).to.equal(401);
        expect(answer.text).to.equal('');
      }
      const userApi = await call(server, 'GET', `/api/user?email=${ALICE.email}`, { key: START_KEY });
      expect(userApi.status).to.equal(401);
      expect(userApi.text).to.equal('');
    });

    it('accepts the key raw (FusionAuth) and as a Bearer token', async () => {
      for (const key of [START_KEY, `Bearer ${START_KEY}`]) {
        expect((await call(server, 'POST', '/api/passwordless/start', { body: { applicationId: 'web', loginId: ALICE.email }, key })).status).to.equal(200);
      }
    });
  });

  describe('login', () => {
    it('logs a registered user in (200) with a JWT signed by the provider keys that verifies against jwks_uri', async () => {
      const code = await codeFor(CAROL.email);
      const before = Date.now();
      const answer = await login(server, { code, applicationId: 'web' });
      expect(answer.status).to.equal(200);
      const { payload, protectedHeader } = await jwtVerify(answer.json!.token, jwks, { issuer: server.issuer, audience: 'web' });
      const user = await server.app.store.users.findByEmail(CAROL.email);
      expect(protectedHeader.alg, 'ES256 by default').to.equal('ES256');
      expect(decodeProtectedHeader(answer.json!.token).kid).to.be.a('string');
      expect(payload).to.include({ sub: user!.id, aud: 'web', applicationId: 'web', authenticationType: 'PASSWORDLESS', email: CAROL.email, email_verified: true });
      expect(payload.roles).to.deep.equal(['admin', 'editor']);
      expect(payload.jti).to.be.a('string');
      expect(payload.exp! - payload.iat!).to.equal(3600);
      expect(payload.auth_time).to.be.within(Math.floor(before / 1000) - 1, Math.floor(Date.now() / 1000));
      expect(answer.json!.tokenExpirationInstant).to.equal(payload.exp! * 1000);
      expect(answer.json!.refreshToken).to.be.a('string');
      expect(answer.json!.refreshTokenId).to.match(/^[0-9a-f-]{36}$/);
      expect(answer.json!.user).to.include({ id: user!.id, email: CAROL.email, firstName: 'Carol', active: true, verified: true });
      expect(answer.json!.user.registrations[0]).to.include({ applicationId: 'web' });
      expect(answer.json!.user.lastLoginInstant).to.be.at.least(before);
    });

    it('answers 202 for a user not registered to the application: a token without roles and no refresh token', async () => {
      const answer = await login(server, { code: await codeFor(ALICE.email), applicationId: 'web' });
      expect(answer.status).to.equal(202);
      const { payload } = await jwtVerify(answer.json!.token, jwks, { issuer: server.issuer, audience: 'web' });
      expect(payload.roles).to.deep.equal([]);
      expect(answer.json).to.not.have.property('refreshToken');
    });

    it('answers 200 without applicationId, with a token that has no audience and no refresh token', async () => {
      const answer = await login(server, { code: await codeFor(CAROL.email) });
      expect(answer.status).to.equal(200);
      const { payload } = await jwtVerify(answer.json!.token, jwks, { issuer: server.issuer });
      expect(payload).to.not.have.property('aud');
      expect(answer.json).to.not.have.property('refreshToken');
    });

    it('gives no refresh token to a client without the refresh_token grant', async () => {
      const started = await start(server, { applicationId: 'partner', loginId: ALICE.email });
      const answer = await login(server, { code: started.json!.code, applicationId: 'partner' });
      expect(answer.status).to.equal(200);
      expect((await jwtVerify(answer.json!.token, jwks, { audience: 'partner' })).payload.roles).to.deep.equal(['reader']);
      expect(answer.json).to.not.have.property('refreshToken');
    });

    it('echoes the state given at start', async () => {
      const state = { redirect_uri: 'http://127.0.0.1:9999/cb', nested: { n: 1, list: [true, null] }, 'ünïcode': '✓' };
      const answer = await login(server, { code: await codeFor(ALICE.email, { state }), applicationId: 'web' });
      expect(answer.json!.state).to.deep.equal(state);
    });

    it('issues no token and no refresh token with noJWT', async () => {
      const answer = await login(server, { code: await codeFor(CAROL.email), applicationId: 'web', noJWT: true });
      expect(answer.status).to.equal(200);
      expect(answer.json).to.not.have.any.keys('token', 'tokenExpirationInstant', 'refreshToken', 'refreshTokenId');
      expect(answer.json!.user.email).to.equal(CAROL.email);
    });

    it('answers 404 (empty) to an unknown code and to a code used before', async () => {
      const unknown = await login(server, { code: 'A'.repeat(43) });
      expect(unknown.status).to.equal(404);
      expect(unknown.text).to.equal('');
      const code = await codeFor(ALICE.email);
      expect((await login(server, { code })).status).to.equal(200);
      const again = await login(server, { code });
      expect(again.status).to.equal(404);
      expect(again.text).to.equal('');
    });

    it('answers 404 to a code superseded by a newer start, while the newer one works', async () => {
      const first = await codeFor(ALICE.email);
      const second = await codeFor(ALICE.email);
      expect((await login(server, { code: first })).status).to.equal(404);
      expect((await login(server, { code: second })).status).to.equal(200);
    });

    it('answers 404 to an expired code', async () => {
      const code = await codeFor(ALICE.email);
      const record = await server.app.codes.inspect(code);
      await server.app.store.codes.compareAndSet(record.record!.id, {}, { expiresAt: Date.now() - 1 });
      expect((await login(server, { code })).status).to.equal(404);
    });

    it('lets exactly one of 25 concurrent logins with one code succeed', async () => {
      const code = await codeFor(ALICE.email);
      const answers = await Promise.all(Array.from({ length: 25 }, () => login(server, { code, applicationId: 'web' })));
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((s) => s === 202)).to.have.length(1);
      expect(statuses.filter((s) => s === 404)).to.have.length(24);
    });

    it('takes the FormField pair: a wrong one-time code is a 404, the right one logs in', async () => {
      const started = await start(server, { applicationId: 'web', loginId: CAROL.email, loginStrategy: 'FormField' });
      const { code, oneTimeCode } = started.json as { code: string; oneTimeCode: string };
      const wrong = oneTimeCode === '000000' ? '111111' : '000000';
      expect((await login(server, { code, oneTimeCode: wrong, applicationId: 'web' })).status).to.equal(404);
      const answer = await login(server, { code, oneTimeCode, applicationId: 'web' });
      expect(answer.status).to.equal(200);
      expect(answer.json!.token).to.be.a('string');
      expect((await login(server, { code, oneTimeCode, applicationId: 'web' })).status).to.equal(404);
    });

    it('takes a one-time code typed in groups ("816 754", "816-754")', async () => {
      for (const group of [(c: string) => `${c.slice(0, 3)} ${c.slice(3)}`, (c: string) => `${c.slice(0, 3)}-${c.slice(3)}`]) {
        const started = await start(server, { applicationId: 'web', loginId: CAROL.email, loginStrategy: 'FormField' });
        const { code, oneTimeCode } = started.json as { code: string; oneTimeCode: string };
        const answer = await login(server, { code, oneTimeCode: group(oneTimeCode), applicationId: 'web' });
        expect(answer.status, group(oneTimeCode)).to.equal(200);
      }
    });

    it('voids a FormField code after too many wrong one-time codes', async () => {
      const started = await start(server, { applicationId: 'web', loginId: CAROL.email, loginStrategy: 'FormField' });
      const { code, oneTimeCode } = started.json as { code: string; oneTimeCode: string };
      const wrong = oneTimeCode === '000000' ? '111111' : '000000';
      for (let i = 0; i < 5; i += 1) await login(server, { code, oneTimeCode: wrong });
      expect((await login(server, { code, oneTimeCode })).status).to.equal(404);
    });

    it('answers 423 (empty) for a locked user, and the same code works once the user is unlocked', async () => {
      const user = await server.app.store.users.findByEmail(BOB.email);
      const code = await codeFor(BOB.email);
      const patch = (active: boolean) => call(server, 'PATCH', `/api/user/${user!.id}`, { body: { user: { active } }, key: ADMIN_KEY });
      expect((await patch(false)).status).to.equal(200);
      const locked = await login(server, { code });
      expect(locked.status).to.equal(423);
      expect(locked.text).to.equal('');
      await patch(true);
      expect((await login(server, { code })).status).to.equal(200);
    });

    it('answers 410 (empty) for an expired user', async () => {
      const created = await call(server, 'POST', '/api/user', { body: { user: { email: 'expired@example.com', expiry: Date.now() - 1000 } }, key: ADMIN_KEY });
      expect(created.status).to.equal(200);
      const answer = await login(server, { code: await codeFor('expired@example.com') });
      expect(answer.status).to.equal(410);
      expect(answer.text).to.equal('');
    });

    it('answers 409 in the error shape when the application prevents the login', async () => {
      // partner requires a registration, and Bob has none.
      const started = await start(server, { applicationId: 'partner', loginId: BOB.email });
      const answer = await login(server, { code: started.json!.code, applicationId: 'partner' });
      expect(answer.status).to.equal(409);
      expect(answer.json!.generalErrors[0].code).to.equal('[LoginPreventedException]');
      // A code of another application is unknown to this one, whatever its rules (issue 16).
      const closed = await login(server, { code: await codeFor(BOB.email), applicationId: 'closed' });
      expect(closed.status).to.equal(404);
    });

    it("holds the login to the rules of the application the code was started for, whether it names no application or another", async () => {
      // partner requires a registration, and Bob has none: leaving applicationId out, or naming
      // an application without that rule, must not get him a token.
      const started = await start(server, { applicationId: 'partner', loginId: BOB.email });
      expect(started.status).to.equal(200);
      const code = started.json!.code as string;
      for (const body of [{ code }, { code, applicationId: 'partner' }]) {
        const answer = await login(server, body);
        expect(answer.status, JSON.stringify(body)).to.equal(409);
        expect(answer.json!.generalErrors[0].code).to.equal('[LoginPreventedException]');
      }
      // Another application does not know the code at all.
      expect((await login(server, { code, applicationId: 'web' })).status).to.equal(404);
      // Alice is registered to partner: the same kind of login works, and the token is for the application named (none here).
      const alice = await start(server, { applicationId: 'partner', loginId: ALICE.email });
      const answer = await login(server, { code: alice.json!.code });
      expect(answer.status).to.equal(200);
      expect((await jwtVerify(answer.json!.token, jwks, { issuer: server.issuer })).payload).to.not.have.property('aud');
    });

    it('reads null in an optional field as not set, as FusionAuth does', async () => {
      const started = await start(server, { applicationId: 'web', loginId: CAROL.email, state: null, loginStrategy: null });
      expect(started.status, started.text).to.equal(200);
      expect(started.json).to.not.have.property('oneTimeCode');
      const nulls = { applicationId: null, ipAddress: null, noJWT: null, oneTimeCode: null, twoFactorTrustId: null, metaData: null };
      const answer = await login(server, { code: started.json!.code, ...nulls });
      expect(answer.status, answer.text).to.equal(200);
      expect(answer.json).to.have.property('token');
      expect(answer.json).to.not.have.property('state');
      const device = await login(server, { code: await codeFor(CAROL.email), applicationId: 'web', metaData: { device: { name: null, type: null, description: null } } });
      expect(device.status, device.text).to.equal(200);
    });

    it('answers 400 with field errors to a bad login request, and spends no code', async () => {
      const code = await codeFor(ALICE.email);
      const cases: [Record<string, unknown>, string, string][] = [
        [{}, 'code', '[blank]code'],
        [{ code: '' }, 'code', '[blank]code'],
        [{ code, noJWT: 'yes' }, 'noJWT', '[invalid]noJWT'],
        [{ code, ipAddress: 'not-an-ip' }, 'ipAddress', '[invalid]ipAddress'],
        [{ code, applicationId: 'no-such-app' }, 'applicationId', '[invalid]applicationId'],
        [{ code, metaData: { device: { type: 7 } } }, 'metaData.device.type', '[invalid]metaData.device.type'],
      ];
      for (const [body, field, expected] of cases) {
        const answer = await login(server, body);
        expect(answer.status, JSON.stringify(body)).to.equal(400);
        expect(answer.json!.fieldErrors[field][0].code).to.equal(expected);
      }
      expect((await login(server, { code, ipAddress: '203.0.113.9', metaData: { device: { name: 'Phone', type: 'MOBILE' } } })).status).to.equal(200);
    });

    it('answers 404 to a code of the hosted sign-in: those belong to a browser', async () => {
      const user = await server.app.store.users.findByEmail(ALICE.email);
      const issued = await server.app.codes.issue({ userId: user!.id, clientId: 'web', interactionUid: 'some-interaction', withShortCode: false });
      expect((await login(server, { code: issued.linkCode })).status).to.equal(404);
    });
  });

  describe('/api/jwt/refresh', () => {
    it('exchanges a refresh token for a new JWT and rotates the refresh token', async () => {
      const first = await login(server, { code: await codeFor(CAROL.email), applicationId: 'web' });
      const refreshed = await call(server, 'POST', '/api/jwt/refresh', { body: { refreshToken: first.json!.refreshToken } });
      expect(refreshed.status).to.equal(200);
      const { payload } = await jwtVerify(refreshed.json!.token, jwks, { issuer: server.issuer, audience: 'web' });
      expect(payload.roles).to.deep.equal(['admin', 'editor']);
      expect(refreshed.json!.token).to.not.equal(first.json!.token);
      expect(refreshed.json!.refreshToken).to.be.a('string').and.not.equal(first.json!.refreshToken);
      expect(refreshed.json!.refreshTokenId).to.not.equal(first.json!.refreshTokenId);
      expect(refreshed.json!.tokenExpirationInstant).to.equal(payload.exp! * 1000);

      const again = await call(server, 'POST', '/api/jwt/refresh', { body: { refreshToken: refreshed.json!.refreshToken } });
      expect(again.status, 'the rotated token works once').to.equal(200);
      // The first token used again: it was stolen or leaked, so its whole chain ends, the newest token included.
      const reused = await call(server, 'POST', '/api/jwt/refresh', { body: { refreshToken: first.json!.refreshToken } });
      expect(reused.status).to.equal(400);
      expect((await call(server, 'POST', '/api/jwt/refresh', { body: { refreshToken: again.json!.refreshToken } })).status).to.equal(400);
    });

    it('refuses the refresh token of a user who was locked since', async () => {
      const first = await login(server, { code: await codeFor(CAROL.email), applicationId: 'web' });
      const second = await login(server, { code: await codeFor(CAROL.email), applicationId: 'web' });
      const user = await server.app.store.users.findByEmail(CAROL.email);
      await call(server, 'PATCH', `/api/user/${user!.id}`, { body: { user: { active: false } }, key: ADMIN_KEY });
      try {
        expect((await call(server, 'POST', '/api/jwt/refresh', { body: { refreshToken: first.json!.refreshToken } })).status).to.equal(400);
      } finally {
        await call(server, 'PATCH', `/api/user/${user!.id}`, { body: { user: { active: true } }, key: ADMIN_KEY });
      }
      // The lock revoked every token of the user: unlocking brings none back, not even one never tried while locked.
      expect((await call(server, 'POST', '/api/jwt/refresh', { body: { refreshToken: second.json!.refreshToken } })).status).to.equal(400);
    });

    it('answers 400 [invalid]refreshToken to an unknown refresh token and 400 [blank]refreshToken without one', async () => {
      const unknown = await call(server, 'POST', '/api/jwt/refresh', { body: { refreshToken: 'nope' } });
      expect(unknown.status).to.equal(400);
      expect(unknown.json!.fieldErrors.refreshToken[0].code).to.equal('[invalid]refreshToken');
      const missing = await call(server, 'POST', '/api/jwt/refresh', { body: {} });
      expect(missing.status).to.equal(400);
      expect(missing.json!.fieldErrors.refreshToken[0].code).to.equal('[blank]refreshToken');
    });

    it('keeps only a hash of refresh tokens in the store', async () => {
      const answer = await login(server, { code: await codeFor(CAROL.email), applicationId: 'web' });
      const { refreshToken } = answer.json as { refreshToken: string };
      const { createHash } = await import('node:crypto');
      const hash = createHash('sha256').update(refreshToken).digest('hex');
      const record = await server.app.store.refreshTokens.consume(hash, Date.now());
      expect(record!.tokenHash).to.equal(hash);
      expect(JSON.stringify(record)).to.not.include(refreshToken);
    });
  });
});
