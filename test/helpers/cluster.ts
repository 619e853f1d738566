import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { StoredMail } from '../../src/mail/dev-mailbox.js';
import { makeTempDir, removeTempDir } from './temp.js';

const root = path.resolve(import.meta.dirname, '../..');
const INSTANCE_START_TIMEOUT_MS = 60_000;
const MAIL_TIMEOUT_MS = 20_000;

/** One request the balancer forwarded, and to whom. */
export interface Forwarded {
  instance: string;
  method: string;
  path: string;
}

/**
 * A tiny load balancer: the one public origin (the issuer) in front of several instances.
 * The test decides which instance gets the next requests, as a real balancer might.
 */
export interface Balancer {
  /** The public origin, used as every instance's issuer. */
  url: string;
  /** Sends every following request to the instance registered under `name`. */
  routeTo(name: string): void;
  register(name: string, port: number): void;
  /** Every forwarded request, oldest first. */
  forwarded: Forwarded[];
  stop(): Promise<void>;
}

export async function startBalancer(): Promise<Balancer> {
  const ports = new Map<string, number>();
  const forwarded: Forwarded[] = [];
  let target = '';
  const server = http.createServer((req, res) => {
    const port = ports.get(target);
    if (port === undefined) {
      res.writeHead(502).end(`no instance named ${target}`);
      return;
    }
    forwarded.push({ instance: target, method: req.method ?? 'GET', path: req.url ?? '/' });
    // No keep-alive upstream: an instance that stops must not leave stale sockets behind.
    const upstream = http.request(
      { host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers, agent: false },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(`upstream ${target} failed: ${err.message}`);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    routeTo(name) {
      target = name;
    },
    register(name, instancePort) {
      ports.set(name, instancePort);
    },
    forwarded,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A server instance running in its own OS process. */
export interface Instance {
  name: string;
  port: number;
  /** The instance's own address (the dev mailbox lives here: it is per process by design). */
  origin: string;
  /** Everything the process printed so far. */
  output(): string;
  /** The newest email to `to` that is not in `seen`, waiting for background delivery. */
  nextMailTo(to: string, seen?: ReadonlySet<string>): Promise<StoredMail>;
  /** SIGTERM, then the exit code once the process has drained and closed; its folder is removed then. */
  stop(): Promise<number | null>;
  /** SIGKILL, as a crash: nothing drains; resolves once the process is gone (its folder is removed). */
  crash(): Promise<void>;
}

/** Starts `test/helpers/instance-main.ts` in a child process with `config` as its CONFIG file (in a temp folder, also its data directory). */
export async function startInstance(name: string, config: Record<string, unknown>): Promise<Instance> {
  const dir = makeTempDir(`oml-${name}-`);
  const configFile = path.join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ port: 0, dataDirectory: dir, ...config }), { mode: 0o600 });
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/instance-main.ts'], {
    cwd: root,
    env: { ...process.env, CONFIG: configFile, LOG_LEVEL: 'warn', MONGODB_URI: '', ISSUER: '', PORT: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const port = await announcedPort(child, () => output, exited).catch((err: unknown) => {
    removeTempDir(dir);
    throw err;
  });
  const origin = `http://127.0.0.1:${port}`;
  return {
    name,
    port,
    origin,
    output: () => output,
    nextMailTo: (to, seen = new Set()) => pollMail(origin, to, seen),
    async crash() {
      child.kill('SIGKILL');
      await exited;
      process.off('exit', killOnExit);
      removeTempDir(dir);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      process.off('exit', killOnExit);
      removeTempDir(dir);
      return code;
    },
  };
}

function announcedPort(child: ChildProcess, output: () => string, exited: Promise<number | null>): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`instance did not start within ${INSTANCE_START_TIMEOUT_MS} ms:\n${output()}`));
    }, INSTANCE_START_TIMEOUT_MS);
    const check = (): void => {
      const port = /INSTANCE_PORT=(\d+)/.exec(output())?.[1];
      if (!port) return;
      clearTimeout(timer);
      child.stdout?.off('data', check);
      resolve(Number(port));
    };
    child.stdout?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`instance exited with ${code} before it served:\n${output()}`));
    });
  });
}

async function pollMail(origin: string, to: string, seen: ReadonlySet<string>): Promise<StoredMail> {
  const deadline = Date.now() + MAIL_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const mails = (await fetch(`${origin}/dev/mail.json`).then((r) => r.json())) as StoredMail[];
    const mail = mails.find((m) => m.to === to && !seen.has(m.id));
    if (mail) return mail;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no new email to ${to} at ${origin} within ${MAIL_TIMEOUT_MS} ms`);
}
