import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { parsePermissions, runCli } from '../../src/cli.js';
import { MemoryStore } from '../../src/storage/memory.js';
import { createUser } from '../../src/accounts/admin.js';
import { ApiKeyAuthority } from '../../src/api/api-keys.js';
import { ApiRefreshTokens } from '../../src/tokens/refresh.js';
import { startMongoTarget, type MongoTarget } from '../helpers/mongo-engine.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const root = path.resolve(import.meta.dirname, '../..');

describe('command line (child processes)', function () {
  this.timeout(60_000);
  let configDir: string;
  let configFile: string;

  before(() => {
    configDir = makeTempDir('oml-cli-');
    configFile = path.join(configDir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        dataDirectory: path.join(configDir, 'data'),
        clients: [{ client_id: 'app', client_secret: 'app-secret-that-is-long-enough', redirect_uris: ['http://127.0.0.1:1/cb'] }],
        users: [{ email: 'seed@example.com', firstName: 'Seed', registrations: [{ applicationId: 'app', roles: ['owner'] }] }],
      }),
    );
  });
  after(() => removeTempDir(configDir));

  function cli(args: string[], entry = 'src/cli.ts'): Promise<Run> {
    return new Promise((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', '--no-warnings', entry, ...args], { cwd: root, env: { ...process.env, CONFIG: configFile, LOG_LEVEL: 'silent' } }, (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  }

  it('keys generate prints a signing JWKS and cookie keys that a production config accepts', async () => {
    const run = await cli(['keys', 'generate']);
    expect(run.code).to.equal(0);
    const generated = JSON.parse(run.stdout) as { jwks: { keys: { alg: string; d?: string; kid?: string }[] }; cookieKeys: string[] };
    expect(generated.jwks.keys.map((k) => k.alg)).to.include('RS256');
    expect(generated.jwks.keys.every((k) => k.d && k.kid)).to.equal(true);
    const config = loadConfig({ env: { NODE_ENV: 'production' }, overrides: generated });
    expect(config.cookieKeys).to.deep.equal(generated.cookieKeys);
  });

  it('migrate prepares the configured store', async () => {
    const run = await cli(['migrate']);
    expect(run.code).to.equal(0);
    expect(run.stdout).to.include('store ready (memory)');
    expect(run.stderr).to.include('memory store');
  });

  it('users add creates a user (registered, with roles) and refuses a taken email or a bad one', async () => {
    const added = await cli(['users', 'add', 'new@example.com', '--first-name', 'New', '--register', 'app', '--roles', 'a,b']);
    expect(added.code).to.equal(0);
    expect(added.stdout).to.match(/^created [0-9a-f-]{36} {2}new@example\.com/);
    const taken = await cli(['users', 'add', 'SEED@example.com']);
    expect(taken.code).to.equal(1);
    expect(taken.stderr).to.include('already exists');
    const bad = await cli(['users', 'add', 'not-an-email']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('usage:');
    const unknownApp = await cli(['users', 'add', 'x@example.com', '--register', 'nope']);
    expect(unknownApp.code).to.equal(1);
    expect(unknownApp.stderr).to.include('"nope"');
  });

  it('users show and list read the configured store', async () => {
    const shown = await cli(['users', 'show', 'seed@example.com']);
    expect(shown.code).to.equal(0);
    const user = JSON.parse(shown.stdout) as { email: string; registrations: { applicationId: string; roles: string[] }[] };
    expect(user.email).to.equal('seed@example.com');
    expect(user.registrations[0]).to.include({ applicationId: 'app' });
    const listed = await cli(['users', 'list', '--limit', '5']);
    expect(listed.stdout).to.include('seed@example.com');
    expect((await cli(['users', 'list', '--limit', 'many'])).code).to.equal(2);
    const missing = await cli(['users', 'show', 'ghost@example.com']);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.include('no user');
  });

  it('users lock, unlock, delete and register act on a user, and say so', async () => {
    expect((await cli(['users', 'lock', 'seed@example.com'])).stdout).to.include('locked seed@example.com');
    expect((await cli(['users', 'unlock', 'seed@example.com'])).stdout).to.include('unlocked seed@example.com');
    expect((await cli(['users', 'delete', 'seed@example.com'])).stdout).to.include('deleted seed@example.com');
    const again = await cli(['users', 'register', 'seed@example.com', 'app']);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.include('already registered');
    const unknownApp = await cli(['users', 'register', 'seed@example.com', 'nope']);
    expect(unknownApp.code).to.equal(1);
    expect((await cli(['users', 'register', 'seed@example.com'])).code).to.equal(2);
  });

  it('api-keys create prints the key once with its permissions; list and revoke work against the store', async () => {
    const created = await cli(['api-keys', 'create', '--permission', '/api/passwordless/start=POST', '--description', 'app server']);
    expect(created.code).to.equal(0);
    expect(created.stdout).to.match(/key {9}[\w-]{43}/);
    expect(created.stdout).to.include('{"/api/passwordless/start":["POST"]}');
    const all = await cli(['api-keys', 'create', '--all']);
    expect(all.stdout).to.include('{"*":["*"]}');
    const none = await cli(['api-keys', 'create']);
    expect(none.code).to.equal(2);
    expect(none.stderr).to.include('needs permissions');
    expect((await cli(['api-keys', 'create', '--permission', 'start'])).code).to.equal(2);
    expect((await cli(['api-keys', 'list'])).code).to.equal(0);
    const revoke = await cli(['api-keys', 'revoke', 'no-such-id']);
    expect(revoke.code).to.equal(1);
    expect(revoke.stderr).to.include('no API key');
  });

  it('under NODE_ENV=production refuses every store command without MONGODB_URI, changing nothing; keys generate still works', async () => {
    const production = (args: string[]): Promise<Run> =>
      new Promise((resolve) => {
        const env = { ...process.env, CONFIG: configFile, LOG_LEVEL: 'silent', NODE_ENV: 'production', MONGODB_URI: '' };
        execFile(process.execPath, ['--import', 'tsx', '--no-warnings', 'src/cli.ts', ...args], { cwd: root, env }, (error, stdout, stderr) => {
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
        });
      });
    const commands = [['migrate'], ['users', 'add', 'new@example.com'], ['users', 'list'], ['users', 'lock', 'seed@example.com'], ['api-keys', 'create', '--all'], ['api-keys', 'list']];
    for (const args of commands) {
      const run = await production(args);
      expect(run.code, args.join(' ')).to.equal(1);
      expect(run.stdout, args.join(' ')).to.equal('');
      expect(run.stderr, args.join(' ')).to.include('NODE_ENV=production').and.include('MONGODB_URI');
    }
    const keys = await production(['keys', 'generate']);
    expect(keys.code).to.equal(0);
    expect(JSON.parse(keys.stdout)).to.have.keys('jwks', 'cookieKeys', 'twoFactor');
  });

  it('explains an unknown command or option, and runs through the npx launcher', async () => {
    const unknown = await cli(['frobnicate']);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.include('unknown command');
    expect((await cli(['users', 'list', '--colour'])).code).to.equal(2);
    const launcher = await new Promise<Run>((resolve) =>
      execFile(process.execPath, ['bin/oidc-magic-link.js', 'help'], { cwd: root, env: { ...process.env, CONFIG: configFile } }, (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr })),
    );
    expect(launcher.code).to.equal(0);
    expect(launcher.stdout).to.include('usage: oidc-magic-link');
  });

  it('parses permissions as PATH=METHODS', () => {
    expect(parsePermissions(['/api/user=get,patch', '/api/user=DELETE', '*=*'])).to.deep.equal({ '/api/user': ['GET', 'PATCH', 'DELETE'], '*': ['*'] });
    expect(() => parsePermissions(['/elsewhere=GET'])).to.throw(/starting with \/api\//);
  });

  it('api-keys create refuses a key that grants nothing or names a method that is not one, and stores nothing', async () => {
    for (const permission of ['/api/user=,', '/api/user=FOO', '/api/user=GET,FOO']) {
      const run = await cli(['api-keys', 'create', '--permission', permission]);
      expect(run.code, permission).to.equal(2);
      expect(run.stdout, permission).to.not.include('key ');
      expect(run.stderr, permission).to.match(permission === '/api/user=,' ? /grants nothing/ : /a method is one of GET, POST, PUT, PATCH, DELETE/);
    }
    expect(() => parsePermissions(['/api/user=FOO'])).to.throw(/a method is one of/);
  });

  describe('effects on the store (in process, same commands)', () => {
    let store: MemoryStore;
    let output: string;
    const run = (...args: string[]) => runCli(args, { store, out: (t) => (output += t), err: (t) => (output += t) });

    beforeEach(async () => {
      store = new MemoryStore();
      output = '';
      await createUser(store.users, { email: 'ivy@example.com' });
    });

    it('lock and unlock flip the user\'s active flag; lock revokes API refresh tokens; delete removes the user', async () => {
      const ivy = (await store.users.findByEmail('ivy@example.com'))!;
      const tokens = new ApiRefreshTokens(store.refreshTokens, 60);
      const { refreshToken } = await tokens.issue(ivy.id, 'demo', Date.now());
      expect(await run('users', 'lock', 'ivy@example.com')).to.equal(0);
      expect((await store.users.findByEmail('ivy@example.com'))!.active).to.equal(false);
      expect(await tokens.consume(refreshToken), 'the refresh token of a locked user').to.equal(null);
      expect(await run('users', 'unlock', 'ivy@example.com')).to.equal(0);
      expect((await store.users.findByEmail('ivy@example.com'))!.active).to.equal(true);
      expect(await run('users', 'delete', 'ivy@example.com')).to.equal(0);
      expect(await store.users.findByEmail('ivy@example.com')).to.equal(null);
    });

    it('add and register store registrations with their roles', async () => {
      expect(await run('users', 'register', 'ivy@example.com', 'demo', '--roles', 'admin,viewer')).to.equal(0);
      expect((await store.users.findByEmail('ivy@example.com'))!.registrations[0]).to.include({ applicationId: 'demo' });
      expect((await store.users.findByEmail('ivy@example.com'))!.registrations[0]!.roles).to.deep.equal(['admin', 'viewer']);
      expect(await run('users', 'add', 'jo@example.com', '--locked', '--language', 'de')).to.equal(0);
      const jo = await store.users.findByEmail('jo@example.com');
      expect(jo!.active).to.equal(false);
      expect(jo!.preferredLanguages).to.deep.equal(['de']);
    });

    it('api-keys create stores only a hash of a key that then authenticates with exactly its permissions; revoke removes it', async () => {
      expect(await run('api-keys', 'create', '--permission', '/api/user=GET')).to.equal(0);
      const key = /key {9}(\S+)/.exec(output)![1]!;
      const [record] = await store.apiKeys.list();
      expect(JSON.stringify(record)).to.not.include(key);
      const authority = new ApiKeyAuthority([], store.apiKeys);
      expect(await authority.permissionsOf(key)).to.deep.equal({ '/api/user': ['GET'] });
      expect(await run('api-keys', 'revoke', record!.id)).to.equal(0);
      expect(await authority.permissionsOf(key)).to.equal(null);
    });
  });

  describe('the users seed on MongoDB (child processes)', () => {
    let target: MongoTarget | null = null;
    let dir: string;

    before(async function () {
      target = await startMongoTarget();
      if (!target) return this.skip();
      dir = makeTempDir('oml-cli-seed-');
    });
    after(async () => {
      removeTempDir(dir);
      await target?.stop();
    });

    function cliWith(env: NodeJS.ProcessEnv, config: Record<string, unknown>, args: string[]): Promise<Run> {
      const file = path.join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(file, JSON.stringify({ dataDirectory: path.join(dir, 'data'), ...config }));
      return new Promise((resolve) => {
        execFile(process.execPath, ['--import', 'tsx', '--no-warnings', 'src/cli.ts', ...args], { cwd: root, env: { ...process.env, LOG_LEVEL: 'silent', NODE_ENV: '', ...env, CONFIG: file } }, (error, stdout, stderr) => {
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
        });
      });
    }

    it('production never writes the development seed (demo@example.com), not even from migrate', async () => {
      const env = { NODE_ENV: 'production', MONGODB_URI: target!.freshUri() };
      expect((await cliWith(env, {}, ['api-keys', 'list'])).code).to.equal(0);
      expect((await cliWith(env, {}, ['migrate'])).code).to.equal(0);
      const listed = await cliWith(env, {}, ['users', 'list']);
      expect(listed.code).to.equal(0);
      expect(listed.stdout).to.not.include('demo@example.com');
      expect((await cliWith(env, {}, ['users', 'show', 'demo@example.com'])).code, 'demo@example.com does not exist').to.equal(1);
    });

    it('production seeds users its own CONFIG lists, at migrate; read-only commands write no seed', async () => {
      const env = { NODE_ENV: 'production', MONGODB_URI: target!.freshUri() };
      const config = { users: [{ email: 'operator@example.com' }] };
      expect((await cliWith(env, config, ['api-keys', 'list'])).code).to.equal(0);
      expect((await cliWith(env, config, ['users', 'list'])).stdout, 'users list wrote no seed').to.not.include('operator@example.com');
      expect((await cliWith(env, config, ['migrate'])).code).to.equal(0);
      expect((await cliWith(env, config, ['users', 'list'])).stdout).to.include('operator@example.com').and.not.include('demo@example.com');
    });
  });
});
