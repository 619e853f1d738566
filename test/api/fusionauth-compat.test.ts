import { expect } from 'chai';
import { createRemoteJWKSet, decodeProtectedHeader, importJWK, importSPKI, jwtVerify, SignJWT, type JWK } from 'jose';
import type { TestServer } from '../helpers/server.js';
import { ALICE, testKeys, WEB_CLIENT } from '../helpers/server.js';
import { loadConfig, ConfigError } from '../../src/config/load.js';
import { call, login, start, startApiServer } from './helpers.js';

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
const DANA = { email: 'dana@example.com', firstName: 'Dana', registrations: [{ applicationId: 'web', roles: ['admin'] }, { applicationId: HMAC_CLIENT.client_id, roles: ['user'] }] };

describe('FusionAuth compatibility: an integration switched by base URL and API key', () => {
  let server: TestServer;

  before(async () => {
    server = await startApiServer({ config: { users: [ALICE, DANA], clients: [WEB_CLIENT, HMAC_CLIENT] } });
  });
  after(() => server.stop());

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
});
