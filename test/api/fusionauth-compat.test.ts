import { expect } from 'chai';
import { createRemoteJWKSet, decodeProtectedHeader, importJWK, importSPKI, jwtVerify, SignJWT, type JWK } from 'jose';
import type { TestServer } from '../helpers/server.js';
import { ALICE, testKeys, WEB_CLIENT } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import * as client from 'openid-client';
import { authorizationRequest, discover, exchange, lastMailTo, linkOf, requestLink } from '../helpers/oidc.js';
import { loadConfig, ConfigError } from '../../src/config/load.js';
import { previousStepCode, totpCode } from '../two-factor/helpers.js';
import { captureLogs } from '../helpers/logs.js';
import { ADMIN_KEY, call, login, start, startApiServer } from './helpers.js';

/**
 * A FusionAuth integration switched over by base URL and API key: each test replays one of the
 * requests FusionAuth's API documentation shows and checks what the integration reads from the
 * answer (status, body shape, field names, error codes).
 */

const HS_SECRET = 'a-shared-hmac-secret-of-at-least-32-characters';
/** A client whose login tokens are HS256 with its own secret, FusionAuth's default. */
const HMAC_CLIENT = {
  client_id: '3c219e58-ed0e-4b18-ad48-f4f92793ae32',
  client_secret: 'hmac-client-secret-that-is-long-enough',
  client_name: 'HMAC App',
  redirect_uris: ['http://127.0.0.1:9999/hmac-cb'],
  grant_types: ['authorization_code', 'refresh_token'],
  jwt: { signingAlgorithm: 'HS256', secret: HS_SECRET },
};
/** A client whose refresh tokens are reusable, FusionAuth's default policy. */
const REUSABLE_CLIENT = {
  client_id: 'reusable',
  client_secret: 'reusable-client-secret-that-is-long-enough',
  redirect_uris: ['http://127.0.0.1:9999/reusable-cb'],
  grant_types: ['authorization_code', 'refresh_token'],
  refreshTokenUsagePolicy: 'Reusable',
  tokenCookies: true,
};
const DANA = {
  email: 'dana@example.com',
  firstName: 'Dana',
  registrations: [
    { applicationId: 'web', roles: ['admin'] },
    { applicationId: HMAC_CLIENT.client_id, roles: ['user'] },
    { applicationId: REUSABLE_CLIENT.client_id, roles: ['user'] },
  ],
};
const TENANT_ID = '5f3b4a1e-8c2d-4e6f-9a0b-1c2d3e4f5a6b';
const EVE = { email: 'eve@example.com', registrations: [{ applicationId: 'web', roles: [] }, { applicationId: REUSABLE_CLIENT.client_id, roles: [] }] };

