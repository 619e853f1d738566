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

/**
 * The primary of a cluster: makes sure development keys exist once (so every worker reads the
 * same ones), forks the workers, replaces one that dies, and stops them all on SIGINT/SIGTERM.
 * Resolves with the issuer once every worker listens.
 */
export async function superviseWorkers(config: Config, count: number): Promise<string> {
  assertShareable(config, count);
  await loadKeys(config);
  let stopping = false;
  const fork = () => cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    log.error('cluster.worker_died', { worker: worker.id, code, signal });
    fork();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopping = true;
      log.info('cluster.stopping', { signal });
      const workers = Object.values(cluster.workers ?? {});
      let left = workers.length;
      if (left === 0) process.exit(0);
      for (const worker of workers) {
        worker?.once('exit', () => {
          left -= 1;
          if (left === 0) process.exit(0);
        });
        worker?.kill('SIGTERM');
      }
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
  return resolveIssuer(config, await listening);
}
