import { expect } from 'chai';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { runMain } from '../helpers/main-process.js';
import { startMongoTarget, type MongoTarget } from '../helpers/mongo-engine.js';
import { startTestServer, WEB_CLIENT } from '../helpers/server.js';
import { tempDirsPerTest } from '../helpers/temp.js';
import { StoreUnavailableError } from '../../src/storage/types.js';

/** A port nothing listens on: bound once by us, then released. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A CONFIG file whose data directory is its own folder, made by `tempDir`. */
function dataDirConfig(tempDir: (prefix: string) => string): string {
  const dir = tempDir('oml-mongo-start-');
  writeFileSync(path.join(dir, 'c.json'), JSON.stringify({ dataDirectory: dir }));
  return path.join(dir, 'c.json');
}

describe('starting and stopping on MongoDB (process level)', function () {
  this.timeout(90_000);
  let target: MongoTarget | null = null;
  before(async () => {
    target = await startMongoTarget();
  });
  after(() => target?.stop());
  const tempDir = tempDirsPerTest();

  it('refuses to start when the database cannot be reached: a clear message, no password, exit 1, in bounded time', async () => {
    const port = await closedPort();
    const run = await runMain(
      { PORT: '0', CONFIG: dataDirConfig(tempDir), MONGODB_URI: `mongodb://oml:s3cret-pw@127.0.0.1:${port}/oml_start` },
      /$^/,
    );
    expect(run.code).to.equal(1);
    expect(run.output).to.include(`MongoDB storage at 127.0.0.1:${port} (database oml_start) is not usable: cannot reach it`);
    expect(run.output).to.include('Check MONGODB_URI');
    expect(run.output).to.not.include('s3cret-pw');
    expect(run.output).to.not.match(/\n\s+at /, 'no stack trace');
    // 5 s of server selection plus process start-up on a busy machine; the driver's own
    // default (30 s) would overrun this.
    expect(run.elapsedMs).to.be.below(25_000);
  });

  it('serves from MongoDB and, on SIGTERM, stops cleanly with exit 0', async function () {
    if (!target) return this.skip();
    const run = await runMain({ PORT: '0', CONFIG: dataDirConfig(tempDir), MONGODB_URI: target.freshUri(), LOG_LEVEL: 'info' }, /issuer\s+http/);
    expect(run.code, run.output).to.equal(0);
    expect(run.output).to.not.include('storage.memory');
    expect(run.output).to.include('"event":"server.stopping"').and.include('"event":"server.stopped"');
  });
});

describe('stopping a server on MongoDB (in process)', function () {
  this.timeout(60_000);
  let target: MongoTarget | null = null;
  before(async function () {
    target = await startMongoTarget();
    if (!target) this.skip();
  });
  after(() => target?.stop());

  it('lets a request in flight finish against the database, then closes the client', async () => {
    const server = await startTestServer({ config: { storage: { mongodbUri: target!.freshUri() } } });
    const store = server.app.store;
    // A token request whose body is still arriving when the stop begins.
    const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'y'.repeat(43) }).toString();
    const request = http.request(`${server.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': String(body.length),
        authorization: `Basic ${Buffer.from(`${WEB_CLIENT.client_id}:${WEB_CLIENT.client_secret}`).toString('base64')}`,
      },
    });
    const answered = new Promise<{ status: number; text: string; connection: string | undefined }>((resolve, reject) => {
      request.on('response', (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text, connection: response.headers.connection }));
      });
      request.on('error', reject);
    });
    request.write(body.slice(0, 10));
    await new Promise<void>((resolve) => server.server.once('request', () => resolve()));

    let stopped = false;
    const stopping = server.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped, 'stop waits for the request in flight').to.equal(false);

    request.end(body.slice(10));
    const { status, text, connection } = await answered;
    // The refresh token was looked up in a database that was still open: a plain OAuth error.
    expect(status, text).to.equal(400);
    expect(JSON.parse(text)).to.include({ error: 'invalid_grant' });
    // Or a keep-alive client would hold the stop open until its idle timeout.
    expect(connection, 'the answer closes its connection').to.equal('close');
    await stopping;
    const afterStop = await store.ping().then(
      () => null,
      (err: unknown) => err,
    );
    expect(afterStop, 'the client is closed').to.be.instanceOf(StoreUnavailableError);
  });
});
