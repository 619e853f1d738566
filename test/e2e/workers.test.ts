import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as client from 'openid-client';
import { Browser } from '../helpers/browser.js';
import { runMain, startProcess, within } from '../helpers/main-process.js';
import { startMongoTarget, type MongoTarget } from '../helpers/mongo-engine.js';
import { TestSmtpServer, linkInText } from '../helpers/smtp.js';
import { ALICE, WEB_CLIENT, testKeys } from '../helpers/server.js';
import { authorizationRequest, exchange, requestLink } from '../helpers/oidc.js';
import { tempDirsPerTest } from '../helpers/temp.js';
import { parseMetrics, valueOf } from '../helpers/prometheus.js';
import { freePort } from '../helpers/ports.js';

/** `src/main.ts` with WORKERS=2 in a child process, as `npm start` runs it. */
function startCluster(env: NodeJS.ProcessEnv) {
  const run = startProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], { WORKERS: '2', PORT: '0', ISSUER: '', ...env });
  return {
    ...run,
    /** The primary's exit code; rejects with the output (and stops it) if it has not exited within `ms`. */
    async exitWithin(ms: number): Promise<number | null> {
      const exited = await within(run.exited, ms, () => null);
      if (exited) return exited.code;
      run.child.kill('SIGTERM');
      throw new Error(`still running after ${ms} ms:\n${run.output()}`);
    },
    /** SIGTERM to one of the workers: it drains and exits 0, as a worker stopped by hand. */
    stopOneWorker(): void {
      const [worker] = execFileSync('ps', ['-o', 'pid=', '--ppid', String(run.pid)], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
      process.kill(worker!, 'SIGTERM');
    },
  };
}

