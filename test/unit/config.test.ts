import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, describeProblem, loadConfig, projectRoot } from '../../src/config/load.js';
import { assertProductionReady, productionGaps as taggedProductionGaps, riskyChoices, type ProductionGap } from '../../src/config/production.js';
import { generateCookieKeys, generateSecretKey, generateSigningKeys, loadKeys } from '../../src/provider/keys.js';
import type { Config } from '../../src/config/schema.js';
import { log, setLogLevel } from '../../src/log.js';
import { tempDirsPerTest } from '../helpers/temp.js';

/** The refusal as the CLI gets it; `gaps` as a server start asks for the production gaps too. */
function failure(overrides: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, gaps?: (config: Config) => ProductionGap[]): string {
  try {
    loadConfig({ env, overrides, ...(gaps ? { productionGaps: gaps } : {}) });
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

/** The production gaps as start-up lists them. */
function productionGaps(config: Config): string[] {
  return taggedProductionGaps(config).map(describeProblem);
}


/** Everything production needs besides what a test varies: its gaps list is empty. */
const PRODUCTION_READY = {
  issuer: 'https://id.example.com',
  storage: { mongodbUri: 'mongodb://db/x' },
  mail: { smtpUrl: 'smtp://mail:25', from: 'Sign-in <no-reply@login.acme-corp.com>' },
  jwks: { keys: [{ kty: 'RSA' }] },
  cookieKeys: ['0123456789abcdef0123'],
  twoFactor: { encryptionKey: 'A'.repeat(43) },
};

describe('configuration', () => {
  const tempDir = tempDirsPerTest();

  it('loads the documented defaults', () => {
    const config = loadConfig({ env: {} });
    expect(config.port).to.equal(3000);
    expect(config.issuer).to.equal(null);
    expect(config.passwordless).to.deep.equal({
      timeToLiveInSeconds: 180,
      linkCode: { generator: 'randomBytes', length: 32 },
      shortCode: { generator: 'randomDigits', length: 6 },
      maxAttempts: 5,
    });
  });

  it('merges the CONFIG file over the defaults and lets the environment win', () => {
    const dir = tempDir('oml-config-');
    const file = path.join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ port: 4000, passwordless: { maxAttempts: 3 } }));
    const config = loadConfig({ env: { CONFIG: file, PORT: '5000', ISSUER: 'https://id.example.com/', SMTP_URL: 'smtp://mail:25' } });
    expect(config.port).to.equal(5000);
    expect(config.issuer).to.equal('https://id.example.com');
    expect(config.passwordless.maxAttempts).to.equal(3);
    expect(config.passwordless.timeToLiveInSeconds).to.equal(180);
    expect(config.mail.smtpUrl).to.equal('smtp://mail:25');
  });

  it('names the bad key and the reason', () => {
    expect(failure({ passwordless: { timeToLiveInSeconds: 601 } })).to.match(/passwordless\.timeToLiveInSeconds/);
    expect(failure({ passwordless: { timeToLiveInSeconds: 0 } })).to.match(/passwordless\.timeToLiveInSeconds/);
    expect(failure({ passwordless: { linkCode: { generator: 'randomBytes', length: 8 } } })).to.match(/passwordless\.linkCode\.length.*16 to 128/);
    expect(failure({ passwordless: { shortCode: { generator: 'randomDigits', length: 3 } } })).to.match(/passwordless\.shortCode\.length.*4 to 12/);
    expect(failure({ passwordless: { linkCode: { generator: 'randomSomething', length: 8 } } })).to.match(/passwordless\.linkCode\.generator/);
    expect(failure({ clients: [{ client_id: 'a', redirect_uris: ['not a url'] }] })).to.match(/clients\.0\.redirect_uris\.0/);
    expect(failure({ users: [{ email: 'not-an-email' }] })).to.match(/users\.0\.email/);
    expect(failure({ surprise: true })).to.match(/surprise/);
    expect(failure({}, { PORT: 'eighty' })).to.match(/port/);
  });

  it('refuses a theme folder that does not exist, saying what a relative path was resolved against', () => {
    const missing = path.join(tempDir('oml-config-'), 'no-such-theme');
    expect(failure({ theme: missing })).to.equal(`invalid configuration:\n  - theme: no folder at ${missing}`);
    expect(failure({ theme: 'no-such-theme-folder' })).to.equal(
      `invalid configuration:\n  - theme: no folder at ${path.resolve('no-such-theme-folder')} ("no-such-theme-folder" resolved against the working directory ${process.cwd()})`,
    );
    const file = path.join(path.dirname(missing), 'theme.txt');
    writeFileSync(file, '');
    expect(failure({ theme: file })).to.equal(`invalid configuration:\n  - theme: ${file} is not a folder`);
    const message = failure({ theme: missing, users: [{ email: 'a@example.com' }, { email: 'A@example.com' }] });
    expect(message, 'one message names every bad key').to.match(/theme: no folder[\s\S]*users\.1\.email: duplicate/);
    expect(loadConfig({ env: {}, overrides: { theme: path.dirname(missing) } }).theme).to.equal(path.dirname(missing));
  });

  it('refuses signing keys without an RS256 key, naming jwks.keys', () => {
    const ecOnly = { keys: [{ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: 'e1', x: 'x', y: 'y', d: 'd' }] };
    expect(failure({ jwks: ecOnly })).to.match(/jwks\.keys: needs one RS256 signing key at least/);
    expect(failure({ jwks: { keys: [{ kty: 'RSA', alg: 'RS256', use: 'enc' }] } })).to.match(/jwks\.keys: needs one RS256/);
    expect(loadConfig({ env: {}, overrides: { jwks: { keys: [...ecOnly.keys, { kty: 'RSA', kid: 'r1' }] } } }).jwks!.keys).to.have.length(2);
  });

  it('refuses an issuer it cannot serve (another scheme, a query, a fragment, a dot path), naming issuer and ISSUER', () => {
    const refused = ['ftp://login.example.com', 'https://login.example.com/?tenant=a', 'https://login.example.com/#x', 'login.example.com', 'https://login.example.com/./', 'https://login.example.com/a/../b', 'https://login.example.com/%2e', 'https://login.example.com/a b'];
    for (const issuer of refused) {
      expect(failure({}, { ISSUER: issuer }), issuer).to.match(/- issuer: must be an http:\/\/ or https:\/\/ URL of a host, optionally with a path.*\(env ISSUER\)/);
    }
    expect(loadConfig({ env: { ISSUER: 'https://login.example.com:8443/' } }).issuer).to.equal('https://login.example.com:8443');
    // Under a path, everything lives under it (test/e2e/issuer-path.test.ts signs in there).
    expect(loadConfig({ env: { ISSUER: 'https://example.com/oidc/' } }).issuer).to.equal('https://example.com/oidc');
    expect(loadConfig({ env: { ISSUER: 'https://example.com/tenants/acme' } }).issuer).to.equal('https://example.com/tenants/acme');
  });

  it('refuses a lifetime (ttl) name node-oidc-provider does not know, naming it', () => {
    expect(failure({ ttl: { Sesion: 60, AccesToken: 5 } })).to.match(/ttl: unknown "Sesion", "AccesToken"; the lifetimes are AccessToken, .*Session/);
    expect(loadConfig({ env: {}, overrides: { ttl: { DeviceCode: 600 } } }).ttl).to.include({ DeviceCode: 600, Session: 1209600 });
  });

  it('refuses a LOG_LEVEL it does not know, naming LOG_LEVEL and the values, with the other bad keys', () => {
    expect(failure({}, { LOG_LEVEL: 'verbose' })).to.match(/LOG_LEVEL: must be one of debug, info, warn, error, silent \(any letter case\), got "verbose"/);
    expect(failure({ port: -1 }, { LOG_LEVEL: 'verbose' })).to.match(/port[\s\S]*LOG_LEVEL/);
    for (const level of ['DEBUG', 'Warn', 'silent', '']) expect(() => loadConfig({ env: { LOG_LEVEL: level } }), level).not.to.throw();
    try {
      setLogLevel('DEBUG');
      expect(log.enabled('debug'), 'DEBUG means debug').to.equal(true);
    } finally {
      setLogLevel(undefined);
    }
  });

  it('refuses a link code weaker than 128 bits', () => {
    expect(failure({ passwordless: { linkCode: { generator: 'randomAlphaNumeric', length: 12 } } })).to.match(
      /passwordless\.linkCode.*71 bits.*at least 128/,
    );
  });

  it('refuses duplicate clients and users', () => {
    const client = { client_id: 'a', redirect_uris: ['https://a.example/cb'] };
    expect(failure({ clients: [client, client] })).to.match(/duplicate client_id/);
    expect(failure({ users: [{ email: 'a@example.com' }, { email: 'A@example.com' }] })).to.match(/duplicate email/);
  });

  it('reads a seeded user id in capitals in lower case, as the API does', () => {
    const config = loadConfig({ env: {}, overrides: { users: [{ id: 'AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE', email: 'a@example.com' }] } });
    expect(config.users[0]!.id).to.equal('aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee');
  });

  it('reports an unreadable or malformed CONFIG file clearly', () => {
    expect(failure({}, { CONFIG: '/nonexistent/config.json' })).to.match(/cannot read config file/);
    const dir = tempDir('oml-config-');
    writeFileSync(path.join(dir, 'bad.json'), '{ nope');
    expect(failure({}, { CONFIG: path.join(dir, 'bad.json') })).to.match(/not valid JSON/);
  });
});

