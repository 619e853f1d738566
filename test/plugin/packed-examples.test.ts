import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { freePort } from '../helpers/ports.js';
import * as client from 'openid-client';
import { Secret, TOTP } from 'otpauth';
import { Browser, type Page } from '../helpers/browser.js';
import { TestSmtpServer, headerOf, type ReceivedMail } from '../helpers/smtp.js';
import { makeTempDir, removeTempDir } from '../helpers/temp.js';
import { startProcess, type StartedProcess } from '../helpers/main-process.js';
import { startMongoTarget, type MongoTarget } from '../helpers/mongo-engine.js';
import { pairNumberOn } from '../helpers/cross-device.js';

/**
 * The package as a host gets it: `npm pack`, the tarball installed into an empty folder with
 * oidc-provider and the host's web framework, and the two example hosts started from there with
 * plain node. A sign-in through each, with openid-client and mail caught on a real SMTP server.
 * A file missing from `files` or a subpath missing from `exports` fails here.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const REDIRECT_URI = 'http://localhost:8080/callback';
const CLIENT = { id: 'example-app', secret: 'example-app-secret-for-tests' };
const ADA = 'ada@example.com';
const ADA_TOTP_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

function versionOf(name: string): string {
  return (JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}


/** Packs the package and installs the tarball with the hosts' own dependencies into a new folder. */
function installPackedPackage(): string {
  const folder = makeTempDir('oml-host-');
  execFileSync('npm', ['pack', '--silent', '--pack-destination', folder], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const tarball = readdirSync(folder).find((file) => file.endsWith('.tgz'));
  expect(tarball, 'npm pack wrote a tarball').to.be.a('string');
  writeFileSync(path.join(folder, 'package.json'), JSON.stringify({ name: 'example-host', private: true, type: 'module' }));
  const hostDependencies = ['oidc-provider', 'koa', 'koa-mount', 'express'].map((name) => `${name}@${versionOf(name)}`);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', `./${tarball}`, ...hostDependencies], { cwd: folder, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const example of ['koa-host', 'express-host']) copyFileSync(path.join(root, 'examples', example, 'server.mjs'), path.join(folder, `${example}.mjs`));
  return folder;
}

interface Host {
  issuer: string;
  process: StartedProcess;
  config: client.Configuration;
}

async function startHost(folder: string, example: string, issuerPath: string, env: NodeJS.ProcessEnv): Promise<Host> {
  const port = await freePort();
  const issuer = `http://localhost:${port}${issuerPath}`;
  const started = startProcess(process.execPath, [path.join(folder, `${example}.mjs`)], {
    PORT: String(port),
    ISSUER: issuer,
    CLIENT_SECRET: CLIENT.secret,
    REDIRECT_URI,
    NODE_PATH: '',
    ...env,
  });
  await started.waitFor(/listening: /, 30_000);
  const config = await client.discovery(new URL(issuer), CLIENT.id, CLIENT.secret, undefined, { execute: [client.allowInsecureRequests] });
  return { issuer, process: started, config };
}

async function stopHost(host: Host | undefined): Promise<void> {
  if (!host) return;
  host.process.child.kill('SIGTERM');
  if (!(await host.process.ended(5000))) host.process.killGroup();
}

async function authorize(host: Host) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(host.config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email profile',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  return { url, verifier, state };
}

/** Answers node-oidc-provider's consent prompt on the plugin's page, when it is shown, until the browser lands on the client. */
async function throughConsent(browser: Browser, page: Page): Promise<Page> {
  if (page.url.startsWith(REDIRECT_URI)) return page;
  expect(page.body, `consent page at ${page.url}`).to.include('/consent"');
  return browser.submit(page, '/consent');
}

async function expectSignedIn(host: Host, rp: Awaited<ReturnType<typeof authorize>>, landed: Page): Promise<void> {
  expect(landed.url.startsWith(REDIRECT_URI), `landed on the client, not ${landed.url}`).to.equal(true);
  const tokens = await client.authorizationCodeGrant(host.config, new URL(landed.url), { pkceCodeVerifier: rp.verifier, expectedState: rp.state });
  const claims = tokens.claims()!;
  expect(claims.sub).to.equal('u-ada');
  expect(claims.iss).to.equal(host.issuer);
  const info = await client.fetchUserInfo(host.config, tokens.access_token, 'u-ada');
  expect(info.email).to.equal(ADA);
}

async function nextMail(smtp: TestSmtpServer, count: number): Promise<ReceivedMail> {
  for (let waited = 0; smtp.received.length <= count && waited < 10_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
  const mail = smtp.received[count];
  expect(mail, 'an email arrived').to.not.equal(undefined);
  return mail!;
}

function linkIn(mail: ReceivedMail): string {
  const link = /(http:\/\/\S+\/interaction\/\S+\/magic\/[\w-]+)/.exec(mail.parsed.text ?? '')?.[1];
  expect(link, 'the email has a link').to.be.a('string');
  return link!;
}

function codeIn(mail: ReceivedMail): string {
  const code = /code there: (\S+)/.exec(mail.parsed.text ?? '')?.[1];
  expect(code, 'the email has a code').to.be.a('string');
  return code!;
}

describe('the packed package in a host of its own (examples/)', function () {
  this.timeout(240_000);
  let folder: string;
  let smtp: TestSmtpServer;

  before(async function () {
    smtp = await TestSmtpServer.start();
    folder = installPackedPackage();
  });
  after(async () => {
    await smtp?.stop();
    removeTempDir(folder);
  });

  describe('Koa, at the root, with node-oidc-provider’s memory adapter', () => {
    let host: Host | undefined;
    before(async () => {
      host = await startHost(folder, 'koa-host', '', { SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, ADA_TOTP_SECRET });
    });
    after(() => stopHost(host));

    it('signs in with the link in the same browser, then asks the second factor the host keeps', async () => {
      const rp = await authorize(host!);
      const browser = new Browser(host!.issuer);
      const form = await browser.get(rp.url.href);
      expect(form.url).to.match(/\/interaction\/[\w-]+$/);
      const sent = smtp.received.length;
      const inbox = await browser.submit(form, '/email', { email: ADA });
      expect(inbox.status).to.equal(200);
      const mail = await nextMail(smtp, sent);
      expect(headerOf(mail, 'from')).to.include('no-reply@example.com');
      const link = linkIn(mail);
      expect(link.startsWith(`${host!.issuer}/interaction/`)).to.equal(true);

      // Ada has an authenticator: the host gave its secret, the plugin asks for a code.
      const step = await browser.get(link);
      expect(step.body).to.include('/two-factor"');
      const totp = new TOTP({ secret: Secret.fromBase32(ADA_TOTP_SECRET), digits: 6, period: 30, algorithm: 'SHA1' });
      const afterCode = await browser.submit(step, '/two-factor', { code: totp.generate() });
      await expectSignedIn(host!, rp, await throughConsent(browser, afterCode));
    });

    it('signs in with the typed code; a wrong one first says how many tries are left', async () => {
      const rp = await authorize(host!);
      const browser = new Browser(host!.issuer);
      const sent = smtp.received.length;
      const inbox = await browser.submit(await browser.get(rp.url.href), '/email', { email: 'grace@example.com' });
      const code = codeIn(await nextMail(smtp, sent));
      const wrong = await browser.submit(inbox, '/code', { code: code === '000000' ? '111111' : '000000' });
      expect(wrong.status).to.equal(400);
      expect(wrong.body).to.include('4 tries left');
      const landed = await throughConsent(browser, await browser.submit(wrong, '/code', { code }));
      expect(landed.url.startsWith(REDIRECT_URI)).to.equal(true);
      const tokens = await client.authorizationCodeGrant(host!.config, new URL(landed.url), { pkceCodeVerifier: rp.verifier, expectedState: rp.state });
      expect(tokens.claims()!.sub).to.equal('u-grace');
    });

    it('sends nothing to an address the host does not know, with the same page', async () => {
      const rp = await authorize(host!);
      const browser = new Browser(host!.issuer);
      const sent = smtp.received.length;
      const inbox = await browser.submit(await browser.get(rp.url.href), '/email', { email: 'nobody@example.com' });
      expect(inbox.status).to.equal(200);
      expect(inbox.body).to.include('/code"');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(smtp.received.length).to.equal(sent);
    });
  });

  describe('Express, mounted at /oidc, with its own password page', () => {
    let host: Host | undefined;
    let mongo: MongoTarget | null = null;
    before(async () => {
      mongo = await startMongoTarget();
      const env: NodeJS.ProcessEnv = { SMTP_URL: `smtp://127.0.0.1:${smtp.port}` };
      if (mongo) env.MONGODB_URI = mongo.uri;
      host = await startHost(folder, 'express-host', '/oidc', env);
    });
    after(async () => {
      await stopHost(host);
      await mongo?.stop();
    });

    it('publishes every endpoint under /oidc', async () => {
      const metadata = host!.config.serverMetadata();
      expect(metadata.issuer).to.equal(host!.issuer);
      expect(metadata.authorization_endpoint).to.equal(`${host!.issuer}/auth`);
      expect(metadata.token_endpoint).to.equal(`${host!.issuer}/token`);
    });

    it('offers the link beside the password; the link, pages, cookies and forms all carry /oidc', async () => {
      const rp = await authorize(host!);
      const browser = new Browser(host!.issuer.replace(/\/oidc$/, ''));
      const hostPage = await browser.get(rp.url.href);
      expect(hostPage.url).to.match(/\/oidc\/interaction\/[\w-]+$/);
      expect(hostPage.body).to.include('Email me a sign-in link');
      expect(hostPage.body).to.include('/password"');
      const sent = smtp.received.length;
      const inbox = await browser.submit(hostPage, '/email', { email: ADA });
      expect(inbox.status).to.equal(200);
      expect(inbox.body).to.include('action="/oidc/interaction/');
      expect(inbox.body).to.include('href="/oidc/static/style.css"');
      const link = linkIn(await nextMail(smtp, sent));
      expect(link.startsWith(`${host!.issuer}/interaction/`), link).to.equal(true);
      await expectSignedIn(host!, rp, await throughConsent(browser, await browser.get(link)));
    });

    it('approves from another browser by the number; the first browser finishes', async () => {
      const rp = await authorize(host!);
      const origin = host!.issuer.replace(/\/oidc$/, '');
      const a = new Browser(origin);
      const sent = smtp.received.length;
      const inbox = await a.submit(await a.get(rp.url.href), '/email', { email: ADA });
      const link = linkIn(await nextMail(smtp, sent));
      const b = new Browser(origin, 'Mozilla/5.0 (iPhone) OtherDevice/1.0');
      const elsewhere = await b.get(link);
      expect(elsewhere.status).to.equal(200);
      expect(elsewhere.body).to.include('/approve"');
      const approved = await b.submit(elsewhere, '/approve', { number: pairNumberOn(inbox) });
      expect(approved.body).to.include('This device is not signed in');
      const landed = await throughConsent(a, await a.submit(inbox, '/continue'));
      await expectSignedIn(host!, rp, landed);
    });

    it('keeps the host’s own password sign-in working', async () => {
      const rp = await authorize(host!);
      const browser = new Browser(host!.issuer.replace(/\/oidc$/, ''));
      const hostPage = await browser.get(rp.url.href);
      const landed = await throughConsent(browser, await browser.submit(hostPage, '/password', { email: ADA, password: 'correct horse battery staple' }));
      await expectSignedIn(host!, rp, landed);
    });
  });
});
