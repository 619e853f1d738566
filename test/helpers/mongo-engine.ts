import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MongoClient } from 'mongodb';
import { parseMongoUri } from '../../src/storage/mongodb.js';

/** A MongoDB server the tests may use. */
export interface MongoTarget {
  /** URI of a database no other call of {@link startMongoTarget} uses. */
  uri: string;
  /** `mongodb` when MONGODB_URI was given, `jongodb` when the bundled test engine runs. */
  engine: 'mongodb' | 'jongodb';
  /** Another fresh database on the same server (dropped by `stop()` on a real MongoDB). */
  freshUri(): string;
  /** Drops what the tests created on a shared server, or ends the test engine. */
  stop(): Promise<void>;
}

const ENGINE_PACKAGE = '@jongodb/memory-server-bin-linux-x64-gnu';
const ENGINE_START_TIMEOUT_MS = 20_000;

/**
 * Starts a MongoDB target: `MONGODB_URI` when set, else the jongodb test engine when its
 * (linux-x64 only) optional package is installed, else null so callers can skip.
 */
export async function startMongoTarget(): Promise<MongoTarget | null> {
  const given = process.env.MONGODB_URI;
  const target = given ? sharedServer(given) : await startTestEngine();
  if (target) console.log(`      [storage] MongoDB engine: ${target.engine} at ${parseMongoUri(target.uri).hosts}`);
  else console.log(`      [storage] no MongoDB engine: set MONGODB_URI or install ${ENGINE_PACKAGE}; MongoDB cases skipped`);
  return target;
}

export function freshDatabaseName(): string {
  return `oml_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
}

/** `uri` pointed at another database, keeping hosts, credentials and options. */
export function withDatabase(uri: string, database: string): string {
  const [head = '', query] = uri.split(/\?(.*)/s);
  const schemeEnd = head.indexOf('://') + 3;
  const pathStart = head.indexOf('/', Math.max(schemeEnd, head.lastIndexOf('@') + 1));
  const base = pathStart === -1 ? head : head.slice(0, pathStart);
  return `${base}/${database}${query ? `?${query}` : ''}`;
}

function sharedServer(uri: string): MongoTarget {
  const handedOut: string[] = [];
  const fresh = (): string => {
    const database = freshDatabaseName();
    handedOut.push(database);
    return withDatabase(uri, database);
  };
  return {
    uri: fresh(),
    engine: 'mongodb',
    freshUri: fresh,
    async stop() {
      const client = await new MongoClient(uri, { serverSelectionTimeoutMS: 5000 }).connect();
      try {
        await Promise.all(handedOut.map((database) => client.db(database).dropDatabase()));
      } finally {
        await client.close();
      }
    },
  };
}

function engineBinary(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return null;
  try {
    const binary = join(dirname(createRequire(import.meta.url).resolve(`${ENGINE_PACKAGE}/package.json`)), 'bin', 'jongodb');
    accessSync(binary, constants.X_OK);
    return binary;
  } catch {
    return null;
  }
}

/** One running jongodb process, for tests that take the database away (outage, restart). */
export interface EngineProcess {
  /** `mongodb://host:port` of the engine, without a database. */
  serverUri: string;
  port: number;
  /** SIGTERM, then SIGKILL after 3 s; resolves once the process is gone. */
  stop(): Promise<void>;
}

/**
 * Starts the jongodb test engine on `port` (0: any free port); null when its package is not
 * installed. The engine keeps its data in memory: a restarted engine starts empty.
 */
export async function spawnEngine(port = 0): Promise<EngineProcess | null> {
  const binary = engineBinary();
  if (!binary) return null;
  const child = spawn(binary, ['--host=127.0.0.1', `--port=${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  // mocha exits the process with `exit: true`; never leave an engine running behind it.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const serverUri = await engineUri(child);
  return {
    serverUri,
    port: Number(/:(\d+)(?:\/|$)/.exec(serverUri)?.[1]),
    async stop() {
      process.off('exit', killOnExit);
      await stopProcess(child);
    },
  };
}

/**
 * One connection per client on the test engine. jongodb runs the operations of different
 * connections at the same time without MongoDB's per-document atomicity: two conditional
 * `findOneAndUpdate`s of one document, sent together, can both match (measured: 12–30 of 200
 * tries of six at once). Our code relies on that atomicity, as MongoDB guarantees it; with one
 * connection a client's operations reach the engine one after another, so what a test of one
 * process checks is our logic, not the engine's gap. Two processes (two clients) can still race:
 * see the two-instance webhook test.
 */
const ENGINE_CLIENT_OPTIONS = 'maxPoolSize=1';

async function startTestEngine(): Promise<MongoTarget | null> {
  const engine = await spawnEngine();
  if (!engine) return null;
  const fresh = (): string => `${withDatabase(engine.serverUri, freshDatabaseName())}?${ENGINE_CLIENT_OPTIONS}`;
  return {
    uri: fresh(),
    engine: 'jongodb',
    freshUri: fresh,
    stop: () => engine.stop(),
  };
}

/**
 * Waits for the engine's `JONGODB_URI=` line; fails with its stderr if it dies or stalls.
 * Both pipes stay drained afterwards so a chatty engine never blocks on a full pipe.
 */
function engineUri(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let ready = false;
    const fail = (error: Error): void => {
      if (ready) return;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`jongodb did not start within ${ENGINE_START_TIMEOUT_MS} ms`)), ENGINE_START_TIMEOUT_MS);
    child.stderr?.on('data', (chunk: Buffer) => {
      if (!ready) stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      if (ready) return;
      stdout += chunk.toString();
      const uri = /JONGODB_URI=(\S+)/.exec(stdout)?.[1];
      if (!uri) return;
      ready = true;
      clearTimeout(timer);
      resolve(uri);
    });
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`jongodb exited with ${code} before it was ready: ${stderr.trim()}`)));
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
