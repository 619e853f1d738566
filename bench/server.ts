/**
 * A server under test, run as its own process by bench/run.ts: `ours` is the real application
 * (src/server.ts), `bare` is node-oidc-provider with a trivial login form (bench/bare.ts).
 * With `workers` > 1, ours is a node:cluster (src/cluster.ts, as `WORKERS=N` in production):
 * this process becomes the primary and every worker runs this same file, answering the primary
 * as a lone server answers the driver.
 * Talks to the parent over IPC only; never logs.
 */
import { execFileSync } from 'node:child_process';
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import type { FromServer, ServerSpec, ServerStats, ToServer } from './protocol.js';
import { statsRequester } from './protocol.js';
import { oursConfig } from './ours-config.js';
import { BarePoster } from './bare-poster.js';
import type { Application } from '../src/app.js';
import type { WebhookDeliveryRecord } from '../src/storage/types.js';

process.env.LOG_LEVEL = 'silent';

interface Running {
  issuer: string;
  port: number;
  store: string;
  stats(gc: boolean): Promise<ServerStats>;
  stop(): Promise<void>;
}

type Ready = Extract<FromServer, { type: 'ready' }>;

/** Store calls of ours so far, when the spec asks them counted. */
let storeCalls: number | undefined;

/** Clock ticks per second of /proc's CPU times (USER_HZ): 100 on Linux unless `getconf` says otherwise. */
const ticksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** The main thread's own CPU (ms), from /proc/thread-self/stat's utime and stime; undefined off Linux. */
function mainThreadCpuMs(): number | undefined {
  try {
    const fields = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
    // After the command name: state is field 3, utime 14 and stime 15 (proc(5)).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

/** The garbage collector's pauses of the main thread so far (ms), summed from V8's `gc` performance entries. */
let gcPauseMs = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauseMs += entry.duration;
}).observe({ entryTypes: ['gc'] });

function ownStats(gc: boolean): ServerStats {
  if (gc) (globalThis as { gc?: () => void }).gc?.();
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const mainThread = mainThreadCpuMs();
  return {
    cpu: { user: cpu.user, system: cpu.system },
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    external: memory.external,
    gcPauseMs,
    ...(mainThread === undefined ? {} : { mainThreadCpuMs: mainThread }),
    ...(storeCalls === undefined ? {} : { storeCalls }),
  };
}

/**
 * A cluster's figures: CPU of every process (the primary accepts and hands out connections),
 * memory of the workers only (the primary holds no state).
 */
function clusterStats(primary: ServerStats, workers: ServerStats[]): ServerStats {
  const sum = (pick: (stats: ServerStats) => number) => workers.reduce((total, stats) => total + pick(stats), 0);
  return {
    cpu: { user: primary.cpu.user + sum((s) => s.cpu.user), system: primary.cpu.system + sum((s) => s.cpu.system) },
    rss: sum((s) => s.rss),
    heapUsed: sum((s) => s.heapUsed),
    external: sum((s) => s.external),
  };
}

function send(message: FromServer): void {
  process.send?.(message);
}

async function startOurs(spec: ServerSpec): Promise<Running> {
  const { startServer } = await import('../src/server.js');
  const config = oursConfig(spec);
  let store;
  if (spec.countStoreCalls) {
    // The metrics' store wrapper, counting: every round trip the steps make, node-oidc-provider's included.
    const [{ openStore }, { observedStore }] = await Promise.all([import('../src/storage/index.js'), import('../src/metrics/store.js')]);
    storeCalls = 0;
    store = observedStore(await openStore(config), () => void (storeCalls = (storeCalls ?? 0) + 1));
  }
  const running = await startServer(config, store ? { store } : {});
  const deliveries = running.app.store.webhookDeliveries;
  const bare = spec.kind === 'posts' && spec.webhookUrl ? await postEventsBare(running.app, spec.webhookUrl) : null;
  const stats = async (gc: boolean): Promise<ServerStats> => {
    if (config.webhooks.length === 0) return ownStats(gc);
    const pending = bare ? bare.pending : (await deliveries.list({ status: 'pending', limit: 1 })).length;
    return { ...ownStats(gc), deliveriesPending: pending > 0 };
  };
  return { issuer: running.issuer, port: running.port, store: running.app.store.kind, stats, stop: () => running.stop() };
}