describe('the example configuration', () => {
  it('loads, and carries what the README\'s API walkthrough uses: example-web, ada@example.com registered to it, a key that may start logins', () => {
    const config = loadConfig({ env: { CONFIG: path.join(import.meta.dirname, '../../config/development.example.json') } });
    expect(config.clients.map((c) => c.client_id)).to.include('example-web');
    expect(config.users.find((u) => u.email === 'ada@example.com')?.registrations?.map((r) => r.applicationId)).to.include('example-web');
    expect(config.apiKeys.some((k) => k.key === 'dev-only-start-key-change-me' && k.permissions['/api/passwordless/start']?.includes('POST'))).to.equal(true);
  });
});

describe('production guard', () => {
  const tempDir = tempDirsPerTest();

  it('drops the development users seed of default.json in production, but keeps users a CONFIG file lists', () => {
    expect(loadConfig({ env: {} }).users.map((u) => u.email)).to.deep.equal(['demo@example.com']);
    expect(loadConfig({ env: { NODE_ENV: 'production' } }).users).to.deep.equal([]);
    const dir = tempDir('oml-config-');
    const file = path.join(dir, 'users.json');
    writeFileSync(file, JSON.stringify({ users: [{ email: 'operator@example.com' }] }));
    expect(loadConfig({ env: { NODE_ENV: 'production', CONFIG: file } }).users.map((u) => u.email)).to.deep.equal(['operator@example.com']);
    expect(loadConfig({ env: { NODE_ENV: 'production' }, overrides: { users: [{ email: 'x@example.com' }] } }).users).to.have.length(1);
  });

  it('refuses development defaults under NODE_ENV=production and lists every one of them', () => {
    const config = loadConfig({ env: { NODE_ENV: 'production' } });
    expect(() => assertProductionReady(config)).to.throw(ConfigError, /MONGODB_URI[\s\S]*SMTP_URL[\s\S]*jwks[\s\S]*cookieKeys[\s\S]*twoFactor\.encryptionKey[\s\S]*ISSUER/);
    // Each gap carries the setting it is about, which a refusal uses to leave out gaps about settings at fault.
    expect(taggedProductionGaps(config).map((gap) => gap.path.join('.'))).to.deep.equal(['storage', 'mail', 'mail.from', 'jwks', 'cookieKeys', 'twoFactor.encryptionKey', 'issuer']);
  });

  it('lists the production gaps in the same message as the errors of a refused configuration, leaving out gaps about settings at fault', () => {
    const env = { NODE_ENV: 'production' };
    const refused = failure({ proxyHops: 0, issuer: 'ftp://id.example.com', mail: { smtpUrl: 'smtp://mail:25' } }, env, taggedProductionGaps);
    expect(refused).to.match(/^invalid configuration:\n {2}- issuer: must be an http/);
    expect(refused).to.match(/\n {2}- proxyHops: /);
    const [, gaps = ''] = refused.split('\nNODE_ENV=production also refuses development defaults:\n');
    expect(gaps.split('\n').map((line) => /^ {2}- ([^:]+):/.exec(line)?.[1])).to.deep.equal(['storage', 'mail.from', 'jwks', 'cookieKeys', 'twoFactor.encryptionKey']);
    // Only a server start asks for them: the CLI and tests load a production configuration that lacks things.
    expect(failure({ proxyHops: 0 }, env)).to.equal('invalid configuration:\n  - proxyHops: Too small: expected number to be >=1');
    const crossField = failure({ ...PRODUCTION_READY, storage: {}, passwordless: { linkCode: { generator: 'randomDigits', length: 8 } } }, env, taggedProductionGaps);
    expect(crossField).to.match(/- passwordless\.linkCode: [\s\S]*also refuses development defaults:\n {2}- storage: set MONGODB_URI/);
  });

  it('refuses an http issuer in production unless allowInsecureIssuer is set', () => {
    const ready = { ...PRODUCTION_READY, issuer: 'http://id.example.com' };
    const env = { NODE_ENV: 'production' };
    expect(productionGaps(loadConfig({ env, overrides: ready }))).to.deep.equal([
      'issuer: must be https (set allowInsecureIssuer only when a TLS proxy in front rewrites the scheme)',
    ]);
    expect(productionGaps(loadConfig({ env, overrides: { ...ready, allowInsecureIssuer: true } }))).to.deep.equal([]);
    expect(productionGaps(loadConfig({ env, overrides: { ...ready, issuer: 'https://id.example.com' } }))).to.deep.equal([]);
  });

  it('refuses in production the placeholder secrets of the example configuration, naming each', () => {
    const { '//': _comment, ...example } = JSON.parse(readFileSync(path.join(projectRoot, 'config/development.example.json'), 'utf8')) as Record<string, unknown>;
    const ready = { ...example, ...PRODUCTION_READY };
    const gaps = productionGaps(loadConfig({ env: { NODE_ENV: 'production' }, overrides: ready }));
    expect(gaps).to.have.length(2);
    expect(gaps[0]).to.match(/^clients\.0\.client_secret: still an example value/);
    expect(gaps[1]).to.match(/^apiKeys\.0\.key: still an example value/);
  });

  it('refuses in production the example secrets and keys the README and docs show, pasted as they are, naming each', () => {
    const readme = ['README.md', 'docs/api.md'].map((file) => readFileSync(path.join(projectRoot, file), 'utf8')).join('\n');
    const secrets = [...readme.matchAll(/"client_secret": "([^"]+)"/g)].map((m) => m[1]!);
    const keys = [...readme.matchAll(/"key": "([^"]+)"/g)].map((m) => m[1]!);
    expect(secrets, 'the README shows an example client secret').to.include('a-long-random-secret');
    expect(keys, 'the README shows an example API key').to.include('…at least 16 characters…');
    for (const secret of secrets) {
      for (const key of keys) {
        const gaps = productionGaps(
          loadConfig({
            env: { NODE_ENV: 'production' },
            overrides: {
              ...PRODUCTION_READY,
              clients: [{ client_id: 'my-app', client_secret: secret, redirect_uris: ['https://app.example.com/callback'] }],
              apiKeys: [{ key, description: 'web app backend', permissions: { '/api/passwordless/start': ['POST'] } }],
            },
          }),
        );
        expect(gaps, `${secret} / ${key}`).to.have.length(2);
        expect(gaps[0]).to.match(/^clients\.0\.client_secret: still an example value/);
        expect(gaps[1]).to.match(/^apiKeys\.0\.key: still an example value/);
      }
    }
  });

  it('refuses in production a mail.from at localhost or a reserved domain, which cannot receive mail, saying what to set', () => {
    const env = { NODE_ENV: 'production' };
    const gapsWith = (from: string) => productionGaps(loadConfig({ env, overrides: { ...PRODUCTION_READY, mail: { ...PRODUCTION_READY.mail, from } } }));
    // The default is one of them: a configuration that sets everything else is still refused.
    const { from: _from, ...mailWithoutFrom } = PRODUCTION_READY.mail;
    const byDefault = productionGaps(loadConfig({ env, overrides: { ...PRODUCTION_READY, mail: mailWithoutFrom } }));
    expect(byDefault).to.have.length(1);
    expect(byDefault[0]).to.match(/^mail\.from: .*localhost.*; set mail\.from to /);
    const reserved = [
      'Sign-in <no-reply@localhost>',
      'no-reply@LOCALHOST',
      'no-reply@mail.localhost',
      'Acme Sign-in <no-reply@login.acme.example>',
      'no-reply@id.test',
      'no-reply@nowhere.invalid',
      'no-reply@example.com',
      'Sign-in <no-reply@mail.example.org>',
      'no-reply@example.net.',
      'Sign-in without an address',
    ];
    for (const from of reserved) {
      const gaps = gapsWith(from);
      expect(gaps, from).to.have.length(1);
      expect(gaps[0], from).to.match(/^mail\.from: /);
    }
    for (const from of ['Acme <no-reply@acme-corp.com>', 'no-reply@login.notexample.com', 'no-reply@example.company', 'no-reply@tested.io']) {
      expect(gapsWith(from), from).to.deep.equal([]);
    }
  });

  it('never makes or keeps development keys in production (a cluster primary, the CLI)', async () => {
    const dir = tempDir('oml-prod-keys-');
    const config = loadConfig({ env: { NODE_ENV: 'production' }, overrides: { dataDirectory: dir, cookieKeys: ['0123456789abcdef0123'] } });
    const refused = await loadKeys(config).then(
      () => null,
      (err: unknown) => err,
    );
    expect(refused).to.be.instanceOf(ConfigError);
    expect((refused as Error).message).to.match(/refuses development keys: configure jwks, twoFactor\.encryptionKey/);
    expect(existsSync(path.join(dir, 'dev-keys.json'))).to.equal(false);
  });

  it('names rate limits turned off as a risky choice (start-up prints it, loudly in production)', () => {
    expect(riskyChoices(loadConfig({ env: {} }))).to.deep.equal([]);
    const off = riskyChoices(loadConfig({ env: { NODE_ENV: 'production' }, overrides: { rateLimits: { enabled: false } } }));
    expect(off).to.have.length(1);
    expect(off[0]).to.match(/rateLimits\.enabled is false/);
  });

  it('names an unchecked SMTP server certificate as a risky choice (meant for a test server only)', () => {
    const unchecked = { smtpUrl: 'smtps://mail.acme-corp.com:465', smtp: { tls: { rejectUnauthorized: false } } };
    const risky = riskyChoices(loadConfig({ env: { NODE_ENV: 'production' }, overrides: { ...PRODUCTION_READY, mail: { ...PRODUCTION_READY.mail, ...unchecked } } }));
    expect(risky).to.have.length(1);
    expect(risky[0]).to.match(/^mail\.smtp\.tls\.rejectUnauthorized is false: /);
    expect(riskyChoices(loadConfig({ env: {}, overrides: { mail: { smtpUrl: 'smtps://mail.acme-corp.com:465' } } })), 'checked by default').to.deep.equal([]);
    // Without SMTP (the development mailbox) the setting does nothing.
    expect(riskyChoices(loadConfig({ env: {}, overrides: { mail: { smtp: { tls: { rejectUnauthorized: false } } } } }))).to.deep.equal([]);
  });
});

