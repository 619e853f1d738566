/** Starting and talking to server processes (and, for --store mongodb, the wire engine). */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { statsRequester, type FromServer, type ServerSpec, type ServerStats, type ToServer } from './protocol.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface ServerHandle {
  kind: string;
  issuer: string;
  store: string;
  startStats: ServerStats;
  stats(gc?: boolean): Promise<ServerStats>;
  stop(): Promise<void>;
}

export interface LaunchOptions {
  /** Directory for --cpu-prof output; null: no profile. */
  profileDir: string | null;
  /** More Node/V8 flags for the server process (`--node-flag`). */
  nodeFlags?: readonly string[];
}

export function launchServer(spec: ServerSpec, options: LaunchOptions): Promise<ServerHandle> {
  const execArgv = ['--import', 'tsx', '--expose-gc', '--no-warnings', ...(options.nodeFlags ?? [])];
  // One folder per server: tsx's loader thread writes a profile of its own next to the main thread's.
  if (options.profileDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${path.join(options.profileDir, spec.kind)}`);
  const child: ChildProcess = fork(path.join(here, 'server.ts'), [JSON.stringify(spec)], {
    execArgv,
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    env: { ...process.env, LOG_LEVEL: 'silent', NODE_ENV: 'development' },
  });
  // node-oidc-provider's start-up notices (Node 20, the bare server's quick-start adapter) are expected: drop them.
  child.stderr!.on('data', (chunk: Buffer) => {
    const lines = chunk.toString().split('\n').filter((line) => line.trim() !== '' && !/^oidc-provider (WARNING|NOTICE)/.test(line));
    if (lines.length > 0) process.stderr.write(`[${spec.kind}] ${lines.join('\n')}\n`);
  });
  const stats = statsRequester(child, `${spec.kind} server`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${spec.kind} server exited (code ${code}) before it was ready`)));
    child.on('message', (raw) => {
      const message = raw as FromServer;
      if (message.type === 'error') reject(new Error(`${spec.kind} server failed to start: ${message.message}`));
      else if (message.type === 'ready') {
        resolve({
          kind: spec.kind,
          issuer: message.issuer,
          store: message.store,
          startStats: message.stats,
          stats,
          async stop() {
            if (child.exitCode === null && child.connected) child.send({ type: 'stop' } satisfies ToServer);
            const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
            await exited;
            clearTimeout(timer);
          },
        });
      }
    });
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

/** The MongoDB wire-compatible test engine (linux-x64 optional dependency), for --store mongodb without MONGODB_URI. */
export async function startWireEngine(): Promise<{ uri: string; stop(): void }> {
  const require = createRequire(import.meta.url);
  const packageJson = require.resolve('@jongodb/memory-server-bin-linux-x64-gnu/package.json');
  const binary = path.join(path.dirname(packageJson), 'bin/jongodb');
  const port = await freePort();
  const child = spawn(binary, ['--host=127.0.0.1', `--port=${port}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const uri = await new Promise<string>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error('the wire engine did not start within 20 s')), 20_000);
    child.once('error', reject);
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const found = /JONGODB_URI=(\S+)/.exec(seen)?.[1];
      if (found) {
        clearTimeout(timer);
        resolve(found.replace(/\/test$/, '/oml-bench'));
      }
    });
  });
  return { uri, stop: () => child.kill() };
}
