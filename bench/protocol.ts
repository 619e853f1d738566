/**
 * Messages between the bench driver (parent) and a server under test (child process, IPC).
 * The server reports its own CPU and memory: the load generator shares the machine, so
 * server CPU per completed flow is the figure that survives a noisy neighbour.
 */
import type { JWK } from 'jose';

/**
 * ours; floor, the least magic link on the same stack (bench/floor.ts); bare, no magic link at
 * all (bench/bare.ts); metrics, ours with Prometheus metrics on (only with `--metrics`: the A/B of
 * their cost); webhooks, ours with a webhook receiver subscribed to every event (`--webhooks`);
 * plugin, the plugin in a Koa host as examples/koa-host runs it (`--plugin`, bench/plugin-host.ts);
 * posts, ours whose every event is one bare POST to the same receiver, nothing stored, signed,
 * capped or retried (`--bare-posts`): the least any sender of one event per POST costs.
 */
export type ServerKind = 'ours' | 'floor' | 'bare' | 'metrics' | 'webhooks' | 'plugin' | 'posts';

export const SERVER_KINDS: readonly ServerKind[] = ['ours', 'floor', 'bare'];
/** Every kind (the object makes the compiler say when one is added to ServerKind and not here). */
export const ALL_SERVER_KINDS = Object.keys({ ours: 1, floor: 1, bare: 1, metrics: 1, webhooks: 1, plugin: 1, posts: 1 } satisfies Record<ServerKind, 1>) as ServerKind[];

/** What the parent tells a server child to start with (argv[2], JSON). */
export interface ServerSpec {
  kind: ServerKind;
  jwks: { keys: JWK[] };
  cookieKeys: string[];
  client: BenchClient;
  users: number;
  smtpUrl: string | null;
  mongodbUri: string | null;
  apiKey: string;
  /** Ours only: more than 1 runs it as a node:cluster of this many workers on one port. */
  workers: number;
  /** Ours: count every store call (for the steps table); off otherwise, so flows pay nothing for it. */
  countStoreCalls?: boolean;
  /** The `webhooks` and `posts` contenders' receiver (every event is posted there); null for the others. */
  webhookUrl: string | null;
  /** The event types the `webhooks` contender's webhook takes (`['*']`: every one). */
  webhookEvents: string[];
  /** Caps every token, session and code lifetime (seconds) in both servers; null keeps the configured ones. */
  ttlSeconds: number | null;
}

/** The configured lifetimes, each capped at `cap` seconds when one is given (--ttl). */
export function cappedTtl(ttl: Record<string, number>, cap: number | null): Record<string, number> {
  return cap === null ? { ...ttl } : Object.fromEntries(Object.entries(ttl).map(([model, seconds]) => [model, Math.min(seconds, cap)]));
}

export interface BenchClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

export interface ServerStats {
  /** process.cpuUsage() in microseconds, cumulative since the process started. */
  cpu: { user: number; system: number };
  rss: number;
  heapUsed: number;
  external: number;
  /**
   * CPU of the main (JavaScript) thread alone, ms since start, where the OS tells it (Linux
   * /proc, 10 ms ticks: exact only summed over many steps). The rest of `cpu` is V8's helper
   * threads (concurrent GC and compilation) and libuv's pool.
   */
  mainThreadCpuMs?: number;
  /** Pauses of the main thread by the garbage collector, ms since start (a cluster's stats carry none). */
  gcPauseMs?: number;
  /** Ours with `countStoreCalls`: store calls (repositories and node-oidc-provider's adapter) since start. */
  storeCalls?: number;
  /**
   * Ours with a webhook: whether some delivery is still pending (not yet settled). A
   * measure waits for 0 before it reads the CPU, so each window pays for its own events'
   * deliveries, not for those of the window before.
   */
  deliveriesPending?: boolean;
}

export type ToServer = { type: 'stats'; gc?: boolean } | { type: 'stop' };
export type FromServer =
  | { type: 'ready'; issuer: string; port: number; store: string; stats: ServerStats }
  | { type: 'stats'; stats: ServerStats }
  | { type: 'error'; message: string };

/** What both a server child (for the driver) and a cluster worker (for its primary) are to their parent. */
export interface StatsPeer {
  send(message: ToServer): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  once(event: 'exit', listener: () => void): unknown;
}

/**
 * Asks a server process for its stats. Answers come back in the order asked; if the process
 * exits, pending and later requests fail rather than wait forever.
 */
export function statsRequester(peer: StatsPeer, name: string): (gc?: boolean) => Promise<ServerStats> {
  const waiting: { resolve(stats: ServerStats): void; reject(err: Error): void }[] = [];
  let exited = false;
  const gone = () => new Error(`${name} exited`);
  peer.on('message', (raw) => {
    const message = raw as FromServer;
    if (message.type === 'stats') waiting.shift()?.resolve(message.stats);
  });
  peer.once('exit', () => {
    exited = true;
    for (const request of waiting.splice(0)) request.reject(gone());
  });
  return (gc = false) =>
    new Promise((resolve, reject) => {
      if (exited) return reject(gone());
      waiting.push({ resolve, reject });
      peer.send({ type: 'stats', gc });
    });
}

/** The email of seeded user `index`. */
export const benchEmail = (index: number): string => `user${index}@bench.test`;

export const BENCH_CLIENT_ID = 'bench';
