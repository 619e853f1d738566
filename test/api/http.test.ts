import { expect } from 'chai';
import type { TestServer } from '../helpers/server.js';
import { ALICE } from '../helpers/server.js';
import { loadConfig, ConfigError } from '../../src/config/load.js';
import { createApiKey } from '../../src/api/api-keys.js';
import { routesOf } from '../../src/api/index.js';
import { DATABASE_FREE_PATHS } from '../../src/api/openapi.js';
import { ADMIN_KEY, START_KEY, call, start, startApiServer } from './helpers.js';

describe('REST API: bodies, errors, API keys, OpenAPI', () => {
  let server: TestServer;

  before(async () => {
    server = await startApiServer();
  });
  after(() => server.stop());

  describe('bodies', () => {
    it('answers 400 [invalidJSON] to malformed JSON and to a JSON scalar', async () => {
      for (const raw of ['{"applicationId": "web",', 'null', '"text"', '\u0000']) {
        const answer = await call(server, 'POST', '/api/passwordless/start', { raw, key: START_KEY });
        expect(answer.status, raw).to.equal(400);
        expect(answer.json!.generalErrors[0].code).to.equal('[invalidJSON]');
      }
    });

    it('answers 400 [InvalidContentType] to a body that is not sent as JSON', async () => {
      const answer = await call(server, 'POST', '/api/passwordless/login', { raw: 'code=abc', contentType: 'application/x-www-form-urlencoded' });
      expect(answer.status).to.equal(400);
      expect(answer.json!.generalErrors[0].code).to.equal('[InvalidContentType]');
    });

    it('answers 413 [TooLarge] to a body over 64 KiB, and takes one just under', async () => {
      const big = await call(server, 'POST', '/api/passwordless/login', { body: { code: 'x', pad: 'p'.repeat(70 * 1024) } });
      expect(big.status).to.equal(413);
      expect(big.json!.generalErrors[0].code).to.equal('[TooLarge]');
      const fits = await call(server, 'POST', '/api/passwordless/login', { body: { code: 'x', pad: 'p'.repeat(60 * 1024) } });
      expect(fits.status).to.equal(404);
    });

    it('answers a JSON array and odd Unicode with a 4xx, never a 500', async () => {
      const array = await call(server, 'POST', '/api/passwordless/login', { raw: '[1,2]' });
      expect(array.status).to.equal(400);
      const bodies = [{ applicationId: 'web', loginId: '\ud800@example.com' }, { applicationId: '\u202e\u0000', loginId: ALICE.email }, { applicationId: 'web', loginId: 'a\u0301@e\u0301.com', state: { '\u0000': '\ud83d' } }];
      for (const body of bodies) expect((await start(server, body)).status).to.be.within(400, 404);
    });

    it('answers an unknown API path with a 404 in the error shape, and a wrong method with 405', async () => {
      const unknown = await call(server, 'GET', '/api/nothing-here');
      expect(unknown.status).to.equal(404);
      expect(unknown.json!.generalErrors[0].code).to.equal('[NotFound]');
      const wrongMethod = await call(server, 'GET', '/api/passwordless/login');
      expect(wrongMethod.status).to.equal(405);
      expect(wrongMethod.headers.get('allow')).to.equal('POST');
    });

    it('answers every /api path in JSON, in any case; API routes are lower case only, whatever the key', async () => {
      const cases: [string, string, Record<string, unknown>, string | null][] = [
        ['GET', '/api', {}, null],
        ['GET', '/API', {}, null],
        ['POST', '/API/passwordless/login', {}, null],
        ['POST', '/Api/passwordless/start', { applicationId: 'web', loginId: ALICE.email }, START_KEY],
        ['POST', '/API/passwordless/start', { applicationId: 'web', loginId: ALICE.email }, ADMIN_KEY],
        ['GET', '/API/openapi.json', {}, null],
      ];
      for (const [method, path, body, key] of cases) {
        const answer = await call(server, method, path, { ...(method === 'POST' ? { body } : {}), key });
        expect(answer.status, `${method} ${path}`).to.equal(404);
        expect(answer.headers.get('content-type'), `${method} ${path}`).to.match(/^application\/json/);
        expect(answer.json!.generalErrors[0].code).to.equal('[NotFound]');
      }
      // Not the API: a path that only begins with the same letters.
      expect((await fetch(`${server.issuer}/apis`)).headers.get('content-type')).to.not.match(/json/);
    });
  });

  describe('API keys', () => {
    it('accepts a key created in the store (hash only) and refuses it once revoked', async () => {
      const { key, record } = await createApiKey(server.app.store.apiKeys, { description: 'test', permissions: { '/api/user': ['GET'] } });
      expect(JSON.stringify(await server.app.store.apiKeys.list())).to.not.include(key);
      expect(record.keyHash).to.match(/^[0-9a-f]{64}$/);
      const lookup = () => call(server, 'GET', `/api/user?email=${ALICE.email}`, { key });
      expect((await lookup()).status).to.equal(200);
      // A permission on /api/user covers /api/user/<id>, for the methods it names only.
      const id = (await lookup()).json!.user.id as string;
      expect((await call(server, 'GET', `/api/user/${id}`, { key })).status).to.equal(200);
      expect((await call(server, 'DELETE', `/api/user/${id}`, { key })).status).to.equal(401);
      expect((await call(server, 'POST', '/api/passwordless/start', { body: { applicationId: 'web', loginId: ALICE.email }, key })).status).to.equal(401);
      await server.app.store.apiKeys.delete(record.id);
      expect((await lookup()).status).to.equal(401);
    });

    it('lets the least-privilege key start logins only', async () => {
      expect((await start(server, { applicationId: 'web', loginId: ALICE.email })).status).to.equal(200);
      for (const [method, path] of [['GET', `/api/user?email=${ALICE.email}`], ['POST', '/api/user']]) {
        expect((await call(server, method!, path!, { key: START_KEY, body: method === 'POST' ? { user: { email: 'x@example.com' } } : undefined })).status).to.equal(401);
      }
    });

    it('refuses to start with a configured key that has no permissions', () => {
      expect(() => loadConfig({ env: {}, overrides: { apiKeys: [{ key: 'a-key-without-any-permissions' }] } })).to.throw(ConfigError, /apiKeys\.0\.permissions/);
      for (const permissions of [{}, { '/api/user': [] }]) {
        const apiKeys = [{ key: 'a-key-for-the-backend-000', description: 'web backend', permissions: { '*': ['*'] } }, { key: 'a-key-with-empty-permissions', description: 'reporting job', permissions }];
        expect(() => loadConfig({ env: {}, overrides: { apiKeys } }), JSON.stringify(permissions)).to.throw(ConfigError, /apiKeys\.1\.permissions.*grants nothing/);
      }
    });

    it('refuses to start with a configured key whose method or endpoint cannot be granted', () => {
      const refused = (permissions: Record<string, string[]>) => () => loadConfig({ env: {}, overrides: { apiKeys: [{ key: 'a-key-for-the-backend-000', permissions }] } });
      expect(refused({ '/api/user': ['GET', 'FOO'] })).to.throw(ConfigError, /apiKeys\.0\.permissions\.\/api\/user\.1: a method is one of GET, POST/);
      expect(refused({ '/elsewhere': ['GET'] })).to.throw(ConfigError, /apiKeys\.0\.permissions\.\/elsewhere.*starting with \/api\//);
      expect(() => refused({ '/api/user': ['get', 'HEAD'], '*': ['*'] })()).to.not.throw();
    });
  });

  describe('OpenAPI', () => {
    it('serves an OpenAPI 3.1 document whose paths and methods are exactly the router\'s routes', async () => {
      const answer = await call(server, 'GET', '/api/openapi.json');
      expect(answer.status).to.equal(200);
      expect(answer.json!.openapi).to.equal('3.1.0');
      const documented = Object.entries(answer.json!.paths as Record<string, Record<string, unknown>>)
        .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`))
        .sort();
      const routed = routesOf(server.app.api.router);
      expect(routed.length).to.be.greaterThan(10);
      expect(documented).to.deep.equal(routed);
    });

    it('describes request bodies from the validating schemas (required fields included)', async () => {
      const doc = (await call(server, 'GET', '/api/openapi.json')).json!;
      const startSchema = doc.paths['/api/passwordless/start'].post.requestBody.content['application/json'].schema;
      expect(startSchema.required).to.include.members(['applicationId', 'loginId']);
      expect(startSchema.properties.loginStrategy.anyOf).to.deep.equal([{ type: 'string', enum: ['ClickableLink', 'FormField'] }, { type: 'null' }]);
      expect(startSchema.properties.loginStrategy.default).to.equal('ClickableLink');
      // null is "not set" in an optional field; in a PATCH it clears the fields that may be unset.
      const loginSchema = doc.paths['/api/passwordless/login'].post.requestBody.content['application/json'].schema;
      expect(loginSchema.properties.applicationId.anyOf).to.deep.include({ type: 'null' });
      const patchSchema = doc.paths['/api/user/{userId}'].patch.requestBody.content['application/json'].schema;
      expect(patchSchema.properties.user.properties.expiry.anyOf).to.deep.include({ type: 'null' });
      expect(doc.paths['/api/passwordless/start'].post.security).to.deep.equal([{ apiKey: [] }]);
      expect(doc.paths['/api/passwordless/login'].post.responses).to.include.keys('200', '202', '242', '404', '409', '410', '423', '429');
      expect(doc.paths['/api/passwordless/login'].post.responses['429'].headers).to.have.property('Retry-After');
    });

    it('documents the 503 of a database outage on every call that reads the database', async () => {
      const doc = (await call(server, 'GET', '/api/openapi.json')).json!;
      for (const [path, operations] of Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)) {
        for (const [method, operation] of Object.entries(operations)) {
          if (DATABASE_FREE_PATHS.includes(path)) expect(operation.responses, `${method} ${path}`).to.not.have.property('503');
          else expect(operation.responses, `${method} ${path}`).to.have.property('503');
        }
      }
    });
  });
});