/**
 * The `posts` contender: the events ours builds, each posted once and bare in place of being
 * stored for the sender (which is stopped), gathered as the sender gathers (`events.gatherMs`).
 * What is left of a delivery is the event's JSON and its POST.
 */
async function postEventsBare(app: Application, url: string): Promise<BarePoster> {
  await app.webhooks.stop();
  const poster = new BarePoster(url, app.config.events.gatherMs);
  app.store.webhookDeliveries.insertMany = async (records: readonly WebhookDeliveryRecord[]) => {
    for (const record of records) void poster.post(record.body).catch(() => undefined);
  };
  return poster;
}

async function startBare(spec: ServerSpec): Promise<Running> {
  const { startBare } = await import('./bare.js');
  return { ...(await startBare(spec)), stats: async (gc) => ownStats(gc) };
}

/**
 * Resolves with the first worker's `ready` once all `count` have sent theirs: a worker listens
 * before its application is built, so `listening` is too early for start-up figures.
 */
function workersReady(count: number): Promise<Ready> {
  return new Promise((resolve, reject) => {
    const ready: Ready[] = [];
    cluster.on('message', (worker, raw) => {
      const message = raw as FromServer;
      if (message.type === 'error') reject(new Error(`worker ${worker.id}: ${message.message}`));
      if (message.type !== 'ready') return;
      ready.push(message);
      if (ready.length === count) resolve(ready[0]!);
    });
  });
}

async function startCluster(spec: ServerSpec): Promise<Running> {
  const { superviseWorkers } = await import('../src/cluster.js');
  const config = oursConfig(spec);
  const askWorkers: ((gc?: boolean) => Promise<ServerStats>)[] = [];
  let stopping = false;
  cluster.on('fork', (worker) => askWorkers.push(statsRequester(worker, `worker ${worker.id}`)));
  // Registered before superviseWorkers' own handler, which would fork a replacement: a new
  // worker starts its CPU and memory from zero, so the run's figures would be wrong.
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    process.stderr.write(`worker ${worker.id} exited (code ${code}, signal ${signal}): stopping, the figures would be wrong\n`);
    process.exit(1);
  });
  const [workers, first] = await Promise.all([superviseWorkers(config, spec.workers), workersReady(spec.workers)]);
  return {
    issuer: workers.issuer,
    port: first.port,
    store: first.store,
    stats: async (gc) => clusterStats(ownStats(false), await Promise.all(askWorkers.map((ask) => ask(gc)))),
    stop: () => {
      stopping = true;
      return workers.stop();
    },
  };
}

async function startPlugin(spec: ServerSpec): Promise<Running> {
  const { startPluginHost } = await import('./plugin-host.js');
  return { ...(await startPluginHost(spec)), stats: async (gc) => ownStats(gc) };
}

async function startFloor(spec: ServerSpec): Promise<Running> {
  const { startFloor } = await import('./floor.js');
  return { ...(await startFloor(spec)), stats: async (gc) => ownStats(gc) };
}

function start(spec: ServerSpec): Promise<Running> {
  if (spec.kind === 'bare') return startBare(spec);
  if (spec.kind === 'floor') return startFloor(spec);
  if (spec.kind === 'plugin') return startPlugin(spec);
  return spec.workers > 1 && cluster.isPrimary ? startCluster(spec) : startOurs(spec);
}

const spec = JSON.parse(process.argv[2] ?? '{}') as ServerSpec;
try {
  const running = await start(spec);
  const stopAndExit = () => {
    // Exit normally (not by signal) so --cpu-prof writes its profile.
    void running.stop().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('message', (raw) => {
    const message = raw as ToServer;
    if (message.type === 'stats') void running.stats(message.gc ?? false).then((stats) => send({ type: 'stats', stats }));
    else if (message.type === 'stop') stopAndExit();
  });
  // The cluster's primary stops its workers with SIGTERM (src/cluster.ts).
  if (cluster.isWorker) process.once('SIGTERM', stopAndExit);
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', issuer: running.issuer, port: running.port, store: running.store, stats: await running.stats(false) });
} catch (err) {
  send({ type: 'error', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
