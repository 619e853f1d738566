import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Browser } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { runMain, startNpm } from '../helpers/main-process.js';
import { tempDirsPerTest } from '../helpers/temp.js';

describe('starting the server', () => {
  const tempDir = tempDirsPerTest();

  it('prints the issuer, the dev mailbox and the demo, and stops cleanly on SIGTERM', async () => {
    const data = tempDir('oml-start-');
    const dir = tempDir('oml-start-cfg-');
    writeFileSync(path.join(dir, 'c.json'), JSON.stringify({ dataDirectory: data }));
    const { output, code } = await runMain({ PORT: '0', CONFIG: path.join(dir, 'c.json') }, /demo\s+http/);
    expect(output).to.match(/issuer\s+http:\/\/localhost:\d+/);
    expect(output).to.match(/dev mailbox\s+http:\/\/localhost:\d+\/dev\/mail/);
    expect(output).to.match(/demo\s+http:\/\/localhost:\d+\/demo/);
    expect(code).to.equal(0);
  });

  it('stops on a SIGTERM sent to `npm start` alone, as a container runtime or process manager sends it', async function () {
    // npm hands the signal to its script's shell only: the script must exec the server, or the
    // server is left running (holding the port) after npm exits.
    this.timeout(60_000);
    const dir = tempDir('oml-start-cfg-');
    writeFileSync(path.join(dir, 'c.json'), JSON.stringify({ dataDirectory: dir }));
    const run = startNpm(['start'], { PORT: '0', CONFIG: path.join(dir, 'c.json'), LOG_LEVEL: 'info' });
    try {
      await run.waitFor(/is running/, 45_000);
      process.kill(run.pid, 'SIGTERM');
      const ended = await run.ended(10_000);
      expect(ended, `npm and the server it started close their output and exit within 10 s; output:\n${run.output()}`).to.deep.equal({ code: 0, signal: null });
      expect(run.output()).to.match(/"event":"server\.stopping","signal":"SIGTERM"/).and.match(/"event":"server\.stopped"/);
    } finally {
      run.killGroup();
    }
  });

  it('keeps the development keys it made, and refuses to start on a damaged key file, naming it and leaving it as it is', async function () {
    // Three starts of the server process.
    this.timeout(90_000);
    const data = tempDir('oml-start-');
    const dir = tempDir('oml-start-cfg-');
    writeFileSync(path.join(dir, 'c.json'), JSON.stringify({ dataDirectory: data }));
    const env = { PORT: '0', CONFIG: path.join(dir, 'c.json') };
    const file = path.join(data, 'dev-keys.json');

    // No file yet: keys are made and kept; a second start uses them as they are.
    expect((await runMain(env, /is running/)).code).to.equal(0);
    const made = readFileSync(file, 'utf8');
    expect(JSON.parse(made)).to.have.keys('jwks', 'cookieKeys', 'secretKey');
    expect((await runMain(env, /is running/)).code).to.equal(0);
    expect(readFileSync(file, 'utf8')).to.equal(made);

    // Cut short, as by a full disk or an interrupted write.
    const truncated = made.slice(0, -5);
    writeFileSync(file, truncated);
    const refused = await runMain(env, /is running/);
    expect(refused.code).to.equal(1);
    expect(refused.output).to.include(file).and.include('not valid JSON');
    expect(refused.output).not.to.match(/is running/);
    expect(readFileSync(file, 'utf8'), 'the file is left as it was').to.equal(truncated);
  });

  it('refuses an invalid configuration with a message naming the key, and a non-zero exit', async () => {
    const dir = tempDir('oml-start-cfg-');
    writeFileSync(path.join(dir, 'c.json'), JSON.stringify({ passwordless: { timeToLiveInSeconds: 9000 } }));
    const { output, code } = await runMain({ PORT: '0', CONFIG: path.join(dir, 'c.json') }, /$^/);
    expect(code).to.equal(1);
    expect(output).to.include('passwordless.timeToLiveInSeconds');
  });

  it('refuses, in one message naming each, settings that used to start and fail later or fail unnamed', async () => {
    const dir = tempDir('oml-start-cfg-');
    const ecOnly = { kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: 'e1', x: 'KmG14FWeLvc0fhd0IoztFrQDZ55PATMfZCf4F3Zc1tE', y: '-kmeZoith9n6EnjGVVEPDGNd1f21WUshLRmeBY3YRds', d: '-98ni2yExa3Hv-ExQwE619VG0tJeePr9Ie6URDENi2g' };
    writeFileSync(path.join(dir, 'c.json'), JSON.stringify({ dataDirectory: dir, jwks: { keys: [ecOnly] }, ttl: { Sesion: 60 } }));
    const { output, code } = await runMain({ PORT: '0', CONFIG: path.join(dir, 'c.json'), ISSUER: 'ftp://login.example.com', LOG_LEVEL: 'verbose' }, /$^/);
    expect(code, output).to.equal(1);
    expect(output).to.match(/- issuer: must be an http:\/\/ or https:\/\/ URL/);
    expect(output).to.match(/- jwks\.keys: needs one RS256 signing key at least/);
    expect(output).to.match(/- ttl: unknown "Sesion"/);
    expect(output).to.match(/- LOG_LEVEL: must be one of debug, info, warn, error, silent/);
    expect(output).not.to.include('is running');
  });

  it('under NODE_ENV=production lists the configuration errors and the production gaps in one refusal', async () => {
    const dir = tempDir('oml-start-cfg-');
    writeFileSync(path.join(dir, 'c.json'), JSON.stringify({ dataDirectory: dir, proxyHops: 0 }));
    const { output, code } = await runMain({ PORT: '0', CONFIG: path.join(dir, 'c.json'), NODE_ENV: 'production' }, /$^/);
    expect(code, output).to.equal(1);
    expect(output).to.match(/- proxyHops: [\s\S]*NODE_ENV=production also refuses development defaults:[\s\S]*- storage: set MONGODB_URI/);
  });

  it('refuses a client whose metadata node-oidc-provider rejects, naming the client and the field', async () => {
    const dir = tempDir('oml-start-cfg-');
    const good = { client_id: 'good', client_secret: 'a-secret-that-is-long-enough', redirect_uris: ['https://app.example/cb'] };
    const bad = { ...good, client_id: 'bad', grant_types: ['password'] };
    writeFileSync(path.join(dir, 'c.json'), JSON.stringify({ dataDirectory: dir, clients: [good, bad] }));
    const { output, code } = await runMain({ PORT: '0', CONFIG: path.join(dir, 'c.json') }, /is running/);
    expect(code, output).to.equal(1);
    expect(output).to.match(/- clients\.1 \(client_id "bad"\): grant_types can only contain/);
    expect(output).not.to.include('clients.0');
    expect(output).not.to.include('is running');
  });
});

