import cluster from 'node:cluster';
import type { Config } from './config/schema.js';
import { ConfigError, resolveIssuer } from './config/load.js';
import { loadKeys } from './provider/keys.js';
import { log } from './log.js';

/** `WORKERS` from the environment: how many processes serve the port (node:cluster); 1 = no cluster. */
export function workerCount(env: NodeJS.ProcessEnv): number {
  const raw = env.WORKERS;
  if (raw === undefined || raw === '') return 1;
  const count = Number(raw);
  if (!Number.isInteger(count) || count < 1 || count > 64) throw new ConfigError(`invalid configuration:\n  - WORKERS: must be a whole number from 1 to 64, got "${raw}"`);
  return count;
}

/**
 * Several workers only make sense when nothing lives in a process: the store and the mailbox
 * must be shared (MongoDB, SMTP), as for several machines behind a load balancer.
 */
function assertShareable(config: Config, count: number): void {
  const gaps: string[] = [];
  if (!config.storage.mongodbUri) gaps.push('MONGODB_URI (the in-memory store cannot be shared between workers)');
  if (!config.mail.smtpUrl) gaps.push('SMTP_URL (each worker would keep its own dev mailbox)');
  if (gaps.length > 0) throw new ConfigError(`WORKERS=${count} needs shared state:\n${gaps.map((g) => `  - ${g}`).join('\n')}`);
}

export interface Workers {
  issuer: string;
  /** Stops every worker (each drains its requests on SIGTERM); resolves once all have exited. */
  stop(): Promise<void>;
}

/**
 * The primary of a cluster: makes sure development keys exist once (so every worker reads the
 * same ones), forks the workers, replaces one that dies, and stops them all on SIGINT/SIGTERM
 * (or when `stop` is called: the benchmark stops its cluster over IPC).
 * Resolves once every worker listens.
 */
export async function superviseWorkers(config: Config, count: number): Promise<Workers> {
  assertShareable(config, count);
  await loadKeys(config);
  let stopping: Promise<void> | null = null;
  const fork = () => cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    log.error('cluster.worker_died', { worker: worker.id, code, signal });
    fork();
  });
  const stop = (): Promise<void> => {
    stopping ??= Promise.all(
      Object.values(cluster.workers ?? {}).map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (!worker || worker.isDead()) return resolve();
            worker.once('exit', () => resolve());
            worker.kill('SIGTERM');
          }),
      ),
    ).then(() => undefined);
    return stopping;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log.info('cluster.stopping', { signal });
      void stop().then(() => process.exit(0));
    });
  }
  const listening = new Promise<number>((resolve) => {
    let ready = 0;
    cluster.on('listening', (_worker, address) => {
      ready += 1;
      if (ready === count) resolve(address.port);
    });
  });
  for (let i = 0; i < count; i += 1) fork();
  return { issuer: resolveIssuer(config, await listening), stop };
}
