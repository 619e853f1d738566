import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/schema.js';
import { resolveIssuer } from './config/load.js';
import { assertProductionReady } from './config/production.js';
import { openStore } from './storage/index.js';
import type { Store } from './storage/types.js';
import { buildApplication, type Application, type BuildOptions } from './app.js';
import { log } from './log.js';
import cluster from 'node:cluster';
import { startMetricsServer, type MetricsServer } from './metrics/endpoint.js';

export interface RunningServer {
  app: Application;
  server: http.Server;
  port: number;
  issuer: string;
  /** The port /metrics is served on when `metrics.port` is set (in a cluster, the primary serves it). */
  metricsPort: number | null;
  stop(): Promise<void>;
}

/**
 * Binds the port first (so port 0 resolves to a real one and the default issuer can name it),
 * then builds the application and starts serving.
 */
export async function startServer(config: Config, options: Partial<Omit<BuildOptions, 'config' | 'issuer'>> = {}): Promise<RunningServer> {
  assertProductionReady(config);
  const server = http.createServer();
  // Requests that arrive between listening and the application being built wait for it
  // (a cluster primary, a load balancer or a test may connect as soon as the port is open).
  let serve!: (handler: http.RequestListener) => void;
  let fail!: () => void;
  const handlerReady = new Promise<http.RequestListener>((resolve, reject) => {
    serve = resolve;
    fail = () => reject(new Error('start-up failed'));
  });
  handlerReady.catch(() => undefined);
  const waitForApplication = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handlerReady.then(
      (handle) => handle(req, res),
      () => {
        res.statusCode = 503;
        res.end();
      },
    );
  };
  server.on('request', waitForApplication);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = resolveIssuer(config, port);
  let app: Application;
  let opened: Store | null = null;
  try {
    const store = options.store ?? (opened = await openStore(config));
    app = await buildApplication({ config, issuer, store, ...(options.transport ? { transport: options.transport } : {}) });
  } catch (err) {
    fail();
    server.close();
    // A configuration refused while building (a client's metadata) leaves no database client behind.
    await opened?.close().catch(() => undefined);
    throw err;
  }
  let metricsServer: MetricsServer | null = null;
  const { metrics } = app;
  if (metrics && config.metrics.port !== null && !cluster.isWorker) {
    try {
      metricsServer = await startMetricsServer({ host: config.metrics.host, port: config.metrics.port, token: config.metrics.token, source: metrics.source });
    } catch (err) {
      fail();
      server.close();
      await app.close();
      throw err;
    }
  }
  let stopping: Promise<void> | null = null;
  const inFlight = new Set<http.ServerResponse>();
  const handle = app.handler;
  // Requests that waited are served by `serve`; later ones go straight to the handler, without
  // a promise in between.
  server.off('request', waitForApplication);
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    // A keep-alive connection may carry one more request after the stop began: close it after that one.
    if (stopping) res.shouldKeepAlive = false;
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    handle(req, res);
  });
  serve(handle);

  const stop = () => {
    stopping ??= (async () => {
      // Stop accepting, let requests in flight finish, then close what the app holds.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Answers still to come close their connection: a keep-alive client (a load balancer)
        // would otherwise hold the shutdown open until its idle timeout.
        for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
      });
      await metricsServer?.close();
      await app.close();
      log.info('server.stopped', {});
    })();
    return stopping;
  };
  return { app, server, port, issuer, metricsPort: metricsServer?.port ?? null, stop };
}