describe('the demo app', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  it('signs in with the magic link and shows the ID token claims', async () => {
    const browser = new Browser(server.issuer);
    const home = await browser.get('/demo');
    expect(home.body).to.include('Sign in with a magic link');
    const form = await browser.get('/demo/login');
    expect(form.body).to.include('Demo app');
    await browser.submit(form, '/email', { email: 'alice@example.com' });
    const mail = (await server.mails()).find((m) => m.to === 'alice@example.com')!;
    const link = /(http:\/\/\S+\/magic\/[\w-]+)/.exec(mail.text)![1]!;
    const shown = await browser.get(link);
    expect(shown.url).to.equal(`${server.issuer}/demo`);
    expect(shown.body).to.include('Signed in');
    expect(shown.body).to.include('alice@example.com');
    expect(shown.body).to.include('email_verified');
  });

  it('lists sent emails at /dev/mail.json, newest first, with the documented fields', async () => {
    const mails = (await fetch(`${server.issuer}/dev/mail.json`).then((r) => r.json())) as Record<string, unknown>[];
    expect(mails.length).to.be.greaterThan(0);
    expect(Object.keys(mails[0]!)).to.include.members(['id', 'to', 'subject', 'text', 'html', 'date']);
    const page = await fetch(`${server.issuer}/dev/mail`).then((r) => r.text());
    expect(page).to.include(String(mails[0]!.subject));
  });
});

describe('health endpoints', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  it('answers /health (liveness) and /ready (store reachable) with a request id', async () => {
    const health = await fetch(`${server.issuer}/health`);
    expect(health.status).to.equal(200);
    expect(await health.json()).to.deep.equal({ status: 'ok' });
    expect(health.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
    const ready = await fetch(`${server.issuer}/ready`);
    expect(ready.status).to.equal(200);
    expect(await ready.json()).to.deep.equal({ status: 'ready', store: 'memory' });
    // node-oidc-provider's endpoints are served without our Koa stack, and still carry one.
    const discovery = await fetch(`${server.issuer}/.well-known/openid-configuration`);
    expect(discovery.status).to.equal(200);
    expect(discovery.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
    expect(discovery.headers.get('x-request-id')).not.to.equal(health.headers.get('x-request-id'));
  });
});