describe('WORKERS: several processes on one port (node:cluster)', () => {
  const tempDir = tempDirsPerTest();

  /** A CONFIG file in a folder of its own, which is also the data directory (removed after the test). */
  function configFile(content: Record<string, unknown>): string {
    const dir = tempDir('oml-workers-');
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ dataDirectory: dir, ...content }));
    return file;
  }

  it('refuses to share the in-memory store or the dev mailbox between workers', async () => {
    const { output, code } = await runMain({ WORKERS: '2', PORT: '0', MONGODB_URI: '', SMTP_URL: '' }, /$^/);
    expect(code).to.equal(1);
    expect(output).to.include('WORKERS=2 needs shared state');
    expect(output).to.include('MONGODB_URI');
    expect(output).to.include('SMTP_URL');
  });

  it('refuses a WORKERS value that is not a small whole number', async () => {
    const { output, code } = await runMain({ WORKERS: 'many', PORT: '0' }, /$^/);
    expect(code).to.equal(1);
    expect(output).to.match(/WORKERS: must be a whole number/);
  });

  it('makes the production checks in the primary, once, before any worker starts, and writes no development keys', async function () {
    this.timeout(60_000);
    const file = configFile({});
    const { output, code } = await runMain(
      { NODE_ENV: 'production', WORKERS: '2', PORT: '0', CONFIG: file, MONGODB_URI: 'mongodb://127.0.0.1:1/x', SMTP_URL: 'smtp://127.0.0.1:1', ISSUER: 'https://login.example.com' },
      /$^/,
      30_000,
    );
    expect(code, output).to.equal(1);
    expect(output.split('NODE_ENV=production refuses development defaults')).to.have.length(2);
    expect(output).to.include('jwks:').and.include('cookieKeys:').and.include('twoFactor.encryptionKey:');
    expect(existsSync(path.join(path.dirname(file), 'dev-keys.json')), 'no development keys written').to.equal(false);
  });

  it('stops with exit code 1 and the worker\'s reason, once, when the workers cannot reach the database', async function () {
    this.timeout(60_000);
    const keys = await testKeys();
    const file = configFile({ jwks: keys.jwks, cookieKeys: keys.cookieKeys });
    const { output, code } = await runMain({ WORKERS: '2', PORT: '0', CONFIG: file, MONGODB_URI: 'mongodb://127.0.0.1:1/x', SMTP_URL: 'smtp://127.0.0.1:1', ISSUER: '' }, /$^/, 45_000);
    expect(code, output).to.equal(1);
    expect(output.split('oidc-magic-link could not start: MongoDB storage at 127.0.0.1:1')).to.have.length(2);
    expect(output).not.to.include('oidc-magic-link is running');
    expect(output).not.to.include('cluster.worker_died');
  });

  it('stops with exit code 1, once, when a worker dies before it is ready without saying why', async function () {
    this.timeout(60_000);
    const keys = await testKeys();
    const file = configFile({ jwks: keys.jwks, cookieKeys: keys.cookieKeys });
    // Loaded by the primary and by every worker it forks (they inherit NODE_OPTIONS): a worker
    // then ends at once, before it reports anything, as one killed by a native crash would.
    const dieEarly = path.join(path.dirname(file), 'die-early.mjs');
    writeFileSync(dieEarly, "import cluster from 'node:cluster';\nif (cluster.isWorker) process.exit(3);\n");
    const { output, code } = await runMain(
      { WORKERS: '2', PORT: '0', CONFIG: file, MONGODB_URI: 'mongodb://127.0.0.1:1/x', SMTP_URL: 'smtp://127.0.0.1:1', ISSUER: '', NODE_OPTIONS: `--import=${pathToFileURL(dieEarly).href}` },
      /$^/,
      45_000,
    );
    expect(code, output).to.equal(1);
    expect(output.match(/could not start: worker \d+ exited \(code 3\) before it was ready/g), output).to.have.length(1);
    expect(output).not.to.include('is running');
    expect(output, 'a worker that was never ready is not reported as one that died').not.to.include('cluster.worker_died');
  });

  describe('on MongoDB and SMTP', () => {
    let mongo: MongoTarget | null;
    let smtp: TestSmtpServer;
    before(async function () {
      this.timeout(60_000);
      mongo = await startMongoTarget();
      smtp = await TestSmtpServer.start();
    });
    after(async () => {
      await smtp?.stop();
      await mongo?.stop();
    });

    it('serves a whole sign-in from two workers, then stops cleanly on SIGTERM', async function () {
      if (!mongo) this.skip();
      this.timeout(90_000);
      const keys = await testKeys();
      const file = configFile({ clients: [WEB_CLIENT], users: [ALICE], jwks: keys.jwks, cookieKeys: keys.cookieKeys, demo: { enabled: false } });
      const cluster = startCluster({ CONFIG: file, MONGODB_URI: mongo!.freshUri(), SMTP_URL: smtp.url() });
      try {
        const issuer = (await cluster.waitFor(/issuer\s+(http:\/\/localhost:\d+)[\s\S]*workers\s+2/, 60_000))[1]!;
        const config = await client.discovery(new URL(issuer), WEB_CLIENT.client_id, WEB_CLIENT.client_secret, undefined, {
          execute: [client.allowInsecureRequests],
        });
        const browser = new Browser(issuer);
        const rp = await authorizationRequest(config);
        await requestLink(browser, rp, ALICE.email);
        const deadline = Date.now() + 20_000;
        while (!smtp.received.some((m) => m.envelope.to.includes(ALICE.email)) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const mail = smtp.received.find((m) => m.envelope.to.includes(ALICE.email));
        expect(mail, 'the email went out over SMTP').to.exist;
        const landed = await browser.get(linkInText(mail!));
        const tokens = await exchange(rp, landed.url);
        expect(tokens.claims()!.email).to.equal(ALICE.email);

        // A worker that ends after it was ready is logged with its exit code, and replaced.
        cluster.stopOneWorker();
        const died = JSON.parse((await cluster.waitFor(/^.*"event":"cluster\.worker_died".*$/m, 20_000))[0]) as Record<string, unknown>;
        expect(died).to.include({ exitCode: 0, signal: null });
        expect((await fetch(`${issuer}/ready`)).status, 'the cluster still serves').to.equal(200);
      } finally {
        cluster.child.kill('SIGTERM');
      }
      expect((await cluster.exited).code, cluster.output()).to.equal(0);
    });

    /** The /health requests every scrape of `url` counts: each must see all of them, whichever worker (or the primary) answers. */
    async function healthCountsSeenBy(url: string, headers: Record<string, string>, issuer: string, requests: number): Promise<number[]> {
      for (let i = 0; i < requests; i += 1) expect((await fetch(`${issuer}/health`)).status).to.equal(200);
      const seen: number[] = [];
      for (let i = 0; i < 4; i += 1) {
        const response = await fetch(url, { headers });
        expect(response.status, await response.clone().text()).to.equal(200);
        seen.push(valueOf(parseMetrics(await response.text()), 'oml_http_request_duration_seconds', { route: '/health', status: '200' }));
      }
      return seen;
    }

    it('sums the workers\' metrics: a scrape of the main port, whichever worker answers, sees the whole instance', async function () {
      if (!mongo) this.skip();
      this.timeout(90_000);
      const keys = await testKeys();
      const token = 'cluster-metrics-token-0123456789';
      const file = configFile({ clients: [WEB_CLIENT], jwks: keys.jwks, cookieKeys: keys.cookieKeys, demo: { enabled: false }, metrics: { enabled: true, token } });
      const cluster = startCluster({ CONFIG: file, MONGODB_URI: mongo!.freshUri(), SMTP_URL: smtp.url() });
      try {
        const issuer = (await cluster.waitFor(/issuer\s+(http:\/\/localhost:\d+)[\s\S]*workers\s+2/, 60_000))[1]!;
        // Round-robin spreads the requests over both workers; each scrape still counts all of them.
        expect(await healthCountsSeenBy(`${issuer}/metrics`, { authorization: `Bearer ${token}` }, issuer, 10)).to.deep.equal([10, 10, 10, 10]);
        expect((await fetch(`${issuer}/metrics`)).status, 'the token is asked for in a cluster too').to.equal(401);
      } finally {
        cluster.child.kill('SIGTERM');
      }
      expect((await cluster.exited).code, cluster.output()).to.equal(0);
    });

    it('serves the summed metrics from the primary on metrics.port', async function () {
      if (!mongo) this.skip();
      this.timeout(90_000);
      const keys = await testKeys();
      const port = await freePort();
      const file = configFile({ clients: [WEB_CLIENT], jwks: keys.jwks, cookieKeys: keys.cookieKeys, demo: { enabled: false }, metrics: { enabled: true, port } });
      const cluster = startCluster({ CONFIG: file, MONGODB_URI: mongo!.freshUri(), SMTP_URL: smtp.url() });
      try {
        const issuer = (await cluster.waitFor(/issuer\s+(http:\/\/localhost:\d+)[\s\S]*workers\s+2/, 60_000))[1]!;
        expect(await healthCountsSeenBy(`http://127.0.0.1:${port}/metrics`, {}, issuer, 6)).to.deep.equal([6, 6, 6, 6]);
        expect((await fetch(`${issuer}/metrics`)).status, 'not on the main port').to.equal(404);
      } finally {
        cluster.child.kill('SIGTERM');
      }
      expect((await cluster.exited).code, cluster.output()).to.equal(0);
    });

    it('stops with exit code 1 and the reason when the replacement of a worker that died fails to start', async function () {
      if (!mongo) this.skip();
      this.timeout(90_000);
      const keys = await testKeys();
      const file = configFile({ jwks: keys.jwks, cookieKeys: keys.cookieKeys, demo: { enabled: false } });
      const cluster = startCluster({ CONFIG: file, MONGODB_URI: mongo!.freshUri(), SMTP_URL: smtp.url() });
      try {
        await cluster.waitFor(/workers\s+2/, 60_000);
        // The replacement reads the configuration again, as every worker does at start: an
        // operator's broken edit of the file since start is what it finds.
        writeFileSync(file, '{ not json');
        cluster.stopOneWorker();
        // Restarting the replacement forever would keep it running.
        const code = await cluster.exitWithin(45_000);
        const output = cluster.output();
        expect(code, output).to.equal(1);
        expect(output.split('"event":"cluster.worker_died"'), 'the first worker\'s end is logged, once').to.have.length(2);
        expect(output.split(`config file ${file} is not valid JSON`), 'the replacement\'s reason, printed once').to.have.length(2);
      } finally {
        cluster.child.kill('SIGTERM');
      }
    });
  });
});
