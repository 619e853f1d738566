import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, timingSafeEqual } from 'node:crypto';
import { describeError, log } from '../log.js';

/** Where the exposition text comes from: this process's registry, or the cluster's aggregate. */
export type ExpositionSource = () => Promise<{ contentType: string; text: string }>;

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Whether the request carries `Authorization: Bearer <token>` (compared in constant time); no token configured lets every request in. */
function authorized(req: http.IncomingMessage, token: string | null): boolean {
  if (token === null) return true;
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match !== null && timingSafeEqual(digest(match[1]!), digest(token));
}

function answer(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(text);
}

/**
 * Answers a scrape: GET or HEAD only, the bearer token when one is configured, then the
 * exposition text. A cluster whose workers do not all answer in time gives 503, so a scrape
 * never shows a partial instance as if it were whole.
 */
export function metricsEndpoint(source: ExpositionSource, token: string | null): http.RequestListener {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return answer(res, 405, 'Method not allowed: GET /metrics\n', { Allow: 'GET, HEAD' });
    if (!authorized(req, token)) return answer(res, 401, 'Unauthorized: send Authorization: Bearer <metrics.token>\n', { 'WWW-Authenticate': 'Bearer realm="metrics"' });
    source().then(
      ({ contentType, text }) => {
        res.statusCode = 200;
        res.setHeader('Content-Type', contentType);
        res.setHeader('Cache-Control', 'no-store');
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        log.warn('metrics.unavailable', describeError(err));
        answer(res, 503, 'Metrics unavailable; try again\n', { 'Retry-After': '5' });
      },
    );
  };
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** The metrics on a port of their own (`metrics.port` on `metrics.host`): `/metrics` there, 404 for any other path. */
export async function startMetricsServer(options: { host: string; port: number; token: string | null; source: ExpositionSource }): Promise<MetricsServer> {
  const endpoint = metricsEndpoint(options.source, options.token);
  const server = http.createServer((req, res) => {
    if ((req.url ?? '/').split('?', 1)[0] !== '/metrics') return answer(res, 404, 'Not found: the metrics are at /metrics\n');
    return endpoint(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
