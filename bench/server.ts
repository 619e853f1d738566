/**
 * A server under test, run as its own process by bench/run.ts: `ours` is the real application
 * (src/server.ts), `bare` is node-oidc-provider with a trivial login form (bench/bare.ts).
 * Talks to the parent over IPC only; never logs.
 */
import type { FromServer, ServerSpec, ServerStats, ToServer } from './protocol.js';
import { benchEmail, BENCH_CLIENT_ID } from './protocol.js';

process.env.LOG_LEVEL = 'silent';

function stats(): ServerStats {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return { cpu: { user: cpu.user, system: cpu.system }, rss: memory.rss, heapUsed: memory.heapUsed, external: memory.external };
}

function send(message: FromServer): void {
  process.send?.(message);
}

async function start(spec: ServerSpec): Promise<{ issuer: string; port: number; store: string; stop(): Promise<void> }> {
  if (spec.kind === 'bare') {
    const { startBare } = await import('./bare.js');
    return startBare(spec);
  }
  const { loadConfig } = await import('../src/config/load.js');
  const { startServer } = await import('../src/server.js');
  const users = Array.from({ length: spec.users }, (_, i) => ({
    email: benchEmail(i),
    firstName: `User${i}`,
    registrations: [{ applicationId: BENCH_CLIENT_ID, roles: [] }],
  }));
  const config = loadConfig({
    env: {},
    overrides: {
      port: 0,
      clients: [{ ...spec.client, grant_types: ['authorization_code', 'refresh_token'], client_name: 'Bench', first_party: true }],
      users,
      apiKeys: [{ key: spec.apiKey, description: 'bench', permissions: { '*': ['*'] } }],
      jwks: spec.jwks,
      cookieKeys: spec.cookieKeys,
      rateLimits: { enabled: false },
      demo: { enabled: false },
      mail: { smtpUrl: spec.smtpUrl, devMailboxSize: 1000 },
      storage: { mongodbUri: spec.mongodbUri },
    },
  });
  const running = await startServer(config);
  return { issuer: running.issuer, port: running.port, store: running.app.store.kind, stop: () => running.stop() };
}

const spec = JSON.parse(process.argv[2] ?? '{}') as ServerSpec;
try {
  const running = await start(spec);
  process.on('message', (raw) => {
    const message = raw as ToServer;
    if (message.type === 'stats') {
      if (message.gc) (globalThis as { gc?: () => void }).gc?.();
      send({ type: 'stats', stats: stats() });
    } else if (message.type === 'stop') {
      // Exit normally (not by signal) so --cpu-prof writes its profile.
      void running.stop().finally(() => process.exit(0));
      setTimeout(() => process.exit(0), 3000).unref();
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', issuer: running.issuer, port: running.port, store: running.store, stats: stats() });
} catch (err) {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