describe('FusionAuth compatibility: an integration switched by base URL and API key', () => {
  let server: TestServer;

  before(async () => {
    server = await startApiServer({ config: { users: [ALICE, DANA, EVE], clients: [WEB_CLIENT, HMAC_CLIENT, REUSABLE_CLIENT], api: { tenantId: TENANT_ID } } });
  });
  after(() => server.stop());
  const admin = (method: string, path: string, body?: unknown) => call(server, method, path, { key: ADMIN_KEY, ...(body !== undefined ? { body } : {}) });

  /** start → login for a user and application, as the integration's backend does; the login's JSON. */
  async function loggedIn(email: string, applicationId: string): Promise<Record<string, any>> {
    const started = await start(server, { applicationId, loginId: email });
    expect(started.status).to.equal(200);
    const answer = await login(server, { code: started.json!.code, applicationId });
    expect(answer.status).to.equal(200);
    return answer.json!;
  }

  describe('JWT verification', () => {
    it('GET /.well-known/jwks.json: the public keys, the same set as the jwks_uri discovery names', async () => {
      const wellKnown = await fetch(`${server.issuer}/.well-known/jwks.json`);
      expect(wellKnown.status).to.equal(200);
      const keys = ((await wellKnown.json()) as { keys: JWK[] }).keys;
      const discovery = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
      const named = ((await (await fetch(discovery.jwks_uri)).json()) as { keys: JWK[] }).keys;
      expect(keys.map((k) => k.kid).sort()).to.deep.equal(named.map((k) => k.kid).sort());
      expect(keys.length).to.be.greaterThan(0);
      for (const key of keys) expect(key, 'no private key material').to.not.have.any.keys('d', 'p', 'q', 'dp', 'dq', 'qi');
      // What an integration does with it: verify the login token.
      const { token } = await loggedIn(DANA.email, 'web');
      const verified = await jwtVerify(token, createRemoteJWKSet(new URL(`${server.issuer}/.well-known/jwks.json`)), { issuer: server.issuer, audience: 'web' });
      expect(verified.payload.sub).to.be.a('string');
    });

    it('GET /api/jwt/validate with Authorization: Bearer <JWT>: 200 { jwt: claims }', async () => {
      const { token, user } = await loggedIn(DANA.email, 'web');
      const answer = await call(server, 'GET', '/api/jwt/validate', { key: `Bearer ${token}` });
      expect(answer.status).to.equal(200);
      expect(Object.keys(answer.json!)).to.deep.equal(['jwt']);
      expect(answer.json!.jwt).to.include({ sub: user.id, aud: 'web', applicationId: 'web', iss: server.issuer, email: DANA.email, authenticationType: 'PASSWORDLESS' });
      expect(answer.json!.jwt.roles).to.deep.equal(['admin']);
      expect(answer.json!.jwt.exp).to.be.a('number');
    });

    it('GET /api/jwt/validate reads the access_token cookie FusionAuth\'s login writes', async () => {
      const { token, user } = await loggedIn(DANA.email, 'web');
      const response = await fetch(`${server.issuer}/api/jwt/validate`, { headers: { cookie: `access_token=${token}` } });
      expect(response.status).to.equal(200);
      expect(((await response.json()) as { jwt: { sub: string } }).jwt.sub).to.equal(user.id);
    });

    it('GET /api/jwt/validate: 401 (empty) for no token, a tampered token, another key, and an expired token', async () => {
      const { token } = await loggedIn(DANA.email, 'web');
      const [header, payload] = token.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, roles: ['superuser'] })).toString('base64url')}.${token.split('.')[2]}`;
      const { privateKey: strangerKey } = await (await import('jose')).generateKeyPair('ES256');
      const foreign = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', kid: decodeProtectedHeader(token).kid! }).sign(strangerKey);
      // Signed with the server's own key, but an hour past its expiry.
      const serverKey = ((await testKeys()).jwks as { keys: JWK[] }).keys.find((k) => k.alg === 'ES256')!;
      const now = Math.floor(Date.now() / 1000);
      const expired = await new SignJWT({ ...claims, iat: now - 7200, exp: now - 3600 }).setProtectedHeader({ alg: 'ES256', kid: serverKey.kid! }).sign(await importJWK(serverKey, 'ES256'));
      for (const [label, authorization] of [['none', null], ['tampered', `Bearer ${tampered}`], ['foreign', `Bearer ${foreign}`], ['expired', `Bearer ${expired}`], ['garbage', 'Bearer not.a.jwt']] as const) {
        const answer = await call(server, 'GET', '/api/jwt/validate', { key: authorization });
        expect(answer.status, label).to.equal(401);
        expect(answer.text, label).to.equal('');
      }
    });

    it('GET /api/jwt/public-key: every public key as { publicKeys: { kid: PEM } }, each verifying the tokens it signed', async () => {
      const answer = await call(server, 'GET', '/api/jwt/public-key');
      expect(answer.status).to.equal(200);
      const publicKeys = answer.json!.publicKeys as Record<string, string>;
      expect(Object.keys(publicKeys).length).to.be.greaterThan(0);
      for (const pem of Object.values(publicKeys)) expect(pem).to.match(/^-----BEGIN PUBLIC KEY-----\n[\s\S]+\n-----END PUBLIC KEY-----\n?$/);
      const { token } = await loggedIn(DANA.email, 'web');
      const { kid, alg } = decodeProtectedHeader(token);
      expect(publicKeys).to.have.property(kid!);
      await jwtVerify(token, await importSPKI(publicKeys[kid!]!, alg!), { issuer: server.issuer });
    });

    it('GET /api/jwt/public-key?applicationId=: { publicKey: PEM } of the key that signs that application\'s tokens', async () => {
      const answer = await call(server, 'GET', '/api/jwt/public-key?applicationId=web');
      expect(answer.status).to.equal(200);
      expect(Object.keys(answer.json!)).to.deep.equal(['publicKey']);
      const { token } = await loggedIn(DANA.email, 'web');
      await jwtVerify(token, await importSPKI(answer.json!.publicKey, decodeProtectedHeader(token).alg!), { issuer: server.issuer, audience: 'web' });
    });

    it('GET /api/jwt/public-key?keyId=: { publicKey: PEM }; 404 (empty) for an unknown kid or application, or an HS256 application', async () => {
      const all = (await call(server, 'GET', '/api/jwt/public-key')).json!.publicKeys as Record<string, string>;
      const [kid, pem] = Object.entries(all)[0]!;
      const byKid = await call(server, 'GET', `/api/jwt/public-key?keyId=${encodeURIComponent(kid)}`);
      expect(byKid.status).to.equal(200);
      expect(byKid.json).to.deep.equal({ publicKey: pem });
      for (const query of ['keyId=no-such-kid', 'applicationId=no-such-app', `applicationId=${HMAC_CLIENT.client_id}`]) {
        const answer = await call(server, 'GET', `/api/jwt/public-key?${query}`);
        expect(answer.status, query).to.equal(404);
        expect(answer.text, query).to.equal('');
      }
    });

    it('refuses to start with an HS256 client without a secret of 32 characters or more', () => {
      const withJwt = (jwt: unknown) => () => loadConfig({ env: {}, overrides: { clients: [{ ...HMAC_CLIENT, jwt }] } });
      expect(withJwt({ signingAlgorithm: 'HS256' })).to.throw(ConfigError, /clients\.0\.jwt\.secret: HS256 needs a secret/);
      expect(withJwt({ signingAlgorithm: 'HS256', secret: 'short' })).to.throw(ConfigError, /at least 32 characters/);
      expect(withJwt({ signingAlgorithm: 'HS512', secret: HS_SECRET })).to.throw(ConfigError, /clients\.0\.jwt\.signingAlgorithm/);
      expect(withJwt({ signingAlgorithm: 'HS256', secret: HS_SECRET })).to.not.throw();
    });

    it('signs an HS256 application\'s login token with its secret (FusionAuth\'s default), which validate accepts', async () => {
      const { token, user } = await loggedIn(DANA.email, HMAC_CLIENT.client_id);
      expect(decodeProtectedHeader(token).alg).to.equal('HS256');
      const { payload } = await jwtVerify(token, new TextEncoder().encode(HS_SECRET), { issuer: server.issuer, audience: HMAC_CLIENT.client_id });
      expect(payload).to.include({ sub: user.id, applicationId: HMAC_CLIENT.client_id });
      expect(payload.roles).to.deep.equal(['user']);
      const validated = await call(server, 'GET', '/api/jwt/validate', { key: `Bearer ${token}` });
      expect(validated.status).to.equal(200);
      expect(validated.json!.jwt.sub).to.equal(user.id);
      // An HS256 token that names an application signed with another secret is not valid.
      const forged = await new SignJWT({ ...payload }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('another-secret-of-at-least-32-characters!!'));
      expect((await call(server, 'GET', '/api/jwt/validate', { key: `Bearer ${forged}` })).status).to.equal(401);
      // Nor does the other kind pass: an HS256 token "signed" with a public key is refused.
      const { publicKey } = (await call(server, 'GET', '/api/jwt/public-key?applicationId=web')).json!;
      const confused = await new SignJWT({ ...payload, applicationId: 'web', aud: 'web' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(publicKey));
      expect((await call(server, 'GET', '/api/jwt/validate', { key: `Bearer ${confused}` })).status).to.equal(401);
    });
  });

  describe('User API', () => {
    /** The profile of FusionAuth's "create a user" example, in our own values. */
    const PROFILE = {
      email: 'grace@example.com',
      username: 'GraceH',
      firstName: 'Grace',
      middleName: 'Brewster',
      lastName: 'Hopper',
      fullName: 'Rear Admiral Grace Hopper',
      mobilePhone: '+1 (303) 555-1212',
      birthDate: '1906-12-09',
      imageUrl: 'https://example.com/grace.png',
      timezone: 'America/New_York',
      preferredLanguages: ['en'],
      data: { team: 'COBOL' },
    };

    async function createGrace(email = PROFILE.email, username = PROFILE.username): Promise<Record<string, any>> {
      const created = await admin('POST', '/api/user', { user: { ...PROFILE, email, username }, registration: { applicationId: 'web', roles: ['dev'] } });
      expect(created.status, created.text).to.equal(200);
      return created.json!.user;
    }

    it('POST /api/user stores and returns FusionAuth\'s profile fields: username, middleName, fullName, mobilePhone, birthDate, imageUrl', async () => {
      const user = await createGrace();
      const { data, preferredLanguages, ...fields } = PROFILE;
      expect(user).to.include(fields);
      expect(user.data).to.deep.equal(data);
      expect(user.preferredLanguages).to.deep.equal(preferredLanguages);
      expect((await admin('GET', `/api/user/${user.id}`)).json!.user).to.deep.equal(user);
    });

    it('GET /api/user?loginId= finds a user by email or by username; ?username= by username, whatever the case', async () => {
      const user = await createGrace('grace.lookup@example.com', 'grace_lookup');
      for (const query of ['loginId=grace.lookup%40example.com', 'loginId=grace_lookup', 'loginId=GRACE_LOOKUP', 'username=Grace_Lookup', 'email=grace.lookup%40example.com']) {
        const answer = await admin('GET', `/api/user?${query}`);
        expect(answer.status, query).to.equal(200);
        expect(answer.json!.user.id, query).to.equal(user.id);
      }
      for (const query of ['loginId=nobody', 'username=nobody', 'loginId=nobody%40example.com']) {
        const answer = await admin('GET', `/api/user?${query}`);
        expect(answer.status, query).to.equal(404);
        expect(answer.text, query).to.equal('');
      }
    });

    it('PUT /api/user/{id} replaces the user: what the request leaves out is gone, registrations stay', async () => {
      const user = await createGrace('grace.put@example.com', 'grace_put');
      const replaced = await admin('PUT', `/api/user/${user.id}`, { user: { email: 'grace.put@example.com', firstName: 'Amazing', data: { only: true } } });
      expect(replaced.status, replaced.text).to.equal(200);
      expect(replaced.json!.user).to.include({ id: user.id, firstName: 'Amazing', fullName: 'Amazing', active: true });
      expect(replaced.json!.user).to.not.have.any.keys('username', 'lastName', 'middleName', 'mobilePhone', 'birthDate', 'imageUrl', 'timezone');
      expect(replaced.json!.user.data).to.deep.equal({ only: true });
      expect(replaced.json!.user.preferredLanguages).to.deep.equal([]);
      expect(replaced.json!.user.registrations.map((r: { applicationId: string }) => r.applicationId)).to.deep.equal(['web']);
      // The username it gave up is free again.
      expect((await admin('GET', '/api/user?username=grace_put')).status).to.equal(404);
      await createGrace('someone.else@example.com', 'grace_put');
      expect((await admin('PUT', '/api/user/00000000-0000-4000-8000-000000000000', { user: { email: 'x@example.com' } })).status).to.equal(404);
    });

    it('PATCH /api/user/{id} merges: it changes what it names, null removes a profile field', async () => {
      const user = await createGrace('grace.patch@example.com', 'grace_patch');
      const patched = await admin('PATCH', `/api/user/${user.id}`, { user: { mobilePhone: '+44 20 7946 0000', imageUrl: null, data: { rank: 'admiral' } } });
      expect(patched.status, patched.text).to.equal(200);
      expect(patched.json!.user).to.include({ username: 'grace_patch', mobilePhone: '+44 20 7946 0000', birthDate: PROFILE.birthDate }).and.not.have.property('imageUrl');
      expect(patched.json!.user.data).to.deep.equal({ team: 'COBOL', rank: 'admiral' });
    });

    it('refuses a password with a field error instead of dropping it, and creates or changes nothing', async () => {
      const created = await admin('POST', '/api/user', { user: { email: 'pw@example.com', password: 'hunter2hunter2' } });
      expect(created.status).to.equal(400);
      expect(created.json!.fieldErrors['user.password'][0].code).to.equal('[invalid]user.password');
      expect((await admin('GET', '/api/user?email=pw%40example.com')).status).to.equal(404);
      const user = await createGrace('grace.pw@example.com', 'grace_pw');
      for (const method of ['PUT', 'PATCH']) {
        const answer = await admin(method, `/api/user/${user.id}`, { user: { email: 'grace.pw@example.com', firstName: 'Changed', password: 'hunter2hunter2' } });
        expect(answer.json!.fieldErrors['user.password'][0].code, method).to.equal('[invalid]user.password');
      }
      expect((await admin('GET', `/api/user/${user.id}`)).json!.user.firstName).to.equal('Grace');
    });

    it('keeps usernames unique whatever their case: [duplicate]user.username on create, PUT and PATCH', async () => {
      const holder = await createGrace('holder@example.com', 'Unique_Name');
      const other = await createGrace('other.holder@example.com', 'other_name');
      const attempts = [
        admin('POST', '/api/user', { user: { email: 'copycat@example.com', username: 'unique_name' } }),
        admin('PUT', `/api/user/${other.id}`, { user: { email: 'other.holder@example.com', username: 'UNIQUE_NAME' } }),
        admin('PATCH', `/api/user/${other.id}`, { user: { username: 'Unique_name' } }),
      ];
      for (const answer of await Promise.all(attempts)) {
        expect(answer.status).to.equal(400);
        expect(answer.json!.fieldErrors['user.username'][0].code).to.equal('[duplicate]user.username');
      }
      expect((await admin('GET', '/api/user?username=unique_name')).json!.user.id).to.equal(holder.id);
      expect((await admin('GET', `/api/user/${other.id}`)).json!.user.username).to.equal('other_name');
    });

    it('checks the formats of the profile fields: [invalid]user.<field>, and stores nothing', async () => {
      const cases: [string, unknown][] = [
        ['birthDate', '1990-02-30'],
        ['birthDate', '12/09/1906'],
        ['birthDate', '2999-01-01'],
        ['mobilePhone', 'call me maybe'],
        ['mobilePhone', '12'],
        ['imageUrl', 'javascript:alert(1)'],
        ['imageUrl', 'not a url'],
        ['username', 42],
      ];
      for (const [field, value] of cases) {
        const answer = await admin('POST', '/api/user', { user: { email: 'formats@example.com', [field]: value } });
        expect(answer.status, `${field}=${String(value)}`).to.equal(400);
        expect(answer.json!.fieldErrors[`user.${field}`][0].code, `${field}=${String(value)}`).to.equal(`[invalid]user.${field}`);
      }
      expect((await admin('GET', '/api/user?email=formats%40example.com')).status).to.equal(404);
    });
  });

  describe('Registrations', () => {
    it('GET /api/user/registration/{userId}/{applicationId}: { registration } with its roles; 404 (empty) when not registered or unknown', async () => {
      const { user } = (await admin('POST', '/api/user', { user: { email: 'registered@example.com' }, registration: { applicationId: 'web', roles: ['editor'] } })).json!;
      const answer = await admin('GET', `/api/user/registration/${user.id}/web`);
      expect(answer.status).to.equal(200);
      expect(Object.keys(answer.json!)).to.deep.equal(['registration']);
      expect(answer.json!.registration).to.include({ applicationId: 'web' });
      expect(answer.json!.registration.roles).to.deep.equal(['editor']);
      for (const path of [`/api/user/registration/${user.id}/${REUSABLE_CLIENT.client_id}`, '/api/user/registration/00000000-0000-4000-8000-000000000000/web']) {
        const missing = await admin('GET', path);
        expect(missing.status, path).to.equal(404);
        expect(missing.text, path).to.equal('');
      }
      expect((await call(server, 'GET', `/api/user/registration/${user.id}/web`, { key: null })).status).to.equal(401);
    });
  });

  describe('User API: delete, reactivate, hard delete', () => {
    /** Whether a hosted sign-in (the OIDC login page) emails this user a link. */
    async function hostedSignInSendsLink(email: string): Promise<boolean> {
      const before = (await server.mails()).filter((m) => m.to === email).length;
      const inbox = await requestLink(new Browser(server.issuer), await authorizationRequest(await discover(server)), email);
      expect(inbox.status).to.equal(200);
      return (await server.mails()).filter((m) => m.to === email).length > before;
    }

    async function registeredUser(email: string): Promise<string> {
      const created = await admin('POST', '/api/user', { user: { email }, registration: { applicationId: 'web' } });
      expect(created.status).to.equal(200);
      return created.json!.user.id;
    }

    it('DELETE /api/user/{id} deactivates: 200 (empty), the user is kept with active false and cannot sign in by the API or the hosted pages', async () => {
      const id = await registeredUser('soft@example.com');
      const { refreshToken } = await loggedIn('soft@example.com', 'web');
      const pending = (await start(server, { applicationId: 'web', loginId: 'soft@example.com' })).json!.code;

      const deleted = await admin('DELETE', `/api/user/${id}`);
      expect(deleted.status).to.equal(200);
      expect(deleted.text).to.equal('');
      const kept = await admin('GET', `/api/user/${id}`);
      expect(kept.status).to.equal(200);
      expect(kept.json!.user).to.include({ id, email: 'soft@example.com', active: false });
      expect((await admin('GET', '/api/user?loginId=soft%40example.com')).json!.user.active).to.equal(false);

      expect((await login(server, { code: pending, applicationId: 'web' })).status, 'API login').to.equal(423);
      const refreshed = await call(server, 'POST', '/api/jwt/refresh', { body: { refreshToken } });
      expect(refreshed.status, 'refresh').to.not.equal(200);
      expect(refreshed.status, 'refresh').to.equal(400);
      expect(refreshed.json!.fieldErrors.refreshToken[0].code, 'refresh').to.equal('[invalid]refreshToken');
      expect(await hostedSignInSendsLink('soft@example.com'), 'hosted sign-in').to.equal(false);
    });

    it('PUT /api/user/{id}?reactivate=true: 200 { user } active again, and the user signs in again', async () => {
      const id = await registeredUser('back@example.com');
      expect((await admin('DELETE', `/api/user/${id}`)).status).to.equal(200);
      const reactivated = await call(server, 'PUT', `/api/user/${id}?reactivate=true`, { key: ADMIN_KEY });
      expect(reactivated.status, reactivated.text).to.equal(200);
      expect(reactivated.json!.user).to.include({ id, active: true });
      await loggedIn('back@example.com', 'web');
      expect(await hostedSignInSendsLink('back@example.com')).to.equal(true);
      expect((await call(server, 'PUT', '/api/user/00000000-0000-4000-8000-000000000000?reactivate=true', { key: ADMIN_KEY })).status).to.equal(404);
    });

    it('DELETE /api/user/{id}?hardDelete=true purges: 200, then 404 everywhere, and the email is free again', async () => {
      const id = await registeredUser('purge@example.com');
      const purged = await admin('DELETE', `/api/user/${id}?hardDelete=true`);
      expect(purged.status).to.equal(200);
      expect(purged.text).to.equal('');
      expect((await admin('GET', `/api/user/${id}`)).status).to.equal(404);
      expect((await admin('DELETE', `/api/user/${id}`)).status).to.equal(404);
      expect((await admin('DELETE', `/api/user/${id}?hardDelete=true`)).status).to.equal(404);
      expect((await admin('POST', '/api/user', { user: { email: 'purge@example.com' } })).status).to.equal(200);
    });
  });

  describe('Error codes', () => {
    it('an absent required field is [blank]<field>, in FusionAuth\'s error shape', async () => {
      const answer = await start(server, { applicationId: 'web' });
      expect(answer.status).to.equal(400);
      expect(answer.json!.fieldErrors).to.have.all.keys('loginId');
      expect(answer.json!.fieldErrors.loginId).to.have.length(1);
      expect(answer.json!.fieldErrors.loginId[0]).to.have.all.keys('code', 'message');
      expect(answer.json!.fieldErrors.loginId[0].code).to.equal('[blank]loginId');
      expect(answer.json!.generalErrors).to.be.an('array');
    });

    it('an empty field is [blank]<field> too, and each failing field gets its own entry', async () => {
      const answer = await start(server, { applicationId: '', loginId: '  ' });
      expect(answer.status).to.equal(400);
      expect(answer.json!.fieldErrors.applicationId[0].code).to.equal('[blank]applicationId');
      expect(answer.json!.fieldErrors.loginId[0].code).to.equal('[blank]loginId');
    });

    it('user create: [blank]user.email when absent, [notEmail]user.email when not an address, [duplicate]user.email when taken', async () => {
      const cases: [unknown, string][] = [
        [{ user: { firstName: 'No Email' } }, '[blank]user.email'],
        [{ user: { email: 'not-an-address' } }, '[notEmail]user.email'],
        [{ user: { email: ALICE.email } }, '[duplicate]user.email'],
      ];
      for (const [body, code] of cases) {
        const answer = await admin('POST', '/api/user', body);
        expect(answer.status, code).to.equal(400);
        expect(answer.json!.fieldErrors['user.email'][0].code).to.equal(code);
      }
    });

    it('POST /api/user/{id} with an id that is no UUID: [couldNotConvert]userId, and no user is made', async () => {
      const answer = await admin('POST', '/api/user/not-a-uuid', { user: { email: 'no-uuid@example.com' } });
      expect(answer.status).to.equal(400);
      expect(answer.json!.fieldErrors.userId[0].code).to.equal('[couldNotConvert]userId');
      expect((await admin('GET', '/api/user?email=no-uuid%40example.com')).status).to.equal(404);
    });

    it('POST /api/passwordless/login without a code: [blank]code, and nothing else happens', async () => {
      const answer = await login(server, { applicationId: 'web' });
      expect(answer.status).to.equal(400);
      expect(answer.json!.fieldErrors.code[0].code).to.equal('[blank]code');
    });
  });

  describe('Refresh tokens', () => {
    const refresh = (body: unknown) => call(server, 'POST', '/api/jwt/refresh', { body });
    const revoke = (query: string, key: string | null = ADMIN_KEY) => call(server, 'DELETE', `/api/jwt/refresh?${query}`, { key });
    const works = async (refreshToken: string) => (await refresh({ refreshToken })).status === 200;

    it('POST /api/jwt/refresh under OneTimeUse (our default): a new token and refreshTokenId; the old token is then refused', async () => {
      const first = await loggedIn(DANA.email, 'web');
      const answer = await refresh({ refreshToken: first.refreshToken });
      expect(answer.status).to.equal(200);
      expect(answer.json).to.have.all.keys('token', 'tokenExpirationInstant', 'refreshToken', 'refreshTokenId');
      expect(answer.json!.refreshToken).to.not.equal(first.refreshToken);
      expect(answer.json!.refreshTokenId).to.not.equal(first.refreshTokenId);
      expect(await works(first.refreshToken)).to.equal(false);
    });

    it('POST /api/jwt/refresh under Reusable (FusionAuth\'s default): the same refreshToken and refreshTokenId, use after use, with a fresh JWT', async () => {
      const first = await loggedIn(DANA.email, REUSABLE_CLIENT.client_id);
      for (let use = 0; use < 3; use += 1) {
        const answer = await refresh({ refreshToken: first.refreshToken });
        expect(answer.status, `use ${use + 1}`).to.equal(200);
        expect(answer.json).to.include({ refreshToken: first.refreshToken, refreshTokenId: first.refreshTokenId });
        const validated = await call(server, 'GET', '/api/jwt/validate', { key: `Bearer ${answer.json!.token}` });
        expect(validated.json!.jwt).to.include({ aud: REUSABLE_CLIENT.client_id });
      }
    });

    it('POST /api/jwt/refresh reads the refresh_token cookie, which wins over the body', async () => {
      const { refreshToken } = await loggedIn(DANA.email, REUSABLE_CLIENT.client_id);
      const cookieOnly = await fetch(`${server.issuer}/api/jwt/refresh`, { method: 'POST', headers: { cookie: `refresh_token=${refreshToken}` } });
      expect(cookieOnly.status).to.equal(200);
      expect(((await cookieOnly.json()) as { refreshTokenId: string }).refreshTokenId).to.be.a('string');
      const both = await fetch(`${server.issuer}/api/jwt/refresh`, { method: 'POST', headers: { cookie: `refresh_token=${refreshToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: 'not-the-token' }) });
      expect(both.status).to.equal(200);
    });

    it('POST /api/jwt/refresh with a bad token: 400 { fieldErrors: { refreshToken: [[invalid]refreshToken] } }', async () => {
      const answer = await refresh({ refreshToken: 'this-is-not-a-refresh-token' });
      expect(answer.status).to.equal(400);
      expect(answer.json!.fieldErrors.refreshToken[0].code).to.equal('[invalid]refreshToken');
      const none = await refresh({});
      expect(none.status).to.equal(400);
      expect(none.json!.fieldErrors.refreshToken[0].code).to.equal('[blank]refreshToken');
    });

    it('POST /api/logout { refreshToken }: 200, the token is revoked, the token cookies are cleared; the user\'s other tokens stay', async () => {
      const one = await loggedIn(DANA.email, REUSABLE_CLIENT.client_id);
      const other = await loggedIn(DANA.email, REUSABLE_CLIENT.client_id);
      const answer = await call(server, 'POST', '/api/logout', { body: { refreshToken: one.refreshToken } });
      expect(answer.status).to.equal(200);
      expect(answer.text).to.equal('');
      const cleared = answer.headers.getSetCookie();
      expect(cleared.some((c) => /^access_token=;.*Max-Age=0/.test(c))).to.equal(true);
      expect(cleared.some((c) => /^refresh_token=;.*Max-Age=0/.test(c))).to.equal(true);
      expect(await works(one.refreshToken)).to.equal(false);
      expect(await works(other.refreshToken)).to.equal(true);
      expect((await call(server, 'POST', '/api/logout', { body: { refreshToken: one.refreshToken } })).status, 'again: harmless').to.equal(200);
    });

    it('POST /api/logout { global: true } with the refresh_token cookie: every token of that user is revoked, no one else\'s', async () => {
      const dana = await loggedIn(DANA.email, REUSABLE_CLIENT.client_id);
      const danaWeb = await loggedIn(DANA.email, 'web');
      const eve = await loggedIn(EVE.email, REUSABLE_CLIENT.client_id);
      const answer = await fetch(`${server.issuer}/api/logout`, { method: 'POST', headers: { cookie: `refresh_token=${dana.refreshToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ global: true }) });
      expect(answer.status).to.equal(200);
      expect(await works(dana.refreshToken)).to.equal(false);
      expect(await works(danaWeb.refreshToken)).to.equal(false);
      expect(await works(eve.refreshToken)).to.equal(true);
      expect((await call(server, 'POST', '/api/logout', { body: { global: 'yes' } })).json!.fieldErrors.global[0].code).to.equal('[invalid]global');
    });

    it('GET /api/jwt/refresh?userId=: { refreshTokens } with their ids, never their values; 401 without a key, [couldNotConvert]userId', async () => {
      const { user } = (await admin('POST', '/api/user', { user: { email: 'listed@example.com' }, registration: { applicationId: 'web' } })).json!;
      const first = await loggedIn('listed@example.com', 'web');
      const second = await loggedIn('listed@example.com', 'web');
      const answer = await admin('GET', `/api/jwt/refresh?userId=${user.id}`);
      expect(answer.status).to.equal(200);
      expect(answer.json!.refreshTokens.map((t: { id: string }) => t.id)).to.deep.equal([first.refreshTokenId, second.refreshTokenId]);
      expect(answer.json!.refreshTokens[0]).to.include({ applicationId: 'web', userId: user.id });
      expect(answer.text).to.not.include(first.refreshToken);
      expect((await call(server, 'POST', '/api/jwt/refresh', { body: { refreshToken: first.refreshToken } })).status).to.equal(200);
      expect((await admin('GET', `/api/jwt/refresh?userId=${user.id}`)).json!.refreshTokens, 'a spent token is no longer listed').to.have.length(2);
      expect((await call(server, 'GET', `/api/jwt/refresh?userId=${user.id}`, { key: null })).status).to.equal(401);
      expect((await admin('GET', '/api/jwt/refresh?userId=nope')).json!.fieldErrors.userId[0].code).to.equal('[couldNotConvert]userId');
    });

    it('DELETE /api/jwt/refresh?token=: 200 (empty) and the token is refused; 404 for an unknown token; 401 without a key', async () => {
      const { refreshToken } = await loggedIn(DANA.email, REUSABLE_CLIENT.client_id);
      expect((await revoke(`token=${encodeURIComponent(refreshToken)}`, null)).status).to.equal(401);
      expect(await works(refreshToken)).to.equal(true);
      const answer = await revoke(`token=${encodeURIComponent(refreshToken)}`);
      expect(answer.status).to.equal(200);
      expect(answer.text).to.equal('');
      expect(await works(refreshToken)).to.equal(false);
      expect((await revoke('token=no-such-token')).status).to.equal(404);
    });

    it('DELETE /api/jwt/refresh?userId=: every token of that user, of every application, and no one else\'s', async () => {
      const dana = await loggedIn(DANA.email, REUSABLE_CLIENT.client_id);
      const danaWeb = await loggedIn(DANA.email, 'web');
      const eve = await loggedIn(EVE.email, REUSABLE_CLIENT.client_id);
      expect((await revoke(`userId=${dana.user.id}`)).status).to.equal(200);
      expect(await works(dana.refreshToken)).to.equal(false);
      expect(await works(danaWeb.refreshToken)).to.equal(false);
      expect(await works(eve.refreshToken)).to.equal(true);
    });

    it('DELETE /api/jwt/refresh?applicationId=&userId=: only that user\'s tokens for that application', async () => {
      const reusable = await loggedIn(EVE.email, REUSABLE_CLIENT.client_id);
      const web = await loggedIn(EVE.email, 'web');
      const dana = await loggedIn(DANA.email, REUSABLE_CLIENT.client_id);
      expect((await revoke(`applicationId=${REUSABLE_CLIENT.client_id}&userId=${reusable.user.id}`)).status).to.equal(200);
      expect(await works(reusable.refreshToken)).to.equal(false);
      expect(await works(dana.refreshToken)).to.equal(true);
      const rotated = await refresh({ refreshToken: web.refreshToken });
      expect(rotated.status, 'the same user\'s token for another application').to.equal(200);
    });

    it('DELETE /api/jwt/refresh?applicationId=: every user\'s tokens for that application, none of another application', async () => {
      const dana = await loggedIn(DANA.email, REUSABLE_CLIENT.client_id);
      const eve = await loggedIn(EVE.email, REUSABLE_CLIENT.client_id);
      const danaWeb = await loggedIn(DANA.email, 'web');
      expect((await revoke(`applicationId=${REUSABLE_CLIENT.client_id}`, null)).status).to.equal(401);
      expect(await works(dana.refreshToken)).to.equal(true);
      const answer = await revoke(`applicationId=${REUSABLE_CLIENT.client_id}`);
      expect(answer.status).to.equal(200);
      expect(answer.text).to.equal('');
      expect(await works(dana.refreshToken)).to.equal(false);
      expect(await works(eve.refreshToken)).to.equal(false);
      expect(await works(danaWeb.refreshToken), 'another application\'s token').to.equal(true);
    });

    it('DELETE /api/jwt/refresh without token, userId or applicationId: 400 [blank]token; a userId that is no UUID: [couldNotConvert]userId', async () => {
      const none = await call(server, 'DELETE', '/api/jwt/refresh', { key: ADMIN_KEY });
      expect(none.status).to.equal(400);
      expect(none.json!.fieldErrors.token[0].code).to.equal('[blank]token');
      const bad = await revoke('userId=not-a-uuid');
      expect(bad.status).to.equal(400);
      expect(bad.json!.fieldErrors.userId[0].code).to.equal('[couldNotConvert]userId');
    });
  });

  describe('The flows an integration runs', () => {
    it('start → send → login → validate (API and JWKS) → refresh under both policies → revoke', async () => {
      for (const applicationId of ['web', REUSABLE_CLIENT.client_id]) {
        const started = await start(server, { applicationId, loginId: DANA.email, state: { returnTo: '/account' } });
        expect(started.status).to.equal(200);
        expect((await call(server, 'POST', '/api/passwordless/send', { body: { code: started.json!.code } })).status).to.equal(200);
        const loggedInAnswer = await login(server, { code: started.json!.code, applicationId });
        expect(loggedInAnswer.status).to.equal(200);
        const { token, refreshToken, refreshTokenId, state, user } = loggedInAnswer.json!;
        expect(state).to.deep.equal({ returnTo: '/account' });
        expect((await call(server, 'GET', '/api/jwt/validate', { key: `Bearer ${token}` })).json!.jwt.sub).to.equal(user.id);
        await jwtVerify(token, createRemoteJWKSet(new URL(`${server.issuer}/.well-known/jwks.json`)), { issuer: server.issuer, audience: applicationId });

        const refreshed = await call(server, 'POST', '/api/jwt/refresh', { body: { refreshToken } });
        expect(refreshed.status).to.equal(200);
        const kept = applicationId === REUSABLE_CLIENT.client_id;
        expect(refreshed.json!.refreshTokenId === refreshTokenId, applicationId).to.equal(kept);
        const current = refreshed.json!.refreshToken as string;
        expect((await call(server, 'DELETE', `/api/jwt/refresh?token=${encodeURIComponent(current)}`, { key: ADMIN_KEY })).status).to.equal(200);
        expect((await call(server, 'POST', '/api/jwt/refresh', { body: { refreshToken: current } })).status).to.equal(400);
      }
    });

    it('user: create → retrieve by loginId → update → soft delete → reactivate → hard delete', async () => {
      const created = await admin('POST', '/api/user', { user: { email: 'flow@example.com', username: 'flow_user', fullName: 'Flo W.' }, registration: { applicationId: 'web' } });
      expect(created.status).to.equal(200);
      const id = created.json!.user.id as string;
      expect((await admin('GET', '/api/user?loginId=flow_user')).json!.user.id).to.equal(id);
      expect((await admin('PATCH', `/api/user/${id}`, { user: { mobilePhone: '+1 555 0100 200' } })).json!.user.mobilePhone).to.equal('+1 555 0100 200');
      expect((await admin('PUT', `/api/user/${id}`, { user: { email: 'flow@example.com', username: 'flow_user', birthDate: '2000-01-01' } })).json!.user).to.include({ birthDate: '2000-01-01' }).and.not.have.property('mobilePhone');
      expect((await admin('DELETE', `/api/user/${id}`)).status).to.equal(200);
      expect((await admin('GET', `/api/user/${id}`)).json!.user.active).to.equal(false);
      expect((await call(server, 'PUT', `/api/user/${id}?reactivate=true`, { key: ADMIN_KEY })).json!.user.active).to.equal(true);
      await loggedIn('flow@example.com', 'web');
      expect((await admin('DELETE', `/api/user/${id}?hardDelete=true`)).status).to.equal(200);
      expect((await admin('GET', '/api/user?loginId=flow_user')).status).to.equal(404);
    });
  });

  describe('Login identifiers (loginIdTypes)', () => {
    before(async () => {
      for (const [email, username] of [['ids@example.com', 'ids_user'], ['other.ids@example.com', 'ids@example.com']]) {
        expect((await admin('POST', '/api/user', { user: { email, username } })).status).to.equal(200);
      }
    });
    const userIdOf = async (loginId: string, loginIdTypes?: string[]) => {
      const started = await start(server, { applicationId: 'web', loginId, ...(loginIdTypes ? { loginIdTypes } : {}) });
      if (started.status !== 200) return started.status;
      return (await login(server, { code: started.json!.code })).json!.user.email as string;
    };

    it('POST /api/passwordless/start finds the user by email or username when loginIdTypes is absent (email first)', async () => {
      expect(await userIdOf('ids_user')).to.equal('ids@example.com');
      expect(await userIdOf('IDS@example.com')).to.equal('ids@example.com');
    });

    it('honours loginIdTypes: only the types named, in their order', async () => {
      expect(await userIdOf('ids_user', ['email'])).to.equal(404);
      expect(await userIdOf('ids_user', ['username'])).to.equal('ids@example.com');
      // "ids@example.com" is one user's email and another's username: the order decides.
      expect(await userIdOf('ids@example.com', ['email', 'username'])).to.equal('ids@example.com');
      expect(await userIdOf('ids@example.com', ['username', 'email'])).to.equal('other.ids@example.com');
    });

    it('refuses phoneNumber (users here have no phone login), an empty list and a repeated type: [invalid]loginIdTypes', async () => {
      for (const loginIdTypes of [['phoneNumber'], ['email', 'phoneNumber'], [], ['email', 'email']]) {
        const answer = await start(server, { applicationId: 'web', loginId: 'ids_user', loginIdTypes });
        expect(answer.status, JSON.stringify(loginIdTypes)).to.equal(400);
        expect(Object.keys(answer.json!.fieldErrors)[0], JSON.stringify(loginIdTypes)).to.match(/^loginIdTypes/);
        expect(answer.json!.fieldErrors[Object.keys(answer.json!.fieldErrors)[0]!][0].code).to.match(/^\[invalid\]loginIdTypes/);
      }
    });
  });

  describe('Two-factor enrolment', () => {
    it('POST /api/user/two-factor/{id} takes FusionAuth\'s base64 `secret` as well as secretBase32Encoded, and the login then asks for it', async () => {
      const { user } = (await admin('POST', '/api/user', { user: { email: 'b64@example.com' }, registration: { applicationId: 'web' } })).json!;
      const { secret, secretBase32Encoded } = (await admin('GET', '/api/two-factor/secret')).json!;
      const enabled = await admin('POST', `/api/user/two-factor/${user.id}`, { method: 'authenticator', code: await previousStepCode(secretBase32Encoded), secret });
      expect(enabled.status, enabled.text).to.equal(200);
      expect(enabled.json!.recoveryCodes).to.have.length(10);
      const first = await login(server, { code: (await start(server, { applicationId: 'web', loginId: 'b64@example.com' })).json!.code, applicationId: 'web' });
      expect(first.status).to.equal(242);
      const second = await call(server, 'POST', '/api/two-factor/login', { body: { twoFactorId: first.json!.twoFactorId, code: totpCode(secretBase32Encoded), applicationId: 'web' } });
      expect(second.status).to.equal(200);
    });

    it('refuses a secret that is not base64, and a request with neither secret', async () => {
      const { user } = (await admin('POST', '/api/user', { user: { email: 'b64-bad@example.com' } })).json!;
      const notBase64 = await admin('POST', `/api/user/two-factor/${user.id}`, { method: 'authenticator', code: '123456', secret: 'not base64 at all!' });
      expect(notBase64.json!.fieldErrors.secret[0].code).to.equal('[invalid]secret');
      const neither = await admin('POST', `/api/user/two-factor/${user.id}`, { method: 'authenticator', code: '123456' });
      expect(neither.json!.fieldErrors.secretBase32Encoded[0].code).to.equal('[blank]secretBase32Encoded');
    });
  });

  describe('X-FusionAuth-TenantId', () => {
    const withTenant = (tenant: string) => fetch(`${server.issuer}/api/user?email=${encodeURIComponent(ALICE.email)}`, { headers: { authorization: ADMIN_KEY, 'x-fusionauth-tenantid': tenant } });

    it('accepts the configured tenant id (any case), and calls without the header', async () => {
      expect((await withTenant(TENANT_ID)).status).to.equal(200);
      expect((await withTenant(TENANT_ID.toUpperCase())).status).to.equal(200);
      expect((await admin('GET', `/api/user?email=${encodeURIComponent(ALICE.email)}`)).status).to.equal(200);
    });

    it('refuses another tenant id and a malformed one with 400 [invalid]tenantId, changing nothing', async () => {
      for (const tenant of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
        const answer = await withTenant(tenant);
        expect(answer.status, tenant).to.equal(400);
        expect(((await answer.json()) as { fieldErrors: Record<string, { code: string }[]> }).fieldErrors.tenantId![0]!.code).to.equal('[invalid]tenantId');
      }
      const created = await fetch(`${server.issuer}/api/user`, { method: 'POST', headers: { authorization: ADMIN_KEY, 'content-type': 'application/json', 'x-fusionauth-tenantid': '00000000-0000-4000-8000-000000000000' }, body: JSON.stringify({ user: { email: 'other-tenant@example.com' } }) });
      expect(created.status).to.equal(400);
      expect((await admin('GET', '/api/user?email=other-tenant%40example.com')).status).to.equal(404);
    });
  });

  describe('Cookies', () => {
    /** The value of cookie `name` among an answer's Set-Cookie headers, with its attributes; null when not set. */
    const setCookie = (headers: Headers, name: string) => headers.getSetCookie().find((c) => c.startsWith(`${name}=`)) ?? null;

    it('a client with tokenCookies gets FusionAuth\'s HttpOnly access_token and refresh_token cookies on login, and they work', async () => {
      const started = await start(server, { applicationId: REUSABLE_CLIENT.client_id, loginId: DANA.email });
      const answer = await login(server, { code: started.json!.code, applicationId: REUSABLE_CLIENT.client_id });
      expect(answer.status).to.equal(200);
      const access = setCookie(answer.headers, 'access_token');
      const refreshCookie = setCookie(answer.headers, 'refresh_token');
      expect(access).to.equal(`access_token=${answer.json!.token}; Path=/; HttpOnly; SameSite=Lax`);
      expect(refreshCookie).to.match(new RegExp(`^refresh_token=${answer.json!.refreshToken}; Path=/; HttpOnly; SameSite=Lax; Max-Age=\\d+$`));
      const validated = await fetch(`${server.issuer}/api/jwt/validate`, { headers: { cookie: access!.split(';')[0]! } });
      expect(validated.status).to.equal(200);
      const refreshed = await fetch(`${server.issuer}/api/jwt/refresh`, { method: 'POST', headers: { cookie: refreshCookie!.split(';')[0]! } });
      expect(refreshed.status).to.equal(200);
      expect(setCookie(refreshed.headers, 'access_token')).to.match(/^access_token=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; HttpOnly/);
    });

    it('a client without tokenCookies gets no cookies (a back end has no use for them)', async () => {
      const started = await start(server, { applicationId: 'web', loginId: DANA.email });
      const answer = await login(server, { code: started.json!.code, applicationId: 'web' });
      expect(answer.status).to.equal(200);
      expect(answer.headers.getSetCookie().filter((c) => /^(access|refresh)_token=/.test(c))).to.deep.equal([]);
    });

    it('POST /api/passwordless/login reads the fusionauth.trust cookie for the trust id: a trusted device skips the second factor', async () => {
      const { user } = (await admin('POST', '/api/user', { user: { email: 'trusted@example.com' }, registration: { applicationId: 'web' } })).json!;
      const { secretBase32Encoded } = (await admin('GET', '/api/two-factor/secret')).json!;
      expect((await admin('POST', `/api/user/two-factor/${user.id}`, { method: 'authenticator', code: await previousStepCode(secretBase32Encoded), secretBase32Encoded })).status).to.equal(200);
      const codeFor = async () => (await start(server, { applicationId: 'web', loginId: 'trusted@example.com' })).json!.code as string;
      const first = await login(server, { code: await codeFor(), applicationId: 'web' });
      expect(first.status).to.equal(242);
      const trusted = await call(server, 'POST', '/api/two-factor/login', { body: { twoFactorId: first.json!.twoFactorId, code: totpCode(secretBase32Encoded), trustComputer: true, applicationId: 'web' } });
      const trustId = trusted.json!.twoFactorTrustId as string;
      expect(trustId).to.be.a('string');
      const withCookie = await fetch(`${server.issuer}/api/passwordless/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: `fusionauth.trust=${trustId}` },
        body: JSON.stringify({ code: await codeFor(), applicationId: 'web' }),
      });
      expect(withCookie.status).to.equal(200);
      const withoutIt = await login(server, { code: await codeFor(), applicationId: 'web' });
      expect(withoutIt.status).to.equal(242);
    });
  });

  describe('OAuth paths FusionAuth integrations hard-code (/oauth2/*)', () => {
    /** A relying party whose endpoints are FusionAuth's addresses, not the discovered ones. */
    async function fusionAuthPathed(): Promise<client.Configuration> {
      const discovered = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as client.ServerMetadata;
      const at = (path: string) => `${server.issuer}/oauth2/${path}`;
      const metadata = {
        ...discovered,
        authorization_endpoint: at('authorize'),
        token_endpoint: at('token'),
        userinfo_endpoint: at('userinfo'),
        end_session_endpoint: at('logout'),
        introspection_endpoint: at('introspect'),
        revocation_endpoint: at('revoke'),
      };
      const config = new client.Configuration(metadata, WEB_CLIENT.client_id, WEB_CLIENT.client_secret);
      client.allowInsecureRequests(config);
      return config;
    }

    it('runs the hosted sign-in through /oauth2/authorize, /oauth2/token, /oauth2/userinfo, /oauth2/introspect, /oauth2/revoke and /oauth2/logout', async () => {
      const config = await fusionAuthPathed();
      const rp = await authorizationRequest(config);
      expect(rp.url.pathname).to.equal('/oauth2/authorize');
      const browser = new Browser(server.issuer);
      await requestLink(browser, rp, ALICE.email);
      const landed = await browser.get(linkOf((await lastMailTo(server, ALICE.email))!));
      const tokens = await exchange(rp, landed.url);
      expect(tokens.claims()!.email).to.equal(ALICE.email);
      expect((await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)).email).to.equal(ALICE.email);
      expect((await client.tokenIntrospection(config, tokens.access_token)).active).to.equal(true);
      await client.tokenRevocation(config, tokens.access_token);
      expect((await client.tokenIntrospection(config, tokens.access_token)).active).to.equal(false);
      const logout = await browser.get(client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: WEB_CLIENT.post_logout_redirect_uris[0]! }).href);
      expect(logout.status).to.equal(200);
      expect(logout.body).to.include('form');
    });

    it('the profile fields provisioned through the API reach relying parties as standard claims (profile and phone scopes)', async () => {
      const created = await admin('POST', '/api/user', {
        user: { email: 'claims@example.com', username: 'ClaimsUser', firstName: 'Ada', middleName: 'King', lastName: 'Lovelace', fullName: 'Augusta Ada King', imageUrl: 'https://example.com/ada.png', birthDate: '1815-12-10', mobilePhone: '+44 20 7946 0000' },
      });
      expect(created.status).to.equal(200);
      const config = await fusionAuthPathed();
      const rp = await authorizationRequest(config, { scope: 'openid email profile phone' });
      const browser = new Browser(server.issuer);
      await requestLink(browser, rp, 'claims@example.com');
      const tokens = await exchange(rp, (await browser.get(linkOf((await lastMailTo(server, 'claims@example.com'))!))).url);
      const userinfo = await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
      expect(userinfo).to.include({
        name: 'Augusta Ada King',
        given_name: 'Ada',
        middle_name: 'King',
        family_name: 'Lovelace',
        preferred_username: 'ClaimsUser',
        picture: 'https://example.com/ada.png',
        birthdate: '1815-12-10',
        phone_number: '+44 20 7946 0000',
      });
    });

    it('keeps the discovered endpoints working, and discovery names them (the /oauth2 paths are aliases)', async () => {
      const discovery = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
      expect(discovery.authorization_endpoint).to.equal(`${server.issuer}/auth`);
      expect(discovery.token_endpoint).to.equal(`${server.issuer}/token`);
      for (const [fusionAuth, ours] of [['/oauth2/token', discovery.token_endpoint], ['/oauth2/userinfo', discovery.userinfo_endpoint]]) {
        const [a, b] = await Promise.all([fetch(`${server.issuer}${fusionAuth}`, { method: 'POST' }), fetch(ours!, { method: 'POST' })]);
        expect(a.status, fusionAuth).to.equal(b.status);
        expect(await a.json(), fusionAuth).to.deep.equal(await b.json());
      }
    });

    it('GET /oauth2/passwordless/{code} opens an emailed API link as /passwordless/{code} does, spending nothing', async () => {
      const started = await start(server, { applicationId: 'web', loginId: DANA.email, state: { client_id: 'web', redirect_uri: WEB_CLIENT.redirect_uris[0], state: 'xyz' } });
      const opened = await fetch(`${server.issuer}/oauth2/passwordless/${started.json!.code}?tenantId=${TENANT_ID}`, { redirect: 'manual' });
      expect(opened.status).to.equal(303);
      expect(new URL(opened.headers.get('location')!).pathname).to.equal('/auth');
      // Nothing was spent: the code still logs in through the API.
      expect((await login(server, { code: started.json!.code, applicationId: 'web' })).status).to.equal(200);
      const unknown = await fetch(`${server.issuer}/oauth2/passwordless/not-a-real-code-000000000000000000000`, { redirect: 'manual' });
      expect(unknown.status).to.be.within(400, 499);
    });
  });

  describe('OAuth paths switched off (api.oauth2Paths: false)', () => {
    let plain: TestServer;
    before(async () => {
      plain = await startApiServer({ config: { users: [ALICE], clients: [WEB_CLIENT], api: { oauth2Paths: false } } });
    });
    after(() => plain.stop());

    it('serves none of the /oauth2 aliases nor /oauth2/passwordless/{code}; today\'s endpoints, /passwordless/{code} and /.well-known/jwks.json stay', async () => {
      for (const path of ['/oauth2/authorize', '/oauth2/token', '/oauth2/userinfo', '/oauth2/logout', '/oauth2/introspect', '/oauth2/revoke']) {
        expect((await fetch(`${plain.issuer}${path}`, { method: 'POST', redirect: 'manual' })).status, path).to.equal(404);
      }
      const started = await start(plain, { applicationId: 'web', loginId: ALICE.email, state: { client_id: 'web', redirect_uri: WEB_CLIENT.redirect_uris[0], state: 'xyz' } });
      expect(started.status).to.equal(200);
      expect((await fetch(`${plain.issuer}/oauth2/passwordless/${started.json!.code}`, { redirect: 'manual' })).status).to.equal(404);
      expect((await fetch(`${plain.issuer}/passwordless/${started.json!.code}`, { redirect: 'manual' })).status).to.equal(303);
      const discovery = (await (await fetch(`${plain.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
      const token = await fetch(discovery.token_endpoint!, { method: 'POST' });
      expect(token.status).to.equal(400);
      expect((await fetch(`${plain.issuer}/.well-known/jwks.json`)).status).to.equal(200);
    });
  });

  describe('Secrets stay out of the logs', () => {
    it('no JWT, refresh token, trust id or API key appears in the log lines of the new calls, at debug level', async () => {
      const secrets: string[] = [ADMIN_KEY];
      const lines = await captureLogs('debug', async () => {
        const { token, refreshToken, user } = await loggedIn(DANA.email, REUSABLE_CLIENT.client_id);
        secrets.push(token, refreshToken);
        await call(server, 'GET', '/api/jwt/validate', { key: `Bearer ${token}` });
        await fetch(`${server.issuer}/api/jwt/validate`, { headers: { cookie: `access_token=${token}` } });
        await fetch(`${server.issuer}/api/jwt/refresh`, { method: 'POST', headers: { cookie: `refresh_token=${refreshToken}` } });
        await call(server, 'DELETE', `/api/jwt/refresh?token=${encodeURIComponent(refreshToken)}`, { key: ADMIN_KEY });
        await call(server, 'DELETE', `/api/jwt/refresh?token=${encodeURIComponent(refreshToken)}`, { key: ADMIN_KEY });
        await call(server, 'DELETE', `/api/jwt/refresh?userId=${user.id}`, { key: 'not-a-key-but-secret-looking-0000' });
        secrets.push('not-a-key-but-secret-looking-0000');
        await call(server, 'GET', '/api/jwt/validate', { key: `Bearer ${token}x` });
        await call(server, 'PUT', `/api/user/${user.id}?reactivate=true`, { key: ADMIN_KEY });
      });
      expect(lines.length).to.be.greaterThan(5);
      for (const secret of secrets) for (const line of lines) expect(line).to.not.include(secret);
    });
  });
});
