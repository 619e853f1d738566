/**
 * Messages between the bench driver (parent) and a server under test (child process, IPC).
 * The server reports its own CPU and memory: the load generator shares the machine, so
 * server CPU per completed flow is the figure that survives a noisy neighbour.
 */
import type { JWK } from 'jose';

export type ServerKind = 'ours' | 'bare';

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
}

export type ToServer = { type: 'stats'; gc?: boolean } | { type: 'stop' };
export type FromServer =
  | { type: 'ready'; issuer: string; port: number; store: string; stats: ServerStats }
  | { type: 'stats'; stats: ServerStats }
  | { type: 'error'; message: string };

/** The email of seeded user `index`. */
export const benchEmail = (index: number): string => `user${index}@bench.test`;

export const BENCH_CLIENT_ID = 'bench';