describe('key files', () => {
  const tempDir = tempDirsPerTest();

  it('reads jwks and cookieKeys from the files named by jwksFile and cookieKeysFile', () => {
    const dir = tempDir('oml-keys-');
    writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ kty: 'RSA', kid: 'k1' }] }));
    writeFileSync(path.join(dir, 'cookies.json'), JSON.stringify(['a-cookie-secret-of-enough-length']));
    const config = loadConfig({ env: {}, overrides: { jwksFile: path.join(dir, 'jwks.json'), cookieKeysFile: path.join(dir, 'cookies.json') } });
    expect(config.jwks).to.deep.equal({ keys: [{ kty: 'RSA', kid: 'k1' }] });
    expect(config.cookieKeys).to.deep.equal(['a-cookie-secret-of-enough-length']);
  });

  it('names the key of a missing or malformed key file', () => {
    expect(failure({ jwksFile: '/nonexistent/jwks.json' })).to.match(/jwksFile: cannot read/);
    const dir = tempDir('oml-keys-');
    writeFileSync(path.join(dir, 'cookies.json'), JSON.stringify(['short']));
    expect(failure({ cookieKeysFile: path.join(dir, 'cookies.json') })).to.match(/cookieKeys\.0/);
  });

  it("takes each setting's part of the saved output of keys generate, for jwksFile and cookieKeysFile alike", async () => {
    const dir = tempDir('oml-keys-');
    const file = path.join(dir, 'keys.json');
    const generated = { jwks: await generateSigningKeys(), cookieKeys: generateCookieKeys(), twoFactor: { encryptionKey: generateSecretKey() } };
    writeFileSync(file, JSON.stringify(generated, null, 2));
    const config = loadConfig({ env: {}, overrides: { jwksFile: file, cookieKeysFile: file } });
    expect(config.jwks).to.deep.equal(generated.jwks);
    expect(config.cookieKeys).to.deep.equal(generated.cookieKeys);
  });

  it('names the file a key setting was read from, and what it must hold, when its content is refused', () => {
    const dir = tempDir('oml-keys-');
    const file = path.join(dir, 'other.json');
    writeFileSync(file, JSON.stringify({ signing: [] }));
    const message = failure({ jwksFile: file });
    expect(message).to.include(`jwks.keys: `).and.include(`(read from jwksFile ${file}, which must hold a private JWKS ({"keys": [...]}) or the saved output of \`keys generate\`)`);
    const cookies = failure({ cookieKeysFile: file });
    expect(cookies).to.include(`cookieKeys: `).and.include(`(read from cookieKeysFile ${file}, which must hold an array of cookie secrets or the saved output of \`keys generate\`)`);
  });

  it('writes development keys only when it made new ones, whole, so a process starting beside it never reads half a file', async () => {
    const dir = tempDir('oml-keys-');
    const file = path.join(dir, 'dev-keys.json');
    const config = loadConfig({ env: {}, overrides: { dataDirectory: dir } });
    const first = await loadKeys(config);
    const written = statSync(file);
    expect(written.mode & 0o777, 'readable by its owner only').to.equal(0o600);
    const again = await loadKeys(config);
    expect(again.cookieKeys).to.deep.equal(first.cookieKeys);
    const after = statSync(file);
    expect([after.ino, after.mtimeMs], 'a start that made nothing leaves the file alone').to.deep.equal([written.ino, written.mtimeMs]);
    expect(readdirSync(dir), 'no temporary file left').to.deep.equal(['dev-keys.json']);
  });
});
