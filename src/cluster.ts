import cluster, { type Worker } from 'node:cluster';
import type { Config } from './config/schema.js';
import { ConfigError, resolveIssuer } from './config/load.js';
import { assertProductionReady } from './config/production.js';
import { loadKeys } from './provider/keys.js';
import { log } from './log.js';
import { aggregateWorkerMetrics } from './metrics/cluster.js';
import { startMetricsServer, type MetricsServer } from './metrics/endpoint.js';

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
  /**
   * Resolves, with the worker's reason, if a worker started later (to replace one that died)
   * fails to start: the cluster has then been stopped and the process should exit 1.
   */
  failure: Promise<Error>;
  /** Stops every worker (each drains its requests on SIGTERM); resolves once all have exited. */
  stop(): Promise<void>;
}

/** A worker's start-up failure other than a configuration error, raised again in the primary. */
export class WorkerStartError extends Error {
  override readonly name = 'WorkerStartError';
}

/**
 * What a worker tells the primary about its start-up over IPC. `ready` means the application is
 * built and serving (the store answered), not only that the port is open; bench/server.ts's
 * workers send the same `ready`.
 */
type StartReport = { type: 'ready'; port: number } | { type: 'start_failed'; configError: boolean; message: string };

function isStartReport(value: unknown): value is StartReport {
  const type = (value as { type?: unknown } | null)?.type;
  return type === 'ready' || type === 'start_failed';
}

/** In a worker: start-up is done; the primary counts the workers that say so before it says "running". */
export function reportReady(port: number): void {
  process.send?.({ type: 'ready', port } satisfies StartReport);
}

/** In a worker: start-up failed; the primary stops the cluster and prints `err` once. Resolves once sent. */
export function reportStartFailure(err: unknown): Promise<void> {
  const report: StartReport = { type: 'start_failed', configError: err instanceof ConfigError, message: err instanceof Error ? err.message : String(err) };
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(report, undefined, {}, () => resolve());
  });
}

function reasonOf(report: Extract<StartReport, { type: 'start_failed' }>): Error {
  return report.configError ? new ConfigError(report.message) : new WorkerStartError(report.message);
}

/**
 * The primary of a cluster: refuses what every worker would refuse (production checks, keys)
 * before forking, makes sure development keys exist once (so every worker reads the same
 * ones), forks the workers and resolves once every one has reported ready. A worker that dies
 * before it is ready stops the cluster with that worker's reason (a start-up that cannot succeed
 * must end, not restart forever); one that dies after is replaced. SIGINT/SIGTERM (or `stop`:
 * the benchmark stops its cluster over IPC) stops them all.
 */
export async function superviseWorkers(config: Config, count: number): Promise<Workers> {
  assertShareable(config, count);
  assertProductionReady(config);
  await loadKeys(config);
  // The workers' metrics, summed here: a worker scraped on the main port asks for them, and a metrics port of its own is served here.
  const metricsSource = config.metrics.enabled ? aggregateWorkerMetrics() : null;
  const metricsServer: MetricsServer | null =
    metricsSource && config.metrics.port !== null ? await startMetricsServer({ host: config.metrics.host, port: config.metrics.port, token: config.metrics.token, source: metricsSource }) : null;
  let stopping: Promise<void> | null = null;
  let running = false;
  const ready = new Set<Worker>();
  let started!: { resolve(port: number): void; reject(err: Error): void };
  const startedUp = new Promise<number>((resolve, reject) => (started = { resolve, reject }));
  let failed!: (reason: Error) => void;
  const failure = new Promise<Error>((resolve) => (failed = resolve));

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
    ).then(() => metricsServer?.close());
    return stopping;
  };
  const giveUp = (reason: Error): void => {
    if (stopping) return;
    void stop().then(() => (running ? failed(reason) : started.reject(reason)));
  };

  cluster.on('message', (worker, message: unknown) => {
    if (!isStartReport(message)) return;
    if (message.type === 'start_failed') return giveUp(reasonOf(message));
    ready.add(worker);
    if (!running && ready.size === count) {
      running = true;
      started.resolve(message.port);
    }
  });
  cluster.on('exit', (worker, exitCode, signal) => {
    if (stopping) return;
    if (ready.delete(worker)) {
      // `exitCode`, not `code`: the log redacts fields named `code`.
      log.error('cluster.worker_died', { worker: worker.id, exitCode, signal });
      cluster.fork();
      return;
    }
    // Died while starting. Its report, if it sent one, has been read once its channel is closed.
    const died = () => giveUp(new WorkerStartError(`worker ${worker.id} exited (${signal ?? `code ${exitCode}`}) before it was ready`));
    if (worker.isConnected()) worker.once('disconnect', died);
    else died();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log.info('cluster.stopping', { signal });
      void stop().then(() => process.exit(0));
    });
  }
  for (let i = 0; i < count; i += 1) cluster.fork();
  return { issuer: resolveIssuer(config, await startedUp), failure, stop };
}
